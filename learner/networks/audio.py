"""Audio model on log-mel spectrograms (1 × mels × frames)."""

from __future__ import annotations

from torch import nn

from learner.networks.registry import register, require_dims


def _stage(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


@register("audio", "cnn", default=True)
def audio_cnn(*, n_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Four conv-bn-relu-pool stages (16-32-64-64), global average pooling, dense; the input
    is (channels, mels, frames) and any size of at least 16×16 works."""
    require_dims(input_shape, 3, "audio cnn")
    if min(input_shape[1:]) < 16:
        raise ValueError(f"audio cnn needs at least 16 mels and 16 frames, got {input_shape}")
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
