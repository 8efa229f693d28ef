"""Label review: human labels the model disputes strongly, one at a time, to keep or correct.

After training, the labels of the snapshot are scored under out-of-fold probabilities (confident
learning); those the model finds least plausible wait here. Keeping a label records the
reviewer's own vote for it; changing it records an edit. Both are annotations with provenance,
and the issue is closed either way.
"""

import streamlit as st

from annotator import access, cache, label_review, views, workspace
from annotator.media import MediaError
from store import label_issues, queue
from store.engine import transaction

access.page_or_stop(__file__)

project = workspace.project_or_stop()
st.header(f"Label review · {project.name}")
views.notice()
st.caption(
    "Labels that models trained without them dispute most strongly (out-of-fold confident "
    "learning), worst first. Keep the label if it is right; change it if it is not."
)

with transaction(cache.engine()) as session:
    issues = label_issues.open_issues(session, project.id, limit=50)
    shown = issues[0] if issues else None
    item = (
        queue.load_items(session, [shown.item_id], shown.model_version_id)[0]
        if shown is not None
        else None
    )
    waiting = len(issues)

if shown is None or item is None:
    st.success(
        "No label issue waits for review. Issues appear after `loupe loop` (or `loupe train`) "
        "finds labels the model disputes."
    )
    st.stop()

st.markdown(
    f":orange-badge[label issue] **Item {item.item_id}** is labelled **{shown.label}**; models "
    f"trained without it say **{shown.suggested}** (out-of-fold probability of "
    f"{shown.label}: {shown.self_confidence:.0%}). {waiting} issue(s) waiting"
    + (" (showing the 50 worst)." if waiting >= 50 else ".")
)
try:
    if project.modality == "crop":
        blob = cache.crop_image(item.source_uri, item.source_kind, item.member, item.position, 256)
        views.inline_image(blob, 256, f"crop {item.item_id}")
    elif project.modality == "spectrum":
        figure, _, _ = cache.spectrum_figure(
            item.source_uri, item.position, project.settings.get("spectrum", {})
        )
        st.plotly_chart(figure, key=f"issue-spectrum-{item.item_id}", config=views.PLOT_CONFIG)
    else:
        figure = cache.audio_figure(
            item.source_uri, item.start_s, item.end_s, project.settings.get("audio", {})
        )
        st.plotly_chart(figure, key=f"issue-audio-{item.item_id}", config=views.PLOT_CONFIG)
        st.audio(cache.segment_wav(item.source_uri, item.start_s, item.end_s), format="audio/wav")
except MediaError as e:
    st.error(f"This item's media cannot be read: {e}")


def _decide(label: str, status: str) -> None:
    label_review.decide(project, shown.id, item, shown.label, label, status)


label_review.shown(shown.id)

keep, change = st.columns(2)
keep.button(
    f"Keep {shown.label}",
    key="issue-keep",
    shortcut="K",
    on_click=_decide,
    args=(shown.label, "kept"),
    width="stretch",
)
change.button(
    f"Change to {shown.suggested}",
    key="issue-change",
    shortcut="E",
    type="primary",
    on_click=_decide,
    args=(shown.suggested, "relabelled"),
    width="stretch",
)
others = [c for c in project.classes if c not in (shown.label, shown.suggested)]
if others:
    st.caption("Or another class:")
    for column, name in zip(st.columns(len(others)), others, strict=True):
        column.button(
            name,
            key=f"issue-other-{name}",
            on_click=_decide,
            args=(name, "relabelled"),
            width="stretch",
        )
