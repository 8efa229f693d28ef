"""Loupe: label audio events, spectra and image crops with a model in the loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from loupe import cli_users
from loupe.cli_db import db_app
from loupe.cli_manage import archive_app, delete_app, unarchive_app
from loupe.cli_projects import project_app
from loupe.options import CapOpt, DbOpt, JsonOpt, database_url, migrated_engine
from loupe.output import emit, shows_progress, user_errors
from store import catalog, schema
from store.engine import make_engine, safe_url, transaction
from store.projects import get_project
from store.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
user_app = typer.Typer(
    no_args_is_help=True, help="Add, list, link and unlock people who annotate or review."
)
cli_users.register(user_app)
app.add_typer(project_app, name="project")
app.add_typer(user_app, name="user")
suggestions_app = typer.Typer(no_args_is_help=True, help="Model suggestions out of Loupe.")
app.add_typer(suggestions_app, name="suggestions")
app.add_typer(archive_app, name="archive")
app.add_typer(unarchive_app, name="unarchive")
app.add_typer(delete_app, name="delete")
app.add_typer(db_app, name="db")

_url = database_url
_engine = migrated_engine


def _train_config(  # type: ignore[no-untyped-def]
    arch: str | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    min_epochs: int,
    seed: int,
    device: str,
):
    """The training options ``train`` and ``loop`` share, as a ``TrainConfig``."""
    from learner.training import TrainConfig  # deferred: torch loads only for training

    return TrainConfig(
        arch=arch or "",
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        min_epochs=min_epochs,
        seed=seed,
        device=device,
    )


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


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="annotator, reviewer or admin")] = "annotator",
    no_password: Annotated[
        bool,
        typer.Option("--no-password", help="An account that signs in through OpenID Connect only."),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user, or change the role and password of an existing one.

    The password is asked at a prompt, or read from the first line of standard input when that
    is not a terminal (``echo "$PW" | loupe user add alice``).
    """
    with user_errors(as_json):
        from store.accounts import add_user

        password = None if no_password else _read_password(name)
        with transaction(_engine(db)) as session:
            user, created = add_user(session, name, role, password)
            result = {
                "id": user.id,
                "name": user.name,
                "role": user.role,
                "created": created,
                "password": user.password_hash is not None,
            }
    emit(
        as_json,
        result,
        lambda: f"user {result['name']} ({result['role']}) {'added' if created else 'updated'}",
    )


def _read_password(name: str) -> str:
    import sys

    from store.errors import ValidationError

    if sys.stdin.isatty():
        return typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise ValidationError(
            "no password on standard input: pipe one in, run in a terminal to be asked, "
            "or pass --no-password for an OpenID Connect account"
        )
    return line


@app.command()
def ingest(
    project: str,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    labels: Annotated[
        Path | None,
        typer.Option(
            help="CSV with columns file,label (and column, for one spectrum of a matrix); file "
            "names resolve relative to the CSV's folder. Spectrum and crop projects."
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Register files of a project (re-ingesting the same bytes adds nothing but labels it
    lacks). Exits 1 when files failed and none was ingested."""
    from prelabel.ingest import ingest as run_ingest

    with user_errors(as_json):
        settings = load_settings(database_url=db)
        report = run_ingest(
            _engine(db),
            project,
            paths,
            labels_csv=labels,
            batch_size=settings.batch_size,
            progress=shows_progress(as_json, quiet),
            derived_dir=settings.derived_dir,
            stale_after_s=settings.job_stale_after_s,
            media_roots=settings.media_roots,
        )
    result = report.as_dict()
    emit(as_json, result, lambda: _ingest_text(result))
    if report.nothing_could_be_ingested:
        raise typer.Exit(1)


def _ingest_text(r: dict) -> str:
    resumed = f" ({r['sources_resumed']} resumed)" if r["sources_resumed"] else ""
    lines = [
        f"{r['files_seen']} files: {r['files_new']} new{resumed}, "
        f"{r['files_already_ingested']} already ingested, {r['files_label']} label files, "
        f"{r['files_ignored']} ignored, {r['files_failed']} failed",
        f"{r['items_added']} items added, {r['labels_imported']} labels imported, "
        f"{r['ingest_errors']} errors",
    ]
    lines += [f"  same content as {d['same_as']}: {d['path']}" for d in r["duplicates"]]
    if r["labels_unmatched"]:
        names = ", ".join(
            f"{u['file']}{' [' + u['column'] + ']' if u['column'] else ''} (line {u['line']})"
            for u in r["unmatched_labels"][:10]
        )
        more = f" and {r['labels_unmatched'] - 10} more" if r["labels_unmatched"] > 10 else ""
        lines.append(
            f"{r['labels_unmatched']} labels CSV rows match no ingested file "
            f"(names resolve relative to the CSV's folder): {names}{more}"
        )
    for e in r["errors"][:20]:
        where = f" [{e['member']}]" if e["member"] else ""
        lines.append(f"  error: {e['path']}{where}: {e['reason']}")
    if len(r["errors"]) > 20:
        lines.append(f"  ... and {len(r['errors']) - 20} more (loupe status PROJECT --errors)")
    if r["files_failed"] and not r["files_new"] + r["files_already_ingested"]:
        lines.append("nothing could be ingested")
    return "\n".join(lines)


STATUS_JOBS = 5
"""Latest jobs that ``loupe status`` shows."""


@app.command()
def status(
    project: str,
    errors: Annotated[bool, typer.Option("--errors", help="List every ingest error.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts of sources, items, labels, errors, suggestions, snapshots and model versions, and
    the latest jobs (a running one that stopped beating shows as interrupted)."""
    from store.jobs import recent_jobs

    with user_errors(as_json), transaction(_engine(db)) as session:
        stale_after_s = load_settings(database_url=db).job_stale_after_s
        p = get_project(session, project)
        counts = catalog.project_status(session, p.id)
        result = {"project": p.name, "modality": p.modality, "classes": p.classes} | counts
        result["labels"] = catalog.label_counts(session, p.id)
        jobs = recent_jobs(session, p.id, stale_after_s=stale_after_s, limit=STATUS_JOBS)
        result["jobs"] = [job.as_dict() for job in jobs]
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
        lines += [_job_line(job) for job in result["jobs"]]
        for e in result.get("errors", []):
            where = f" [{e['member']}]" if e["member"] else ""
            lines.append(f"  error: {e['path']}{where}: {e['reason']}")
        return "\n".join(lines)

    emit(as_json, result, text)


def _job_line(job: dict) -> str:
    of = f"/{job['total']}" if job["total"] is not None else ""
    why = f" ({job['error'].splitlines()[-1]})" if job["error"] else ""
    return f"  job {job['id']} {job['kind']}: {job['status']}, {job['done']}{of} done{why}"


PseudoLabelsOpt = Annotated[
    bool,
    typer.Option(
        "--pseudo-labels",
        help="Add pseudo-labels: unlabelled items whose calibrated confidence passes a per-class "
        "threshold chosen on the audit set (train split only).",
    ),
]
TargetErrorOpt = Annotated[
    float, typer.Option(help="Estimated error of accepted pseudo-labels to stay under.")
]


@app.command()
def snapshot(
    project: str,
    name: Annotated[str | None, typer.Option(help="Default: s1, s2, ...")] = None,
    pseudo_labels: PseudoLabelsOpt = False,
    target_error: TargetErrorOpt = 0.02,
    cap_per_class: CapOpt = None,
    model_version: Annotated[
        int | None, typer.Option(help="Pseudo-labels from this version (default: the active one).")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze the project's current human labels (and, if asked, pseudo-labels) into an
    immutable snapshot."""
    from store.snapshots import create_snapshot

    with user_errors(as_json), transaction(_engine(db)) as session:
        p = get_project(session, project)
        if pseudo_labels:
            from prelabel.pseudo_labels import create_pseudo_snapshot

            snap = create_pseudo_snapshot(
                session,
                p,
                name,
                version_id=model_version,
                target_error=target_error,
                cap_per_class=cap_per_class,
            )
        else:
            snap = create_snapshot(session, p.id, name)
        result = {
            "id": snap.id,
            "name": snap.name,
            "sha256": snap.manifest_sha256,
            "parent_id": snap.parent_id,
            "pseudo": snap.pseudo,
            "pseudo_threshold": snap.pseudo_threshold,
            "pseudo_model_version_id": snap.pseudo_model_version_id,
        } | snap.counts
    emit(as_json, result, lambda: _snapshot_text(result))


def _snapshot_text(result: dict) -> str:
    splits = ", ".join(f"{k} {v}" for k, v in result["by_split"].items())
    origins = ", ".join(f"{k} {v}" for k, v in result["by_origin"].items())
    lines = [
        f"snapshot {result['name']} (id {result['id']}): {result['entries']} entries "
        f"({splits}; {origins}); {result['ties_left_out']} ties left out",
    ]
    pseudo = result.get("pseudo")
    if pseudo:
        lines.append(_pseudo_text(pseudo))
    lines.append(f"sha256 {result['sha256']}")
    return "\n".join(lines)


def _pseudo_text(pseudo: dict) -> str:
    if pseudo.get("note"):
        return pseudo["note"]
    thresholds = ", ".join(
        f"{name} {'-' if t is None else f'{t:.3f}'}" for name, t in pseudo["thresholds"].items()
    )
    precision = pseudo["estimated_precision"]
    return (
        f"pseudo-labels from model version {pseudo['model_version']}: {pseudo['accepted']} of "
        f"{pseudo['candidates']} unlabelled items (coverage {pseudo['coverage']:.1%}); "
        f"thresholds {thresholds}; estimated precision "
        f"{'-' if precision is None else f'{precision:.3f}'} on {pseudo['audit_size']} audit "
        f"labels (target error {pseudo['target_error']:.1%})"
    )


SNAPSHOT_REF_HELP = (
    "PROJECT:NAME (finch:s1), or NAME with --project, or the snapshot's id as `loupe snapshot` "
    "printed it: a bare number is always an id, never a name."
)


@app.command()
def export(
    snapshot: Annotated[str, typer.Argument(help=f"The snapshot: {SNAPSHOT_REF_HELP}")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv, jsonl, parquet, or the field's: "
            "audacity, raven (audio), spectra, hdf5 (crop)",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write into; it must be empty.")],
    project: Annotated[
        str | None, typer.Option(help="Project of a snapshot named by name.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Write into a folder that already holds files.")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a snapshot, with manifest.json (snapshot, hash, counts, Loupe version)."""
    from prelabel.export import export_snapshot
    from store.errors import AmbiguousError

    with user_errors(as_json):
        try:
            manifest = export_snapshot(
                _engine(db), snapshot, fmt, out, project, overwrite=overwrite
            )
        except AmbiguousError as e:
            runs = [
                f"loupe export {name}:{e.ref} --format {fmt} --out {out}" for name in e.projects
            ]
            raise AmbiguousError(
                f"{e}\n  " + "\n  ".join(runs), ref=e.ref, projects=e.projects
            ) from None
    head = manifest["snapshot"]
    result = {"out": str(out), "project": head["project"], "ref": head["ref"]} | manifest
    emit(
        as_json,
        result,
        lambda: (
            f"snapshot {head['ref']} (id {head['id']}, sha256 {head['sha256'][:12]}): "
            f"{manifest['entries']} entries as {fmt} in {out} "
            f"({len(manifest['files'])} files + manifest.json)"
        ),
    )


@app.command()
def train(
    project: str,
    snapshot: Annotated[str, typer.Option(help=f"A snapshot of PROJECT: {SNAPSHOT_REF_HELP}")],
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
    from prelabel.train import train_model

    config = _train_config(
        arch, epochs, batch_size, learning_rate, patience, min_epochs, seed, device
    )
    with user_errors(as_json):
        settings = load_settings(database_url=db)
        result = train_model(
            _engine(db),
            project,
            snapshot,
            config,
            models_dir=settings.models_dir,
            progress=shows_progress(as_json, quiet),
            mlflow=mlflow,
        )
    emit(
        as_json,
        result,
        lambda: (
            f"model version {result['model_version']} ({result['arch']}) from snapshot "
            f"{result['snapshot_ref']}: best epoch "
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
    """Make an evaluated version active if it passes the gate.

    Run `loupe evaluate VERSION` first: promote reads the test-split macro-F1 that evaluate
    stored and refuses a version that has none. It checks, in order: the macro-F1 reaches
    --min-macro-f1; then (with --vs-active, the default) the version is not worse than the
    project's active one, both scored on the same test items. A version that passes becomes
    active and the previous one is retired.

    Exit 0 promoted, 3 below the threshold, 4 worse than the active version.
    """
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
def loop(
    project: str,
    pseudo_labels: Annotated[
        bool | None,
        typer.Option(
            "--pseudo-labels/--no-pseudo-labels",
            help="Snapshot with pseudo-labels from the active version (default: the project's "
            "loop setting, else $LOUPE_LOOP_PSEUDO_LABELS).",
        ),
    ] = None,
    target_error: Annotated[
        float | None, typer.Option(help="Pseudo-label error target (default 0.02).")
    ] = None,
    cap_per_class: CapOpt = None,
    label_review: Annotated[
        bool | None,
        typer.Option(
            "--label-review/--no-label-review",
            help="Review human labels out of fold after training (default: when every class "
            "has at least 10 human labels in train and val).",
        ),
    ] = None,
    min_macro_f1: Annotated[
        float | None, typer.Option(help="Gate: the new version's test macro-F1 must reach this.")
    ] = None,
    vs_active: Annotated[
        bool, typer.Option(help="Gate: must not be worse than the active version.")
    ] = True,
    arch: Annotated[str | None, typer.Option(help="Network; default: the active one's.")] = None,
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: Annotated[int, typer.Option(help="Epochs without a better val loss.")] = 5,
    min_epochs: Annotated[int, typer.Option(help="Epochs always run.")] = 10,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps")] = "auto",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars or step lines.")] = False,
) -> None:
    """Snapshot, train, evaluate, review labels, gate, and prelabel with the new version if it
    was promoted: one job of kind "loop". Exit 0 promoted, 3 or 4 as `loupe promote`, 1 when a
    step failed."""
    from prelabel.loop import LoopStepFailed, loop_options, run_loop

    config = _train_config(
        arch, epochs, batch_size, learning_rate, patience, min_epochs, seed, device
    )
    with user_errors(as_json):
        settings = load_settings(database_url=db)
        engine = _engine(db)
        with transaction(engine) as session:
            options = loop_options(
                get_project(session, project),
                settings,
                pseudo_labels=pseudo_labels,
                target_error=target_error,
                cap_per_class=cap_per_class,
                label_review=label_review,
                min_macro_f1=min_macro_f1,
                vs_active=vs_active,
                train=config,
            )
        try:
            result = run_loop(
                engine,
                project,
                options,
                models_dir=settings.models_dir,
                progress=shows_progress(as_json, quiet),
                report=(lambda line: typer.echo(line, err=True))
                if shows_progress(as_json, quiet)
                else None,
                stale_after_s=settings.job_stale_after_s,
            )
        except LoopStepFailed as e:
            if as_json:
                failure = {"error": str(e), "step": e.step, "job_id": e.job_id, "steps": e.steps}
                typer.echo(json.dumps(failure, default=str))
            typer.secho(f"error: loop job {e.job_id}: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
    emit(as_json, result, lambda: _loop_text(result))
    raise typer.Exit(result["exit_code"])


def _loop_text(r: dict) -> str:
    snap = r["snapshot"]
    lines = [
        f"loop job {r['job_id']} on {r['project']}: snapshot {snap['name']} "
        f"({snap['human']} human, {snap['pseudo']} pseudo), model version {r['model_version']} "
        f"macro-F1 {r['macro_f1']:.3f}, {r['decision']}",
    ]
    if r["pseudo"]:
        lines.append("  " + _pseudo_text(r["pseudo"]))
    issues = r["label_issues"]
    lines.append(
        "  label review: "
        + (r["steps"]["label_review"].get("skipped", "") if issues is None else f"{issues} issues")
    )
    prelabel = r["steps"]["prelabel"]
    lines.append(
        "  prelabel: "
        + (prelabel["skipped"] if "skipped" in prelabel else f"{r['suggestions']} suggestions")
    )
    return "\n".join(lines)


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
        stale_after_s = load_settings(database_url=db).job_stale_after_s
        result = run_prelabel(
            _engine(db),
            project,
            version_id=model_version,
            batch_size=batch_size,
            limit=limit,
            device=device,
            progress=shows_progress(as_json, quiet),
            threads=threads,
            stale_after_s=stale_after_s,
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
    if result["model_version"] is None and result.get("cold_start"):
        c = result["cold_start"]
        lines.append(
            f"no model version yet: cold start ranked {c.get('ranked', 0)} typical, diverse "
            f"items of {c.get('pool', 0)} first in the queue ({c.get('failures', 0)} unreadable)"
        )
    elif result["model_version"] is None:
        lines.append("no active model version yet: segments proposed, none classified")
    else:
        lines.append(
            f"model version {result['model_version']}: {result['items']} items in "
            f"{result['seconds']:.1f} s ({result['items_per_s']:.0f} items/s), "
            f"{result['suggestions']} suggestions, {result['failures']} failures"
        )
        if result["done_before"] or result["took_over"]:
            took = ", ".join(str(i) for i in result["took_over"])
            lines.append(
                f"{result['done_before']} items were prelabelled by earlier runs"
                + (f" (took over interrupted job {took})" if took else "")
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
    """Ingest new files of every project's watched folders, run the loop where enough new human
    annotations arrived ($LOUPE_LOOP_AFTER_ANNOTATIONS, default 200, or the project's own
    setting), then prelabel. A second copy running at the same time leaves (exit 0) instead of
    doing the work twice."""
    from prelabel.schedule import LockHeld, run_every, run_scheduled_pass

    with user_errors(as_json):
        engine = _engine(db)
        settings = load_settings(database_url=db)
        if every is None or once:
            try:
                result = run_scheduled_pass(engine, settings=settings)
            except LockHeld as e:
                result = {"skipped": str(e)}
            emit(as_json, result, lambda: _scheduled_text(result))
            return
        for result in run_every(engine, _duration(every), settings=settings):
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
        loop = entry.get("loop") or {}
        ran = ""
        if "error" in loop:
            ran = f", loop failed: {loop['error']}"
        elif loop.get("ran"):
            ran = f", loop: model version {loop['model_version']} {loop['decision']}"
        lines.append(
            f"  {name:<20} +{entry['ingested_items']} items, +{entry['suggestions']} suggestions"
            f"{ran}"
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
        result = verify_crops(_engine(db), project, progress=shows_progress(as_json, quiet))
    emit(
        as_json,
        result,
        lambda: f"{result['checked']} crops decoded, {result['unreadable']} unreadable",
    )


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port the app listens on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 to serve other machines).")
    ] = "localhost",
    db: DbOpt = None,
) -> None:
    """Start the annotator app in the browser (Streamlit) against the configured database.

    SIGTERM or SIGINT stops the app with it.
    """
    from annotator import server

    with user_errors(False):
        _engine(db).dispose()  # a clear message now beats a broken page later
    typer.echo(f"Loupe annotator on http://{host}:{port} (Ctrl+C stops it)", err=True)
    env = server.environment(_url(db))
    raise typer.Exit(server.run(port, host, env))


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option(help="Folder for the generated data.")] = Path(
        "loupe-demo"
    ),
    size: Annotated[str, typer.Option(help="small (seconds) or large (minutes)")] = "small",
    seed: int = 0,
    serve_app: Annotated[
        bool, typer.Option("--serve", help="Then start the annotator app on it.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the app with --serve.")] = 8501,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo workspace: one project per modality, generated, ingested, prelabelled."""
    from prelabel.demo import build_demo

    with user_errors(as_json):
        result = build_demo(
            workspace,
            database_url=_url(db),
            size=size,
            seed=seed,
            progress=shows_progress(as_json),
        )
    emit(as_json, result, lambda: _demo_text(result))
    if serve_app:
        serve(port=port, host="localhost", db=_url(db))


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
        f"sign in as {result['sign_in']['user']} / {result['sign_in']['password']}; "
        "next: loupe serve; loupe status demo-crops"
    )
    return "\n".join(lines)


def main() -> None:
    app()
