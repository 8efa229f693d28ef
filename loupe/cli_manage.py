"""``loupe archive``, ``loupe unarchive`` and ``loupe delete``: projects, sources and items.

Archive hides what it names from the queue, new snapshots, exports, prelabel and the counts,
and ``unarchive`` brings it back. Delete removes what nobody annotated; with ``--force`` and a
``--reason`` it removes annotated items too and keeps a copy of their annotations in the
deletion record. Items in a snapshot can only be archived.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from loupe.options import DbOpt, JsonOpt, migrated_engine
from loupe.output import emit, user_errors
from store.archive import archive, unarchive
from store.deletion import delete_target
from store.engine import transaction
from store.projects import get_project

archive_app = typer.Typer(
    no_args_is_help=True,
    help="Hide a project, source or item from the queue, snapshots, exports and counts "
    "(reversible with `loupe unarchive`).",
)
unarchive_app = typer.Typer(no_args_is_help=True, help="Bring back what `loupe archive` hid.")
delete_app = typer.Typer(
    no_args_is_help=True,
    help="Delete a project, source or item that nobody annotated (or, with --force and "
    "--reason, one that people did: their annotations are copied into the deletion record). "
    "Items in a snapshot can only be archived.",
)

ProjectArg = Annotated[str, typer.Argument(help="The project's name.")]
SourceArg = Annotated[str, typer.Argument(help="The source's id or its file path (URI).")]
ItemArg = Annotated[int, typer.Argument(help="The item's id.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Also delete annotated items (needs --reason).")
]
ReasonOpt = Annotated[str | None, typer.Option(help="Why: kept with the deletion record.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who deletes (default: your login name).")]


def _source_ref(ref: str) -> str:
    """An id as given; a path as ingest stored it, absolute and resolved."""
    return ref if ref.isdigit() else str(Path(ref).expanduser().resolve())


def _change(kind: str, project: str, ref: str | None, db: str | None, as_json: bool, do) -> None:  # type: ignore[no-untyped-def]
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        result = do(session, get_project(session, project), kind, ref).as_dict()
    state = "archived" if result["archived"] else "unarchived"
    emit(
        as_json,
        result,
        lambda: (
            f"{state} {kind} {result['target']} of {result['project']}: "
            f"{result['items']} items {state}"
        ),
    )


def _delete(
    kind: str,
    project: str,
    ref: str | None,
    *,
    force: bool,
    reason: str | None,
    by: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        report = delete_target(
            session,
            get_project(session, project),
            kind,
            ref,
            actor=by or getpass.getuser(),
            reason=reason,
            force=force,
        )
        result = report.as_dict()
    emit(
        as_json,
        result,
        lambda: (
            f"deleted {kind} {result['target']} of {result['project']}: {result['sources']} "
            f"sources, {result['items']} items, {result['annotations']} annotations, "
            f"{result['suggestions']} suggestions (deletion record {result['deletion_id']})"
        ),
    )


def _register(group: typer.Typer, verb: str, do: Callable) -> None:  # type: ignore[type-arg]
    @group.command("project", help=f"{verb.capitalize()} a project and all its items.")
    def project_cmd(project: ProjectArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _change("project", project, None, db, as_json, do)

    @group.command("source", help=f"{verb.capitalize()} a source and all its items.")
    def source_cmd(
        project: ProjectArg, source: SourceArg, db: DbOpt = None, as_json: JsonOpt = False
    ) -> None:
        _change("source", project, _source_ref(source), db, as_json, do)

    @group.command("item", help=f"{verb.capitalize()} one item.")
    def item_cmd(
        project: ProjectArg, item: ItemArg, db: DbOpt = None, as_json: JsonOpt = False
    ) -> None:
        _change("item", project, str(item), db, as_json, do)


_register(archive_app, "archive", archive)
_register(unarchive_app, "unarchive", unarchive)


@delete_app.command("project")
def delete_project(
    project: ProjectArg,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a project with its sources and items."""
    _delete("project", project, None, force=force, reason=reason, by=by, db=db, as_json=as_json)


@delete_app.command("source")
def delete_source(
    project: ProjectArg,
    source: SourceArg,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a source with its items."""
    _delete(
        "source",
        project,
        _source_ref(source),
        force=force,
        reason=reason,
        by=by,
        db=db,
        as_json=as_json,
    )


@delete_app.command("item")
def delete_item(
    project: ProjectArg,
    item: ItemArg,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete one item."""
    _delete("item", project, str(item), force=force, reason=reason, by=by, db=db, as_json=as_json)
