"""Every registered network gives one logit per class for its modality's input shape."""

from __future__ import annotations

import pytest
import torch

from learner.networks import available, build, default_arch, pick_device

SHAPES = {"audio": (1, 64, 63), "spectrum": (1, 500), "crop": (1, 32, 32)}
EXPECTED = {
    "audio": ["cnn"],
    "spectrum": ["figure2", "resnet18_1d", "resnet1d"],
    "crop": ["lenet5", "resnet_small"],
}


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_every_model_gives_logits_per_class(modality: str) -> None:
    assert available(modality) == EXPECTED[modality]
    assert default_arch(modality) in available(modality)
    for name in available(modality):
        model = build(modality, name, n_classes=5, input_shape=SHAPES[modality]).eval()
        with torch.inference_mode():
            logits = model(torch.randn(3, *SHAPES[modality]))
        assert logits.shape == (3, 5), name


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="no crop model named 'vgg'"):
        build("crop", "vgg", n_classes=2, input_shape=(1, 32, 32))


def test_devices() -> None:
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
