"""Choosing where to run: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch


def _has_mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(requested: str | None = "auto") -> torch.device:
    """The requested device, or for ``auto`` (or None) the best available one: CUDA, then
    MPS, then the CPU. ``cuda:1`` names one GPU of several.

    Raises
    ------
    ValueError
        An unknown name, or a device that this machine does not have.
    """
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _has_mps() else "cpu")
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise ValueError(f"unknown device {requested!r}: choose auto, cpu, cuda, cuda:N or mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} was asked for but no CUDA GPU is available")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(
                f"device {requested!r} was asked for but this machine has "
                f"{torch.cuda.device_count()} CUDA GPU(s)"
            )
    if kind == "mps" and not _has_mps():
        raise ValueError(f"device {requested!r} was asked for but Apple's MPS is not available")
    return torch.device(name)
