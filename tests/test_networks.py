"""Every registered network gives one logit per class for its modality's input shape."""

from __future__ import annotations

import pytest
import torch

from learner.networks import (
    available,
    build,
    default_arch,
    modalities,
    pick_device,
    register,
    registry,
)

SHAPES = {"audio": (1, 64, 63), "spectrum": (1, 500), "crop": (1, 32, 32)}
EXPECTED = {
    "audio": ["cnn"],
    "spectrum": ["figure2", "resnet18_1d", "resnet1d"],
    "crop": ["lenet5", "resnet_small"],
}
DEFAULTS = {"audio": "cnn", "spectrum": "figure2", "crop": "lenet5"}


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_every_model_gives_logits_per_class(modality: str) -> None:
    assert available(modality) == EXPECTED[modality]
    assert default_arch(modality) == DEFAULTS[modality]
    for name in available(modality):
        model = build(modality, name, n_classes=5, input_shape=SHAPES[modality]).eval()
        with torch.inference_mode():
            logits = model(torch.randn(3, *SHAPES[modality]))
        assert logits.shape == (3, 5), name


def test_models_train_on_a_batch() -> None:
    for modality, shape in SHAPES.items():
        for name in available(modality):
            model = build(modality, name, n_classes=3, input_shape=shape).train()
            loss = model(torch.randn(4, *shape)).logsumexp(dim=1).mean()
            loss.backward()
            assert all(p.grad is not None for p in model.parameters()), name


def test_lenet5_keeps_the_classic_layout() -> None:
    model = build("crop", "lenet5", n_classes=10, input_shape=(1, 32, 32))
    widths = [(m.in_features, m.out_features) for m in model.modules() if hasattr(m, "in_features")]
    assert widths == [(400, 120), (120, 84), (84, 10)]


def test_audio_cnn_takes_other_clip_lengths() -> None:
    model = build("audio", "cnn", n_classes=2, input_shape=(1, 64, 126)).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 1, 64, 126)).shape == (2, 2)


def test_a_new_model_is_available_without_touching_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Entries made through monkeypatch are removed after the test: the registry stays as found.
    monkeypatch.setitem(registry._REGISTRY, "test-modality", {})
    monkeypatch.setitem(registry._DEFAULTS, "test-modality", "")

    @register("test-modality", "tiny", default=True)
    def tiny(*, n_classes: int, input_shape: tuple[int, ...]) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[-1], n_classes))

    assert "test-modality" in modalities()
    assert available("test-modality") == ["tiny"] and default_arch("test-modality") == "tiny"
    model = build("test-modality", "tiny", n_classes=2, input_shape=(1, 7))
    assert model(torch.ones(1, 1, 7)).shape == (1, 2)


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="no crop model named 'vgg'"):
        build("crop", "vgg", n_classes=2, input_shape=(1, 32, 32))
    with pytest.raises(ValueError, match="unknown modality 'video'"):
        available("video")


def test_wrong_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="lenet5 takes items of 3 dimensions"):
        build("crop", "lenet5", n_classes=2, input_shape=(1, 500))
    with pytest.raises(ValueError, match="at least 16×16"):
        build("crop", "lenet5", n_classes=2, input_shape=(1, 12, 12))


def test_shadowing_a_registered_name_is_rejected() -> None:
    def other(*, n_classes: int, input_shape: tuple[int, ...]) -> torch.nn.Module:
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="crop model 'lenet5' is already registered"):
        register("crop", "lenet5")(other)


def test_devices() -> None:
    assert pick_device("cpu").type == "cpu"
    assert pick_device(None).type in ("cpu", "cuda", "mps")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert pick_device("auto").type != "cuda"
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_unknown_device_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")
