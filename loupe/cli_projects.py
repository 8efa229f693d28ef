"""``loupe project``: create, list and configure projects (watched folders, strategy, loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loupe.options import CapOpt, DbOpt, JsonOpt, migrated_engine
from loupe.output import emit, user_errors
from store import catalog
from store.engine import transaction
from store.projects import create_project, get_project, list_projects

project_app = typer.Typer(no_args_is_help=True, help="Create and list projects.")


@project_app.command("create")
def project_create(
    name: str,
    modality: Annotated[str, typer.Option(help="audio, spectrum or crop")],
    classes: Annotated[str, typer.Option(help="Class names, comma-separated: a,b,c")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project of one modality with its classes."""
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        project = create_project(session, name, modality, classes.split(","))
        result = {
            "id": project.id,
            "name": project.name,
            "modality": project.modality,
            "classes": project.classes,
        }
    emit(
        as_json,
        result,
        lambda: f"created project {name} ({modality}: {', '.join(result['classes'])})",
    )


@project_app.command("list")
def project_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List projects with their item counts."""
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "modality": p.modality,
                "classes": p.classes,
                "archived": p.archived_at is not None,
            }
            | catalog.project_status(session, p.id)
            for p in list_projects(session)
        ]

    def text() -> str:
        if not rows:
            return "no projects yet: loupe project create NAME --modality ... --classes ..."
        return "\n".join(
            f"{r['name']:<24} {r['modality']:<9} {r['items']:>9} items "
            f"{r['labelled_items']:>9} labelled{' (archived)' if r['archived'] else ''}"
            for r in rows
        )

    emit(as_json, {"projects": rows}, text)


@project_app.command("watch")
def project_watch(
    name: str,
    folders: Annotated[list[Path] | None, typer.Argument(help="Folders to ingest from.")] = None,
    remove: Annotated[bool, typer.Option(help="Stop watching these folders.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add (or --remove) folders that `loupe run-scheduled` ingests new files from."""
    from store.projects import set_watched_folders

    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        project = get_project(session, name)
        given = {str(f.expanduser().resolve()) for f in folders or []}
        current = set(project.settings.get("watch", []))
        set_watched_folders(
            session, project, sorted(current - given if remove else current | given)
        )
        result = {"project": name, "watch": project.settings["watch"]}
    emit(
        as_json,
        result,
        lambda: "\n".join([f"{name} watches:"] + [f"  {f}" for f in result["watch"]]),
    )


@project_app.command("strategy")
def project_strategy(
    name: str,
    strategy: Annotated[
        str,
        typer.Argument(
            help="least-confidence, margin, entropy, bald, diverse, cold-start or random."
        ),
    ],
    audit_share: Annotated[
        float | None,
        typer.Option(help="Share of picks drawn at random as the audit stream (default 0.1)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose the order of the project's queue; its open suggestions are re-ranked at once."""
    from prelabel.ranking import set_strategy

    with user_errors(as_json):
        result = set_strategy(migrated_engine(db), name, strategy, audit_share=audit_share)
    emit(
        as_json,
        result,
        lambda: (
            f"{name}: queue by {result['strategy']}, {100 * result['audit_share']:.0f} % random "
            f"audit picks; {result.get('reranked', 0)} open suggestions re-ranked"
        ),
    )


@project_app.command("loop")
def project_loop(
    name: str,
    after_annotations: Annotated[
        int | None,
        typer.Option(
            help="`loupe run-scheduled` runs the loop after this many new human "
            "annotations; 0 never."
        ),
    ] = None,
    pseudo_labels: Annotated[
        bool | None, typer.Option("--pseudo-labels/--no-pseudo-labels")
    ] = None,
    target_error: Annotated[float | None, typer.Option(help="Pseudo-label error target.")] = None,
    cap_per_class: CapOpt = None,
    label_review: Annotated[bool | None, typer.Option("--label-review/--no-label-review")] = None,
    min_macro_f1: Annotated[float | None, typer.Option(help="The gate's threshold.")] = None,
    reset: Annotated[bool, typer.Option(help="Forget every loop setting of the project.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or set a project's loop settings (they beat the global ones; a flag of
    `loupe loop` beats both)."""
    from prelabel.loop import configure_loop

    changes = {
        "after_annotations": after_annotations,
        "pseudo_labels": pseudo_labels,
        "target_error": target_error,
        "cap_per_class": cap_per_class,
        "label_review": label_review,
        "min_macro_f1": min_macro_f1,
    }
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        project = get_project(session, name)
        if reset:
            changes = dict.fromkeys(changes)
        else:
            changes = {k: v for k, v in changes.items() if v is not None}
        result = {"project": name, "loop": configure_loop(session, project, changes)}
    emit(
        as_json,
        result,
        lambda: (
            f"{name} loop settings: "
            + (", ".join(f"{k}={v}" for k, v in result["loop"].items()) or "none (global defaults)")
        ),
    )
