"""Crop models on 1×32×32 grayscale: LeNet-5 and a small ResNet."""

from __future__ import annotations

import torch
from torch import nn

from learner.networks.registry import register, require_dims


@register("crop", "lenet5", default=True)
def lenet5(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Two conv + pool stages, dense 400-120-84-n on 1×32×32 (LeCun et al. 1998, with ReLU
    and max-pool); other sizes change only the width of the first dense layer."""
    require_dims(input_shape, 3, "lenet5")
    channels, height, width = input_shape
    # Each stage: a 5×5 valid convolution (-4), then 2×2 pooling (halves).
    rows, cols = ((height - 4) // 2 - 4) // 2, ((width - 4) // 2 - 4) // 2
    if rows <= 0 or cols <= 0:
        raise ValueError(f"lenet5 needs crops of at least 16×16, got {input_shape}")
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * rows * cols, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, n_classes),
    )


class BasicBlock2d(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(),
            nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False),
            nn.BatchNorm2d(outputs),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and inputs == outputs
            else nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


@register("crop", "resnet_small")
def resnet_small(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Three residual stages (16-32-64), global average pooling."""
    require_dims(input_shape, 3, "resnet_small")
    return nn.Sequential(
        nn.Conv2d(input_shape[0], 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        BasicBlock2d(16, 16, 1),
        BasicBlock2d(16, 32, 2),
        BasicBlock2d(32, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, n_classes),
    )
