"""Delete a project, source or item, leaving a :class:`~store.models.Deletion` record behind.

Items a person (or an import) annotated keep their history: deleting them is refused unless
forced, and a forced delete copies every annotation it removes into the deletion record, in
the same transaction, before the append-only trigger lets it remove them (it does so only for
items listed in ``annotation_delete_permit``, filled and emptied here). Items in a snapshot are
never deleted, forced or not: snapshots are immutable and models name the snapshot they learnt
from, so those items can only be archived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from store.archive import item_by_ref, source_by_ref
from store.errors import ValidationError
from store.models import (
    Annotation,
    AnnotationDeletePermit,
    Deletion,
    IngestError,
    Item,
    LabelIssue,
    Lease,
    Project,
    Snapshot,
    SnapshotEntry,
    Source,
    Suggestion,
    User,
)


@dataclass(frozen=True, slots=True)
class DeletionReport:
    """What a delete removed, and the id of its record."""

    deletion_id: int
    kind: str
    project: str
    target: str
    forced: bool
    sources: int
    items: int
    annotations: int
    suggestions: int

    def as_dict(self) -> dict:
        return asdict(self)


def delete_target(
    session: Session,
    project: Project,
    kind: str,
    ref: str | None = None,
    *,
    actor: str,
    reason: str | None = None,
    force: bool = False,
) -> DeletionReport:
    """Delete the project, one of its sources or one of its items, and record it.

    Raises
    ------
    NotFoundError
        No such source or item in the project.
    ValidationError
        An item is in a snapshot; or items carry annotations and ``force`` is not set; or
        ``force`` without a ``reason``.
    """
    if force and not (reason and reason.strip()):
        raise ValidationError("a forced delete needs a reason: it is kept with the record")
    items, sources, target = _scope(session, project, kind, ref)
    item_ids = select(Item.id).where(items)
    snapshots = session.scalars(
        select(Snapshot.name)
        .where(
            Snapshot.id.in_(
                select(SnapshotEntry.snapshot_id).where(SnapshotEntry.item_id.in_(item_ids))
            )
        )
        .order_by(Snapshot.id)
    ).all()
    if snapshots:
        raise ValidationError(
            f"cannot delete {kind} {target}: its items are in snapshot(s) {', '.join(snapshots)}, "
            "which are immutable; archive it instead"
        )
    annotations = _annotations(session, item_ids)
    if annotations and not force:
        annotated = len({a["item_id"] for a in annotations})
        raise ValidationError(
            f"cannot delete {kind} {target}: {annotated} of its items carry {len(annotations)} "
            "annotations; archive it instead, or force the delete with a reason "
            "(--force --reason ...), which keeps a copy of them in the deletion record"
        )
    counts = {
        "sources": session.scalar(select(func.count()).select_from(Source).where(sources)) or 0,
        "items": session.scalar(select(func.count()).select_from(Item).where(items)) or 0,
        "annotations": len(annotations),
        "suggestions": session.scalar(
            select(func.count()).select_from(Suggestion).where(Suggestion.item_id.in_(item_ids))
        )
        or 0,
    }
    record = Deletion(
        kind=kind,
        project=project.name,
        target=target,
        actor=actor,
        reason=reason,
        forced=force,
        counts=counts,
        record={
            "sources": _sources(session, sources),
            "annotated_items": _annotated_items(session, {a["item_id"] for a in annotations}),
            "annotations": annotations,
        },
    )
    session.add(record)
    session.flush()
    _remove(session, project, kind, items, sources, item_ids, bool(annotations))
    return DeletionReport(record.id, kind, project.name, target, force, **counts)


def _scope(
    session: Session, project: Project, kind: str, ref: str | None
) -> tuple[ColumnElement[bool], ColumnElement[bool], str]:
    """SQL conditions on the items and on the sources that go, and how to name the target."""
    if kind == "project":
        return Item.project_id == project.id, Source.project_id == project.id, project.name
    if ref is None:
        raise ValidationError(f"name the {kind} to delete")
    if kind == "source":
        source = source_by_ref(session, project, ref)
        return Item.source_id == source.id, Source.id == source.id, source.uri
    if kind == "item":
        item = item_by_ref(session, project, ref)
        return Item.id == item.id, Source.id.is_(None), str(item.id)
    raise ValidationError(f"cannot delete a {kind!r}: choose project, source or item")


def _annotations(session: Session, item_ids) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every annotation on the items, as it is, with the user's name."""
    rows = session.execute(
        select(Annotation, User.name)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.item_id.in_(item_ids))
        .order_by(Annotation.id)
    ).all()
    keep = (
        "id", "item_id", "action", "label", "start_s", "end_s", "f_low_hz", "f_high_hz",
        "suggestion_id", "model_version_id", "undoes_id", "duration_s", "audit",
    )  # fmt: skip
    return [
        {key: getattr(a, key) for key in keep}
        | {"user": user, "created_at": a.created_at.isoformat()}
        for a, user in rows
    ]


def _sources(session: Session, sources: ColumnElement[bool]) -> list[dict]:
    return [
        {"id": i, "uri": uri, "kind": kind, "sha256": sha}
        for i, uri, kind, sha in session.execute(
            select(Source.id, Source.uri, Source.kind, Source.sha256).where(sources)
        )
    ]


def _annotated_items(session: Session, item_ids: set[int]) -> list[dict]:
    """Where the annotated items were: enough to find the media again."""
    if not item_ids:
        return []
    rows = session.execute(
        select(Item.id, Source.uri, Source.sha256, Item.locator, Item.start_s, Item.end_s)
        .join(Source, Source.id == Item.source_id)
        .where(Item.id.in_(sorted(item_ids)))
        .order_by(Item.id)
    )
    keys = ("id", "source_uri", "source_sha256", "locator", "start_s", "end_s")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _remove(  # type: ignore[no-untyped-def]
    session: Session,
    project: Project,
    kind: str,
    items: ColumnElement[bool],
    sources: ColumnElement[bool],
    item_ids,
    annotated: bool,
) -> None:
    """Delete dependent rows first, in the order their foreign keys need."""
    if annotated:
        session.execute(
            insert(AnnotationDeletePermit).from_select(["item_id"], select(Item.id).where(items))
        )
    session.execute(delete(LabelIssue).where(LabelIssue.item_id.in_(item_ids)))
    session.execute(delete(Annotation).where(Annotation.item_id.in_(item_ids)))
    session.execute(delete(Lease).where(Lease.item_id.in_(item_ids)))
    session.execute(delete(Suggestion).where(Suggestion.item_id.in_(item_ids)))
    session.execute(delete(IngestError).where(IngestError.item_id.in_(item_ids)))
    session.execute(delete(Item).where(items))
    if annotated:
        session.execute(delete(AnnotationDeletePermit))
    if kind != "item":
        session.execute(delete(Source).where(sources))
    if kind == "project":
        session.execute(delete(Project).where(Project.id == project.id))
    session.flush()
