"""Audio model on log-mel spectrograms (1 × mels × frames)."""

from __future__ import annotations

from torch import nn

from learner.networks.registry import register


def _stage(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


@register("audio", "cnn")
def audio_cnn(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Four conv-bn-relu-pool stages (16-32-64-64), global average pooling, dense."""
    return nn.Sequential(
        _stage(input_shape[0], 16),
        _stage(16, 32),
        _stage(32, 64),
        _stage(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(64, n_classes),
    )
