"""Event-level scores of proposed spans against reference spans.

A proposal matches a reference when its onset and its offset each lie within a tolerance of
the reference's (50 ms by default, as in DCASE sound event detection). Matching is one-to-one
and maximal: among all ways to pair proposals with references under the tolerances, the one with
the most pairs is taken (Hungarian assignment, per group of events that could pair with each
other), and among those, the one whose pairs overlap best.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DEFAULT_TOLERANCE_S = 0.05


@dataclass(frozen=True, slots=True)
class EventScores:
    """Counts of matched proposals (``tp``), unmatched proposals (``fp``) and unmatched
    references (``fn``), with the scores they give."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """Share of proposals that match; 1.0 when there are no proposals and no references."""
        return _ratio(self.tp, self.tp + self.fp, self.fn == 0)

    @property
    def recall(self) -> float:
        """Share of references matched; 1.0 when there are no references and no proposals."""
        return _ratio(self.tp, self.tp + self.fn, self.fp == 0)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        if self.tp == 0:
            return 1.0 if self.fp == self.fn == 0 else 0.0
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def __add__(self, other: EventScores) -> EventScores:
        return EventScores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def _ratio(part: int, whole: int, nothing_missed: bool) -> float:
    if whole == 0:
        return 1.0 if nothing_missed else 0.0
    return part / whole


def pooled(scores: Iterable[EventScores]) -> EventScores:
    """Counts summed over recordings (micro average)."""
    return sum(scores, EventScores(0, 0, 0))


def _as_spans(spans: Sequence[tuple[float, float]] | NDArray, name: str) -> NDArray[np.float64]:
    array = np.asarray(spans, dtype=np.float64)
    if array.size == 0:
        return np.empty((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must be (start_s, end_s) pairs, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} hold NaN or infinite times")
    if (array[:, 1] < array[:, 0]).any():
        bad = int(np.flatnonzero(array[:, 1] < array[:, 0])[0])
        raise ValueError(f"{name}[{bad}] ends before it starts: {tuple(array[bad])}")
    return array


def match_events(
    proposals: Sequence[tuple[float, float]] | NDArray,
    references: Sequence[tuple[float, float]] | NDArray,
    *,
    onset_tolerance_s: float = DEFAULT_TOLERANCE_S,
    offset_tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> list[tuple[int, int]]:
    """Pair proposals with references, one to one, under onset and offset tolerances.

    Returns
    -------
    list[tuple[int, int]]
        ``(proposal index, reference index)`` of each pair, sorted by proposal index.

    Raises
    ------
    ValueError
        Spans not shaped as (start, end) pairs, not finite, or ending before they start, or a
        negative tolerance.
    """
    if onset_tolerance_s < 0 or offset_tolerance_s < 0:
        raise ValueError(
            f"tolerances must not be negative, got {onset_tolerance_s}, {offset_tolerance_s}"
        )
    found = _as_spans(proposals, "proposals")
    truth = _as_spans(references, "references")
    if len(found) == 0 or len(truth) == 0:
        return []
    # candidates: references whose onset lies within the onset tolerance, found by bisection
    order = np.argsort(truth[:, 0], kind="stable")
    onsets = truth[order, 0]
    lo = np.searchsorted(onsets, found[:, 0] - onset_tolerance_s - 1e-9, side="left")
    hi = np.searchsorted(onsets, found[:, 0] + onset_tolerance_s + 1e-9, side="right")
    counts = hi - lo
    rows = np.repeat(np.arange(len(found)), counts)
    cols = order[
        np.arange(counts.sum())
        - np.repeat(np.cumsum(counts) - counts, counts)
        + np.repeat(lo, counts)
    ]
    close = np.abs(found[rows, 1] - truth[cols, 1]) <= offset_tolerance_s + 1e-9
    close &= np.abs(found[rows, 0] - truth[cols, 0]) <= onset_tolerance_s + 1e-9
    rows, cols = rows[close], cols[close]
    if len(rows) == 0:
        return []
    overlap = np.minimum(found[rows, 1], truth[cols, 1]) - np.maximum(
        found[rows, 0], truth[cols, 0]
    )
    union = np.maximum(found[rows, 1], truth[cols, 1]) - np.minimum(found[rows, 0], truth[cols, 0])
    iou = np.where(union > 0, np.maximum(overlap, 0) / np.where(union > 0, union, 1), 1.0)
    # pairs can only compete inside a connected group, so each group is assigned on its own
    n_found = len(found)
    graph = coo_matrix(
        (np.ones(len(rows)), (rows, n_found + cols)), shape=(n_found + len(truth),) * 2
    )
    _, group = connected_components(graph, directed=False)
    pair_group = group[rows]
    _, first, size = np.unique(pair_group, return_index=True, return_counts=True)
    alone = first[size == 1]
    pairs = list(zip(rows[alone].tolist(), cols[alone].tolist(), strict=True))
    for g in np.unique(pair_group[first[size > 1]]):
        mine = pair_group == g
        r_ids, r_local = np.unique(rows[mine], return_inverse=True)
        c_ids, c_local = np.unique(cols[mine], return_inverse=True)
        # a pair is worth 1, its overlap less than 1 / (most pairs possible): never trades a pair
        gain = np.zeros((len(r_ids), len(c_ids)))
        gain[r_local, c_local] = 1.0 + iou[mine] / (min(len(r_ids), len(c_ids)) + 1)
        chosen_r, chosen_c = linear_sum_assignment(gain, maximize=True)
        real = gain[chosen_r, chosen_c] > 0
        pairs.extend(
            zip(r_ids[chosen_r[real]].tolist(), c_ids[chosen_c[real]].tolist(), strict=True)
        )
    return sorted(pairs)


def event_scores(
    proposals: Sequence[tuple[float, float]] | NDArray,
    references: Sequence[tuple[float, float]] | NDArray,
    *,
    onset_tolerance_s: float = DEFAULT_TOLERANCE_S,
    offset_tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> EventScores:
    """Precision, recall, F1 and counts of ``proposals`` against ``references``.

    Returns
    -------
    EventScores
        ``tp`` matched pairs, ``fp`` proposals left over, ``fn`` references left over.

    Raises
    ------
    ValueError
        As ``match_events``.
    """
    pairs = match_events(
        proposals,
        references,
        onset_tolerance_s=onset_tolerance_s,
        offset_tolerance_s=offset_tolerance_s,
    )
    n_found, n_truth = (
        len(_as_spans(proposals, "proposals")),
        len(_as_spans(references, "references")),
    )
    return EventScores(len(pairs), n_found - len(pairs), n_truth - len(pairs))
