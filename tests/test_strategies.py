"""Query strategies: one contract every strategy keeps, then a planted answer for each."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from learner import strategies
from learner.strategies import STRATEGIES, StrategyError, select

N_POOL = 40

# The inputs each strategy reads through select().
REQUIRED = {
    "least-confidence": ("probabilities",),
    "margin": ("probabilities",),
    "entropy": ("probabilities",),
    "bald": ("mc_probabilities",),
    "diverse": ("probabilities", "embeddings"),
    "cold-start": ("features",),
    "random": (),
}


def make_pool(n: int = N_POOL, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "probabilities": rng.dirichlet(np.ones(4), size=n),
        "mc_probabilities": rng.dirichlet(np.ones(4), size=(6, n)),
        "embeddings": rng.normal(size=(n, 5)),
        "features": rng.normal(size=(n, 3)),
    }


def confident_rows(n: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """Rows that put 0.97 on one class and share the rest evenly."""
    rows = np.full((n, n_classes), 0.03 / (n_classes - 1))
    rows[np.arange(n), np.random.default_rng(seed).integers(0, n_classes, n)] = 0.97
    return rows


# -------------------------------------------------------------------------------- contract


def test_every_strategy_is_covered_by_the_contract() -> None:
    assert set(REQUIRED) == set(STRATEGIES)
    assert strategies.DEFAULT_STRATEGY in STRATEGIES
    assert set(strategies.UNCERTAINTY) < set(STRATEGIES)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("k", [1, 7, N_POOL])
def test_picks_k_unique_indices_within_the_pool(name: str, k: int) -> None:
    picks = select(name, k, **make_pool())
    assert picks.dtype == np.int64
    assert picks.shape == (k,)
    assert len(set(picks.tolist())) == k
    assert picks.min() >= 0 and picks.max() < N_POOL


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_gives_the_same_picks(name: str) -> None:
    pool = make_pool()
    first = select(name, 9, seed=3, **pool)
    again = select(name, 9, seed=3, **{key: value.copy() for key, value in pool.items()})
    np.testing.assert_array_equal(first, again)


def test_random_picks_change_with_the_seed() -> None:
    pool = make_pool()
    draws = {tuple(select("random", 5, seed=seed, **pool).tolist()) for seed in range(5)}
    assert len(draws) > 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_empty_pool_is_rejected(name: str) -> None:
    empty = make_pool()
    empty = {
        "probabilities": empty["probabilities"][:0],
        "mc_probabilities": empty["mc_probabilities"][:, :0],
        "embeddings": empty["embeddings"][:0],
        "features": empty["features"][:0],
    }
    with pytest.raises(StrategyError, match="empty"):
        select(name, 1, **empty)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("k", [0, -2, N_POOL + 1, 2.0])
def test_k_outside_one_to_pool_size_is_rejected(name: str, k: int) -> None:
    with pytest.raises(StrategyError, match="k"):
        select(name, k, **make_pool())


@pytest.mark.parametrize("name", STRATEGIES)
def test_nan_in_the_input_read_is_rejected(name: str) -> None:
    pool = make_pool()
    poisoned = REQUIRED[name] or ("probabilities",)
    for key in poisoned:
        broken = dict(pool)
        broken[key] = pool[key].copy()
        broken[key].flat[5] = np.nan
        if name == "random":
            broken = {key: broken[key]}
        with pytest.raises(StrategyError, match="NaN"):
            select(name, 3, **broken)


@pytest.mark.parametrize("name", STRATEGIES)
def test_missing_input_is_rejected_by_name(name: str) -> None:
    pool = make_pool()
    for key in REQUIRED[name]:
        partial = {other: value for other, value in pool.items() if other != key}
        with pytest.raises(StrategyError, match=key):
            select(name, 3, **partial)
    if not REQUIRED[name]:
        with pytest.raises(StrategyError, match="pool"):
            select(name, 3)


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(StrategyError, match="unknown strategy"):
        select("most-interesting", 3, **make_pool())


def test_inputs_of_different_pool_sizes_are_rejected() -> None:
    pool = make_pool()
    pool["embeddings"] = pool["embeddings"][:-1]
    with pytest.raises(StrategyError, match="disagree"):
        select("entropy", 3, **pool)


def test_rows_that_are_not_probabilities_are_rejected() -> None:
    logits = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(StrategyError):
        select("entropy", 3, probabilities=logits)
    with pytest.raises(StrategyError, match="sum to 1"):
        strategies.least_confidence(np.full((4, 3), 0.5))


def test_mc_probabilities_of_the_wrong_rank_are_rejected() -> None:
    with pytest.raises(StrategyError, match=r"\(T, n, C\)"):
        strategies.bald(make_pool()["probabilities"])


# ----------------------------------------------------------------------------- planted answers


@pytest.mark.parametrize("name", strategies.UNCERTAINTY)
def test_uncertainty_picks_the_one_unsure_row(name: str) -> None:
    probabilities = confident_rows(30, 4)
    probabilities[17] = [0.3, 0.25, 0.25, 0.2]
    assert select(name, 1, probabilities=probabilities).tolist() == [17]
    assert select(name, 5, probabilities=probabilities)[0] == 17


def test_margin_prefers_a_close_call_that_least_confidence_ranks_lower() -> None:
    probabilities = confident_rows(10, 3)
    probabilities[2] = [0.45, 0.45, 0.10]  # two classes tied: margin 0
    probabilities[6] = [0.40, 0.30, 0.30]  # lower top probability, higher entropy
    assert select("margin", 1, probabilities=probabilities).tolist() == [2]
    assert select("least-confidence", 1, probabilities=probabilities).tolist() == [6]
    assert select("entropy", 1, probabilities=probabilities).tolist() == [6]


def test_bald_picks_the_item_whose_passes_disagree_confidently() -> None:
    passes, n = 10, 20
    mc = np.full((passes, n, 3), 1 / 3)  # every pass equally unsure: high entropy, no information
    mc[:, :5] = confident_rows(5, 3)  # confident and agreeing: no information either
    mc[0::2, 12] = [0.98, 0.01, 0.01]
    mc[1::2, 12] = [0.01, 0.98, 0.01]
    assert select("bald", 1, mc_probabilities=mc).tolist() == [12]
    # The averaged prediction alone would rank the uniformly unsure items first.
    assert select("entropy", 1, probabilities=mc.mean(axis=0))[0] != 12


def test_bald_matches_the_mutual_information_formula() -> None:
    mc = np.random.default_rng(3).dirichlet(np.full(5, 0.5), size=(8, 50))
    expected = scipy_entropy(mc.mean(axis=0), axis=1) - scipy_entropy(mc, axis=2).mean(axis=0)
    np.testing.assert_allclose(strategies.bald(mc), expected, atol=1e-9)
    assert (strategies.bald(mc) >= 0).all()


def three_clusters(per_cluster: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings in three far-apart blobs and the blob of each row."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    blob = np.repeat(np.arange(3), per_cluster)
    return centres[blob] + rng.normal(scale=0.5, size=(blob.size, 2)), blob


def test_diverse_spreads_its_picks_over_the_clusters() -> None:
    embeddings, blob = three_clusters()
    # Equally unsure everywhere, the first blob a hair more so: plain entropy takes it whole.
    probabilities = np.tile([0.34, 0.33, 0.33], (blob.size, 1))
    probabilities[blob == 0] = [1 / 3, 1 / 3, 1 / 3]
    assert set(blob[select("entropy", 3, probabilities=probabilities)]) == {0}
    picks = select("diverse", 3, probabilities=probabilities, embeddings=embeddings)
    assert sorted(blob[picks].tolist()) == [0, 1, 2]


def test_diverse_goes_where_the_labelled_items_are_not() -> None:
    embeddings, blob = three_clusters()
    probabilities = np.tile([1 / 3, 1 / 3, 1 / 3], (blob.size, 1))
    labelled = embeddings[[0, 10]]  # one item of blob 0 and one of blob 1 already labelled
    picks = select(
        "diverse",
        1,
        probabilities=probabilities,
        embeddings=embeddings,
        labelled_embeddings=labelled,
    )
    assert blob[picks].tolist() == [2]


def test_diverse_only_considers_the_most_uncertain_candidates() -> None:
    embeddings, blob = three_clusters()
    scores = np.where(blob == 2, 0.0, 1.0)  # blob 2 is certain, however far away it lies
    picks = strategies.diverse(scores, embeddings, 2, candidates=5)
    assert 2 not in blob[picks]


def test_k_center_starts_at_the_most_typical_point_then_goes_farthest() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.2], [9.0, 9.0], [-0.9, -1]])
    points[0] = points.mean(axis=0)
    picks = strategies.k_center_greedy(points, 2)
    assert picks.tolist() == [0, 4]


def test_k_center_breaks_exact_ties_with_the_seed() -> None:
    duplicates = np.zeros((12, 3))
    draws = {tuple(strategies.k_center_greedy(duplicates, 3, seed=s).tolist()) for s in range(6)}
    assert len(draws) > 1


def test_k_center_rejects_labelled_embeddings_of_another_width() -> None:
    with pytest.raises(StrategyError, match="dimensions"):
        strategies.k_center_greedy(np.zeros((5, 3)), 2, labelled=np.zeros((2, 4)))


def test_cold_start_picks_the_centre_of_each_cluster_largest_first() -> None:
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 500.0], [0.0, 40.0, -500.0], [40, 40, 0]])
    sizes = [41, 31, 21, 11]
    rows, centre_rows = [], []
    for centre, size in zip(centres, sizes, strict=True):
        half = rng.normal(scale=[2.0, 2.0, 25.0], size=(size // 2, 3))
        centre_rows.append(sum(len(r) for r in rows))
        # Members mirror each other around the centre, which is itself a member.
        rows.append(np.vstack([centre, centre + half, centre - half]))
    features = np.vstack(rows)
    picks = strategies.cold_start(features, 4, seed=0)
    assert picks.tolist() == centre_rows
    assert select("cold-start", 4, features=features).tolist() == centre_rows


def test_cold_start_still_picks_k_distinct_items_among_duplicates() -> None:
    features = np.array([[0.0, 1.0]] * 4 + [[5.0, 5.0]] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns that it found only 2 clusters
        picks = strategies.cold_start(features, 5)
    assert len(set(picks.tolist())) == 5


def test_top_k_orders_by_score_and_breaks_ties_by_the_seed() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2, 0.9])
    picks = strategies.top_k(scores, 4)
    assert set(picks[:3].tolist()) == {1, 3, 5} and picks[3] == 2
    ties = {tuple(strategies.top_k(np.zeros(20), 3, seed=s).tolist()) for s in range(6)}
    assert len(ties) > 1
    np.testing.assert_array_equal(
        strategies.top_k(scores, 4, seed=2), strategies.top_k(scores, 4, seed=2)
    )


def test_uncertainty_scores_rejects_an_unknown_measure() -> None:
    with pytest.raises(StrategyError, match="unknown uncertainty measure"):
        strategies.uncertainty_scores("bald", make_pool()["probabilities"])


# ---------------------------------------------------------------------------------- audit mix


def test_mix_audit_takes_the_share_at_random_and_the_rest_in_rank_order() -> None:
    n, k = 100, 20
    ranked = np.arange(n)[::-1]
    indices, audit = strategies.mix_audit(ranked, n, k, share=0.1, seed=4)
    assert audit.sum() == 2
    np.testing.assert_array_equal(indices[~audit], ranked[:18])
    assert not set(indices[audit].tolist()) & set(ranked[:18].tolist())
    assert len(set(indices.tolist())) == k
    # One audit pick in each half of the batch, not both gathered at the end.
    assert audit[:10].sum() == 1 and audit[10:].sum() == 1


def test_mix_audit_share_holds_on_average_for_small_batches() -> None:
    counts = [strategies.mix_audit(np.arange(50), 50, 5, seed=s)[1].sum() for s in range(2000)]
    assert set(counts) == {0, 1}
    assert 0.45 < np.mean(counts) < 0.55


def test_mix_audit_picks_cover_the_untaken_pool_uniformly() -> None:
    n, k = 20, 10
    seen = np.zeros(n)
    for seed in range(3000):
        indices, audit = strategies.mix_audit(np.arange(n), n, k, share=0.2, seed=seed)
        np.add.at(seen, indices[audit], 1)
    assert seen[:8].sum() == 0  # the ranked picks are never drawn as audit picks
    assert seen[8:].min() > 0.6 * seen[8:].mean()


def test_mix_audit_with_no_share_is_the_ranking() -> None:
    indices, audit = strategies.mix_audit([4, 2, 0, 1, 3], 5, 3, share=0.0)
    assert indices.tolist() == [4, 2, 0] and not audit.any()


@pytest.mark.parametrize(
    ("ranked", "n", "k", "share"),
    [
        ([0, 1, 2], 10, 3, 1.5),
        ([0, 0, 1], 10, 3, 0.0),
        ([0, 1, 12], 10, 3, 0.0),
        ([0, 1], 10, 3, 0.0),
        ([0.5, 1.5, 2.5], 10, 3, 0.0),
        ([], 0, 1, 0.1),
    ],
)
def test_mix_audit_bad_input_is_rejected(ranked: list, n: int, k: int, share: float) -> None:
    with pytest.raises(StrategyError):
        strategies.mix_audit(ranked, n, k, share=share)


# --------------------------------------------------------------- independent implementation


@pytest.mark.parametrize("alpha", [0.2, 1.0, 5.0])
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_uncertainty_scores_agree_with_scikit_activeml(alpha: float, n_classes: int) -> None:
    from skactiveml.pool import uncertainty_scores as reference

    probabilities = np.random.default_rng(n_classes).dirichlet(np.full(n_classes, alpha), 300)
    methods = {
        "least-confidence": "least_confident",
        "margin": "margin_sampling",
        "entropy": "entropy",
    }
    for ours, theirs in methods.items():
        mine = strategies.uncertainty_scores(ours, probabilities)
        expected = reference(probabilities, method=theirs)
        # Same definition (higher = more uncertain, entropy in nats): the transform is identity.
        np.testing.assert_allclose(mine, expected, atol=1e-9)
        np.testing.assert_array_equal(
            np.argsort(-mine, kind="stable"), np.argsort(-expected, kind="stable")
        )
