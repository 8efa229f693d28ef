"""Choosing where to run: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch


def pick_device(requested: str | None = "auto") -> torch.device:
    """The requested device, or the best available one for ``auto``.

    Raises
    ------
    ValueError
        A device that this machine does not have.
    """
    requested = (requested or "auto").lower()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    if requested == "mps" and not has_mps:
        raise ValueError("device 'mps' was asked for but Apple's MPS is not available")
    if requested not in ("cpu", "mps") and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}: auto, cpu, cuda or mps")
    return torch.device(requested)
