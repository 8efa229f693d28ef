"""Leases: an item handed to one person at a time, and the row locks that keep it so under load.

A lease row is unique per item. It is claimed with one ``INSERT ... SELECT ... ON CONFLICT DO
UPDATE ... WHERE`` that only takes an item that is not done and whose lease is free, expired or
already the caller's, so two people never hold the same item and an expired lease goes back to
the queue without any sweeper. On PostgreSQL claims and actions lock the item's row first (see
``claim``), so a claim that raced an action never hands out what that action just labelled; an
action whose lease was lost is refused (``store.annotations.record`` with ``require_lease``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, case, delete, exists, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.actions import done_condition
from store.base import utcnow
from store.models import Item, Lease

DEFAULT_LEASE = dt.timedelta(minutes=15)


def claim(
    session: Session,
    user_id: int,
    item_ids: Sequence[int],
    *,
    lease: dt.timedelta = DEFAULT_LEASE,
    now: dt.datetime | None = None,
    audit: bool = False,
    limit: int | None = None,
) -> set[int]:
    """Lease ``item_ids`` to the user; returns the ids actually obtained.

    With ``limit``, the items are tried in their order until ``limit`` are obtained (the rest
    are left alone).

    An item that is done, or held by someone else whose lease has not expired, is not taken.
    ``audit`` marks the leases as the audit stream's; a live lease the user holds already keeps
    its own mark, so a reload neither makes a strategy pick an audit pick nor the other way round.

    The check and the lease are one statement that reads the latest committed state: on SQLite
    the transaction holds the database's only write lock from its first write on; on PostgreSQL
    the items' rows are locked first (``FOR NO KEY UPDATE SKIP LOCKED``: an item someone is
    claiming or labelling right now is passed over, never waited for), and the statement that
    follows sees every action committed before the lock was had. ``record`` locks the same rows,
    so a claim that waited behind an action can no longer hand out the item that action labelled.
    """
    if not item_ids:
        return set()
    now = now or utcnow()
    ordered = list(dict.fromkeys(item_ids))
    limit = len(ordered) if limit is None else limit
    postgres = session.get_bind().dialect.name == "postgresql"
    got: set[int] = set()
    while ordered and len(got) < limit:
        need = limit - len(got)
        if postgres:  # lock the next ones nobody else holds, then lease those that are free
            tried = _lock_free(session, user_id, ordered, need, now)
            if not tried:
                break
            last = max(ordered.index(i) for i in tried)
            ordered = ordered[last + 1 :]
        else:  # SQLite: the transaction holds the only write lock
            tried, ordered = ordered[:need], ordered[need:]
        got |= _insert_leases(session, user_id, tried, lease, now, audit)
    return got


def _insert_leases(
    session: Session,
    user_id: int,
    item_ids: Sequence[int],
    lease: dt.timedelta,
    now: dt.datetime,
    audit: bool,
) -> set[int]:
    """The one statement that leases those of ``item_ids`` that are not done and free."""
    postgres = session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if postgres else sqlite
    free = select(
        Item.id,
        literal(user_id, Lease.user_id.type),
        literal(now + lease, Lease.expires_at.type),
        literal(audit, Lease.audit.type),
        literal(now, Lease.created_at.type),
    ).where(Item.id.in_(list(item_ids)), ~done_condition(Item.id))
    statement = dialect.insert(Lease).from_select(
        ["item_id", "user_id", "expires_at", "audit", "created_at"], free
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Lease.item_id],
        set_={
            "user_id": statement.excluded.user_id,
            "expires_at": statement.excluded.expires_at,
            "audit": case(
                (and_(Lease.user_id == user_id, Lease.expires_at > now), Lease.audit),
                else_=statement.excluded.audit,
            ),
            "created_at": statement.excluded.created_at,
        },
        where=(Lease.expires_at <= now) | (Lease.user_id == user_id),
    ).returning(Lease.item_id)
    return set(session.scalars(statement))


def lock_items(session: Session, item_ids: Sequence[int]) -> None:
    """PostgreSQL: lock the items' rows against claims until the transaction ends, waiting for
    each in id order (so two lockers never wait on each other in a circle). A no-op on SQLite,
    where a writing transaction holds the whole database."""
    if session.get_bind().dialect.name == "postgresql" and item_ids:
        session.execute(
            select(Item.id)
            .where(Item.id.in_(list(item_ids)))
            .order_by(Item.id)
            .with_for_update(key_share=True)
        )


def _lock_free(
    session: Session, user_id: int, item_ids: list[int], limit: int, now: dt.datetime
) -> list[int]:
    """PostgreSQL: lock the first ``limit`` of ``item_ids`` (in their order) that nobody else
    has locked right now and that look free; returns them. Filtering here, not only in the
    insert that follows, keeps a claim from holding an item it will not get (a person's next
    action on it would wait for that claim's transaction to end)."""
    position = case({item: rank for rank, item in enumerate(item_ids)}, value=Item.id)
    held_by_other = exists().where(
        Lease.item_id == Item.id, Lease.expires_at > now, Lease.user_id != user_id
    )
    return list(
        session.scalars(
            select(Item.id)
            .where(Item.id.in_(item_ids), ~held_by_other, ~done_condition(Item.id))
            .order_by(position)
            .limit(limit)
            .with_for_update(key_share=True, skip_locked=True)
        )
    )


def release(session: Session, user_id: int, item_ids: Sequence[int]) -> None:
    """Give the user's leases on ``item_ids`` back (after acting on them, or leaving)."""
    if item_ids:
        session.execute(
            delete(Lease).where(Lease.user_id == user_id, Lease.item_id.in_(list(item_ids)))
        )


def held_items(
    session: Session, project_id: int, user_id: int, now: dt.datetime | None = None
) -> list[int]:
    """Items of the project the user holds a live lease on (to resume after a reload)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Lease.item_id)
            .join(Item, Item.id == Lease.item_id)
            .where(Item.project_id == project_id, Lease.user_id == user_id, Lease.expires_at > now)
            .order_by(Lease.created_at, Lease.item_id)
        )
    )
