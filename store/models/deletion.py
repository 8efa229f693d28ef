"""What was deleted, by whom, when and why: the record a delete leaves behind."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

REMOVABLE = ("project", "source", "item")


class Deletion(Base):
    """One delete of a project, source or item. It has no foreign keys: what it names is gone."""

    __tablename__ = "deletion"
    __table_args__ = (CheckConstraint(one_of("kind", REMOVABLE), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    project: Mapped[str] = mapped_column(String(200))
    """Name of the project it belonged to (or that was deleted)."""
    target: Mapped[str] = mapped_column(Text)
    """What was deleted, as the user named it: project name, source URI, item id."""
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    forced: Mapped[bool]
    """Items with annotations went too (``--force``): ``record`` holds those annotations."""
    counts: Mapped[dict] = mapped_column(default=dict)
    record: Mapped[dict] = mapped_column(default=dict)
    """The deleted rows that carry provenance: items (source, locator) and every annotation on
    them (who, when, action, label, span), as they were."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AnnotationDeletePermit(Base):
    """Items whose annotations may be deleted in the open transaction.

    The append-only trigger refuses every DELETE on ``annotation`` unless its item is listed
    here; a forced delete lists its items, writes its :class:`Deletion`, deletes, and removes the
    permits again before it returns, so the table is empty between transactions.
    """

    __tablename__ = "annotation_delete_permit"

    item_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
