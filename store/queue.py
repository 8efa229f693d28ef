"""The annotator's queue: which items a person sees next, leased so nobody else gets them.

An item is *done* once it carries a labelling action (import, accept, edit, reject, add) that no
``undo`` took back. The next items are the open suggestions of the project's active model version
in the order of the project's strategy: lowest ``priority`` first, walked along the partial index
on (model version, priority) of open suggestions (prelabel and ``prelabel.ranking`` write the
priorities). Items without a suggestion follow: first those the cold-start strategy ranked
(``item.cold_rank``), then the rest in order of ingest. A person's own ``skip`` hides an item from
that person only; items whose media could not be read, and archived items, are left out for
everyone.

A share of the picks (``audit_share``) is the *audit stream*: each pick is, with that
probability, a uniformly random open item instead of the strategy's next one, found through the
index on (project, random key) as the first available item at or after a uniform draw (wrapping
around). An item's chance is the gap of random keys before it, uniform in expectation, so the
audit set is an unbiased sample of what was open. Audit leases and the annotations made on them
are marked ``audit``.

Picks are leased to the person (``store.leases``), so nobody else is handed them meanwhile.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from store.actions import IdColumn, done_condition, not_undone
from store.archive import not_archived
from store.base import utcnow
from store.errors import ValidationError
from store.leases import DEFAULT_LEASE, claim
from store.models import (
    Annotation,
    IngestError,
    Item,
    Lease,
    ModelVersion,
    Project,
    Source,
    Suggestion,
)


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An item on a person's screen, with the suggestion shown for it (if any)."""

    item_id: int
    source_id: int
    source_uri: str
    source_kind: str
    member: str | None
    position: int | None
    start_s: float | None
    end_s: float | None
    suggestion_id: int | None = None
    model_version_id: int | None = None
    label: str | None = None
    probabilities: tuple[float, ...] | None = None
    confidence: float | None = None
    suggested_start_s: float | None = None
    suggested_end_s: float | None = None
    audit: bool = False
    """Picked by the random audit stream, not by the strategy."""


def active_version(session: Session, project_id: int) -> ModelVersion | None:
    """The project's active model version, if it has one."""
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.project_id == project_id, ModelVersion.status == "active"
        )
    )


def _available(
    item_id: IdColumn, user_id: int, now: dt.datetime
) -> tuple[ColumnElement[bool], ...]:
    """SQL conditions, besides being done, that keep an item from this user now."""
    skipped = exists().where(
        Annotation.item_id == item_id,
        Annotation.user_id == user_id,
        Annotation.action == "skip",
        not_undone(Annotation),
    )
    held_by_other = exists().where(
        Lease.item_id == item_id, Lease.expires_at > now, Lease.user_id != user_id
    )
    unreadable = exists().where(IngestError.item_id == item_id)
    return (~skipped, ~held_by_other, ~unreadable, not_archived(item_id))


def candidates(
    session: Session,
    project_id: int,
    user_id: int,
    *,
    limit: int,
    version_id: int | None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Up to ``limit`` item ids in queue order, without claiming them.

    Suggested items come from the open part of the priority index; those found done on the
    way (imported labels, another version's reviews) are closed, so later requests do not meet
    them again. Items without a suggestion follow, cold-start ranks first, each part walked
    along its own index.
    """
    now = now or utcnow()
    found: list[int] = []
    if version_id is not None:
        found = _open_suggestions(session, version_id, user_id, limit, now)
    if len(found) >= limit:
        return found
    conditions = [
        Item.project_id == project_id,
        ~done_condition(Item.id),
        *_available(Item.id, user_id, now),
    ]
    if version_id is not None:
        conditions.append(
            ~exists().where(
                Suggestion.item_id == Item.id, Suggestion.model_version_id == version_id
            )
        )
    for ranked, order in (
        (Item.cold_rank.is_not(None), (Item.cold_rank, Item.id)),
        (Item.cold_rank.is_(None), (Item.id,)),
    ):
        found += session.scalars(
            select(Item.id).where(*conditions, ranked).order_by(*order).limit(limit - len(found))
        )
        if len(found) >= limit:
            break
    return found


def _open_suggestions(
    session: Session, version_id: int, user_id: int, limit: int, now: dt.datetime
) -> list[int]:
    batch = limit + 16
    while True:
        item_ids = list(
            session.scalars(
                select(Suggestion.item_id)
                .where(
                    Suggestion.model_version_id == version_id,
                    Suggestion.closed == false(),
                    *_available(Suggestion.item_id, user_id, now),
                )
                .order_by(Suggestion.priority, Suggestion.id)
                .limit(batch)
            )
        )
        done = (
            list(
                session.scalars(
                    select(Item.id).where(Item.id.in_(item_ids), done_condition(Item.id))
                )
            )
            if item_ids
            else []
        )
        if not done:
            return item_ids[:limit]
        if len(done) > batch // 2:  # a long run of done items: close them all in one pass
            close_done(session, version_id)
        else:
            close(session, done)


def close_done(session: Session, version_id: int) -> int:
    """Close every open suggestion of the version whose item is done; returns how many.

    One pass over the version's open suggestions: run after prelabel, and by the queue when it
    meets a long run of done items (a new version over a labelled project).
    """
    result = session.execute(
        update(Suggestion)
        .where(
            Suggestion.model_version_id == version_id,
            Suggestion.closed == false(),
            done_condition(Suggestion.item_id),
        )
        .values(closed=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def close(session: Session, item_ids: Sequence[int]) -> None:
    """Take the items' suggestions out of the queue's index (the items are done)."""
    if item_ids:
        session.execute(
            update(Suggestion)
            .where(Suggestion.item_id.in_(list(item_ids)), Suggestion.closed == false())
            .values(closed=True)
            .execution_options(synchronize_session=False)
        )


def reopen(session: Session, item_ids: Sequence[int]) -> None:
    """Put the items' suggestions back in the queue's index (an undo); if an item is still
    done by someone else's action, the queue closes it again when it meets it."""
    if item_ids:
        session.execute(
            update(Suggestion)
            .where(Suggestion.item_id.in_(list(item_ids)))
            .values(closed=False)
            .execution_options(synchronize_session=False)
        )


def next_items(
    session: Session,
    project_id: int,
    user_id: int,
    *,
    k: int = 1,
    lease: dt.timedelta = DEFAULT_LEASE,
    exclude: Sequence[int] = (),
    now: dt.datetime | None = None,
    audit_share: float = 0.0,
    rng: random.Random | None = None,
) -> list[QueueItem]:
    """The next ``k`` items for the user, leased to them, in queue order.

    ``exclude`` keeps items off (those already on the person's screen). Each of the ``k`` picks
    is, with probability ``audit_share`` (drawn from ``rng``), an audit pick: a uniformly random
    open item that nobody holds, leased and returned with ``audit`` set, in its place among the
    strategy's picks. Open items the user holds a live lease on already (a reload, a second tab)
    come first, renewed and with their own audit mark. Fewer than ``k`` come back only when the
    queue holds fewer open items.

    Raises
    ------
    ValidationError
        ``audit_share`` outside ``[0, 1]``.
    """
    if not 0.0 <= audit_share <= 1.0:
        raise ValidationError(f"the audit share must lie in [0, 1], got {audit_share}")
    now = now or utcnow()
    rng = rng or random.Random()
    version = active_version(session, project_id)
    version_id = version.id if version is not None else None
    excluded = set(exclude)
    resumed = _resumed(session, project_id, user_id, k, excluded, now)
    if resumed:  # renew them; each keeps its own audit mark
        claim(session, user_id, resumed, lease=lease, now=now)
        excluded.update(resumed)
        k -= len(resumed)
    plan = [audit_share > 0 and rng.random() < audit_share for _ in range(k)]
    chosen = _strategy_picks(
        session, project_id, user_id, k - sum(plan), version_id, lease, excluded, now
    )
    audited = _audit_picks(
        session, project_id, user_id, sum(plan), lease, excluded | set(chosen), now, rng
    )
    ordered: list[int] = list(resumed)
    strategic, random_picks = iter(chosen), iter(audited)
    for audit in plan:
        pick = next(random_picks if audit else strategic, None)
        if pick is not None:
            ordered.append(pick)
    ordered += [*strategic, *random_picks]
    return load_items(session, ordered, version_id)


def _resumed(
    session: Session,
    project_id: int,
    user_id: int,
    k: int,
    excluded: set[int],
    now: dt.datetime,
) -> list[int]:
    """Up to ``k`` open items the user already holds a live lease on, oldest lease first: a
    reload or a second tab gets back what was on screen instead of leasing more."""
    if k <= 0:
        return []
    # Two steps, so that the database starts from the user's few leases and never from the
    # project's items (one query with a join is planned item-first on SQLite: 0.6 s at 1,000,000).
    held = [
        item_id
        for item_id in session.scalars(
            select(Lease.item_id)
            .where(Lease.user_id == user_id, Lease.expires_at > now)
            .order_by(Lease.created_at, Lease.item_id)
        )
        if item_id not in excluded
    ]
    if not held:
        return []
    still_open = set(
        session.scalars(
            select(Item.id).where(
                Item.id.in_(held),
                Item.project_id == project_id,
                ~done_condition(Item.id),
                *_available(Item.id, user_id, now),
            )
        )
    )
    return [item_id for item_id in held if item_id in still_open][:k]


def _strategy_picks(
    session: Session,
    project_id: int,
    user_id: int,
    k: int,
    version_id: int | None,
    lease: dt.timedelta,
    excluded: set[int],
    now: dt.datetime,
) -> list[int]:
    """Up to ``k`` items in the strategy's order, leased to the user."""
    excluded = set(excluded)
    chosen: list[int] = []
    if k <= 0:
        return chosen
    for attempt in range(4):
        want = k - len(chosen)
        # a window wider than what is wanted: others may be claiming the head of the queue now
        limit = want + len(excluded) + len(chosen) + 8 * (attempt + 1)
        found = candidates(
            session, project_id, user_id, limit=limit, version_id=version_id, now=now
        )
        fresh = [i for i in found if i not in excluded and i not in chosen]
        got = claim(session, user_id, fresh, lease=lease, now=now, limit=want)
        chosen += [i for i in fresh if i in got]
        if len(got) < want:  # every one was tried: the others went to someone else meanwhile
            excluded.update(fresh)
        if len(chosen) >= k or len(found) < limit:
            break
    return chosen


def _audit_picks(
    session: Session,
    project_id: int,
    user_id: int,
    k: int,
    lease: dt.timedelta,
    excluded: set[int],
    now: dt.datetime,
    rng: random.Random,
) -> list[int]:
    """Up to ``k`` uniformly random open items nobody holds, leased to the user as audit picks.

    Each is one indexed lookup: the first available item whose random key is at or after a
    uniform draw, else (wrapping around) the first at all.
    """
    if k <= 0:
        return []
    draw_missing_random_keys(session, project_id)
    live = exists().where(Lease.item_id == Item.id, Lease.expires_at > now)
    conditions = [
        Item.project_id == project_id,
        Item.random_key.is_not(None),
        ~done_condition(Item.id),
        *_available(Item.id, user_id, now),
        ~live,
    ]
    picked: list[int] = []
    taken = set(excluded)
    failures = 0
    while len(picked) < k and failures < 4:
        draw = rng.random()
        found = None
        for window in (Item.random_key >= draw, Item.random_key < draw):
            query = select(Item.id).where(*conditions, window)
            if taken:
                query = query.where(Item.id.not_in(taken))
            found = session.scalar(query.order_by(Item.random_key, Item.id).limit(1))
            if found is not None:
                break
        if found is None:  # nothing open is left for an audit pick
            break
        taken.add(found)
        if claim(session, user_id, [found], lease=lease, now=now, audit=True):
            picked.append(found)
        else:
            failures += 1
    return picked


def draw_missing_random_keys(session: Session, project_id: int) -> int:
    """Give every item of the project without a random key a uniform one in [0, 1), drawn by
    the database; returns how many. A no-op (one indexed probe) once every item has one."""
    missing = session.scalar(
        select(Item.id).where(Item.project_id == project_id, Item.random_key.is_(None)).limit(1)
    )
    if missing is None:
        return 0
    uniform: ColumnElement[float]
    if session.get_bind().dialect.name == "postgresql":
        uniform = func.random()
    else:  # SQLite's random() is a signed 64-bit integer
        uniform = func.random() / literal(18446744073709551616.0) + literal(0.5)
    result = session.execute(
        update(Item)
        .where(Item.project_id == project_id, Item.random_key.is_(None))
        .values(random_key=uniform)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def set_cold_ranks(session: Session, project_id: int, item_ids: Sequence[int]) -> None:
    """Make ``item_ids`` the project's cold-start order (rank 0 first), clearing older ranks."""
    session.execute(
        update(Item)
        .where(Item.project_id == project_id, Item.cold_rank.is_not(None))
        .values(cold_rank=None)
        .execution_options(synchronize_session=False)
    )
    if item_ids:
        session.connection().execute(
            update(Item).where(Item.id == bindparam("item")).values(cold_rank=bindparam("rank")),
            [{"item": int(item), "rank": rank} for rank, item in enumerate(item_ids)],
        )


def set_queue_settings(
    session: Session, project: Project, *, strategy: str, audit_share: float
) -> None:
    """Record the project's query strategy and audit share in its settings.

    Raises
    ------
    ValidationError
        ``audit_share`` outside ``[0, 1]``.
    """
    if not 0.0 <= audit_share <= 1.0:
        raise ValidationError(f"the audit share must lie in [0, 1], got {audit_share}")
    project.settings = dict(project.settings) | {
        "strategy": strategy,
        "audit_share": float(audit_share),
    }
    session.flush()


def load_items(
    session: Session, item_ids: Sequence[int], version_id: int | None
) -> list[QueueItem]:
    """What the annotator shows for each item, in the order of ``item_ids``; ``audit`` says
    whether the item's lease came from the audit stream."""
    if not item_ids:
        return []
    columns = (
        Item.id,
        Source.id,
        Source.uri,
        Source.kind,
        Item.member,
        Item.position,
        Item.start_s,
        Item.end_s,
    )
    query = (
        select(*columns)
        .join(Source, Source.id == Item.source_id)
        .where(Item.id.in_(list(item_ids)))
    )
    if version_id is not None:
        query = query.add_columns(
            Suggestion.id,
            Suggestion.model_version_id,
            Suggestion.label,
            Suggestion.probabilities,
            Suggestion.confidence,
            Suggestion.start_s,
            Suggestion.end_s,
        ).outerjoin(
            Suggestion,
            and_(Suggestion.item_id == Item.id, Suggestion.model_version_id == version_id),
        )
    query = query.add_columns(Lease.audit).outerjoin(Lease, Lease.item_id == Item.id)
    by_id = {}
    for row in session.execute(query):
        *values, audit = row
        if len(values) > len(columns) and values[len(columns) + 3] is not None:
            values[len(columns) + 3] = tuple(values[len(columns) + 3])
        item = QueueItem(*values)
        by_id[row[0]] = replace(item, audit=True) if audit else item
    return [by_id[i] for i in item_ids if i in by_id]
