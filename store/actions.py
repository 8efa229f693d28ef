"""The action vocabulary: what people (and imports) do to items, and when an item counts as done.

An item is *done* once it carries a labelling action (import, accept, edit, reject, add) that no
``undo`` took back; the queue, snapshots, progress counts and prelabel all use this one rule.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import InstrumentedAttribute, aliased

from store.models import Annotation

DONE_ACTIONS = ("import", "accept", "edit", "reject", "add")
"""Actions that label an item (or say it holds nothing): the item leaves the queue."""


_UNDO = aliased(Annotation, name="undo")
"""Built once: an ORM alias costs ~2 ms to build, and the queue's every pick needs several."""


def not_undone(annotation: type[Annotation] | object) -> ColumnElement[bool]:
    """SQL: no ``undo`` row names this annotation."""
    return ~exists().where(_UNDO.undoes_id == annotation.id)  # type: ignore[attr-defined]


IdColumn = ColumnElement[int] | InstrumentedAttribute[int]
"""An item id in SQL: a mapped column or any expression."""


def done_condition(item_id: IdColumn) -> ColumnElement[bool]:
    """SQL: the item carries a labelling action that no undo took back."""
    return exists().where(
        Annotation.item_id == item_id,
        Annotation.action.in_(DONE_ACTIONS),
        not_undone(Annotation),
    )
