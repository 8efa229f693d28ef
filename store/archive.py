"""Archive: hide a project, source or item from the queue, new snapshots, exports, prelabel and
the counts, and bring it back unchanged.

Archiving stamps ``archived_at`` on the row and, for a project or source, on each of its items
not archived yet, with the same time; so every reader asks one column of the item
(:func:`not_archived`), and unarchiving a source clears exactly the items it archived, leaving
those archived on their own. Nothing is deleted: annotations, suggestions and snapshots stay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from store.base import utcnow
from store.errors import NotFoundError, ValidationError
from store.models import Item, Lease, Project, Source

_ARCHIVED = aliased(Item, name="archived_item")
"""Built once (an ORM alias is slow to build, and every queue pick asks)."""


def not_archived(item_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """SQL: the item is not archived (by itself, with its source or with its project)."""
    return ~exists().where(_ARCHIVED.id == item_id, _ARCHIVED.archived_at.is_not(None))


@dataclass(frozen=True, slots=True)
class ArchiveChange:
    """What an archive or unarchive did."""

    kind: str
    project: str
    target: str
    archived: bool
    """The state it is in now."""
    items: int
    """Items whose state changed."""

    def as_dict(self) -> dict:
        return asdict(self)


def source_by_ref(session: Session, project: Project, ref: str) -> Source:
    """A source of ``project`` by id or by URI.

    Raises
    ------
    NotFoundError
    """
    where = Source.id == int(ref) if ref.isdigit() else Source.uri == ref
    source = session.scalar(select(Source).where(Source.project_id == project.id, where))
    if source is None:
        raise NotFoundError(f"project {project.name!r} has no source {ref!r} (an id or a URI)")
    return source


def item_by_ref(session: Session, project: Project, ref: str | int) -> Item:
    """An item of ``project`` by id.

    Raises
    ------
    NotFoundError
    """
    item = session.get(Item, int(ref)) if str(ref).isdigit() else None
    if item is None or item.project_id != project.id:
        raise NotFoundError(f"project {project.name!r} has no item {ref!r}")
    return item


def archive(session: Session, project: Project, kind: str, ref: str | None = None) -> ArchiveChange:
    """Archive the project, one of its sources, or one of its items; their leases end.

    Raises
    ------
    NotFoundError
        No such source or item in the project.
    ValidationError
        Unknown kind, or it is archived already.
    """
    row, items, target = _target(session, project, kind, ref)
    if row.archived_at is not None:
        raise ValidationError(f"{kind} {target} is archived already")
    stamp = utcnow()
    changed = session.execute(
        update(Item).where(items, Item.archived_at.is_(None)).values(archived_at=stamp)
    ).rowcount
    row.archived_at = stamp  # after the items: for an item, the update above is the one change
    session.execute(delete(Lease).where(Lease.item_id.in_(select(Item.id).where(items))))
    session.flush()
    return ArchiveChange(kind, project.name, target, True, max(changed, 0))


def unarchive(
    session: Session, project: Project, kind: str, ref: str | None = None
) -> ArchiveChange:
    """Bring back what :func:`archive` hid: the row and the items archived with it.

    Raises
    ------
    NotFoundError
        No such source or item in the project.
    ValidationError
        It is not archived, or what holds it (its project, its source) still is.
    """
    row, items, target = _target(session, project, kind, ref)
    if row.archived_at is None:
        raise ValidationError(f"{kind} {target} is not archived")
    holders = []
    if kind != "project" and project.archived_at is not None:
        holders.append(("project", project.name))
    if kind == "item":
        source = session.get(Source, row.source_id)
        if source is not None and source.archived_at is not None:
            holders.append(("source", source.uri))
    if holders:
        what, name = holders[0]
        raise ValidationError(
            f"{kind} {target} is archived with its {what} {name}: unarchive the {what}"
        )
    stamp = row.archived_at
    changed = session.execute(
        update(Item).where(items, Item.archived_at == stamp).values(archived_at=None)
    ).rowcount
    row.archived_at = None
    session.flush()
    return ArchiveChange(kind, project.name, target, False, max(changed, 0))


def _target(
    session: Session, project: Project, kind: str, ref: str | None
) -> tuple[Project | Source | Item, ColumnElement[bool], str]:
    """The row to stamp, the SQL condition on its items, and how to name it."""
    if kind == "project":
        return project, Item.project_id == project.id, project.name
    if ref is None:
        raise ValidationError(f"name the {kind} to archive")
    if kind == "source":
        source = source_by_ref(session, project, ref)
        return source, Item.source_id == source.id, source.uri
    if kind == "item":
        item = item_by_ref(session, project, ref)
        return item, Item.id == item.id, str(item.id)
    raise ValidationError(f"cannot archive a {kind!r}: choose project, source or item")


def archived_item_ids(session: Session, project_id: int) -> set[int]:
    """Ids of the project's archived items."""
    return set(
        session.scalars(
            select(Item.id).where(Item.project_id == project_id, Item.archived_at.is_not(None))
        )
    )


def archived_counts(session: Session, project_id: int) -> dict[str, int]:
    """Archived items and sources of a project, for the status counts."""
    return {
        "archived_items": session.scalar(
            select(func.count())
            .select_from(Item)
            .where(Item.project_id == project_id, Item.archived_at.is_not(None))
        )
        or 0,
        "archived_sources": session.scalar(
            select(func.count())
            .select_from(Source)
            .where(Source.project_id == project_id, Source.archived_at.is_not(None))
        )
        or 0,
    }
