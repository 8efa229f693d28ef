"""Read-only summaries of a project for the annotator's overview, models and sources pages.

Each function takes a ``Session`` and returns plain dataclasses, so a page can cache, tabulate or
chart them without holding on to ORM rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.models import (
    ACTIONS,
    Annotation,
    IngestError,
    Item,
    LabelIssue,
    ModelVersion,
    Snapshot,
    Source,
    Suggestion,
    User,
)

HUMAN_ACTIONS = tuple(action for action in ACTIONS if action != "import")
"""Actions people take in the annotator, in the order tables show them."""


@dataclass(frozen=True, slots=True)
class UserActivity:
    """What one person did in a project (imported labels left out)."""

    user_id: int
    user: str
    by_action: dict[str, int]
    """Rows per action (``accept``, ``edit``, ``reject``, ``skip``, ``add``, ``undo``)."""
    total: int
    time_spent_s: float
    """Sum of the actions' durations; actions without a duration add nothing."""


@dataclass(frozen=True, slots=True)
class HourlyCount:
    user: str
    hour: dt.datetime
    """Start of the hour, in UTC."""
    count: int


@dataclass(frozen=True, slots=True)
class SourceSummary:
    id: int
    uri: str
    kind: str
    size_bytes: int
    complete: bool
    items: int
    errors: int
    """Ingest errors on the source's items or on its file."""
    created_at: dt.datetime
    archived: bool = False


@dataclass(frozen=True, slots=True)
class IngestErrorRow:
    id: int
    path: str
    member: str | None
    item_id: int | None
    reason: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A model version with the figures of its evaluation (``None`` before ``loupe evaluate``)."""

    id: int
    arch: str
    status: str
    created_at: dt.datetime
    snapshot_id: int | None
    classes: list[str]
    temperature: float | None
    macro_f1: float | None
    accuracy: float | None
    ece: float | None
    """Expected calibration error of the raw probabilities on the test split."""
    ece_calibrated: float | None
    """The same after temperature scaling."""
    report_dir: str | None
    """Folder of ``confusion_matrix.png``, ``reliability.png`` and ``precision_recall.png``."""
    evaluation: dict = field(default_factory=dict)
    """The whole evaluation report (per-class metrics, confusion matrix, ...)."""

    @property
    def evaluated(self) -> bool:
        return bool(self.evaluation)


@dataclass(frozen=True, slots=True)
class SnapshotSummary:
    id: int
    name: str
    created_at: dt.datetime
    parent_id: int | None
    manifest_sha256: str
    entries: int
    by_label: dict[str, int]
    by_split: dict[str, int]
    by_origin: dict[str, int]
    ties_left_out: int
    rejected_left_out: int
    pseudo_threshold: float | None
    pseudo_model_version_id: int | None
    pseudo: dict = field(default_factory=dict)
    """How pseudo-labels were chosen (thresholds, estimated precision, coverage), if any."""


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One evaluated model version on the learning curve."""

    version_id: int
    human_labels: int
    """Human labels in the snapshot the version was trained on (all splits)."""
    pseudo_labels: int
    macro_f1: float
    test_items: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StopSetPredictions:
    """Two successive versions' predicted labels on the same random items."""

    version_id: int
    previous_id: int
    labels: list[str]
    previous_labels: list[str]


STOP_SET_SIZE = 1000
"""Items in the stop set: a fixed random sample, read off ``item.random_key``."""


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; every time Loupe writes is UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def annotations_per_user(session: Session, project_id: int) -> list[UserActivity]:
    """Human actions per person in the project, busiest first.

    Returns
    -------
    list[UserActivity]
        One entry per person with at least one action other than ``import``.
    """
    rows = session.execute(
        select(
            User.id,
            User.name,
            Annotation.action,
            func.count(),
            func.coalesce(func.sum(Annotation.duration_s), 0.0),
        )
        .join(User, User.id == Annotation.user_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(Item.project_id == project_id, Annotation.action != "import")
        .group_by(User.id, User.name, Annotation.action)
    )
    names: dict[int, str] = {}
    actions: dict[int, dict[str, int]] = defaultdict(dict)
    seconds: dict[int, float] = defaultdict(float)
    for user_id, name, action, count, duration in rows:
        names[user_id] = name
        actions[user_id][action] = count
        seconds[user_id] += float(duration or 0.0)
    activity = [
        UserActivity(
            user_id,
            names[user_id],
            dict(sorted(actions[user_id].items())),
            sum(actions[user_id].values()),
            seconds[user_id],
        )
        for user_id in names
    ]
    return sorted(activity, key=lambda a: (-a.total, a.user))


def annotations_per_hour(
    session: Session, project_id: int, days: float = 7, now: dt.datetime | None = None
) -> list[HourlyCount]:
    """Human actions per person and hour (UTC) over the last ``days`` days.

    The rows are bucketed here rather than in SQL, so the same code serves SQLite and PostgreSQL.

    Parameters
    ----------
    days
        How far back to look from ``now``.
    now
        The end of the window; the current time when not given.

    Returns
    -------
    list[HourlyCount]
        One entry per hour and person with at least one action, oldest hour first.
    """
    since = (now or utcnow()) - dt.timedelta(days=days)
    rows = session.execute(
        select(User.name, Annotation.created_at)
        .join(User, User.id == Annotation.user_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project_id,
            Annotation.action != "import",
            Annotation.created_at >= since,
        )
    )
    buckets: Counter[tuple[dt.datetime, str]] = Counter()
    for name, created_at in rows:
        hour = _utc(created_at).replace(minute=0, second=0, microsecond=0)
        buckets[hour, name] += 1
    return [HourlyCount(name, hour, n) for (hour, name), n in sorted(buckets.items())]


def sources(session: Session, project_id: int) -> list[SourceSummary]:
    """The project's sources with their item and error counts.

    An error counts for a source when it names one of the source's items, or, for errors found
    before any item was registered, when its path is the source's file. Errors of files that
    never became a source count for none.

    Returns
    -------
    list[SourceSummary]
        In the order the sources were registered.
    """
    found = session.scalars(
        select(Source).where(Source.project_id == project_id).order_by(Source.id)
    ).all()
    items = dict(
        session.execute(
            select(Item.source_id, func.count())
            .where(Item.project_id == project_id)
            .group_by(Item.source_id)
        ).all()
    )
    errors: Counter[int] = Counter(
        dict(
            session.execute(
                select(Item.source_id, func.count())
                .select_from(IngestError)
                .join(Item, Item.id == IngestError.item_id)
                .where(IngestError.project_id == project_id)
                .group_by(Item.source_id)
            ).all()
        )
    )
    by_path = dict(
        session.execute(
            select(IngestError.path, func.count())
            .where(IngestError.project_id == project_id, IngestError.item_id.is_(None))
            .group_by(IngestError.path)
        ).all()
    )
    return [
        SourceSummary(
            s.id,
            s.uri,
            s.kind,
            s.size_bytes,
            s.complete,
            items.get(s.id, 0),
            errors[s.id] + by_path.get(s.uri, 0),
            _utc(s.created_at),
            s.archived_at is not None,
        )
        for s in found
    ]


def ingest_errors(
    session: Session, project_id: int, limit: int | None = None
) -> list[IngestErrorRow]:
    """The project's ingest errors.

    Parameters
    ----------
    limit
        At most this many (the newest); all of them when ``None``.

    Returns
    -------
    list[IngestErrorRow]
        Newest first.
    """
    query = (
        select(
            IngestError.id,
            IngestError.path,
            IngestError.member,
            IngestError.item_id,
            IngestError.reason,
            IngestError.created_at,
        )
        .where(IngestError.project_id == project_id)
        .order_by(IngestError.created_at.desc(), IngestError.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [IngestErrorRow(*row[:5], _utc(row[5])) for row in session.execute(query)]


def ingest_error_count(session: Session, project_id: int) -> int:
    """How many ingest errors the project has recorded."""
    return (
        session.scalar(
            select(func.count())
            .select_from(IngestError)
            .where(IngestError.project_id == project_id)
        )
        or 0
    )


def _version_summary(version: ModelVersion) -> VersionSummary:
    evaluation = dict(version.metrics.get("evaluation") or {})
    return VersionSummary(
        id=version.id,
        arch=version.arch,
        status=version.status,
        created_at=_utc(version.created_at),
        snapshot_id=version.snapshot_id,
        classes=list(version.classes),
        temperature=version.temperature,
        macro_f1=evaluation.get("macro_f1"),
        accuracy=evaluation.get("accuracy"),
        ece=evaluation.get("ece"),
        ece_calibrated=evaluation.get("ece_calibrated"),
        report_dir=evaluation.get("report_dir"),
        evaluation=evaluation,
    )


def model_versions(session: Session, project_id: int) -> list[VersionSummary]:
    """The project's model versions with the figures of their evaluation.

    Returns
    -------
    list[VersionSummary]
        Newest first.
    """
    found = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.project_id == project_id)
        .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    )
    return [_version_summary(v) for v in found]


def shown_version(versions: list[VersionSummary]) -> VersionSummary | None:
    """The version a page shows first: the active one, else the newest.

    ``versions`` is expected newest first, as :func:`model_versions` returns them.
    """
    for version in versions:
        if version.status == "active":
            return version
    return versions[0] if versions else None


def snapshots(session: Session, project_id: int) -> list[SnapshotSummary]:
    """The project's snapshots with their counts and pseudo-label settings.

    Returns
    -------
    list[SnapshotSummary]
        Newest first.
    """
    found = session.scalars(
        select(Snapshot)
        .where(Snapshot.project_id == project_id)
        .order_by(Snapshot.created_at.desc(), Snapshot.id.desc())
    )
    summaries = []
    for s in found:
        counts = dict(s.counts or {})
        summaries.append(
            SnapshotSummary(
                id=s.id,
                name=s.name,
                created_at=_utc(s.created_at),
                parent_id=s.parent_id,
                manifest_sha256=s.manifest_sha256,
                entries=int(counts.get("entries", 0)),
                by_label=dict(counts.get("by_label", {})),
                by_split=dict(counts.get("by_split", {})),
                by_origin=dict(counts.get("by_origin", {})),
                ties_left_out=int(counts.get("ties_left_out", 0)),
                rejected_left_out=int(counts.get("rejected_left_out", 0)),
                pseudo_threshold=s.pseudo_threshold,
                pseudo_model_version_id=s.pseudo_model_version_id,
                pseudo=dict(s.pseudo or {}),
            )
        )
    return summaries


def learning_curve(session: Session, project_id: int) -> list[CurvePoint]:
    """Test macro-F1 of every evaluated version against the human labels it was trained on.

    Returns
    -------
    list[CurvePoint]
        Oldest first. Each version is scored on its own snapshot's test split, which grows with
        the labels, so early points rest on few test items (``test_items`` says how many).
    """
    rows = session.execute(
        select(ModelVersion, Snapshot.counts)
        .join(Snapshot, Snapshot.id == ModelVersion.snapshot_id)
        .where(ModelVersion.project_id == project_id)
        .order_by(ModelVersion.created_at, ModelVersion.id)
    ).all()
    points = []
    for version, counts in rows:
        evaluation = (version.metrics or {}).get("evaluation") or {}
        if evaluation.get("macro_f1") is None:
            continue
        by_origin = dict((counts or {}).get("by_origin", {}))
        points.append(
            CurvePoint(
                version_id=version.id,
                human_labels=int(by_origin.get("human", (counts or {}).get("entries", 0))),
                pseudo_labels=int(by_origin.get("pseudo", 0)),
                macro_f1=float(evaluation["macro_f1"]),
                test_items=int(evaluation.get("test_items", 0)),
                created_at=_utc(version.created_at),
            )
        )
    return points


def stop_set_predictions(
    session: Session, project_id: int, *, size: int = STOP_SET_SIZE
) -> list[StopSetPredictions]:
    """Successive versions' suggested labels on the project's stop set, for an agreement score.

    The stop set is the ``size`` items with the lowest random keys among those both versions
    suggested for: a random sample that stays the same between checks as long as no new item
    draws a lower key. Versions are taken in order of creation; a version without suggestions
    is passed over.
    """
    versions = list(
        session.scalars(
            select(ModelVersion.id)
            .where(ModelVersion.project_id == project_id)
            .order_by(ModelVersion.created_at, ModelVersion.id)
        )
    )
    with_suggestions = [
        v
        for v in versions
        if session.scalar(select(Suggestion.id).where(Suggestion.model_version_id == v).limit(1))
        is not None
    ]
    pairs = []
    for previous, current in zip(with_suggestions, with_suggestions[1:], strict=False):
        old = Suggestion.__table__.alias("old")
        new = Suggestion.__table__.alias("new")
        rows = session.execute(
            select(new.c.label, old.c.label)
            .select_from(Item)
            .join(new, (new.c.item_id == Item.id) & (new.c.model_version_id == current))
            .join(old, (old.c.item_id == Item.id) & (old.c.model_version_id == previous))
            .where(Item.project_id == project_id)
            .order_by(Item.random_key, Item.id)
            .limit(size)
        ).all()
        if rows:
            pairs.append(
                StopSetPredictions(current, previous, [r[0] for r in rows], [r[1] for r in rows])
            )
    return pairs


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """Where a project's active-learning loop stands, for the overview page."""

    strategy: str | None
    """The project's query strategy as set, ``None`` for the default."""
    audit_share: float | None
    audit_items: int
    """Items labelled through the random audit stream: the unbiased sample."""
    open_label_issues: int


def loop_status(session: Session, project_id: int) -> LoopStatus:
    from store.models import Project

    project = session.get(Project, project_id)
    settings = dict(project.settings or {}) if project is not None else {}
    audit_items = session.scalar(
        select(func.count(func.distinct(Annotation.item_id)))
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.project_id == project_id,
            Annotation.audit.is_(True),
            Annotation.action.in_(("accept", "edit", "add", "reject")),
        )
    )
    issues = session.scalar(
        select(func.count())
        .select_from(LabelIssue)
        .where(LabelIssue.project_id == project_id, LabelIssue.status == "open")
    )
    return LoopStatus(
        strategy=settings.get("strategy"),
        audit_share=settings.get("audit_share"),
        audit_items=int(audit_items or 0),
        open_label_issues=int(issues or 0),
    )
