"""Leases that hold: a claim never hands out a done or held item, and an action on a lost lease
is refused without writing anything."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from test_queue import CLASSES, make_crops, next_ids

from store import leases, queue
from store.annotations import Action, record
from store.base import utcnow
from store.engine import transaction
from store.errors import LeaseLostError
from store.models import Annotation, Lease, Project


def annotations_by(engine: Engine, user_id: int) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).where(Annotation.user_id == user_id)) or 0


def accept(session: Session, project_id: int, user, item_id: int, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    project = session.get(Project, project_id)
    return record(session, project, user, [Action(item_id, "accept", CLASSES[0])], **kwargs)


def test_claim_never_hands_out_an_item_someone_labelled(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 2, [0.5, 0.6])
    with transaction(engine) as session:
        assert leases.claim(session, alice.id, [ids[0]]) == {ids[0]}
        accept(session, project_id, alice, ids[0], require_lease=True)
    # Bob read the candidates before Alice's accept committed; his claim comes after it.
    with transaction(engine) as session:
        assert leases.claim(session, bob.id, [ids[0]]) == set()
        assert session.scalar(select(Lease).where(Lease.item_id == ids[0])) is None


def test_claim_with_a_limit_takes_items_in_order_until_it_has_enough(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 4, None)
    with transaction(engine) as session:
        leases.claim(session, alice.id, [ids[1]])
    with transaction(engine) as session:
        got = leases.claim(session, bob.id, [ids[1], ids[0], ids[2], ids[3]], limit=2)
    assert got == {ids[0], ids[2]}


def test_action_on_a_lease_someone_took_over_is_refused(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 2, [0.5, 0.6])
    earlier = utcnow() - dt.timedelta(hours=1)
    with transaction(engine) as session:  # Alice's lease ran out long ago ...
        queue.next_items(session, project_id, alice.id, lease=dt.timedelta(minutes=5), now=earlier)
    assert next_ids(engine, project_id, bob) == [ids[0]]  # ... and Bob has the item now
    lost = pytest.raises(LeaseLostError, match=f"item {ids[0]} no longer yours")
    with lost, transaction(engine) as session:
        accept(session, project_id, alice, ids[0], require_lease=True)
    assert annotations_by(engine, alice.id) == 0
    with transaction(engine) as session:  # Bob's lease is untouched, and his accept counts
        assert session.scalar(select(Lease.user_id).where(Lease.item_id == ids[0])) == bob.id
        accept(session, project_id, bob, ids[0], require_lease=True)
    assert annotations_by(engine, bob.id) == 1


def test_action_on_an_expired_lease_nobody_took_still_counts(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 2, [0.5, 0.6])
    earlier = utcnow() - dt.timedelta(hours=1)
    with transaction(engine) as session:
        queue.next_items(session, project_id, alice.id, lease=dt.timedelta(minutes=5), now=earlier)
    with transaction(engine) as session:
        accept(session, project_id, alice, ids[0], require_lease=True)
    assert annotations_by(engine, alice.id) == 1


def test_action_on_an_item_labelled_meanwhile_is_refused(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 2, [0.5, 0.6])
    assert next_ids(engine, project_id, alice) == [ids[0]]
    with transaction(engine) as session:  # a reviewer's decision needs no lease
        accept(session, project_id, bob, ids[0])
    with pytest.raises(LeaseLostError), transaction(engine) as session:
        accept(session, project_id, alice, ids[0], require_lease=True)
    assert annotations_by(engine, alice.id) == 0


def test_a_page_with_one_lost_lease_writes_nothing(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 3, [0.5, 0.6, 0.7])
    assert next_ids(engine, project_id, alice, k=2) == [ids[0], ids[1]]
    with transaction(engine) as session:
        session.execute(
            Lease.__table__.update()
            .where(Lease.item_id == ids[1])
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        assert leases.claim(session, bob.id, [ids[1]]) == {ids[1]}
    with pytest.raises(LeaseLostError) as refused, transaction(engine) as session:
        project = session.get(Project, project_id)
        page = [Action(i, "accept", CLASSES[0]) for i in ids[:2]]
        record(session, project, alice, page, require_lease=True)
    assert refused.value.item_ids == [ids[1]]
    assert annotations_by(engine, alice.id) == 0
    with transaction(engine) as session:  # the page's other lease is still Alice's
        assert session.scalar(select(Lease.user_id).where(Lease.item_id == ids[0])) == alice.id


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_postgres_claim_passes_over_an_item_being_labelled(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    """While Alice's accept is open (her transaction holds the item), Bob's claim skips the item
    at once instead of waiting; after the accept commits, the item is done for Bob's claim."""
    project_id, ids, alice, bob = make_crops(engine, make_project, 2, [0.5, 0.6])
    assert next_ids(engine, project_id, alice) == [ids[0]]
    accepted = threading.Event()
    finish = threading.Event()

    def alice_accepts() -> None:
        with transaction(engine) as session:
            accept(session, project_id, alice, ids[0], require_lease=True)
            accepted.set()
            finish.wait(10)

    worker = threading.Thread(target=alice_accepts)
    worker.start()
    assert accepted.wait(10)
    started = time.monotonic()
    with transaction(engine) as session:
        assert leases.claim(session, bob.id, [ids[0]]) == set()
    assert time.monotonic() - started < 5  # passed over, not waited for
    finish.set()
    worker.join()
    with transaction(engine) as session:
        assert leases.claim(session, bob.id, [ids[0]]) == set()
    assert next_ids(engine, project_id, bob) == [ids[1]]
