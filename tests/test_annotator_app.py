"""The annotator's page logic through Streamlit's AppTest: every action writes the right row.

Runs the real app (``annotator/app.py``) on a copy of the demo database: three prelabelled
projects built by the real pipeline, with media on disk.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from streamlit.testing.v1 import AppTest

from store.base import utcnow
from store.engine import make_engine, transaction
from store.models import (
    Annotation,
    IngestError,
    Item,
    Lease,
    Project,
    Source,
    Suggestion,
    User,
)

APP = str(Path(__file__).resolve().parents[1] / "annotator" / "app.py")


@pytest.fixture
def app_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOUPE_DATABASE_URL", demo_url)
    return demo_url


def open_app(user: str, project: str, url: str) -> AppTest:
    """The app as ``user`` (signed in) on ``project``."""
    engine = make_engine(url)
    with transaction(engine) as session:
        account = session.scalar(select(User).where(User.name == user))
        if account is None:
            from store.accounts import add_user

            account, _ = add_user(session, user, "annotator", "password-of-" + user)
        signed = {"id": account.id, "name": account.name, "role": account.role}
    engine.dispose()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["loupe.user"] = signed
    at.session_state["loupe.project"] = project
    return at.run()


def rows(url: str, *where) -> list[Annotation]:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    with transaction(engine) as session:
        found = list(session.scalars(select(Annotation).where(*where).order_by(Annotation.id)))
    engine.dispose()
    return found


def human_rows(url: str) -> list[Annotation]:
    return rows(url, Annotation.action != "import")


def shown_item(at: AppTest) -> int:
    return at.session_state["loupe.item"].item_id


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def test_sign_in_with_the_form(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input("demo")
    at.text_input[1].input("wrong password")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    at.text_input[1].input("loupe-demo")
    at.button[0].click().run()
    assert at.session_state["loupe.user"]["name"] == "demo"
    assert any("Signed in as **demo**" in c.value for c in at.sidebar.caption)


def test_sign_in_form_shows_the_lockout(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_SIGN_IN_MAX_FAILURES", "2")
    at = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(2):
        at.text_input[0].input("demo")
        at.text_input[1].input("wrong password")
        at.button[0].click().run()
    at.text_input[1].input("loupe-demo")
    at.button[0].click().run()
    assert any("locked" in e.value and "try again after" in e.value for e in at.error)
    assert "loupe.user" not in at.session_state


def test_accept_writes_a_row_with_user_and_suggestion(app_env: str) -> None:
    at = ok(open_app("demo", "demo-spectra", app_env))
    item = at.session_state["loupe.item"]
    assert item.suggestion_id is not None
    at.button(key="accept").click().run()
    ok(at)
    (row,) = human_rows(app_env)
    assert (row.item_id, row.action, row.label) == (item.item_id, "accept", item.label)
    assert (row.suggestion_id, row.model_version_id) == (item.suggestion_id, item.model_version_id)
    assert row.user_id == at.session_state["loupe.user"]["id"]
    assert row.duration_s is not None and row.duration_s >= 0
    assert shown_item(at) != item.item_id  # the next item is on screen


def test_queue_serves_the_strategy_s_first_suggestion(app_env: str) -> None:
    engine = make_engine(app_env)
    with transaction(engine) as session:  # no random audit pick may come first here
        project = session.scalar(select(Project).where(Project.name == "demo-crops"))
        project.settings = dict(project.settings) | {"audit_share": 0.0}
    at = ok(open_app("demo", "demo-crops", app_env))
    with transaction(engine) as session:
        labelled = select(Annotation.item_id)
        lowest = session.scalar(
            select(func.min(Suggestion.priority))
            .join(Item, Item.id == Suggestion.item_id)
            .where(Item.project_id == project.id, Item.id.not_in(labelled))
        )
        shown = session.get(Suggestion, at.session_state["loupe.item"].suggestion_id)
    engine.dispose()
    assert shown.priority == pytest.approx(lowest)
    # the default strategy is entropy: the first item is the least certain one
    assert shown.priority == pytest.approx(-shown.entropy)


def test_class_key_with_another_class_is_an_edit_and_reject_is_a_reject(app_env: str) -> None:
    at = ok(open_app("demo", "demo-spectra", app_env))
    first = at.session_state["loupe.item"]
    other = next(n for n in ("stable", "weathered") if n != first.label)
    number = 1 if other == "stable" else 2
    at.button(key=f"class-{number}").click().run()
    second = at.session_state["loupe.item"]
    at.button(key="reject").click().run()
    ok(at)
    edit, reject = human_rows(app_env)
    assert (edit.item_id, edit.action, edit.label) == (first.item_id, "edit", other)
    assert (reject.item_id, reject.action, reject.label) == (second.item_id, "reject", None)


def test_undo_supersedes_and_brings_the_item_back(app_env: str) -> None:
    at = ok(open_app("demo", "demo-spectra", app_env))
    first = shown_item(at)
    at.button(key="accept").click().run()
    at.button(key="undo").click().run()
    ok(at)
    accept, undo = human_rows(app_env)
    assert undo.action == "undo" and undo.undoes_id == accept.id
    assert shown_item(at) == first


def test_a_lease_keeps_a_second_user_off_the_item(app_env: str) -> None:
    alice = ok(open_app("demo", "demo-crops", app_env))
    bob = ok(open_app("bob", "demo-crops", app_env))
    assert shown_item(alice) != shown_item(bob)
    alice.button(key="skip").click().run()
    (skip,) = human_rows(app_env)
    assert skip.action == "skip"
    assert shown_item(alice) not in (skip.item_id, shown_item(bob))


def test_audio_span_edit_from_the_slider_and_a_class_key(app_env: str) -> None:
    at = ok(open_app("demo", "demo-audio", app_env))
    item = at.session_state["loupe.item"]
    slider = at.slider(key=f"loupe.span-{item.item_id}")
    start, end = slider.value
    # the middle half, in whole slider steps: the first item may be any segment (an audit pick
    # is random), and proposals can be as short as 20 ms
    shrink = max(0.005, round((end - start) / 4 / 0.005) * 0.005)
    edited = (round(start + shrink, 3), round(end - shrink, 3))
    slider.set_value(edited).run()
    at.button(key="class-3").click().run()
    ok(at)
    (row,) = human_rows(app_env)
    assert (row.action, row.label, row.item_id) == ("edit", "harmonic", item.item_id)
    assert row.start_s == pytest.approx(edited[0], abs=1e-6)
    assert row.end_s == pytest.approx(edited[1], abs=1e-6)


def test_add_a_missed_segment(app_env: str) -> None:
    at = ok(open_app("demo", "demo-audio", app_env))
    item = at.session_state["loupe.item"]
    slider = at.slider(key=f"loupe.span-{item.item_id}")
    low = slider.min
    at.button(key="add").click().run()
    slider = at.slider(key=f"loupe.span-{item.item_id}")
    slider.set_value((low, round(low + 0.1, 3))).run()
    at.button(key="class-1").click().run()
    ok(at)
    (row,) = human_rows(app_env)
    assert (row.action, row.label) == ("add", "single_burst")
    assert row.start_s == pytest.approx(low) and row.end_s == pytest.approx(low + 0.1)
    engine = make_engine(app_env)
    with transaction(engine) as session:
        added = session.get(Item, row.item_id)
        assert added.origin == "human" and added.source_id == item.source_id
    engine.dispose()
    assert shown_item(at) == item.item_id  # the item under review stays


def test_crop_page_flip_and_accept(app_env: str) -> None:
    at = ok(open_app("demo", "demo-crops", app_env))
    at.switch_page("pages/grid.py").run()
    ok(at)
    page = at.session_state["loupe.page"]
    assert len(page) == 48
    flipped = page[5]
    at.button(key=f"flip-{flipped.item_id}").click().run()
    at.button(key="accept-page").click().run()
    ok(at)
    written = human_rows(app_env)
    assert sorted(r.item_id for r in written) == sorted(i.item_id for i in page)
    by_item = {r.item_id: r for r in written}
    assert by_item[flipped.item_id].action == "edit"
    assert by_item[flipped.item_id].label != flipped.label
    assert sum(r.action == "accept" for r in written) == 47
    assert {r.created_at for r in written} and len({r.created_at for r in written}) == 1
    next_page = {i.item_id for i in at.session_state["loupe.page"]}
    assert not next_page & set(by_item)
    at.button(key="undo-page").click().run()
    assert len(rows(app_env, Annotation.action == "undo")) == 48
    assert {i.item_id for i in at.session_state["loupe.page"]} == set(by_item)


def test_item_with_missing_media_shows_a_message_and_can_be_skipped(app_env: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(app_env)
    with transaction(engine) as session:
        project = session.scalar(select(Project).where(Project.name == "demo-spectra"))
        uris = list(session.scalars(select(Source.uri).where(Source.project_id == project.id)))
    engine.dispose()
    at = ok(open_app("demo", "demo-spectra", app_env))
    item = at.session_state["loupe.item"]
    gone = Path(item.source_uri)
    gone.rename(tmp_path / gone.name)
    try:
        at.session_state["loupe.item"] = None  # a fresh look at the same queue
        at.run()
        shown = at.session_state["loupe.item"]
        assert shown.item_id == item.item_id
        assert any("cannot be shown" in e.value and gone.name in e.value for e in at.error)
        at.button(key=f"skip-bad-{item.item_id}").click().run()
        ok(at)
        assert shown_item(at) != item.item_id
    finally:
        (tmp_path / gone.name).rename(gone)
    assert str(gone) in uris
    engine = make_engine(app_env)
    with transaction(engine) as session:
        error = session.scalar(select(IngestError).where(IngestError.item_id == item.item_id))
        assert error is not None and "gone" in error.reason
    engine.dispose()


def take_over(url: str, item_ids: list[int]) -> None:
    """The signed-in person's leases on ``item_ids`` run out, and ``bob`` takes the items."""
    from store import leases
    from store.accounts import add_user

    engine = make_engine(url)
    with transaction(engine) as session:
        session.execute(
            update(Lease)
            .where(Lease.item_id.in_(item_ids))
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        bob, _ = add_user(session, "bob", "annotator", None)
        assert leases.claim(session, bob.id, item_ids) == set(item_ids)
    engine.dispose()


def test_an_action_on_a_lost_lease_is_refused_with_a_message(app_env: str) -> None:
    at = ok(open_app("demo", "demo-spectra", app_env))
    item = at.session_state["loupe.item"]
    take_over(app_env, [item.item_id])
    at.button(key="accept").click().run()
    ok(at)
    assert human_rows(app_env) == []
    assert any(f"Item {item.item_id} was not saved" in t.value for t in at.toast)
    assert shown_item(at) != item.item_id  # the next one is on screen


def test_a_crop_page_saves_the_crops_still_held_and_names_the_others(app_env: str) -> None:
    at = ok(open_app("demo", "demo-crops", app_env))
    at.switch_page("pages/grid.py").run()
    page = ok(at).session_state["loupe.page"]
    take_over(app_env, [page[3].item_id])
    at.button(key="accept-page").click().run()
    ok(at)
    written = human_rows(app_env)
    assert sorted(r.item_id for r in written) == sorted(i.item_id for i in page if i != page[3])
    assert any("Page of 47 saved" in t.value and "1 not saved" in t.value for t in at.toast)
