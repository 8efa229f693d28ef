"""Label issues: human labels a model disputes under out-of-fold probabilities, for review.

One row per item and model version (a rerun of the same review adds nothing). A reviewer keeps
the label or relabels the item; either way every open issue on that item closes, and a label a
reviewer kept on an item is not raised again by later versions (a different label on it is).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from store.base import utcnow
from store.errors import NotFoundError, ValidationError
from store.models import LabelIssue

RESOLUTIONS = ("kept", "relabelled")


@dataclass(frozen=True, slots=True)
class NewIssue:
    """A disputed human label, as a review found it."""

    item_id: int
    annotation_id: int | None
    label: str
    suggested: str
    self_confidence: float


@dataclass(frozen=True, slots=True)
class IssueRow:
    id: int
    item_id: int
    model_version_id: int
    annotation_id: int | None
    label: str
    suggested: str
    self_confidence: float
    """Out-of-fold probability of the given label: the lower, the stronger the dispute."""
    status: str
    created_at: dt.datetime


_COLUMNS = (
    LabelIssue.id,
    LabelIssue.item_id,
    LabelIssue.model_version_id,
    LabelIssue.annotation_id,
    LabelIssue.label,
    LabelIssue.suggested,
    LabelIssue.self_confidence,
    LabelIssue.status,
    LabelIssue.created_at,
)


def add_issues(
    session: Session, project_id: int, version_id: int, issues: Sequence[NewIssue]
) -> int:
    """Record issues found with ``version_id`` as open; returns how many rows were added.

    An item that already has an issue from this version is left alone, and so is an item whose
    label a reviewer already kept.
    """
    kept = set(
        session.execute(
            select(LabelIssue.item_id, LabelIssue.label).where(
                LabelIssue.project_id == project_id, LabelIssue.status == "kept"
            )
        ).all()
    )
    now = utcnow()
    rows = [
        {
            "project_id": project_id,
            "item_id": issue.item_id,
            "model_version_id": version_id,
            "annotation_id": issue.annotation_id,
            "label": issue.label,
            "suggested": issue.suggested,
            "self_confidence": float(issue.self_confidence),
            "status": "open",
            "created_at": now,
        }
        for issue in issues
        if (issue.item_id, issue.label) not in kept
    ]
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(LabelIssue)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[LabelIssue.item_id, LabelIssue.model_version_id])
        .returning(LabelIssue.id)
    )
    return len(list(session.scalars(statement)))


def _newest_open(project_id: int):  # type: ignore[no-untyped-def]
    """SQL conditions: open issues of the project, only the newest one per item."""
    newer = aliased(LabelIssue)
    return (
        LabelIssue.project_id == project_id,
        LabelIssue.status == "open",
        ~exists().where(
            newer.item_id == LabelIssue.item_id, newer.status == "open", newer.id > LabelIssue.id
        ),
    )


def open_issues(session: Session, project_id: int, limit: int = 50) -> list[IssueRow]:
    """Open issues, one per item (from the newest review), the strongest dispute first."""
    rows = session.execute(
        select(*_COLUMNS)
        .where(*_newest_open(project_id))
        .order_by(LabelIssue.self_confidence, LabelIssue.id)
        .limit(limit)
    ).all()
    return [IssueRow(*row) for row in rows]


def count_open_issues(session: Session, project_id: int) -> int:
    """Items with an open issue."""
    return (
        session.scalar(
            select(func.count(func.distinct(LabelIssue.item_id))).where(
                LabelIssue.project_id == project_id, LabelIssue.status == "open"
            )
        )
        or 0
    )


def resolve_issue(session: Session, issue_id: int, status: str) -> IssueRow:
    """Close an issue as ``kept`` (the label stands) or ``relabelled``; every other open issue
    on the same item closes with it. Returns the issue as it now is.

    Raises
    ------
    ValidationError
        ``status`` is neither ``kept`` nor ``relabelled``.
    NotFoundError
        No issue ``issue_id``.
    """
    if status not in RESOLUTIONS:
        raise ValidationError(f"an issue is resolved as {' or '.join(RESOLUTIONS)}, not {status!r}")
    issue = session.get(LabelIssue, issue_id)
    if issue is None:
        raise NotFoundError(f"no label issue {issue_id}")
    session.execute(
        update(LabelIssue)
        .where(
            LabelIssue.item_id == issue.item_id,
            (LabelIssue.status == "open") | (LabelIssue.id == issue_id),
        )
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    session.expire(issue)
    row = session.execute(select(*_COLUMNS).where(LabelIssue.id == issue_id)).one()
    return IssueRow(*row)
