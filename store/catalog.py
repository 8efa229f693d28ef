"""Repository functions for sources, items, imported labels and ingest errors.

Bulk paths go through the driver: SQLite's ``executemany`` and PostgreSQL's binary ``COPY``
into a staging table, then ``INSERT ... ON CONFLICT DO NOTHING`` so that reruns add nothing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.archive import archived_counts, not_archived
from store.base import utcnow
from store.errors import DuplicateError
from store.models import (
    Annotation,
    IngestError,
    Item,
    ModelVersion,
    Snapshot,
    Source,
    Suggestion,
)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item to register: where it is inside its source, and its span for audio."""

    locator: str
    member: str | None = None
    position: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    f_low_hz: float | None = None
    f_high_hz: float | None = None


@dataclass(frozen=True, slots=True)
class ImportedLabel:
    """A label that came with the data, for the item at ``locator``."""

    locator: str
    label: str
    start_s: float | None = None
    end_s: float | None = None
    f_low_hz: float | None = None
    f_high_hz: float | None = None


ITEM_COLUMNS = (
    "project_id",
    "source_id",
    "locator",
    "member",
    "position",
    "start_s",
    "end_s",
    "f_low_hz",
    "f_high_hz",
    "origin",
    "random_key",
    "created_at",
)
_PG_ITEM_TYPES = (
    "int4",
    "int4",
    "varchar",
    "varchar",
    "int4",
    "float8",
    "float8",
    "float8",
    "float8",
    "varchar",
    "float8",
    "timestamptz",
)


def find_source(session: Session, project_id: int, sha256: str) -> Source | None:
    """The project's source with this content hash, or ``None`` when the bytes are new."""
    return session.scalar(
        select(Source).where(Source.project_id == project_id, Source.sha256 == sha256)
    )


def add_source(
    session: Session,
    project_id: int,
    uri: str,
    kind: str,
    sha256: str,
    size_bytes: int,
    meta: dict | None = None,
) -> Source:
    """Register a source.

    Raises
    ------
    DuplicateError
        The project already has a source with the same content hash.
    """
    source = Source(
        project_id=project_id,
        uri=uri,
        kind=kind,
        sha256=sha256,
        size_bytes=size_bytes,
        meta=meta or {},
    )
    session.add(source)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as e:
        raise DuplicateError(f"{uri} is already a source of this project (same content)") from e
    return source


def insert_items(
    session: Session, source: Source, rows: Sequence[ItemRow], origin: str = "ingest"
) -> int:
    """Register items of ``source``; rows whose locator exists already are left alone.

    Returns the number of items added.
    """
    if not rows:
        return 0
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    stamp = utcnow()
    if not postgresql:  # the driver gets the text SQLAlchemy would have written
        to_db = Item.__table__.c.created_at.type.dialect_impl(connection.dialect).bind_processor(
            connection.dialect
        )
        stamp = to_db(stamp) if to_db else stamp
    values = [
        (
            source.project_id,
            source.id,
            r.locator,
            r.member,
            r.position,
            r.start_s,
            r.end_s,
            r.f_low_hz,
            r.f_high_hz,
            origin,
            random.random(),  # the item's random key: audit picks and the stop set use it
            stamp,
        )
        for r in rows
    ]
    if postgresql:
        return _copy_items_postgresql(connection, values)
    placeholders = ", ".join("?" for _ in ITEM_COLUMNS)
    result = connection.exec_driver_sql(
        f"INSERT INTO item ({', '.join(ITEM_COLUMNS)}) VALUES ({placeholders}) "
        "ON CONFLICT (source_id, locator) DO NOTHING",
        values,
    )
    return max(result.rowcount, 0)


def _copy_items_postgresql(connection, values: list[tuple]) -> int:  # type: ignore[no-untyped-def]
    driver = connection.connection.driver_connection
    columns = ", ".join(ITEM_COLUMNS)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS item_stage (project_id int4, source_id int4, "
            "locator varchar, member varchar, position int4, start_s float8, end_s float8, "
            "f_low_hz float8, f_high_hz float8, origin varchar, random_key float8, "
            "created_at timestamptz) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE item_stage")
        with cursor.copy(f"COPY item_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(_PG_ITEM_TYPES))
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO item ({columns}) SELECT {columns} FROM item_stage "
            "ON CONFLICT (source_id, locator) DO NOTHING"
        )
        return max(cursor.rowcount, 0)


def mark_complete(session: Session, source_id: int) -> None:
    """Record that every item of the source is registered."""
    session.execute(Source.__table__.update().where(Source.id == source_id).values(complete=True))


def item_ids(
    session: Session, source_id: int, locators: Sequence[str] | None = None
) -> dict[str, int]:
    """Item ids of a source by locator: all of them, or those of ``locators``."""
    query = select(Item.locator, Item.id).where(Item.source_id == source_id)
    if locators is None:
        return {locator: item_id for locator, item_id in session.execute(query)}
    found: dict[str, int] = {}
    for start in range(0, len(locators), _IN_CHUNK):
        chunk = list(locators[start : start + _IN_CHUNK])
        for locator, item_id in session.execute(query.where(Item.locator.in_(chunk))):
            found[locator] = item_id
    return found


_IN_CHUNK = 900
"""Values per ``IN (...)``: below SQLite's oldest limit on bound parameters."""


def add_imported_labels(
    session: Session, source_id: int, user_id: int, labels: Sequence[ImportedLabel]
) -> int:
    """Record labels that came with the data as ``import`` annotations.

    A label the same user already imported for the same item is not added twice.
    Returns the number of annotations added.
    """
    if not labels:
        return 0
    ids = item_ids(session, source_id, [label.locator for label in labels])
    wanted = list(ids.values())
    existing: set[tuple[int, str | None]] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        rows = session.execute(
            select(Annotation.item_id, Annotation.label).where(
                Annotation.item_id.in_(wanted[start : start + _IN_CHUNK]),
                Annotation.user_id == user_id,
            )
        )
        existing.update((item_id, label) for item_id, label in rows)
    now = utcnow()
    rows = []
    for label in labels:
        item_id = ids[label.locator]
        if (item_id, label.label) in existing:
            continue
        existing.add((item_id, label.label))
        rows.append(
            {
                "item_id": item_id,
                "user_id": user_id,
                "action": "import",
                "label": label.label,
                "start_s": label.start_s,
                "end_s": label.end_s,
                "f_low_hz": label.f_low_hz,
                "f_high_hz": label.f_high_hz,
                "created_at": now,
            }
        )
    if rows:
        session.execute(Annotation.__table__.insert(), rows)
    return len(rows)


def record_ingest_error(
    session: Session,
    project_id: int,
    path: str,
    reason: str,
    *,
    member: str | None = None,
    item_id: int | None = None,
) -> bool:
    """Record that a file, entry or item could not be read. The same error is kept once.

    Returns whether a new row was written.
    """
    same = select(IngestError.id).where(
        IngestError.project_id == project_id,
        IngestError.path == path,
        IngestError.reason == reason,
        IngestError.member.is_(None) if member is None else IngestError.member == member,
    )
    if session.scalar(same.limit(1)) is not None:
        return False
    session.add(
        IngestError(project_id=project_id, path=path, member=member, item_id=item_id, reason=reason)
    )
    session.flush()
    return True


def list_ingest_errors(session: Session, project_id: int) -> list[IngestError]:
    return list(
        session.scalars(
            select(IngestError).where(IngestError.project_id == project_id).order_by(IngestError.id)
        )
    )


def project_status(session: Session, project_id: int) -> dict[str, int]:
    """Counts of everything a project holds, for ``loupe status``; archived items are left out
    of the item, label, annotation and suggestion counts and counted on their own."""

    def count(model, *where) -> int:  # type: ignore[no-untyped-def]
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    in_project = and_(Item.project_id == project_id, not_archived(Item.id))
    labelled = (
        select(func.count(func.distinct(Annotation.item_id)))
        .join(Item, Item.id == Annotation.item_id)
        .where(in_project, Annotation.label.is_not(None))
    )
    return {
        "sources": count(Source, Source.project_id == project_id, Source.archived_at.is_(None)),
        "items": count(Item, in_project),
        "labelled_items": session.scalar(labelled) or 0,
        "ingest_errors": count(IngestError, IngestError.project_id == project_id),
        "annotations": session.scalar(
            select(func.count()).select_from(Annotation).join(Item).where(in_project)
        )
        or 0,
        "suggestions": session.scalar(
            select(func.count()).select_from(Suggestion).join(Item).where(in_project)
        )
        or 0,
        "snapshots": count(Snapshot, Snapshot.project_id == project_id),
        "model_versions": count(ModelVersion, ModelVersion.project_id == project_id),
    } | archived_counts(session, project_id)


def label_counts(session: Session, project_id: int) -> dict[str, int]:
    """Imported or human labels per class (every annotation with a label, latest or not) of
    items that are not archived."""
    rows = session.execute(
        select(Annotation.label, func.count())
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project_id,
            Annotation.label.is_not(None),
            not_archived(Item.id),
        )
        .group_by(Annotation.label)
    )
    return {label: n for label, n in rows}
