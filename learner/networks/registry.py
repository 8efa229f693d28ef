"""A registry of model builders by modality and name, so callers never name a class."""

from __future__ import annotations

from collections.abc import Callable

import torch

Builder = Callable[..., torch.nn.Module]
_REGISTRY: dict[str, dict[str, Builder]] = {"audio": {}, "spectrum": {}, "crop": {}}
_DEFAULTS = {"audio": "cnn", "spectrum": "figure2", "crop": "lenet5"}


def register(modality: str, name: str) -> Callable[[Builder], Builder]:
    """Decorator: make ``builder(n_classes=…, input_shape=…)`` available as ``name``."""
    if modality not in _REGISTRY:
        raise ValueError(f"unknown modality {modality!r}")

    def add(builder: Builder) -> Builder:
        _REGISTRY[modality][name] = builder
        return builder

    return add


def available(modality: str) -> list[str]:
    return sorted(_REGISTRY.get(modality, {}))


def default_arch(modality: str) -> str:
    return _DEFAULTS[modality]


def build(
    modality: str, name: str, *, n_classes: int, input_shape: tuple[int, ...]
) -> torch.nn.Module:
    """A fresh model; ``input_shape`` is one item's shape with its channel, e.g. (1, 32, 32).

    Raises
    ------
    ValueError
        Unknown modality or name.
    """
    builders = _REGISTRY.get(modality)
    if builders is None or name not in builders:
        raise ValueError(
            f"no {modality} model named {name!r}: choose one of {', '.join(available(modality))}"
        )
    return builders[name](n_classes=n_classes, input_shape=tuple(input_shape))
