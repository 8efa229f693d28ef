"""Writing what people do: one append-only row per action, undo as a row of its own.

Every row carries the user, the suggestion and model version that were on screen, the time
spent, and whether the item came from the queue's random audit stream (read off the person's
lease on it); rows written by one call share one timestamp, so a page accepted with one key is
undone with one key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, true
from sqlalchemy.orm import Session

from store.actions import DONE_ACTIONS, done_condition, not_undone
from store.base import utcnow
from store.catalog import ItemRow, insert_items, item_ids
from store.errors import LeaseLostError, NotFoundError, ValidationError
from store.leases import lock_items
from store.models import Annotation, Item, Lease, Project, Source, User
from store.queue import close, reopen

USER_ACTIONS = ("accept", "edit", "reject", "skip", "add")


@dataclass(frozen=True, slots=True)
class Action:
    """One person's decision on one item."""

    item_id: int
    action: str
    label: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    suggestion_id: int | None = None
    model_version_id: int | None = None
    duration_s: float | None = None


def record(
    session: Session,
    project: Project,
    user: User,
    actions: Sequence[Action],
    *,
    require_lease: bool = False,
) -> list[int]:
    """Write ``actions`` as annotations by ``user`` and give back their leases.

    An action on an item the user holds by an audit lease is marked ``audit``. With
    ``require_lease`` (every action on an item the queue handed out) each item must still be
    leased to the user — a lease that ran out but nobody took over still counts — and not be
    done by anyone else; otherwise nothing is written. Returns the new annotation ids, in order.

    Raises
    ------
    ValidationError
        For an unknown action, a label outside the project's classes, a labelling action
        without a label, or an audio span that ends before it starts.
    LeaseLostError
        With ``require_lease``, for the items whose lease another person took over or that
        were labelled (and so released) meanwhile.
    """
    if not actions:
        return []
    for action in actions:
        _check(project, action)
    items = [a.item_id for a in actions]
    # Lock the items first (PostgreSQL), so a claim racing this action either passes them over
    # or finds them done; then give the leases back, learning which ones the user still held.
    lock_items(session, items)
    held = {
        item_id: audit
        for item_id, audit in session.execute(
            delete(Lease)
            .where(Lease.user_id == user.id, Lease.item_id.in_(items))
            .returning(Lease.item_id, Lease.audit)
            .execution_options(synchronize_session=False)
        )
    }
    if require_lease:
        # held, and not labelled meanwhile by someone who needed no lease (a review, an import)
        done = set(
            session.scalars(select(Item.id).where(Item.id.in_(items), done_condition(Item.id)))
        )
        lost = [i for i in items if i not in held or i in done]
        if lost:
            raise LeaseLostError(lost)
    now = utcnow()
    rows = [
        {
            "item_id": a.item_id,
            "user_id": user.id,
            "action": a.action,
            "label": a.label,
            "start_s": a.start_s,
            "end_s": a.end_s,
            "suggestion_id": a.suggestion_id,
            "model_version_id": a.model_version_id,
            "duration_s": a.duration_s,
            "audit": bool(held.get(a.item_id, False)),
            "created_at": now,
        }
        for a in actions
    ]
    ids = list(session.scalars(insert(Annotation).returning(Annotation.id), rows))
    close(session, [a.item_id for a in actions if a.action in DONE_ACTIONS])
    return ids


def _check(project: Project, action: Action) -> None:
    if action.action not in USER_ACTIONS:
        raise ValidationError(f"unknown action {action.action!r}")
    if action.action in ("accept", "edit", "add") and action.label is None:
        raise ValidationError(f"{action.action} of item {action.item_id} needs a label")
    if action.label is not None and action.label not in project.classes:
        raise ValidationError(
            f"label {action.label!r} of item {action.item_id} is not a class of project "
            f"{project.name} ({', '.join(project.classes)})"
        )
    if action.start_s is not None and action.end_s is not None and action.end_s <= action.start_s:
        raise ValidationError(
            f"span of item {action.item_id} ends at {action.end_s:.3f} s, "
            f"before it starts at {action.start_s:.3f} s"
        )


def add_segment(
    session: Session,
    project: Project,
    user: User,
    *,
    source_id: int,
    start_s: float,
    end_s: float,
    label: str,
    duration_s: float | None = None,
) -> tuple[int, int]:
    """Register a segment a person found that nothing proposed, labelled by them.

    Returns the new item's id and the ``add`` annotation's id.
    """
    if project.modality != "audio":
        raise ValidationError("segments can only be added to audio projects")
    source = session.get(Source, source_id)
    if source is None or source.project_id != project.id:
        raise NotFoundError(f"recording {source_id} is not in project {project.name}")
    if end_s <= start_s:
        raise ValidationError(f"a segment must end after it starts ({start_s:.3f}–{end_s:.3f} s)")
    duration = source.meta.get("duration_s")
    if start_s < 0 or (duration is not None and end_s > float(duration) + 1e-6):
        raise ValidationError(
            f"segment {start_s:.3f}–{end_s:.3f} s lies outside the recording "
            f"({float(duration or 0):.3f} s long)"
        )
    locator = f"span:{start_s:.6f}-{end_s:.6f}"
    insert_items(session, source, [ItemRow(locator, start_s=start_s, end_s=end_s)], "human")
    item_id = item_ids(session, source_id, [locator])[locator]
    (annotation_id,) = record(
        session,
        project,
        user,
        [Action(item_id, "add", label, start_s, end_s, duration_s=duration_s)],
    )
    return item_id, annotation_id


def undo_last(session: Session, project: Project, user: User) -> list[int]:
    """Take back the user's latest action in the project (every row it wrote).

    Writes one ``undo`` row per annotation taken back and returns the items they were on, so the
    annotator can show them again. An empty list means there was nothing left to undo.
    """
    latest = (
        select(Annotation.created_at)
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project.id,
            Annotation.user_id == user.id,
            Annotation.action != "undo",
            not_undone(Annotation),
        )
        .order_by(Annotation.created_at.desc(), Annotation.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    targets = session.execute(
        select(Annotation.id, Annotation.item_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project.id,
            Annotation.user_id == user.id,
            Annotation.action != "undo",
            Annotation.created_at == latest,
            not_undone(Annotation),
        )
        .order_by(Annotation.id)
    ).all()
    if not targets:
        return []
    now = utcnow()
    session.execute(
        insert(Annotation),
        [
            {
                "item_id": item_id,
                "user_id": user.id,
                "action": "undo",
                "undoes_id": annotation_id,
                "created_at": now,
            }
            for annotation_id, item_id in targets
        ],
    )
    items = [item_id for _, item_id in targets]
    reopen(session, items)
    return items


def start_of_day(now: dt.datetime | None = None) -> dt.datetime:
    now = now or utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def done_since(session: Session, project_id: int, user_id: int, since: dt.datetime) -> int:
    """Items the user labelled, rejected or added since ``since`` and did not take back."""
    return (
        session.scalar(
            select(func.count(func.distinct(Annotation.item_id)))
            .join(Item, Item.id == Annotation.item_id)
            .where(
                Annotation.user_id == user_id,
                Annotation.created_at >= since,
                Item.project_id == project_id,
                Annotation.action.in_(DONE_ACTIONS),
                not_undone(Annotation),
            )
        )
        or 0
    )


def progress(session: Session, project_id: int) -> dict:
    """Items in the project, items done, and done items per class (latest label per item)."""
    total = session.scalar(select(func.count()).where(Item.project_id == project_id)) or 0
    done = (
        select(Annotation.item_id, func.max(Annotation.id).label("last_id"))
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project_id,
            Annotation.action.in_(DONE_ACTIONS),
            not_undone(Annotation),
        )
        .group_by(Annotation.item_id)
        .subquery()
    )
    by_class: dict[str, int] = {}
    for label, count in session.execute(
        select(func.coalesce(Annotation.label, "(no event)"), func.count())
        .join(done, done.c.last_id == Annotation.id)
        .group_by(Annotation.label)
    ):
        by_class[label] = count
    finished = sum(by_class.values())
    return {
        "items": total,
        "done": finished,
        "left": max(total - finished, 0),
        "by_class": by_class,
    }


def audit_labels(session: Session, project_id: int) -> list[tuple[int, str | None]]:
    """``(item id, label)`` of the items whose effective human label came from an audit pick.

    An item's effective human label is its latest labelling action by a person (accept, edit,
    reject, add; imported labels do not count) that no undo took back; the item counts when that
    action was made on an audit lease. A reject has no label (``None``). Sorted by item id.
    """
    people = [action for action in DONE_ACTIONS if action != "import"]
    latest = (
        select(func.max(Annotation.id).label("last_id"))
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project_id,
            Annotation.action.in_(people),
            not_undone(Annotation),
        )
        .group_by(Annotation.item_id)
        .subquery()
    )
    rows = session.execute(
        select(Annotation.item_id, Annotation.label)
        .join(latest, latest.c.last_id == Annotation.id)
        .where(Annotation.audit == true())
        .order_by(Annotation.item_id)
    )
    return [(item_id, label) for item_id, label in rows]


def history(session: Session, project_id: int) -> list[tuple[str, dt.datetime, str]]:
    """(user name, time, action) of every human action in the project, oldest first."""
    rows = session.execute(
        select(User.name, Annotation.created_at, Annotation.action)
        .join(User, User.id == Annotation.user_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id, Annotation.action != "import")
        .order_by(Annotation.created_at)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]
