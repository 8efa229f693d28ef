"""The annotator's queue: order, leases between people, expiry, skips and unreadable items."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import Engine, select, update

from store import leases, queue
from store.accounts import add_user
from store.annotations import Action, audit_labels, record, undo_last
from store.base import utcnow
from store.catalog import (
    ImportedLabel,
    ItemRow,
    add_imported_labels,
    add_source,
    insert_items,
    item_ids,
    record_ingest_error,
)
from store.engine import transaction
from store.errors import ValidationError
from store.models import Annotation, Item, Lease, ModelVersion, Project, Suggestion
from store.suggestions import SuggestionRow, insert_suggestions

CLASSES = ["small_spatter", "large_spatter"]


def make_crops(engine: Engine, make_project, n: int, confidences: list[float] | None):  # type: ignore[no-untyped-def]
    """A crop project of ``n`` items; with ``confidences``, an active version suggests them."""
    project_id = make_project("crops", "crop", CLASSES)
    with transaction(engine) as session:
        source = add_source(session, project_id, "/data/crops.h5", "hdf5", "0" * 64, 1)
        rows = [ItemRow(f"crops[{i}]", "crops", i) for i in range(n)]
        insert_items(session, source, rows)
        ids = [item_ids(session, source.id)[row.locator] for row in rows]
        if confidences is not None:
            version = ModelVersion(
                project_id=project_id,
                arch="lenet5",
                checkpoint_uri="/m.pt",
                checkpoint_sha256="0" * 64,
                classes=CLASSES,
                status="active",
            )
            session.add(version)
            session.flush()
            insert_suggestions(
                session,
                version.id,
                [
                    SuggestionRow(i, CLASSES[0], [c, 1 - c], c, abs(2 * c - 1), 0.5)
                    for i, c in zip(ids, confidences, strict=True)
                ],
            )
        alice, _ = add_user(session, "alice", "annotator", None)
        bob, _ = add_user(session, "bob", "annotator", None)
    return project_id, ids, alice, bob


def next_ids(engine: Engine, project_id: int, user, k: int = 1, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return [i.item_id for i in queue.next_items(session, project_id, user.id, k=k, **kwargs)]


def test_most_uncertain_suggestion_comes_first(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(
        engine, make_project, 6, [0.9, 0.55, 0.99, 0.6, 0.51, 0.8]
    )
    assert next_ids(engine, project_id, alice, k=3) == [ids[4], ids[1], ids[3]]


def test_without_a_model_items_come_in_order_of_ingest(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 5, None)
    assert next_ids(engine, project_id, alice, k=2) == ids[:2]


def test_lease_keeps_a_second_user_off_an_item(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 4, [0.5, 0.6, 0.7, 0.8])
    assert next_ids(engine, project_id, alice) == [ids[0]]
    assert next_ids(engine, project_id, bob) == [ids[1]]
    # Alice asking again gets her own item back first (a reload), not a new one.
    assert next_ids(engine, project_id, alice) == [ids[0]]


def test_expired_lease_goes_back_to_the_queue(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 3, [0.5, 0.6, 0.7])
    earlier = utcnow() - dt.timedelta(hours=1)
    with transaction(engine) as session:
        queue.next_items(session, project_id, alice.id, lease=dt.timedelta(minutes=5), now=earlier)
    assert next_ids(engine, project_id, bob) == [ids[0]]


def test_claim_refuses_a_live_lease_of_someone_else(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 2, None)
    with transaction(engine) as session:
        assert leases.claim(session, alice.id, ids) == set(ids)
    with transaction(engine) as session:
        assert leases.claim(session, bob.id, ids) == set()


def test_done_items_leave_and_undo_brings_them_back(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 3, [0.5, 0.6, 0.7])
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(session, project, alice, [Action(ids[0], "accept", CLASSES[0])])
    assert next_ids(engine, project_id, bob) == [ids[1]]
    with transaction(engine) as session:
        assert undo_last(session, session.get(Project, project_id), alice) == [ids[0]]
    assert next_ids(engine, project_id, alice) == [ids[0]]


def test_skip_hides_an_item_from_that_user_only(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 3, [0.5, 0.6, 0.7])
    with transaction(engine) as session:
        record(session, session.get(Project, project_id), alice, [Action(ids[0], "skip")])
    assert next_ids(engine, project_id, alice) == [ids[1]]
    with transaction(engine) as session:
        leases.release(session, alice.id, [ids[1]])
    assert next_ids(engine, project_id, bob) == [ids[0]]


def test_unreadable_item_is_left_out(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 3, None)
    with transaction(engine) as session:
        record_ingest_error(
            session, project_id, "/data/crops.h5", "not a JPEG", member="crops[0]", item_id=ids[0]
        )
    assert next_ids(engine, project_id, alice) == [ids[1]]


def test_unsuggested_items_follow_the_suggested_ones(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 3, [0.7, 0.6, 0.8])
    with transaction(engine) as session:
        more = add_source(session, project_id, "/data/more.h5", "hdf5", "1" * 64, 1)
        insert_items(session, more, [ItemRow("more[0]", "more", 0)])
        extra = item_ids(session, more.id)["more[0]"]
    assert next_ids(engine, project_id, alice, k=4) == [ids[1], ids[0], ids[2], extra]


def test_loaded_item_carries_its_suggestion(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 2, [0.7, 0.6])
    with transaction(engine) as session:
        (item,) = queue.next_items(session, project_id, alice.id)
    assert item.item_id == ids[1]
    assert item.label == CLASSES[0] and item.confidence == pytest.approx(0.6)
    assert item.probabilities == pytest.approx((0.6, 0.4))
    assert item.suggestion_id is not None and item.model_version_id is not None
    assert (item.member, item.position) == ("crops", 1)


def closed_flags(engine: Engine, ids: list[int]) -> list[bool]:
    from sqlalchemy import select

    from store.models import Suggestion

    with transaction(engine) as session:
        by_item = dict(session.execute(select(Suggestion.item_id, Suggestion.closed)).all())
    return [bool(by_item[i]) for i in ids]


def test_an_action_closes_the_suggestion_and_undo_reopens_it(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 3, [0.5, 0.6, 0.7])
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(session, project, alice, [Action(ids[0], "accept", CLASSES[0])])
        record(session, project, alice, [Action(ids[1], "skip")])
    assert closed_flags(engine, ids) == [True, False, False]  # a skip closes nothing
    with transaction(engine) as session:
        undo_last(session, session.get(Project, project_id), alice)  # the skip
        undo_last(session, session.get(Project, project_id), alice)  # the accept
    assert closed_flags(engine, ids) == [False, False, False]


def test_items_done_elsewhere_are_closed_when_the_queue_meets_them(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    from store.catalog import ImportedLabel, add_imported_labels

    project_id, ids, alice, bob = make_crops(
        engine, make_project, 40, [0.5 + i / 100 for i in range(40)]
    )
    with transaction(engine) as session:  # the three least confident came labelled
        source_id = session.get(Item, ids[0]).source_id
        add_imported_labels(
            session,
            source_id,
            bob.id,
            [ImportedLabel(f"crops[{i}]", CLASSES[1]) for i in range(3)],
        )
    assert next_ids(engine, project_id, alice) == [ids[3]]
    assert closed_flags(engine, ids[:4]) == [True, True, True, False]


def test_close_done_closes_a_whole_version_in_one_pass(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    from store.catalog import ImportedLabel, add_imported_labels

    project_id, ids, _, bob = make_crops(
        engine, make_project, 30, [0.5 + i / 100 for i in range(30)]
    )
    with transaction(engine) as session:
        source_id = session.get(Item, ids[0]).source_id
        add_imported_labels(
            session,
            source_id,
            bob.id,
            [ImportedLabel(f"crops[{i}]", CLASSES[0]) for i in range(0, 30, 2)],
        )
        version = queue.active_version(session, project_id)
        assert queue.close_done(session, version.id) == 15
    assert closed_flags(engine, ids) == [i % 2 == 0 for i in range(30)]


# --- cold-start order ----------------------------------------------------------------------


def set_cold_ranks(engine: Engine, project_id: int, ranked: list[int]) -> None:
    with transaction(engine) as session:
        queue.set_cold_ranks(session, project_id, ranked)


def test_cold_ranked_items_come_first_then_the_order_of_ingest(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 5, None)
    set_cold_ranks(engine, project_id, [ids[3], ids[1]])
    assert next_ids(engine, project_id, alice, k=5) == [ids[3], ids[1], ids[0], ids[2], ids[4]]


def test_new_cold_ranks_replace_the_old_ones(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 4, None)
    set_cold_ranks(engine, project_id, [ids[3], ids[2]])
    set_cold_ranks(engine, project_id, [ids[1]])
    assert next_ids(engine, project_id, alice, k=4) == [ids[1], ids[0], ids[2], ids[3]]


def test_suggested_items_still_come_before_cold_ranked_ones(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 2, [0.7, 0.6])
    with transaction(engine) as session:
        more = add_source(session, project_id, "/data/more.h5", "hdf5", "1" * 64, 1)
        insert_items(session, more, [ItemRow(f"more[{i}]", "more", i) for i in range(3)])
        extra = [item_ids(session, more.id)[f"more[{i}]"] for i in range(3)]
    set_cold_ranks(engine, project_id, [extra[2]])
    assert next_ids(engine, project_id, alice, k=5) == [ids[1], ids[0], extra[2], *extra[:2]]


# --- the audit stream ----------------------------------------------------------------------


def audit_marks(engine: Engine) -> dict[int, bool]:
    with transaction(engine) as session:
        return dict(session.execute(select(Lease.item_id, Lease.audit)).all())


def test_with_share_one_every_pick_is_an_audit_pick(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 20, [0.5] * 20)
    with transaction(engine) as session:
        page = queue.next_items(
            session, project_id, alice.id, k=5, audit_share=1.0, rng=random.Random(3)
        )
    assert len(page) == 5 and all(item.audit for item in page)
    assert audit_marks(engine) == {item.item_id: True for item in page}
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(session, project, alice, [Action(i.item_id, "accept", CLASSES[1]) for i in page])
        flags = list(session.scalars(select(Annotation.audit)))
        assert flags == [True] * 5
        assert audit_labels(session, project_id) == sorted((i.item_id, CLASSES[1]) for i in page)
    with transaction(engine) as session:  # undo takes them out of the audit set
        undo_last(session, session.get(Project, project_id), alice)
        assert audit_labels(session, project_id) == []


def test_with_share_zero_no_pick_is_an_audit_pick(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(
        engine, make_project, 10, [0.5 + i / 100 for i in range(10)]
    )
    with transaction(engine) as session:
        page = queue.next_items(
            session, project_id, alice.id, k=6, audit_share=0.0, rng=random.Random(0)
        )
    assert [i.item_id for i in page] == ids[:6] and not any(i.audit for i in page)
    assert set(audit_marks(engine).values()) == {False}


def test_a_tenth_of_many_picks_are_audit_picks(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]

    project_id, ids, alice, _ = make_crops(engine, make_project, 400, [0.5] * 400)
    rng = random.Random(11)
    audited = picks = 0
    for _ in range(15):  # a person works through 15 pages of 20
        with transaction(engine) as session:
            page = queue.next_items(session, project_id, alice.id, k=20, audit_share=0.1, rng=rng)
            project = session.get(Project, project_id)
            record(session, project, alice, [Action(i.item_id, "reject") for i in page])
        picks += len(page)
        audited += sum(item.audit for item in page)
    assert picks == 300 and 18 <= audited <= 45  # 30 expected, binomial sd 5.2
    with transaction(engine) as session:
        assert len(audit_labels(session, project_id)) == audited


def test_audit_picks_are_never_done_or_held_items(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(engine, make_project, 30, [0.5] * 30)
    with transaction(engine) as session:
        source_id = session.get(Item, ids[0]).source_id
        add_imported_labels(
            session,
            source_id,
            bob.id,
            [ImportedLabel(f"crops[{i}]", CLASSES[0]) for i in range(10)],
        )
        assert leases.claim(session, bob.id, ids[10:20]) == set(ids[10:20])
    with transaction(engine) as session:
        page = queue.next_items(
            session, project_id, alice.id, k=15, audit_share=1.0, rng=random.Random(5)
        )
    assert sorted(i.item_id for i in page) == ids[20:]  # only the ten free items, all audit
    assert all(i.audit for i in page)


def test_audit_pick_wraps_around_past_the_largest_random_key(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 5, [0.5] * 5)
    with transaction(engine) as session:
        for rank, item in enumerate(ids):
            session.execute(update(Item).where(Item.id == item).values(random_key=rank / 1000))

    class HighDraws(random.Random):
        def random(self) -> float:
            return 0.99

    with transaction(engine) as session:
        page = queue.next_items(
            session, project_id, alice.id, k=2, audit_share=1.0, rng=HighDraws()
        )
    assert [i.item_id for i in page] == ids[:2]  # the smallest keys, after wrapping around


def test_items_registered_without_a_random_key_get_one_for_audit_picks(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(engine, make_project, 6, None)
    with transaction(engine) as session:
        session.execute(update(Item).values(random_key=None))
    with transaction(engine) as session:
        page = queue.next_items(
            session, project_id, alice.id, k=3, audit_share=1.0, rng=random.Random(1)
        )
        keys = list(session.scalars(select(Item.random_key)))
    assert len(page) == 3 and all(0.0 <= key < 1.0 for key in keys)


def test_a_reload_keeps_an_audit_pick_marked(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, _ = make_crops(
        engine, make_project, 10, [0.5 + i / 100 for i in range(10)]
    )
    with transaction(engine) as session:
        (shown,) = queue.next_items(
            session, project_id, alice.id, k=1, audit_share=1.0, rng=random.Random(2)
        )
    with transaction(engine) as session:  # asked again without audit, she gets her item back
        held = leases.held_items(session, project_id, alice.id)
        assert held == [shown.item_id]
        leases.claim(session, alice.id, held)
        (again,) = queue.load_items(session, held, shown.model_version_id)
    assert again.audit and audit_marks(engine) == {shown.item_id: True}


def test_a_fresh_look_at_the_queue_gives_back_the_items_already_held(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice, bob = make_crops(
        engine, make_project, 10, [0.5 + i / 100 for i in range(10)]
    )
    with transaction(engine) as session:  # the audit draw lands on the sixth item
        for rank, item in enumerate(ids):
            key = 0.995 if rank == 5 else rank / 1000
            session.execute(update(Item).where(Item.id == item).values(random_key=key))

    class HighDraws(random.Random):
        def random(self) -> float:
            return 0.99

    with transaction(engine) as session:
        (audited,) = queue.next_items(
            session, project_id, alice.id, k=1, audit_share=1.0, rng=HighDraws()
        )
        (first,) = queue.next_items(session, project_id, alice.id, k=1, exclude=[audited.item_id])
    assert (audited.item_id, audited.audit) == (ids[5], True)
    assert (first.item_id, first.audit) == (ids[0], False)
    with transaction(engine) as session:  # a reload: nothing on screen, no audit share
        again = queue.next_items(session, project_id, alice.id, k=3)
    assert [i.item_id for i in again][:2] == [audited.item_id, first.item_id]
    assert [i.audit for i in again] == [True, False, False]
    assert set(audit_marks(engine)) == {i.item_id for i in again}  # nothing more leased than shown
    with transaction(engine) as session:  # bob is not given alice's items
        theirs = queue.next_items(session, project_id, bob.id, k=2)
    assert not {i.item_id for i in theirs} & {i.item_id for i in again}


@pytest.mark.parametrize("share", [-0.5, 1.01])
def test_an_audit_share_outside_zero_to_one_is_rejected(
    engine: Engine, make_project, share: float
) -> None:  # type: ignore[no-untyped-def]
    project_id, _, alice, _ = make_crops(engine, make_project, 2, None)
    with transaction(engine) as session, pytest.raises(ValidationError, match="audit share"):
        queue.next_items(session, project_id, alice.id, audit_share=share)


def test_bald_priority_and_embedding_round_trip_through_the_bulk_writer(
    engine: Engine, make_project
) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, _, _ = make_crops(engine, make_project, 3, None)
    blobs = [bytes(range(256)) * 2, b"\x00\\\n\t,\"'" * 3, None]  # every byte, COPY's specials
    with transaction(engine) as session:
        version = ModelVersion(
            project_id=project_id,
            arch="lenet5",
            checkpoint_uri="/m.pt",
            checkpoint_sha256="0" * 64,
            classes=CLASSES,
        )
        session.add(version)
        session.flush()
        rows = [
            SuggestionRow(
                i, CLASSES[0], [0.5, 0.5], 0.5, 0.0, 0.69, bald=b, priority=p, embedding=e
            )
            for i, b, p, e in zip(ids, [0.25, None, 0.0], [-1.5, None, 2.0], blobs, strict=True)
        ]
        assert insert_suggestions(session, version.id, rows) == 3
    with transaction(engine) as session:
        stored = {
            s.item_id: (s.bald, s.priority, s.embedding)
            for s in session.scalars(select(Suggestion))
        }
    assert [stored[i] for i in ids] == [
        (0.25, -1.5, blobs[0]),
        (None, 0.5, blobs[1]),  # no priority given: the confidence
        (0.0, 2.0, None),
    ]
