"""Snapshots: the current human labels, resolved across annotators, frozen with a manifest hash.

An item's split comes from a hash of its identity (source content hash and locator), so it keeps
its split in every snapshot; the manifest hash covers the sorted entries, so the same labels give
the same hash.

A snapshot may also carry pseudo-labels: suggestions of one model version for items no person has
touched, chosen elsewhere (``prelabel.pseudo_labels``; the store does not know how) and handed in
ready-made. They go to the train split only, so validation and test stay human, and a human label
always wins over them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session

from store.actions import done_condition
from store.annotations import audit_labels
from store.archive import not_archived
from store.errors import DuplicateError, ValidationError
from store.models import (
    Annotation,
    IngestError,
    Item,
    ModelVersion,
    Snapshot,
    SnapshotEntry,
    Source,
    Suggestion,
)
from store.snapshot_refs import check_snapshot_name

SPLIT_FRACTIONS = (("train", 0.70), ("val", 0.15), ("test", 0.15))
MIN_CLASS_ITEMS_TO_SPLIT = len(SPLIT_FRACTIONS)
"""Labelled items a class needs before the split gives it one in every split (train, val and
test): below that, the hash alone decides, and a small snapshot may have no val items."""
LABELLING_ACTIONS = ("import", "accept", "edit", "add")


@dataclass(frozen=True, slots=True)
class ResolvedLabel:
    item_id: int
    key: str
    """Identity of the item that survives re-ingest elsewhere: source hash and locator."""
    label: str
    start_s: float | None
    end_s: float | None
    annotation_id: int


@dataclass(frozen=True, slots=True)
class Resolution:
    labels: list[ResolvedLabel]
    ties: int
    """Items whose annotators split evenly between labels: left out."""
    rejected: int
    """Items whose every effective action said 'no such label': left out."""
    tied_ids: frozenset[int] = frozenset()
    rejected_ids: frozenset[int] = frozenset()


def resolve_labels(session: Session, project_id: int) -> Resolution:
    """Each annotator's latest effective action per item, then a majority vote.

    ``undo`` takes back the annotation it names; ``skip`` casts no vote; ``reject`` votes for no
    label. Ties between labels leave the item out.
    """
    rows = session.execute(
        select(
            Annotation.id,
            Annotation.item_id,
            Annotation.user_id,
            Annotation.action,
            Annotation.label,
            Annotation.start_s,
            Annotation.end_s,
            Annotation.undoes_id,
            Source.sha256,
            Item.locator,
        )
        .join(Item, Item.id == Annotation.item_id)
        .join(Source, Source.id == Item.source_id)
        .where(Item.project_id == project_id, not_archived(Item.id))
        .order_by(Annotation.item_id, Annotation.user_id, Annotation.created_at, Annotation.id)
    ).all()
    undone = {row.undoes_id for row in rows if row.action == "undo" and row.undoes_id is not None}
    latest: dict[tuple[int, int], object] = {}
    keys: dict[int, str] = {}
    for row in rows:
        keys[row.item_id] = f"{row.sha256}:{row.locator}"
        if row.id in undone or row.action in ("undo", "skip"):
            continue
        latest[(row.item_id, row.user_id)] = row
    votes: dict[int, list] = defaultdict(list)
    for (item_id, _), row in latest.items():
        votes[item_id].append(row)
    labels: list[ResolvedLabel] = []
    tied: set[int] = set()
    rejected: set[int] = set()
    for item_id in sorted(votes):
        ballots = [r for r in votes[item_id] if r.action in LABELLING_ACTIONS and r.label]
        if not ballots:
            rejected.add(item_id)
            continue
        tally = Counter(r.label for r in ballots).most_common()
        if len(tally) > 1 and tally[0][1] == tally[1][1]:
            tied.add(item_id)
            continue
        winner = tally[0][0]
        chosen = max((r for r in ballots if r.label == winner), key=lambda r: r.id)
        labels.append(
            ResolvedLabel(item_id, keys[item_id], winner, chosen.start_s, chosen.end_s, chosen.id)
        )
    return Resolution(labels, len(tied), len(rejected), frozenset(tied), frozenset(rejected))


def split_of(key: str) -> str:
    """The split of an item, from a hash of its identity: stable across snapshots."""
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    edge = 0.0
    for split, share in SPLIT_FRACTIONS:
        edge += share
        if fraction < edge:
            return split
    return SPLIT_FRACTIONS[-1][0]


def assign_splits(labels: Sequence[ResolvedLabel]) -> dict[int, str]:
    """Hash splits, stratified: a class with at least ``MIN_CLASS_ITEMS_TO_SPLIT`` items gets
    one in val and in test.

    Only classes that the hash left without val or test items move an item, the one whose
    hash is highest among train items, so the assignment stays deterministic.
    """
    splits = {lab.item_id: split_of(lab.key) for lab in labels}
    by_class: dict[str, list[ResolvedLabel]] = defaultdict(list)
    for lab in labels:
        by_class[lab.label].append(lab)
    for members in by_class.values():
        if len(members) < MIN_CLASS_ITEMS_TO_SPLIT:
            continue
        for needed in ("test", "val"):
            if any(splits[m.item_id] == needed for m in members):
                continue
            train = sorted(
                (m for m in members if splits[m.item_id] == "train"),
                key=lambda m: hashlib.sha256(m.key.encode()).hexdigest(),
            )
            if len(train) > 1:
                splits[train[-1].item_id] = needed
    return splits


def manifest_sha256(entries: Sequence[dict]) -> str:
    """SHA-256 over the entries sorted by item identity, in a canonical JSON form."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e["key"]):
        canonical = {
            "key": entry["key"],
            "label": entry["label"],
            "origin": entry["origin"],
            "split": entry["split"],
            "start_s": None if entry["start_s"] is None else round(entry["start_s"], 6),
            "end_s": None if entry["end_s"] is None else round(entry["end_s"], 6),
        }
        digest.update(json.dumps(canonical, sort_keys=True).encode() + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class PseudoEntry:
    """A suggestion that is to become a pseudo-label."""

    item_id: int
    label: str
    suggestion_id: int
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class PseudoLabels:
    """Pseudo-labels chosen for a snapshot, with the record of how they were chosen."""

    model_version_id: int
    entries: list[PseudoEntry]
    record: dict
    """Stored as the snapshot's ``pseudo``: thresholds, target error, precision, coverage."""
    threshold: float | None
    """The lowest finite per-class threshold (``None``: no class qualified)."""


@dataclass(frozen=True, slots=True)
class PseudoCandidate:
    """An item no person has touched, with the version's suggestion for it."""

    item_id: int
    suggestion_id: int
    label: str
    confidence: float
    start_s: float | None
    end_s: float | None


def pseudo_candidates(session: Session, project_id: int, version_id: int) -> list[PseudoCandidate]:
    """Items with a suggestion of ``version_id`` that no person labelled or rejected (an undone
    action does not count) and whose media could be read, in item order."""
    rows = session.execute(
        select(
            Suggestion.item_id,
            Suggestion.id,
            Suggestion.label,
            Suggestion.confidence,
            func.coalesce(Suggestion.start_s, Item.start_s),
            func.coalesce(Suggestion.end_s, Item.end_s),
        )
        .join(Item, Item.id == Suggestion.item_id)
        .where(
            Suggestion.model_version_id == version_id,
            Item.project_id == project_id,
            ~done_condition(Item.id),
            ~exists().where(IngestError.item_id == Item.id),
            not_archived(Item.id),
        )
        .order_by(Suggestion.item_id)
    ).all()
    return [PseudoCandidate(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class AuditEvidence:
    """An audit-labelled item: what the version suggested and what people decided."""

    item_id: int
    predicted: str
    confidence: float
    human: str | None
    """The person's label; ``None`` when they rejected the item (the suggestion was wrong,
    whatever the right answer is)."""


def audit_evidence(session: Session, project_id: int, version_id: int) -> list[AuditEvidence]:
    """The version's suggestions on audit-labelled items, against the people's decision.

    The audit items are those whose effective human label came from an audit pick
    (:func:`store.annotations.audit_labels`). Items the version trained on (the train split of
    its snapshot) are left out: a model is sure and right about what it was fitted to, which
    says nothing about the items it has never seen.
    """
    decided = dict(audit_labels(session, project_id))
    if not decided:
        return []
    snapshot_id = session.scalar(
        select(ModelVersion.snapshot_id).where(ModelVersion.id == version_id)
    )
    if snapshot_id is not None:
        for item_id in session.scalars(
            select(SnapshotEntry.item_id).where(
                SnapshotEntry.snapshot_id == snapshot_id, SnapshotEntry.split == "train"
            )
        ):
            decided.pop(item_id, None)
    rows = session.execute(
        select(Suggestion.item_id, Suggestion.label, Suggestion.confidence)
        .where(Suggestion.model_version_id == version_id, Suggestion.item_id.in_(list(decided)))
        .order_by(Suggestion.item_id)
    ).all()
    return [AuditEvidence(i, label, sure, decided[i]) for i, label, sure in rows]


def create_snapshot(
    session: Session,
    project_id: int,
    name: str | None = None,
    *,
    pseudo: PseudoLabels | None = None,
    resolution: Resolution | None = None,
) -> Snapshot:
    """Freeze the project's resolved human labels, and any ``pseudo`` labels, into a snapshot.

    Pseudo-labels go to the train split; one on an item that people labelled, rejected or
    disagree about is dropped, so a human label always wins. ``resolution`` saves resolving
    the labels again when the caller already did, in this transaction.

    Raises
    ------
    ValidationError
        No item has a resolved label yet, or the name could be read as an id or holds a
        project prefix.
    DuplicateError
        A snapshot of that name exists.
    """
    resolution = resolution or resolve_labels(session, project_id)
    if not resolution.labels:
        raise ValidationError("nothing to snapshot: no item has a resolved human label yet")
    splits = assign_splits(resolution.labels)
    entries = [
        {
            "key": lab.key,
            "item_id": lab.item_id,
            "label": lab.label,
            "start_s": lab.start_s,
            "end_s": lab.end_s,
            "origin": "human",
            "annotation_id": lab.annotation_id,
            "suggestion_id": None,
            "split": splits[lab.item_id],
        }
        for lab in resolution.labels
    ]
    if pseudo is not None:
        entries += _pseudo_entries(session, pseudo, resolution)
    previous = session.scalar(
        select(Snapshot).where(Snapshot.project_id == project_id).order_by(Snapshot.id.desc())
    )
    number = (
        session.scalar(select(func.count()).where(Snapshot.project_id == project_id)) or 0
    ) + 1
    name = check_snapshot_name(name or f"s{number}")
    if session.scalar(
        select(Snapshot.id).where(Snapshot.project_id == project_id, Snapshot.name == name)
    ):
        raise DuplicateError(f"the project already has a snapshot named {name!r}")
    counts = {
        "entries": len(entries),
        "by_label": dict(sorted(Counter(e["label"] for e in entries).items())),
        "by_split": dict(sorted(Counter(e["split"] for e in entries).items())),
        "by_origin": dict(Counter(e["origin"] for e in entries)),
        "ties_left_out": resolution.ties,
        "rejected_left_out": resolution.rejected,
    }
    if pseudo is not None:
        counts["pseudo_by_label"] = dict(
            sorted(Counter(e["label"] for e in entries if e["origin"] == "pseudo").items())
        )
    snapshot = Snapshot(
        project_id=project_id,
        name=name,
        parent_id=previous.id if previous else None,
        manifest_sha256=manifest_sha256(entries),
        counts=counts,
        pseudo=None if pseudo is None else pseudo.record,
        pseudo_threshold=None if pseudo is None else pseudo.threshold,
        pseudo_model_version_id=None if pseudo is None else pseudo.model_version_id,
    )
    session.add(snapshot)
    session.flush()
    columns = (
        "item_id",
        "label",
        "start_s",
        "end_s",
        "origin",
        "annotation_id",
        "suggestion_id",
        "split",
    )
    session.execute(
        insert(SnapshotEntry),
        [{"snapshot_id": snapshot.id} | {c: e[c] for c in columns} for e in entries],
    )
    return snapshot


def _pseudo_entries(session: Session, pseudo: PseudoLabels, resolution: Resolution) -> list[dict]:
    """Entry dicts of the pseudo-labels that no human decision overrides, all in train."""
    human = (
        {lab.item_id for lab in resolution.labels} | resolution.tied_ids | resolution.rejected_ids
    )
    kept = [p for p in pseudo.entries if p.item_id not in human]
    if len({p.item_id for p in kept}) != len(kept):
        raise ValidationError("an item was given more than one pseudo-label")
    keys = _item_keys(session, [p.item_id for p in kept])
    return [
        {
            "key": keys[p.item_id],
            "item_id": p.item_id,
            "label": p.label,
            "start_s": p.start_s,
            "end_s": p.end_s,
            "origin": "pseudo",
            "annotation_id": None,
            "suggestion_id": p.suggestion_id,
            "split": "train",
        }
        for p in kept
    ]


def _item_keys(session: Session, item_ids: Sequence[int]) -> dict[int, str]:
    """Item identities (source hash and locator), as the manifest hash uses them."""
    keys: dict[int, str] = {}
    for start in range(0, len(item_ids), 10_000):
        chunk = list(item_ids[start : start + 10_000])
        for item_id, sha256, locator in session.execute(
            select(Item.id, Source.sha256, Item.locator)
            .join(Source, Source.id == Item.source_id)
            .where(Item.id.in_(chunk))
        ):
            keys[item_id] = f"{sha256}:{locator}"
    return keys


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A snapshot entry with what is needed to read its item back."""

    entry_id: int
    item_id: int
    label: str
    split: str
    origin: str
    start_s: float | None
    end_s: float | None
    annotation_id: int | None
    suggestion_id: int | None
    source_uri: str
    source_kind: str
    source_sha256: str
    locator: str
    member: str | None
    position: int | None
    f_low_hz: float | None
    f_high_hz: float | None


def snapshot_entries(session: Session, snapshot_id: int) -> list[EntryRecord]:
    """Entries of a snapshot joined with their item and source, in a stable order."""
    rows = session.execute(
        select(
            SnapshotEntry.id,
            SnapshotEntry.item_id,
            SnapshotEntry.label,
            SnapshotEntry.split,
            SnapshotEntry.origin,
            SnapshotEntry.start_s,
            SnapshotEntry.end_s,
            SnapshotEntry.annotation_id,
            SnapshotEntry.suggestion_id,
            Source.uri,
            Source.kind,
            Source.sha256,
            Item.locator,
            Item.member,
            Item.position,
            Item.f_low_hz,
            Item.f_high_hz,
        )
        .join(Item, Item.id == SnapshotEntry.item_id)
        .join(Source, Source.id == Item.source_id)
        .where(SnapshotEntry.snapshot_id == snapshot_id)
        .order_by(Source.uri, Item.member, Item.position, Item.start_s, Item.locator)
    ).all()
    return [EntryRecord(*row) for row in rows]
