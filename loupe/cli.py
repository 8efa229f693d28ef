"""Loupe: label audio events, spectra and image crops with a model in the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from loupe.output import emit, user_errors
from store import catalog, schema
from store.engine import make_engine, safe_url, transaction
from store.projects import create_project, ensure_user, get_project, list_projects
from store.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
project_app = typer.Typer(no_args_is_help=True, help="Create and list projects.")
user_app = typer.Typer(no_args_is_help=True, help="Add people who annotate or review.")
app.add_typer(project_app, name="project")
app.add_typer(user_app, name="user")
suggestions_app = typer.Typer(no_args_is_help=True, help="Model suggestions out of Loupe.")
app.add_typer(suggestions_app, name="suggestions")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $LOUPE_DATABASE_URL or ./loupe.db)."),
]


def _url(db: str | None) -> str:
    return load_settings(database_url=db).database_url


def _engine(db: str | None) -> Engine:
    """An engine on a database that is migrated to the code's schema."""
    engine = make_engine(_url(db))
    schema.require_current(engine)
    return engine


@app.command()
def init(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create or upgrade the database to the current schema."""
    with user_errors(as_json):
        url = _url(db)
        make_engine(url).dispose()
        schema.upgrade(url)
        revision = schema.head_revision()
    emit(
        as_json,
        {"database": safe_url(url), "revision": revision},
        lambda: f"database {safe_url(url)} is at revision {revision}",
    )


@project_app.command("create")
def project_create(
    name: str,
    modality: Annotated[str, typer.Option(help="audio, spectrum or crop")],
    classes: Annotated[str, typer.Option(help="Class names, comma-separated: a,b,c")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project of one modality with its classes."""
    with user_errors(as_json), transaction(_engine(db)) as session:
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
    with user_errors(as_json), transaction(_engine(db)) as session:
        rows = [
            {"id": p.id, "name": p.name, "modality": p.modality, "classes": p.classes}
            | catalog.project_status(session, p.id)
            for p in list_projects(session)
        ]

    def text() -> str:
        if not rows:
            return "no projects yet: loupe project create NAME --modality ... --classes ..."
        return "\n".join(
            f"{r['name']:<24} {r['modality']:<9} {r['items']:>9} items "
            f"{r['labelled_items']:>9} labelled"
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

    with user_errors(as_json), transaction(_engine(db)) as session:
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


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="annotator, reviewer or admin")] = "annotator",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (or show the existing one)."""
    with user_errors(as_json):
        from store.errors import ValidationError
        from store.models.project import ROLES

        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        with transaction(_engine(db)) as session:
            user = ensure_user(session, name, role)
            result = {"id": user.id, "name": user.name, "role": user.role}
    emit(as_json, result, lambda: f"user {result['name']} ({result['role']})")


@app.command()
def ingest(
    project: str,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    labels: Annotated[Path | None, typer.Option(help="CSV with columns file,label.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Register files of a project (re-ingesting the same bytes adds nothing)."""
    from prelabel.ingest import ingest as run_ingest

    with user_errors(as_json):
        settings = load_settings(database_url=db)
        report = run_ingest(
            _engine(db),
            project,
            paths,
            labels_csv=labels,
            batch_size=settings.batch_size,
            progress=not quiet,
            derived_dir=settings.derived_dir,
        )
    result = report.as_dict()
    emit(as_json, result, lambda: _ingest_text(report.as_dict()))
    if not report.ingested_anything:
        raise typer.Exit(1)


def _ingest_text(r: dict) -> str:
    lines = [
        f"{r['files_seen']} files: {r['sources_added']} new sources, "
        f"{r['sources_already_ingested']} already ingested, {r['files_ignored']} ignored",
        f"{r['items_added']} items added, {r['labels_imported']} labels imported, "
        f"{r['ingest_errors']} errors",
    ]
    lines += [f"  same content as {d['same_as']}: {d['path']}" for d in r["duplicates"]]
    for e in r["errors"][:20]:
        where = f" [{e['member']}]" if e["member"] else ""
        lines.append(f"  error: {e['path']}{where}: {e['reason']}")
    if len(r["errors"]) > 20:
        lines.append(f"  ... and {len(r['errors']) - 20} more (loupe status PROJECT --errors)")
    if r["sources_added"] + r["sources_already_ingested"] == 0:
        lines.append("nothing could be ingested")
    return "\n".join(lines)


@app.command()
def status(
    project: str,
    errors: Annotated[bool, typer.Option("--errors", help="List every ingest error.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts of sources, items, labels, errors, suggestions, snapshots and model versions."""
    with user_errors(as_json), transaction(_engine(db)) as session:
        p = get_project(session, project)
        counts = catalog.project_status(session, p.id)
        result = {"project": p.name, "modality": p.modality, "classes": p.classes} | counts
        result["labels"] = catalog.label_counts(session, p.id)
        if errors:
            result["errors"] = [
                {"path": e.path, "member": e.member, "item_id": e.item_id, "reason": e.reason}
                for e in catalog.list_ingest_errors(session, p.id)
            ]

    def text() -> str:
        lines = [
            f"{result['project']} ({result['modality']}; classes {', '.join(result['classes'])})"
        ]
        lines += [f"  {key:<15} {counts[key]}" for key in counts]
        lines += [f"  label {label!r}: {n}" for label, n in sorted(result["labels"].items())]
        for e in result.get("errors", []):
            where = f" [{e['member']}]" if e["member"] else ""
            lines.append(f"  error: {e['path']}{where}: {e['reason']}")
        return "\n".join(lines)

    emit(as_json, result, text)


@app.command()
def snapshot(
    project: str,
    name: Annotated[str | None, typer.Option(help="Default: s1, s2, ...")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze the project's current human labels into an immutable snapshot."""
    from store.snapshots import create_snapshot

    with user_errors(as_json), transaction(_engine(db)) as session:
        p = get_project(session, project)
        snap = create_snapshot(session, p.id, name)
        result = {
            "id": snap.id,
            "name": snap.name,
            "sha256": snap.manifest_sha256,
            "parent_id": snap.parent_id,
        } | snap.counts

    def text() -> str:
        splits = ", ".join(f"{k} {v}" for k, v in result["by_split"].items())
        return (
            f"snapshot {result['name']} (id {result['id']}): {result['entries']} entries "
            f"({splits}); {result['ties_left_out']} ties left out\n"
            f"sha256 {result['sha256']}"
        )

    emit(as_json, result, text)


@app.command()
def export(
    snapshot: Annotated[str, typer.Argument(help="Snapshot id, or name with --project.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv, jsonl, parquet, or the field's: "
            "audacity, raven (audio), spectra, hdf5 (crop)",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write into.")],
    project: Annotated[
        str | None, typer.Option(help="Project of a snapshot named by name.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a snapshot, with manifest.json (snapshot, hash, counts, Loupe version)."""
    from prelabel.export import export_snapshot

    with user_errors(as_json):
        manifest = export_snapshot(_engine(db), snapshot, fmt, out, project)
    result = {"out": str(out)} | manifest
    emit(
        as_json,
        result,
        lambda: (
            f"{manifest['entries']} entries as {fmt} in {out} "
            f"({len(manifest['files'])} files + manifest.json)"
        ),
    )


@app.command()
def train(
    project: str,
    snapshot: Annotated[str, typer.Option(help="Snapshot id or name.")],
    arch: Annotated[str | None, typer.Option(help="Network; default per modality.")] = None,
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: Annotated[int, typer.Option(help="Epochs without a better val loss.")] = 5,
    min_epochs: Annotated[int, typer.Option(help="Epochs always run.")] = 10,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps")] = "auto",
    mlflow: Annotated[bool, typer.Option(help="Also log the run to MLflow.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train a model on a snapshot and register it as a candidate model version."""
    from learner.training import TrainConfig
    from prelabel.train import train_model

    config = TrainConfig(
        arch=arch or "",
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        min_epochs=min_epochs,
        seed=seed,
        device=device,
    )
    with user_errors(as_json):
        settings = load_settings(database_url=db)
        result = train_model(
            _engine(db),
            project,
            snapshot,
            config,
            models_dir=settings.models_dir,
            progress=not quiet,
            mlflow=mlflow,
        )
    emit(
        as_json,
        result,
        lambda: (
            f"model version {result['model_version']} ({result['arch']}): best epoch "
            f"{result['best_epoch']}, val loss {result['val_loss']:.4f}, val accuracy "
            f"{result['val_accuracy']:.3f}, {result['samples_per_s']:.0f} samples/s "
            f"on {result['device']}"
        ),
    )


@app.command()
def evaluate(model_version: int, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Test-split metrics and calibration; the fitted temperature is stored with the version."""
    from prelabel.evaluate import evaluate_version

    with user_errors(as_json):
        report = evaluate_version(_engine(db), model_version)
    result = {k: v for k, v in report.items() if k != "pr_curves"}

    def text() -> str:
        lines = [
            f"model version {model_version} on {result['test_items']} test items:",
            f"  accuracy {result['accuracy']:.3f}  macro-F1 {result['macro_f1']:.3f}",
            f"  ECE {result['ece']:.3f} -> {result['ece_calibrated']:.3f} "
            f"(temperature {result['temperature']:.3f})",
        ]
        for name, row in result["per_class"].items():
            lines.append(
                f"  {name:<16} P {row['precision']:.3f} R {row['recall']:.3f} "
                f"F1 {row['f1']:.3f} n {row['support']}"
            )
        lines.append(f"  plots: {result['report_dir']}")
        return "\n".join(lines)

    emit(as_json, result, text)


@app.command()
def promote(
    model_version: int,
    min_macro_f1: Annotated[float, typer.Option(help="Gate on the test macro-F1.")] = 0.0,
    vs_active: Annotated[
        bool, typer.Option(help="Must not be worse than the active version on the same test items.")
    ] = True,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a version active if it passes the gate. Exit 0 promoted, 3 below the threshold,
    4 worse than the active version."""
    from prelabel.evaluate import promote_version

    with user_errors(as_json):
        result = promote_version(
            _engine(db), model_version, min_macro_f1=min_macro_f1, vs_active=vs_active
        )
    emit(
        as_json,
        result,
        lambda: (
            f"model version {model_version}: {result['decision']} "
            f"(macro-F1 {result['macro_f1']:.3f})"
        ),
    )
    raise typer.Exit(result["exit_code"])


@app.command()
def prelabel(
    project: str,
    model_version: Annotated[int | None, typer.Option(help="Default: the active version.")] = None,
    batch_size: int = 1024,
    limit: Annotated[int | None, typer.Option(help="At most this many items.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps")] = "auto",
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Write the model version's suggestions for every item that has none from it yet."""
    from prelabel.prelabel import run_prelabel

    with user_errors(as_json):
        result = run_prelabel(
            _engine(db),
            project,
            version_id=model_version,
            batch_size=batch_size,
            limit=limit,
            device=device,
            progress=not quiet,
            threads=threads,
        )
    emit(as_json, result, lambda: _prelabel_text(result))


def _prelabel_text(result: dict) -> str:
    lines = []
    if result.get("proposals"):
        p = result["proposals"]
        lines.append(
            f"proposals: {p['recordings_scanned']} recordings scanned, {p['proposals']} new "
            f"segments, {p['overlapping_dropped']} overlapped marked ones, {p['failures']} failed"
        )
    if result["model_version"] is None:
        lines.append("no active model version yet: segments proposed, none classified")
    else:
        lines.append(
            f"model version {result['model_version']}: {result['items']} items in "
            f"{result['seconds']:.1f} s ({result['items_per_s']:.0f} items/s), "
            f"{result['suggestions']} suggestions, {result['failures']} failures"
        )
    return "\n".join(lines)


@suggestions_app.command("export")
def suggestions_export(
    project: str,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or audacity (audio)")],
    out: Annotated[Path, typer.Option(help="Folder to write into.")],
    model_version: Annotated[int | None, typer.Option(help="Default: the active version.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a version's suggestions: a table, or Audacity label tracks per recording."""
    from prelabel.suggestions_export import export_suggestions

    with user_errors(as_json):
        result = export_suggestions(_engine(db), project, fmt, out, version_id=model_version)
    emit(
        as_json,
        result,
        lambda: (
            f"{result['suggestions']} suggestions of model version "
            f"{result['model_version']} as {fmt} in {out} ({len(result['files'])} files)"
        ),
    )


@app.command("run-scheduled")
def run_scheduled(
    every: Annotated[str | None, typer.Option(help="Repeat, e.g. 10m, 1h, 30s.")] = None,
    once: Annotated[bool, typer.Option(help="One pass, then exit (the default).")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest new files of every project's watched folders, then prelabel. A second copy
    running at the same time leaves (exit 0) instead of doing the work twice."""
    from prelabel.schedule import LockHeld, run_every, run_scheduled_pass

    with user_errors(as_json):
        engine = _engine(db)
        if every is None or once:
            try:
                result = run_scheduled_pass(engine)
            except LockHeld as e:
                result = {"skipped": str(e)}
            emit(as_json, result, lambda: _scheduled_text(result))
            return
        for result in run_every(engine, _duration(every)):
            emit(as_json, result, lambda r=result: _scheduled_text(r))


def _duration(text: str):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from store.errors import ValidationError

    units = {"s": "seconds", "m": "minutes", "h": "hours"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError):
        raise ValidationError(
            f"cannot read the interval {text!r}: use e.g. 30s, 10m or 1h"
        ) from None


def _scheduled_text(result: dict) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    lines = [f"scheduled pass (job {result['job_id']}):"]
    for name, entry in result["projects"].items():
        lines.append(
            f"  {name:<20} +{entry['ingested_items']} items, +{entry['suggestions']} suggestions"
        )
    return "\n".join(lines)


@app.command()
def verify(
    project: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Decode every crop of a project once; entries that fail are recorded as ingest errors."""
    from prelabel.verify import verify_crops

    with user_errors(as_json):
        result = verify_crops(_engine(db), project, progress=not quiet)
    emit(
        as_json,
        result,
        lambda: f"{result['checked']} crops decoded, {result['unreadable']} unreadable",
    )


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option(help="Folder for the generated data.")] = Path(
        "loupe-demo"
    ),
    size: Annotated[str, typer.Option(help="small (seconds) or large (minutes)")] = "small",
    seed: int = 0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo workspace: one project per modality, generated, ingested."""
    from prelabel.demo import build_demo

    with user_errors(as_json):
        result = build_demo(workspace, database_url=_url(db), size=size, seed=seed)
    emit(as_json, result, lambda: _demo_text(result))


def _demo_text(result: dict) -> str:
    lines = [f"demo workspace {result['workspace']} on {result['database']}"]
    for name, counts in result["projects"].items():
        model = result["models"].get(name, {})
        quality = f", test macro-F1 {model['macro_f1']:.2f}" if "macro_f1" in model else ""
        lines.append(
            f"  {name:<14} {counts['items']:>6} items {counts['labelled_items']:>6} labelled "
            f"{counts['suggestions']:>6} suggestions (model version {model.get('model_version')}"
            f"{quality})"
        )
    lines.append(
        "next: loupe status demo-crops; loupe suggestions export demo-audio "
        "--format audacity --out suggestions"
    )
    return "\n".join(lines)


def main() -> None:
    app()
