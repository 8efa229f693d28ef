"""One ingest run: what it has done so far (the report) and how it registers what it reads.

Every file the run sees ends in exactly one outcome, so the summary adds up:
``new + already + label + ignored + failed == files``. A file is *new* when it became a source
in this run or completed one an earlier, interrupted run began (*resumed*), *already* when its
bytes are a complete source of the project, *label* when it was read for labels (a label track
beside a recording, a crop index, the labels CSV), *ignored* when it is not of the project's
kind, and *failed* when it could not be used (its errors say why).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from learner.formats.labels_csv import LabelsCsv
from store import catalog
from store.catalog import ImportedLabel, ItemRow
from store.engine import transaction
from store.models import Source

Outcome = Literal["new", "already", "label", "ignored", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("new", "already", "label", "ignored", "failed")


@dataclass
class IngestReport:
    """What an ingest run did; ``errors`` holds ``(path, member, reason)``."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """The outcome of every file seen, by path (the last word wins: a file first read for
    labels and then failing is failed)."""
    sources_added: int = 0
    sources_resumed: int = 0
    """Sources an interrupted run had begun, completed by this one (counted as new files)."""
    sources_already_ingested: int = 0
    items_added: int = 0
    labels_imported: int = 0
    labels_unmatched: list[dict] = field(default_factory=list)
    """Rows of the labels CSV that match no file of the run: ``{"line", "file", "column"}``."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """``(path, source it repeats)``: files whose bytes are already a source of the project."""
    errors: list[tuple[str, str | None, str]] = field(default_factory=list)
    job_id: int | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for seen in self.outcomes.values() if seen == outcome)

    @property
    def files_seen(self) -> int:
        return len(self.outcomes)

    @property
    def files_ignored(self) -> int:
        return self.count("ignored")

    @property
    def ingested_anything(self) -> bool:
        return self.count("new") + self.count("already") > 0

    @property
    def nothing_could_be_ingested(self) -> bool:
        """Files failed and none was ingested (nor already there): the run did nothing useful."""
        return self.count("failed") > 0 and not self.ingested_anything

    def as_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "files_seen": self.files_seen,
            "files_new": self.count("new"),
            "files_already_ingested": self.count("already"),
            "files_label": self.count("label"),
            "files_ignored": self.count("ignored"),
            "files_failed": self.count("failed"),
            "sources_added": self.sources_added,
            "sources_resumed": self.sources_resumed,
            "sources_already_ingested": self.sources_already_ingested,
            "items_added": self.items_added,
            "labels_imported": self.labels_imported,
            "labels_unmatched": len(self.labels_unmatched),
            "unmatched_labels": list(self.labels_unmatched),
            "duplicates": [{"path": p, "same_as": s} for p, s in self.duplicates],
            "ingest_errors": len(self.errors),
            "errors": [{"path": p, "member": m, "reason": r} for p, m, r in self.errors],
        }


@dataclass
class IngestRun:
    engine: Engine
    project_id: int
    modality: str
    classes: list[str]
    settings: dict
    import_user_id: int
    batch_size: int
    report: IngestReport
    labels: LabelsCsv | None
    progress: bool
    derived_dir: Path
    media_roots: tuple[Path, ...] = ()
    """Folders outside the ingested ones that named or linked files may lie in."""

    def outcome(self, path: Path | str, outcome: Outcome) -> None:
        self.report.outcomes[str(path)] = outcome

    def error(
        self, session: Session, path: Path | str, reason: str, member: str | None = None
    ) -> None:
        catalog.record_ingest_error(session, self.project_id, str(path), reason, member=member)
        self.report.errors.append((str(path), member, reason))

    def error_now(self, path: Path | str, reason: str, member: str | None = None) -> None:
        with transaction(self.engine) as session:
            self.error(session, path, reason, member)

    def failed(self, path: Path | str, reason: str, member: str | None = None) -> None:
        """Record why a file could not be used, and count it as failed."""
        self.error_now(path, reason, member)
        self.outcome(path, "failed")

    def check_label(self, session: Session, path: Path, label: str, member: str | None) -> bool:
        if label in self.classes:
            return True
        self.error(
            session,
            path,
            f"unknown class {label!r} (project classes: {', '.join(self.classes)})",
            member,
        )
        return False

    def open_source(self, path: Path, kind: str, meta: dict) -> tuple[Source, bool]:
        """The source for ``path`` and whether its items still need registering: a new source
        or one an interrupted run left incomplete (``True``), or a complete one (``False``;
        only labels are added to it)."""
        digest, size = sha256_of(path)
        with transaction(self.engine) as session:
            source = catalog.find_source(session, self.project_id, digest)
            if source is not None and source.complete:
                self.report.sources_already_ingested += 1
                self.outcome(path, "already")
                if source.uri != str(path):
                    self.report.duplicates.append((str(path), source.uri))
                return source, False
            if source is None:
                source = catalog.add_source(
                    session, self.project_id, str(path), kind, digest, size, meta
                )
                self.report.sources_added += 1
            else:
                self.report.sources_resumed += 1
            self.outcome(path, "new")
            return source, True

    def register(
        self,
        source: Source,
        items: Sequence[ItemRow],
        labels: Sequence[ImportedLabel],
        *,
        fresh: bool = True,
        bar: tqdm | None = None,
    ) -> None:
        """Register items and labels in batches, each its own transaction, then mark the source
        complete; for a complete source (``fresh=False``) only the labels it lacks are added."""
        if not fresh:
            with transaction(self.engine) as session:
                self.report.labels_imported += catalog.add_imported_labels(
                    session, source.id, self.import_user_id, list(labels)
                )
            return
        by_locator: dict[str, list[ImportedLabel]] = defaultdict(list)
        for label in labels:
            by_locator[label.locator].append(label)
        size = self.batch_size
        for start in range(0, max(len(items), 1), size):
            batch = items[start : start + size]
            with transaction(self.engine) as session:
                self.report.items_added += catalog.insert_items(session, source, batch)
                batch_labels = [lab for row in batch for lab in by_locator.get(row.locator, ())]
                self.report.labels_imported += catalog.add_imported_labels(
                    session, source.id, self.import_user_id, batch_labels
                )
            if bar is not None:
                bar.update(len(batch))
        with transaction(self.engine) as session:
            catalog.mark_complete(session, source.id)

    def bar(self, total: int, unit: str, desc: str) -> tqdm:
        return tqdm(total=total, unit=unit, desc=desc, disable=not self.progress, leave=False)


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size
