"""Repository functions for suggestions: what is still to prelabel, and bulk, idempotent writes.

Bulk writes go through the driver (SQLite ``executemany``; PostgreSQL ``COPY`` into a staging
table) and ``INSERT ... ON CONFLICT DO NOTHING`` on (item, model version): a rerun of a batch that
was already committed adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.errors import NotFoundError
from store.models import IngestError, Item, ModelVersion, Source, Suggestion


@dataclass(frozen=True, slots=True)
class PendingItem:
    item_id: int
    source_uri: str
    source_kind: str
    member: str | None
    position: int | None
    start_s: float | None
    end_s: float | None


@dataclass(frozen=True, slots=True)
class SuggestionRow:
    item_id: int
    label: str
    probabilities: list[float]
    confidence: float
    margin: float
    entropy: float
    start_s: float | None = None
    end_s: float | None = None
    bald: float | None = None


SUGGESTION_COLUMNS = (
    "item_id",
    "model_version_id",
    "label",
    "probabilities",
    "confidence",
    "margin",
    "entropy",
    "bald",
    "start_s",
    "end_s",
    "created_at",
)


def model_version_for(session: Session, project_id: int, version_id: int | None) -> ModelVersion:
    """The named version of the project, or its active one.

    Raises
    ------
    NotFoundError
        No such version in the project, or no active version.
    """
    if version_id is not None:
        version = session.get(ModelVersion, version_id)
        if version is None or version.project_id != project_id:
            raise NotFoundError(f"no model version {version_id} in this project")
        return version
    version = session.scalar(
        select(ModelVersion).where(
            ModelVersion.project_id == project_id, ModelVersion.status == "active"
        )
    )
    if version is None:
        raise NotFoundError(
            "the project has no active model version: train, evaluate and promote one first, "
            "or name one with --model-version"
        )
    return version


def _pending(project_id: int, version_id: int) -> tuple:  # type: ignore[type-arg]
    """Conditions of an item still to prelabel: in the project, no suggestion from the version,
    no recorded read failure."""
    has_suggestion = exists().where(
        and_(Suggestion.item_id == Item.id, Suggestion.model_version_id == version_id)
    )
    unreadable = exists().where(IngestError.item_id == Item.id)
    return (Item.project_id == project_id, ~has_suggestion, ~unreadable)


_PENDING_COLUMNS = (
    Item.id,
    Source.uri,
    Source.kind,
    Item.member,
    Item.position,
    Item.start_s,
    Item.end_s,
)


def count_pending(session: Session, project_id: int, version_id: int) -> int:
    """How many items the version has yet to prelabel."""
    query = select(func.count()).select_from(Item).where(*_pending(project_id, version_id))
    return session.scalar(query) or 0


def pending_items(
    session: Session, project_id: int, version_id: int, *, after_id: int = 0, limit: int = 1000
) -> list[PendingItem]:
    """One page of pending items by id, after ``after_id``."""
    rows = session.execute(
        select(*_PENDING_COLUMNS)
        .join(Source, Source.id == Item.source_id)
        .where(Item.id > after_id, *_pending(project_id, version_id))
        .order_by(Item.id)
        .limit(limit)
    ).all()
    return [PendingItem(*row) for row in rows]


def iter_pending(
    session: Session, project_id: int, version_id: int, *, batch_size: int, limit: int | None = None
) -> Iterator[list[PendingItem]]:
    """Pending items in id order, as batches, from one streamed query (a server-side cursor on
    PostgreSQL) instead of one query per page."""
    query = (
        select(*_PENDING_COLUMNS)
        .join(Source, Source.id == Item.source_id)
        .where(*_pending(project_id, version_id))
        .order_by(Item.id)
    )
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=batch_size))
    for rows in result.partitions(batch_size):
        yield [PendingItem(*row) for row in rows]


def insert_suggestions(session: Session, version_id: int, rows: Sequence[SuggestionRow]) -> int:
    """Write suggestions of one version; rows for items that already have one are left alone.

    Returns the number of suggestions added.
    """
    if not rows:
        return 0
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    stamp = utcnow()
    if not postgresql:
        to_db = Suggestion.__table__.c.created_at.type.dialect_impl(
            connection.dialect
        ).bind_processor(connection.dialect)
        stamp = to_db(stamp) if to_db else stamp
    values = [
        (
            r.item_id,
            version_id,
            r.label,
            json.dumps(r.probabilities),
            r.confidence,
            r.margin,
            r.entropy,
            r.bald,
            r.start_s,
            r.end_s,
            stamp,
        )
        for r in rows
    ]
    columns = ", ".join(SUGGESTION_COLUMNS)
    if postgresql:
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS suggestion_stage (item_id int4, "
                "model_version_id int4, label varchar, probabilities text, confidence float8, "
                "margin float8, entropy float8, bald float8, start_s float8, end_s float8, "
                "created_at timestamptz) ON COMMIT DELETE ROWS"
            )
            cursor.execute("TRUNCATE suggestion_stage")
            with cursor.copy(f"COPY suggestion_stage ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            selected = columns.replace("probabilities", "probabilities::json")
            cursor.execute(
                f"INSERT INTO suggestion ({columns}) SELECT {selected} FROM suggestion_stage "
                "ON CONFLICT (item_id, model_version_id) DO NOTHING"
            )
            return max(cursor.rowcount, 0)
    placeholders = ", ".join("?" for _ in SUGGESTION_COLUMNS)
    result = connection.exec_driver_sql(
        f"INSERT INTO suggestion ({columns}) VALUES ({placeholders}) "
        "ON CONFLICT (item_id, model_version_id) DO NOTHING",
        values,
    )
    return max(result.rowcount, 0)
