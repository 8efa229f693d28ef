"""Embeddings and MC dropout on the head: one body pass, every network, stored compactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from learner import calibration, strategies
from learner.embeddings import (
    EMBEDDING_WIDTH,
    MC_DROPOUT,
    HeadDropout,
    compact,
    decode_embeddings,
    dropout_rate,
    encode_embedding,
    encode_embeddings,
    forward_with_embeddings,
    split_network,
)
from learner.networks import available, build

SHAPES = {"crop": (1, 32, 32), "spectrum": (1, 500), "audio": (1, 64, 48)}
NETWORKS = [(modality, arch) for modality in SHAPES for arch in available(modality)]


@pytest.mark.parametrize(("modality", "arch"), NETWORKS)
def test_one_pass_gives_the_models_logits_and_its_penultimate_activations(
    modality: str, arch: str
) -> None:
    torch.manual_seed(0)
    model = build(modality, arch, n_classes=3, input_shape=SHAPES[modality]).eval()
    x = torch.randn(5, *SHAPES[modality])
    with torch.inference_mode():
        logits, embeddings = forward_with_embeddings(model, x)
        expected = model(x)
        _, head = split_network(model)
        again = head(embeddings)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert embeddings.shape == (5, head.in_features)
    assert torch.allclose(again, expected, atol=1e-5)


@pytest.mark.parametrize(("modality", "arch"), NETWORKS)
def test_mc_dropout_works_on_every_network(modality: str, arch: str) -> None:
    model = build(modality, arch, n_classes=4, input_shape=SHAPES[modality]).eval()
    with torch.inference_mode():
        _, embeddings = forward_with_embeddings(model, torch.randn(6, *SHAPES[modality]))
        mc = HeadDropout.of(model).probabilities(embeddings, temperature=1.3)
    assert mc.shape == (20, 6, 4)
    assert np.allclose(mc.sum(axis=2), 1.0)
    bald = strategies.bald(mc)
    assert np.all(np.isfinite(bald)) and np.all(bald >= 0)


def test_a_model_without_a_linear_head_is_rejected() -> None:
    with pytest.raises(ValueError, match="not in an nn.Linear head"):
        split_network(nn.Sequential(nn.Linear(4, 2), nn.ReLU()))
    with pytest.raises(ValueError, match="nn.Sequential"):
        split_network(nn.Linear(4, 2))


def test_dropout_rate_is_the_networks_own_before_the_head_else_the_default() -> None:
    own = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    assert dropout_rate(own) == 0.5
    lenet = build("crop", "lenet5", n_classes=2, input_shape=(1, 32, 32))
    assert dropout_rate(lenet) == MC_DROPOUT
    assert dropout_rate(build("audio", "cnn", n_classes=2, input_shape=(1, 64, 48))) == 0.2


def _planted_head() -> nn.Sequential:
    """Two-class head on 2-d embeddings: the logit difference is 2 (h0 - h1)."""
    head = nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
        head.bias.zero_()
    return nn.Sequential(nn.Identity(), head)


def test_bald_is_highest_where_the_thinned_heads_disagree_confidently() -> None:
    model = _planted_head()
    embeddings = torch.tensor(
        [
            [0.001, 0.0],  # every pass unsure: high entropy, no disagreement
            [40.0, 0.0],  # sure of class 0 unless the mask drops the one feature
            [40.0, 40.0],  # sure of whichever class the mask left a feature for
        ]
    )
    with torch.inference_mode():
        mc = HeadDropout.of(model, passes=50, rate=0.3, seed=1).probabilities(embeddings)
    scores = strategies.bald(mc)
    assert scores[2] > scores[1] > scores[0] and scores[0] < 1e-3
    assert scores[2] > 0.2


def test_without_dropout_every_pass_is_the_calibrated_model() -> None:
    torch.manual_seed(0)
    model = build("crop", "lenet5", n_classes=3, input_shape=(1, 32, 32)).eval()
    with torch.inference_mode():
        logits, embeddings = forward_with_embeddings(model, torch.randn(4, 1, 32, 32))
        mc = HeadDropout.of(model, passes=3, rate=0.0).probabilities(embeddings, 2.0)
    expected = calibration.softmax(logits.double().numpy(), 2.0)
    for p in mc:
        assert np.allclose(p, expected, atol=1e-6)


def test_the_masks_are_fixed_by_the_seed() -> None:
    model = build("crop", "lenet5", n_classes=2, input_shape=(1, 32, 32)).eval()
    with torch.inference_mode():
        _, embeddings = forward_with_embeddings(model, torch.randn(3, 1, 32, 32))
        first = HeadDropout.of(model, seed=4).probabilities(embeddings)
        again = HeadDropout.of(model, seed=4).probabilities(embeddings)
        other = HeadDropout.of(model, seed=5).probabilities(embeddings)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.parametrize(("passes", "rate"), [(0, 0.2), (5, 1.0), (5, -0.1)])
def test_bad_dropout_settings_are_rejected(passes: int, rate: float) -> None:
    with pytest.raises(ValueError):
        HeadDropout.of(_planted_head(), passes=passes, rate=rate)


def test_embeddings_round_trip_as_float16() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5, 84)) * 3
    blobs = encode_embeddings(points)
    assert all(len(blob) == 84 * 2 for blob in blobs)
    assert blobs[0] == encode_embedding(points[0])
    decoded = decode_embeddings(blobs)
    assert decoded.dtype == np.float32 and decoded.shape == (5, 84)
    assert np.allclose(decoded, points, rtol=1e-3, atol=1e-3)
    assert decode_embeddings([]).shape == (0, 0)


def test_values_beyond_float16_are_clipped_not_infinite() -> None:
    (decoded,) = decode_embeddings([encode_embedding([1e6, -1e6, 1.0])])
    assert np.all(np.isfinite(decoded)) and decoded[0] == np.finfo(np.float16).max


@pytest.mark.parametrize(
    "blobs", [[b"\x00\x00\x00\x00", b"\x00\x00"], [b"\x00\x00", None], [b"\x00\x00\x00"]]
)
def test_embeddings_of_mixed_widths_are_rejected(blobs: list) -> None:
    with pytest.raises(ValueError):
        decode_embeddings(blobs)


def test_non_finite_embeddings_are_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        encode_embedding([0.0, float("nan")])
    with pytest.raises(ValueError, match="finite"):
        encode_embeddings(np.array([[np.inf, 0.0]]))


def test_wide_embeddings_are_projected_keeping_distances() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 512)).astype(np.float32)
    small = compact(points)
    assert small.shape == (40, EMBEDDING_WIDTH)
    assert np.array_equal(small, compact(points))  # the same projection for every batch
    i, j = np.triu_indices(40, 1)
    ratio = np.linalg.norm(small[i] - small[j], axis=1) / np.linalg.norm(
        points[i] - points[j], axis=1
    )
    assert ratio.min() > 0.75 and ratio.max() < 1.25
    narrow = rng.normal(size=(3, 84)).astype(np.float32)
    assert np.array_equal(compact(narrow), narrow)
