"""A registry of model builders by modality and name, so callers never name a class.

A new architecture is one decorated builder in a module imported by ``learner.networks``;
callers keep asking ``build(modality, name, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Builder = Callable[..., torch.nn.Module]
"""``builder(*, n_classes: int, input_shape: tuple[int, ...]) -> torch.nn.Module``."""

_REGISTRY: dict[str, dict[str, Builder]] = {}
_DEFAULTS: dict[str, str] = {}


def register(modality: str, name: str, *, default: bool = False) -> Callable[[Builder], Builder]:
    """Decorator: make ``builder(n_classes=…, input_shape=…)`` available as ``name``.

    The first model registered for a modality is its default until one says ``default=True``.

    Raises
    ------
    ValueError
        Another builder already holds ``name`` for ``modality``.
    """

    def add(builder: Builder) -> Builder:
        builders = _REGISTRY.setdefault(modality, {})
        held = builders.get(name)
        # Re-registering the same function (a module reloaded) is harmless; shadowing is not.
        if held is not None and held.__qualname__ != builder.__qualname__:
            raise ValueError(f"{modality} model {name!r} is already registered by {held!r}")
        builders[name] = builder
        if default or modality not in _DEFAULTS:
            _DEFAULTS[modality] = name
        return builder

    return add


def modalities() -> list[str]:
    """The modalities that have at least one model."""
    return sorted(_REGISTRY)


def available(modality: str) -> list[str]:
    """The model names of ``modality``, sorted.

    Raises
    ------
    ValueError
        A modality with no models.
    """
    return sorted(_builders(modality))


def default_arch(modality: str) -> str:
    """The model a project of ``modality`` trains when it names none.

    Raises
    ------
    ValueError
        A modality with no models.
    """
    _builders(modality)
    return _DEFAULTS[modality]


def build(
    modality: str, name: str, *, n_classes: int, input_shape: tuple[int, ...]
) -> torch.nn.Module:
    """A fresh model that maps (batch, *input_shape) to (batch, n_classes) logits;
    ``input_shape`` is one item's shape with its channel, e.g. (1, 32, 32).

    Raises
    ------
    ValueError
        Unknown modality or name, no classes, or an input shape without a channel.
    """
    builders = _builders(modality)
    if name not in builders:
        raise ValueError(
            f"no {modality} model named {name!r}: choose one of {', '.join(sorted(builders))}"
        )
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) < 2 or min(input_shape) < 1:
        raise ValueError(f"input_shape {input_shape} must be (channels, ...) with positive sizes")
    return builders[name](n_classes=n_classes, input_shape=input_shape)


def require_dims(input_shape: tuple[int, ...], dims: int, model: str) -> None:
    """For builders: reject an input shape with the wrong number of dimensions.

    Raises
    ------
    ValueError
        ``input_shape`` does not have ``dims`` entries (channel first).
    """
    if len(input_shape) != dims:
        raise ValueError(
            f"{model} takes items of {dims} dimensions (channels first), got {input_shape}"
        )


def _builders(modality: str) -> dict[str, Builder]:
    builders = _REGISTRY.get(modality)
    if not builders:
        raise ValueError(f"unknown modality {modality!r}: choose one of {', '.join(modalities())}")
    return builders
