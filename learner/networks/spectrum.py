"""1-D models on resampled spectra (1 × points)."""

from __future__ import annotations

import torch
from torch import nn

from learner.networks.registry import register, require_dims


@register("spectrum", "figure2", default=True)
def figure2(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Four conv layers 16-32-64-128 with pooling, dense 256-128-n; the width of the first
    dense layer follows the spectrum length (500 points: 128 × 31)."""
    require_dims(input_shape, 2, "figure2")
    if input_shape[-1] < 16:
        raise ValueError(f"figure2 needs spectra of at least 16 points, got {input_shape}")
    layers: list[nn.Module] = []
    channels, length = input_shape[0], input_shape[-1]
    for width in (16, 32, 64, 128):
        layers += [
            nn.Conv1d(channels, width, 5, padding=2),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(2),
        ]
        channels, length = width, length // 2
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(128 * length, 256),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, n_classes),
    )


class BasicBlock1d(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int, kernel: int = 3) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(inputs, outputs, kernel, stride, pad, bias=False),
            nn.BatchNorm1d(outputs),
            nn.ReLU(),
            nn.Conv1d(outputs, outputs, kernel, 1, pad, bias=False),
            nn.BatchNorm1d(outputs),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and inputs == outputs
            else nn.Sequential(
                nn.Conv1d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm1d(outputs)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


@register("spectrum", "resnet1d")
def resnet1d(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """A strided stem, three residual blocks (32-64-128), global average pooling."""
    require_dims(input_shape, 2, "resnet1d")
    return nn.Sequential(
        nn.Conv1d(input_shape[0], 32, 7, 2, 3, bias=False),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        BasicBlock1d(32, 32, 1, 5),
        BasicBlock1d(32, 64, 2, 5),
        BasicBlock1d(64, 128, 2, 5),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(128, n_classes),
    )


@register("spectrum", "resnet18_1d")
def resnet18_1d(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """ResNet-18 layout in 1-D: four stages of two basic blocks, 64-128-256-512."""
    require_dims(input_shape, 2, "resnet18_1d")
    blocks: list[nn.Module] = []
    inputs = 64
    for stage, width in enumerate((64, 128, 256, 512)):
        blocks += [
            BasicBlock1d(inputs, width, 1 if stage == 0 else 2),
            BasicBlock1d(width, width, 1),
        ]
        inputs = width
    return nn.Sequential(
        nn.Conv1d(input_shape[0], 64, 7, 2, 3, bias=False),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.MaxPool1d(3, 2, 1),
        *blocks,
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(512, n_classes),
    )
