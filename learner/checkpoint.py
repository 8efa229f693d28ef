"""Checkpoints: the weights plus everything needed to rebuild the model and its inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: Path, state_dict: dict, meta: dict) -> str:
    """Write weights and ``meta`` (modality, arch, classes, input shape, settings).

    Returns the SHA-256 of the file.
    """
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state_dict, "meta": meta}, path)
    return file_sha256(path)


def load_model(path: Path, expected_sha256: str | None = None):  # type: ignore[no-untyped-def]
    """Rebuild the model of a checkpoint, in eval mode, and return ``(model, meta)``.

    Raises
    ------
    FileNotFoundError
        The checkpoint is gone.
    ValueError
        Its bytes are not the ones that were registered.
    """
    import torch

    from learner.networks import build

    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if expected_sha256 is not None and file_sha256(path) != expected_sha256:
        raise ValueError(f"checkpoint {path} has changed since it was registered (SHA-256 differs)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    meta = payload["meta"]
    model = build(
        meta["modality"],
        meta["arch"],
        n_classes=len(meta["classes"]),
        input_shape=tuple(meta["input_shape"]),
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval(), meta
