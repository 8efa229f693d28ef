"""Repository functions for suggestions: what is still to prelabel, bulk idempotent writes, and
the queue order (``priority``) of a version's open suggestions.

Bulk writes go through the driver (SQLite ``executemany``; PostgreSQL ``COPY`` into a staging
table) and ``INSERT ... ON CONFLICT DO NOTHING`` on (item, model version): a rerun of a batch that
was already committed adds nothing. Re-ranking is one ``UPDATE`` over the version's open
suggestions, computed in SQL from stored columns, never a loop over rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.actions import DONE_ACTIONS, done_condition, not_undone
from store.archive import not_archived
from store.base import utcnow
from store.errors import NotFoundError
from store.models import Annotation, IngestError, Item, ModelVersion, Source, Suggestion


@dataclass(frozen=True, slots=True)
class PendingItem:
    item_id: int
    source_uri: str
    source_kind: str
    member: str | None
    position: int | None
    start_s: float | None
    end_s: float | None
    random_key: float | None = None
    """The item's uniform random key: the ``random`` strategy's priority."""


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
    priority: float | None = None
    """Queue order (lower comes sooner); the confidence when not given."""
    embedding: bytes | None = None


SUGGESTION_COLUMNS = (
    "item_id",
    "model_version_id",
    "label",
    "probabilities",
    "confidence",
    "margin",
    "entropy",
    "bald",
    "priority",
    "embedding",
    "start_s",
    "end_s",
    "created_at",
)
_PG_SUGGESTION_TYPES = (
    "int4",
    "int4",
    "varchar",
    "text",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "bytea",
    "float8",
    "float8",
    "timestamptz",
)
"""Types of :data:`SUGGESTION_COLUMNS` in the PostgreSQL staging table, for binary COPY."""


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
    """Conditions of an item still to prelabel: in the project, not archived, no suggestion from
    the version, no recorded read failure."""
    has_suggestion = exists().where(
        and_(Suggestion.item_id == Item.id, Suggestion.model_version_id == version_id)
    )
    unreadable = exists().where(IngestError.item_id == Item.id)
    return (Item.project_id == project_id, not_archived(Item.id), ~has_suggestion, ~unreadable)


_PENDING_COLUMNS = (
    Item.id,
    Source.uri,
    Source.kind,
    Item.member,
    Item.position,
    Item.start_s,
    Item.end_s,
    Item.random_key,
)


def count_pending(session: Session, project_id: int, version_id: int) -> int:
    """How many items the version has yet to prelabel."""
    query = select(func.count()).select_from(Item).where(*_pending(project_id, version_id))
    return session.scalar(query) or 0


def count_suggested(session: Session, project_id: int, version_id: int) -> int:
    """How many of the project's items the version has a suggestion for."""
    query = (
        select(func.count())
        .select_from(Suggestion)
        .join(Item, Item.id == Suggestion.item_id)
        .where(Item.project_id == project_id, Suggestion.model_version_id == version_id)
    )
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
            r.confidence if r.priority is None else r.priority,
            r.embedding,
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
                "margin float8, entropy float8, bald float8, priority float8, embedding bytea, "
                "start_s float8, end_s float8, "
                "created_at timestamptz) ON COMMIT DELETE ROWS"
            )
            cursor.execute("TRUNCATE suggestion_stage")
            # binary COPY: embeddings go as raw bytes, not hex-escaped text
            with cursor.copy(
                f"COPY suggestion_stage ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(list(_PG_SUGGESTION_TYPES))
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


# --- queue order ---------------------------------------------------------------------------

PRIORITY_ORDERS = ("confidence", "margin", "-entropy", "-bald", "random_key")
"""Priorities computable in SQL from stored columns (lower comes sooner): ascending confidence
or margin, descending entropy or BALD, or the item's random key."""


def _priority_expression(order: str) -> ColumnElement[float] | InstrumentedAttribute[float]:
    if order == "confidence":
        return Suggestion.confidence
    if order == "margin":
        return Suggestion.margin
    if order == "-entropy":
        return -Suggestion.entropy
    if order == "-bald":  # suggestions written before BALD existed go after every scored one
        return -func.coalesce(Suggestion.bald, 0.0)
    if order == "random_key":
        return (
            select(func.coalesce(Item.random_key, 1.0))
            .where(Item.id == Suggestion.item_id)
            .scalar_subquery()
        )
    raise ValueError(f"unknown priority order {order!r}; expected one of {PRIORITY_ORDERS}")


def reprioritise(
    session: Session, version_id: int, order: str, *, below: float | None = None
) -> int:
    """Set the priority of every open suggestion of the version from its stored columns, in one
    ``UPDATE``; returns how many rows it set. With ``below``, only those whose priority is
    lower than that (a range of the open index).

    Raises
    ------
    ValueError
        ``order`` is not one of :data:`PRIORITY_ORDERS`.
    """
    conditions = [Suggestion.model_version_id == version_id, Suggestion.closed == false()]
    if below is not None:
        conditions.append(Suggestion.priority < below)
    result = session.execute(
        update(Suggestion)
        .where(*conditions)
        .values(priority=_priority_expression(order))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def set_priorities(
    session: Session, version_id: int, priorities: Sequence[tuple[int, float]]
) -> None:
    """Set the priority of the version's suggestions on ``(item id, priority)`` pairs, in one
    ``executemany`` along the (item, model version) unique index."""
    if not priorities:
        return
    session.connection().execute(
        update(Suggestion)
        .where(Suggestion.item_id == bindparam("item"), Suggestion.model_version_id == version_id)
        .values(priority=bindparam("value")),
        [{"item": int(item), "value": float(value)} for item, value in priorities],
    )


@dataclass(frozen=True, slots=True)
class OpenScore:
    """An open suggestion as the ``diverse`` strategy needs it."""

    item_id: int
    entropy: float
    priority: float | None
    embedding: bytes | None


def leading_open(session: Session, version_id: int, limit: int) -> list[OpenScore]:
    """The version's first ``limit`` open suggestions in queue order, walked along the open
    index on (model version, priority)."""
    rows = session.execute(
        select(Suggestion.item_id, Suggestion.entropy, Suggestion.priority, Suggestion.embedding)
        .where(Suggestion.model_version_id == version_id, Suggestion.closed == false())
        .order_by(Suggestion.priority, Suggestion.id)
        .limit(limit)
    ).all()
    return [OpenScore(*row) for row in rows]


def labelled_embeddings(session: Session, version_id: int, limit: int) -> list[bytes]:
    """The version's embeddings of up to ``limit`` labelled items, the latest labelled first.

    Walks the labelling annotations backwards (there are far fewer of them than suggestions)
    and finds each item's suggestion through the (item, model version) unique index.
    """
    blobs = session.scalars(
        select(Suggestion.embedding)
        .join(Annotation, Annotation.item_id == Suggestion.item_id)
        .where(
            Suggestion.model_version_id == version_id,
            Suggestion.embedding.is_not(None),
            Annotation.action.in_(DONE_ACTIONS),
            not_undone(Annotation),
        )
        .order_by(Annotation.id.desc())
        .limit(limit)
    )
    return [blob for blob in blobs if blob is not None]


def unlabelled_items(session: Session, project_id: int, *, limit: int | None) -> list[PendingItem]:
    """Items of the project that are not done, not archived and were readable, in order of their
    random key: with ``limit``, a uniform random sample of that size (the keys are independent
    draws), read along the index on (project, random key)."""
    unreadable = exists().where(IngestError.item_id == Item.id)
    query = (
        select(*_PENDING_COLUMNS)
        .join(Source, Source.id == Item.source_id)
        .where(
            Item.project_id == project_id,
            ~unreadable,
            ~done_condition(Item.id),
            not_archived(Item.id),
        )
        .order_by(Item.random_key, Item.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [PendingItem(*row) for row in session.execute(query)]
