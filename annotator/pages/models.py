"""Snapshots & models: what was frozen, what was trained on it, how well it does.

Nothing trains here: the page shows the commands that do, filled in for this project.
"""

import shlex
from pathlib import Path

import streamlit as st

from annotator import access, cache, figures, workspace
from store import reports
from store.engine import transaction

access.page_or_stop(__file__)

PLOTS = {
    "reliability.png": "Reliability before and after temperature scaling",
    "precision_recall.png": "Precision–recall per class (test split)",
    "confusion_matrix.png": "Confusion matrix (test split)",
}

project = workspace.project_or_stop()
st.header(f"Snapshots & models · {project.name}")

with transaction(cache.engine()) as session:
    snapshots = reports.snapshots(session, project.id)
    versions = reports.model_versions(session, project.id)
shown = reports.shown_version(versions)


def _number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


st.subheader("Snapshots")
if snapshots:
    st.dataframe(
        [
            {
                "id": s.id,
                "name": s.name,
                "created (UTC)": s.created_at,
                "parent": s.parent_id,
                "entries": s.entries,
                "train": s.by_split.get("train", 0),
                "val": s.by_split.get("val", 0),
                "test": s.by_split.get("test", 0),
                "human": s.by_origin.get("human", 0),
                "pseudo": s.by_origin.get("pseudo", 0),
                "ties left out": s.ties_left_out,
                "rejected left out": s.rejected_left_out,
                "pseudo threshold": s.pseudo_threshold,
                "pseudo model": s.pseudo_model_version_id,
                "pseudo precision (est.)": _number(s.pseudo.get("precision")),
                "pseudo coverage": _number(s.pseudo.get("coverage")),
                "labels": ", ".join(f"{k} {v}" for k, v in s.by_label.items()),
                "manifest sha256": s.manifest_sha256,
            }
            for s in snapshots
        ],
        hide_index=True,
    )
else:
    st.info("No snapshot yet: freeze the current labels with the first command below.")

st.subheader("Model versions")
if versions:
    st.dataframe(
        [
            {
                "id": v.id,
                "arch": v.arch,
                "status": v.status,
                "created (UTC)": v.created_at,
                "snapshot": v.snapshot_id,
                "macro-F1": _number(v.macro_f1),
                "accuracy": _number(v.accuracy),
                "ECE": _number(v.ece),
                "ECE calibrated": _number(v.ece_calibrated),
                "temperature": _number(v.temperature),
            }
            for v in versions
        ],
        hide_index=True,
    )
else:
    st.info("No model version yet: train one on a snapshot with the commands below.")

if shown is not None:
    st.subheader("Version details")
    ids = [v.id for v in versions]
    by_id = {v.id: v for v in versions}
    chosen_id = st.selectbox(
        "Model version",
        ids,
        index=ids.index(shown.id),
        format_func=lambda i: f"#{i} · {by_id[i].arch} · {by_id[i].status}",
        key="models-version",
    )
    version = by_id[chosen_id]
    if not version.evaluated:
        st.info(f"Version #{version.id} is not evaluated yet: `loupe evaluate {version.id}`.")
    else:
        evaluation = version.evaluation
        precision = evaluation.get("average_precision", {})
        st.caption(
            f"{evaluation.get('test_items', '?')} test items · macro-F1 {version.macro_f1:.3f} · "
            f"accuracy {version.accuracy:.3f} · ECE {version.ece:.3f} → "
            f"{version.ece_calibrated:.3f} (T = {version.temperature:.2f})"
        )
        st.dataframe(
            [
                {
                    "class": name,
                    "precision": _number(row["precision"]),
                    "recall": _number(row["recall"]),
                    "F1": _number(row["f1"]),
                    "support": row["support"],
                    "average precision": _number(precision.get(name)),
                }
                for name, row in evaluation.get("per_class", {}).items()
            ],
            hide_index=True,
        )
        plots = dict(PLOTS)
        if "confusion_matrix" in evaluation:  # drawn here, so its PNG is not shown twice
            st.plotly_chart(
                figures.confusion_figure(evaluation["confusion_matrix"], version.classes),
                key="models-confusion",
            )
            del plots["confusion_matrix.png"]
        folder = Path(version.report_dir) if version.report_dir else None
        found = [name for name in plots if folder is not None and (folder / name).is_file()]
        if found:
            for column, name in zip(st.columns(len(found)), found, strict=True):
                column.image(str(folder / name), caption=plots[name])  # type: ignore[operator]
        else:
            st.info(f"No plots found in the report folder {version.report_dir or '(none)'}.")

st.subheader("Commands")
name = shlex.quote(project.name)
snapshot = shlex.quote(snapshots[0].name) if snapshots else "SNAPSHOT"
candidate = str(versions[0].id) if versions else "VERSION"
st.code(
    "\n".join(
        [
            f"loupe snapshot {name}",
            f"loupe train {name} --snapshot {snapshot}",
            f"loupe evaluate {candidate}",
            f"loupe promote {candidate} --min-macro-f1 0.8",
            f"loupe prelabel {name}",
        ]
    ),
    language="bash",
)
st.caption(
    "Run them in a shell: training happens outside the annotator. They use the database of "
    "`$LOUPE_DATABASE_URL` (or `./loupe.db`); `--db URL` names another. `promote` exits 3 below "
    "the macro-F1 threshold and 4 when the version is worse than the active one."
)
