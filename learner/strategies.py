"""Query strategies: scores (one per pool item) kept apart from selection (ranked pool indices).

Every score is "higher = more worth a human look". Every selection returns unique ``int64``
indices into the pool, most valuable first. Bad input raises :class:`StrategyError`; nothing here
imports torch or touches the database, so the annotator can rank without loading a network.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learner import scores as _scores


class StrategyError(ValueError):
    """A strategy was asked for something it cannot give: bad shapes, non-finite values, k."""


STRATEGIES: tuple[str, ...] = (
    "least-confidence",
    "margin",
    "entropy",
    "bald",
    "diverse",
    "cold-start",
    "random",
)
UNCERTAINTY: tuple[str, ...] = ("least-confidence", "margin", "entropy")
DEFAULT_STRATEGY = "entropy"
DEFAULT_AUDIT_SHARE = 0.10

# Stored probabilities may be float32 or rounded; anything further off than this is not a
# probability row (logits, say) and would rank nonsense.
_ROW_SUM_TOLERANCE = 1e-2


# ----------------------------------------------------------------------------------- checks


def _finite(array: NDArray[np.float64], what: str) -> NDArray[np.float64]:
    if not np.all(np.isfinite(array)):
        raise StrategyError(f"{what} contains NaN or infinite values")
    return array


def _probability_rows(probabilities: ArrayLike, what: str = "probabilities") -> NDArray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise StrategyError(f"{what} must have shape (n, n_classes), got {p.shape}")
    _finite(p, what)
    if p.size and (p.min() < -1e-9 or p.max() > 1 + 1e-9):
        raise StrategyError(f"{what} must lie in [0, 1]")
    if p.size and np.abs(p.sum(axis=1) - 1).max() > _ROW_SUM_TOLERANCE:
        raise StrategyError(f"every row of {what} must sum to 1")
    return p


def _vector(values: ArrayLike, what: str) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise StrategyError(f"{what} must be one-dimensional, got shape {v.shape}")
    return _finite(v, what)


def _matrix(values: ArrayLike, what: str) -> NDArray[np.float64]:
    m = np.asarray(values, dtype=np.float64)
    if m.ndim != 2:
        raise StrategyError(f"{what} must have shape (n, d), got {m.shape}")
    return _finite(m, what)


def _check_k(n: int, k: int) -> None:
    if n < 1:
        raise StrategyError("the pool is empty")
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise StrategyError(f"k must be a positive integer, got {k!r}")
    if k > n:
        raise StrategyError(f"k={k} exceeds the pool size {n}")


# ----------------------------------------------------------------------------------- scores


def least_confidence(probabilities: ArrayLike) -> NDArray[np.float64]:
    """One minus the top class probability, per row.

    Raises
    ------
    StrategyError
        Not an ``(n, C)`` matrix of finite probabilities whose rows sum to 1.
    """
    return 1.0 - _scores.confidence(_probability_rows(probabilities))


def margin_uncertainty(probabilities: ArrayLike) -> NDArray[np.float64]:
    """One minus (top probability - runner-up), per row; a single class has runner-up 0.

    Raises
    ------
    StrategyError
        As :func:`least_confidence`.
    """
    return 1.0 - _scores.margin(_probability_rows(probabilities))


def entropy(probabilities: ArrayLike) -> NDArray[np.float64]:
    """Shannon entropy of each row in nats (0 · log 0 counts as 0).

    Raises
    ------
    StrategyError
        As :func:`least_confidence`.
    """
    return _scores.entropy(_probability_rows(probabilities))


def bald(mc_probabilities: ArrayLike) -> NDArray[np.float64]:
    """BALD mutual information from ``T`` stochastic forward passes (e.g. MC dropout).

    ``H(mean_t p_t) - mean_t H(p_t)`` in nats, clipped at 0 against rounding. It is high where
    the passes disagree with each other while each is confident, and low where every pass is
    equally unsure.

    Parameters
    ----------
    mc_probabilities
        Array of shape ``(T, n, C)``.

    Raises
    ------
    StrategyError
        Not three-dimensional, ``T < 1``, or any ``(n, C)`` slice is not a probability matrix.
    """
    mc = np.asarray(mc_probabilities, dtype=np.float64)
    if mc.ndim != 3 or mc.shape[0] < 1 or mc.shape[2] < 1:
        raise StrategyError(f"mc_probabilities must have shape (T, n, C), got {mc.shape}")
    _probability_rows(mc.reshape(-1, mc.shape[2]), "mc_probabilities")
    expected_entropy = np.mean([_scores.entropy(p) for p in mc], axis=0)
    information = _scores.entropy(mc.mean(axis=0)) - expected_entropy
    return np.clip(information, 0.0, None)


_UNCERTAINTY_SCORES = {
    "least-confidence": least_confidence,
    "margin": margin_uncertainty,
    "entropy": entropy,
}


def uncertainty_scores(name: str, probabilities: ArrayLike) -> NDArray[np.float64]:
    """Scores of the uncertainty measure ``name`` (one of :data:`UNCERTAINTY`).

    Raises
    ------
    StrategyError
        ``name`` is not in :data:`UNCERTAINTY`, or the probabilities are bad.
    """
    if name not in _UNCERTAINTY_SCORES:
        raise StrategyError(f"unknown uncertainty measure {name!r}; expected one of {UNCERTAINTY}")
    return _UNCERTAINTY_SCORES[name](probabilities)


# -------------------------------------------------------------------------------- selection


def top_k(scores: ArrayLike, k: int, *, seed: int = 0) -> NDArray[np.int64]:
    """Indices of the ``k`` highest scores, highest first.

    Equal scores are ordered by a permutation drawn from ``seed``, so that ties (common with
    rounded or saturated probabilities) neither favour low indices nor depend on the sort.

    Raises
    ------
    StrategyError
        Scores not one-dimensional or not finite; empty pool; ``k < 1`` or ``k > n``.
    """
    values = _vector(scores, "scores")
    n = values.size
    _check_k(n, k)
    tie_rank = np.empty(n, dtype=np.int64)
    tie_rank[np.random.default_rng(seed).permutation(n)] = np.arange(n)
    kth_largest = np.partition(values, n - k)[n - k]
    # Everything at or above the k-th value; ties at the boundary are settled by tie_rank.
    contenders = np.flatnonzero(values >= kth_largest)
    order = np.lexsort((tie_rank[contenders], -values[contenders]))
    return contenders[order[:k]].astype(np.int64)


def random_pick(n: int, k: int, *, seed: int = 0) -> NDArray[np.int64]:
    """``k`` distinct pool indices drawn uniformly from ``range(n)`` with ``seed``.

    Raises
    ------
    StrategyError
        Empty pool, ``k < 1`` or ``k > n``.
    """
    _check_k(n, k)
    return np.random.default_rng(seed).choice(n, size=k, replace=False).astype(np.int64)


def _squared_distances(points: NDArray[np.float64], centre: NDArray[np.float64]) -> NDArray:
    difference = points - centre
    return np.einsum("ij,ij->i", difference, difference)


def _nearest_centre_distances(
    points: NDArray[np.float64], centres: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Squared distance from each point to its nearest centre, in blocks to bound memory."""
    nearest = np.full(points.shape[0], np.inf)
    point_norms = np.einsum("ij,ij->i", points, points)
    block = max(1, 2**22 // max(points.shape[0], 1))
    for start in range(0, centres.shape[0], block):
        chunk = centres[start : start + block]
        squared = (
            point_norms[:, None]
            - 2.0 * points @ chunk.T
            + np.einsum("ij,ij->i", chunk, chunk)[None, :]
        )
        np.minimum(nearest, np.clip(squared, 0.0, None).min(axis=1), out=nearest)
    return nearest


def _farthest_first(
    points: NDArray[np.float64],
    k: int,
    labelled: NDArray[np.float64] | None,
    first: int,
) -> NDArray[np.int64]:
    """Greedy k-center: ``first`` unless labelled centres exist, then always the farthest point.

    Ties go to the lowest index of ``points``; callers shuffle ``points`` to make that seeded.
    """
    picks = np.empty(k, dtype=np.int64)
    if labelled is not None and labelled.shape[0] > 0:
        nearest = _nearest_centre_distances(points, labelled)
        start = 0
    else:
        picks[0] = first
        nearest = _squared_distances(points, points[first])
        nearest[first] = -np.inf
        start = 1
    for i in range(start, k):
        picks[i] = int(np.argmax(nearest))
        np.minimum(nearest, _squared_distances(points, points[picks[i]]), out=nearest)
        nearest[picks[i]] = -np.inf
    return picks


def _labelled_matrix(labelled: ArrayLike | None, dimension: int) -> NDArray[np.float64] | None:
    if labelled is None:
        return None
    centres = _matrix(labelled, "labelled embeddings")
    if centres.shape[0] > 0 and centres.shape[1] != dimension:
        raise StrategyError(
            f"labelled embeddings have {centres.shape[1]} dimensions, the pool has {dimension}"
        )
    return centres


def k_center_greedy(
    embeddings: ArrayLike,
    k: int,
    *,
    labelled: ArrayLike | None = None,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Greedy farthest-first traversal (the k-center "core-set" heuristic) of ``(n, d)`` points.

    Each pick is the pool point farthest (Euclidean) from every centre chosen so far, where the
    ``labelled`` embeddings, if given, count as centres from the start. Without labelled centres
    the first pick is the point nearest the pool mean, the most typical item, so the result does
    not hinge on a random start. Exact ties (duplicate points) are broken by a permutation drawn
    from ``seed``.

    Raises
    ------
    StrategyError
        Embeddings not ``(n, d)`` or not finite; labelled embeddings of another width; empty
        pool; ``k < 1`` or ``k > n``.
    """
    points = _matrix(embeddings, "embeddings")
    n = points.shape[0]
    _check_k(n, k)
    centres = _labelled_matrix(labelled, points.shape[1])
    order = np.random.default_rng(seed).permutation(n)
    shuffled = points[order]
    first = int(np.argmin(_squared_distances(shuffled, shuffled.mean(axis=0))))
    return order[_farthest_first(shuffled, k, centres, first)].astype(np.int64)


def diverse(
    scores: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    *,
    candidates: int = 10,
    labelled: ArrayLike | None = None,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Uncertain but spread out: k-center among the ``min(n, candidates * k)`` top-scored items.

    Without labelled centres the traversal starts from the most uncertain candidate (rather than
    the most typical one), so the first pick is the one plain uncertainty sampling would make.

    Raises
    ------
    StrategyError
        Scores and embeddings disagree on ``n``; ``candidates < 1``; or as :func:`top_k` and
        :func:`k_center_greedy`.
    """
    values = _vector(scores, "scores")
    points = _matrix(embeddings, "embeddings")
    if values.shape[0] != points.shape[0]:
        raise StrategyError(
            f"{values.shape[0]} scores but {points.shape[0]} embeddings; expected one per item"
        )
    if int(candidates) != candidates or candidates < 1:
        raise StrategyError(f"candidates must be a positive integer, got {candidates}")
    _check_k(values.shape[0], k)
    centres = _labelled_matrix(labelled, points.shape[1])
    shortlist = top_k(values, min(values.shape[0], candidates * k), seed=seed)
    # shortlist is ordered by score with seeded ties, so index 0 is the most uncertain.
    return shortlist[_farthest_first(points[shortlist], k, centres, first=0)]


def _standardise(features: NDArray[np.float64]) -> NDArray[np.float64]:
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    return (features - features.mean(axis=0)) / spread


def cold_start(
    features: ArrayLike, k: int, *, seed: int = 0, standardise: bool = True
) -> NDArray[np.int64]:
    """Typical and diverse items for a project without a model.

    k-means (scikit-learn, k-means++ initialisation, ``random_state=seed``) on the features,
    standardised column by column when ``standardise`` (for features in different units; it
    also lifts columns that hold only noise to the weight of the informative ones, so features
    that share one unit, such as the points of a spectrum, are better clustered as they are);
    from each cluster the member nearest its centre; clusters ordered by size, largest
    (most typical) first. A cluster left empty (fewer distinct points than ``k``) or whose
    members are all taken contributes the untaken item nearest its centre instead, so the result
    always has ``k`` distinct items.

    Raises
    ------
    StrategyError
        Features not ``(n, d)`` or not finite; empty pool; ``k < 1`` or ``k > n``.
    """
    points = _matrix(features, "features")
    n = points.shape[0]
    _check_k(n, k)
    if points.shape[1] == 0:
        raise StrategyError("features have no columns")
    from sklearn.cluster import KMeans  # deferred: only cold start needs scikit-learn

    standard = _standardise(points) if standardise else points
    model = KMeans(n_clusters=k, init="k-means++", n_init=4, random_state=seed).fit(standard)
    sizes = np.bincount(model.labels_, minlength=k)
    taken = np.zeros(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    for slot, cluster in enumerate(np.argsort(-sizes, kind="stable")):
        distance = _squared_distances(standard, model.cluster_centers_[cluster])
        members = (model.labels_ == cluster) & ~taken
        eligible = members if members.any() else ~taken
        picks[slot] = int(np.argmin(np.where(eligible, distance, np.inf)))
        taken[picks[slot]] = True
    return picks


def _pool_size(**inputs: ArrayLike | None) -> int:
    """The one pool size all given inputs agree on."""
    sizes = {}
    for name, value in inputs.items():
        if value is None:
            continue
        shape = np.shape(value)
        axis = 1 if name == "mc_probabilities" else 0
        if len(shape) <= axis:
            raise StrategyError(f"{name} has shape {shape}; it has no item axis")
        sizes[name] = shape[axis]
    if len(set(sizes.values())) > 1:
        raise StrategyError(f"inputs disagree on the pool size: {sizes}")
    if not sizes:
        raise StrategyError(
            "random needs a pool: pass probabilities, mc_probabilities, embeddings or features"
        )
    return next(iter(sizes.values()))


def _require(name: str, value: ArrayLike | None, what: str) -> ArrayLike:
    if value is None:
        raise StrategyError(f"strategy {name!r} needs {what}")
    return value


def select(
    name: str,
    k: int,
    *,
    probabilities: ArrayLike | None = None,
    mc_probabilities: ArrayLike | None = None,
    embeddings: ArrayLike | None = None,
    features: ArrayLike | None = None,
    labelled_embeddings: ArrayLike | None = None,
    seed: int = 0,
) -> NDArray[np.int64]:
    """The ``k`` pool items strategy ``name`` ranks highest, most valuable first.

    What each strategy reads:

    - ``least-confidence``, ``margin``, ``entropy``: ``probabilities`` ``(n, C)``
    - ``bald``: ``mc_probabilities`` ``(T, n, C)``
    - ``diverse``: ``probabilities`` (entropy) and ``embeddings`` ``(n, d)``;
      ``labelled_embeddings`` ``(m, d)`` count as already covered
    - ``cold-start``: ``features`` ``(n, d)``
    - ``random``: only the pool size, from whichever input is given (which must be finite)

    Inputs a strategy does not read are ignored except that all given inputs must agree on the
    pool size.

    Raises
    ------
    StrategyError
        Unknown strategy; a required input is missing (the message names it); inputs disagree
        on ``n``; or whatever the underlying score or selection raises.
    """
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")
    n = _pool_size(
        probabilities=probabilities,
        mc_probabilities=mc_probabilities,
        embeddings=embeddings,
        features=features,
    )
    if name in UNCERTAINTY:
        need = _require(name, probabilities, "probabilities")
        return top_k(uncertainty_scores(name, need), k, seed=seed)
    if name == "bald":
        return top_k(bald(_require(name, mc_probabilities, "mc_probabilities")), k, seed=seed)
    if name == "diverse":
        need = _require(name, probabilities, "probabilities")
        points = _require(name, embeddings, "embeddings")
        return diverse(entropy(need), points, k, labelled=labelled_embeddings, seed=seed)
    if name == "cold-start":
        return cold_start(_require(name, features, "features"), k, seed=seed)
    for given in (probabilities, mc_probabilities, embeddings, features):
        if given is not None:
            _finite(np.asarray(given, dtype=np.float64), "the pool input")
            break
    return random_pick(n, k, seed=seed)


def _audit_count(share: float, k: int, rng: np.random.Generator) -> int:
    """``share * k`` rounded stochastically: floor, plus one with probability the remainder."""
    expected = round(share * k, 9)  # 0.1 * 30 must not round up to 4 by accident
    whole = int(np.floor(expected))
    return min(k, whole + int(rng.random() < expected - whole))


def mix_audit(
    ranked: ArrayLike,
    n: int,
    k: int,
    *,
    share: float = DEFAULT_AUDIT_SHARE,
    seed: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """``k`` picks: mostly ``ranked`` in order, a ``share`` of them uniform random audit picks.

    The audit picks are an unbiased sample of the pool, for evaluation and for choosing the
    pseudo-label threshold. Their number is ``share * k`` rounded stochastically (the floor,
    plus one with probability equal to the fractional part, drawn from ``seed``): exact in
    expectation, always within one of ``share * k``, and at least one whenever
    ``share * k >= 1``. With small batches the long-run share holds only if callers vary
    ``seed`` between batches.

    The first ``k - n_audit`` entries of ``ranked`` are taken; the audit picks are drawn
    uniformly from the pool indices not taken. The audit picks land at stratified random
    positions (one in each of ``n_audit`` equal stretches of the batch), so they are interleaved
    with the ranked ones rather than gathered at the end.

    Returns
    -------
    indices, audit_mask
        ``int64`` pool indices of length ``k`` and a boolean mask marking the audit picks.

    Raises
    ------
    StrategyError
        ``share`` outside ``[0, 1]``; empty pool; ``k < 1`` or ``k > n``; ``ranked`` has
        repeats, indices outside ``range(n)``, or fewer than ``k - n_audit`` entries.
    """
    if not 0.0 <= share <= 1.0:
        raise StrategyError(f"share must lie in [0, 1], got {share}")
    _check_k(n, k)
    order = np.asarray(ranked)
    if order.ndim != 1 or (order.size and not np.issubdtype(order.dtype, np.integer)):
        raise StrategyError("ranked must be a one-dimensional array of pool indices")
    order = order.astype(np.int64)
    if order.size and (order.min() < 0 or order.max() >= n):
        raise StrategyError(f"ranked holds indices outside range({n})")
    if np.unique(order).size != order.size:
        raise StrategyError("ranked holds repeated indices")
    rng = np.random.default_rng(seed)
    n_audit = _audit_count(share, k, rng)
    n_ranked = k - n_audit
    if order.size < n_ranked:
        raise StrategyError(f"ranked has {order.size} indices; {n_ranked} are needed")
    chosen = order[:n_ranked]
    untaken = np.setdiff1d(np.arange(n, dtype=np.int64), chosen, assume_unique=True)
    audit = rng.choice(untaken, size=n_audit, replace=False)
    positions = np.empty(0, dtype=np.int64)
    if n_audit:
        edges = np.ceil(np.arange(n_audit + 1) * k / n_audit).astype(np.int64)
        positions = rng.integers(edges[:-1], edges[1:])
    mask = np.zeros(k, dtype=bool)
    mask[positions] = True
    indices = np.empty(k, dtype=np.int64)
    indices[mask] = audit
    indices[~mask] = chosen
    return indices, mask
