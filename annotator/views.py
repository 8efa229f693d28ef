"""The per-item editors: fragments, so an action reruns the item and not the whole page."""

from __future__ import annotations

import base64

import streamlit as st

from annotator import cache, figures, grid_review, review, state, workspace
from annotator.media import MediaError
from annotator.review import ProjectRef
from store.queue import QueueItem

PLOT_CONFIG = {"displayModeBar": False, "scrollZoom": False}


def progress_line(project: ProjectRef) -> None:
    """Done today by me, left in the project, and done per class: always in view."""
    counts = workspace.project_progress(project.id)
    today = workspace.done_today(project.id, review.signed_in()["id"])
    by_class = " · ".join(f"{name} {n}" for name, n in sorted(counts["by_class"].items()))
    st.caption(
        f"**{today}** done today · **{counts['left']:,}** left of {counts['items']:,}"
        + (f" · by class: {by_class}" if by_class else "")
    )


def notice() -> None:
    message = st.session_state.pop(state.NOTICE, None)
    if message:
        st.toast(message, duration=2)


def server_time(view: str) -> None:
    elapsed = review.finish_timing(view)
    if elapsed is not None:
        st.caption(f"saved and next item ready in {elapsed:.0f} ms (server)")


def queue_empty(project: ProjectRef) -> None:
    st.success(
        f"Nothing left to review in **{project.name}** for you right now. New items arrive with "
        "the next ingest or prelabel run; items others hold come back when their lease ends."
    )
    if st.button("Undo last action", key="undo-empty", shortcut="U"):
        review.undo(project)
        st.rerun(scope="fragment")


def unreadable(project: ProjectRef, item: QueueItem, error: MediaError) -> None:
    """A clear message for an item whose media is gone, recorded once, and a way on."""
    review.mark_unreadable(project, item, str(error))
    st.error(
        f"Item {item.item_id} cannot be shown: {error}. It is recorded under Sources & errors "
        "and nobody will be handed it again."
    )
    st.button(
        "Skip to the next item",
        key=f"skip-bad-{item.item_id}",
        shortcut="S",
        type="primary",
        on_click=review.skip,
        args=(project,),
    )


def class_buttons(project: ProjectRef, item: QueueItem, adding: bool = False) -> None:
    columns = st.columns(len(project.classes))
    for number, (column, name) in enumerate(zip(columns, project.classes, strict=True), start=1):
        suggested = name == item.label
        label = f"{'Add as ' if adding else ''}{name}"
        column.button(
            label,
            key=f"class-{number}",
            shortcut=str(number) if number <= 9 else None,
            type="primary" if suggested and not adding else "secondary",
            on_click=review.choose,
            args=(project, name),
            width="stretch",
            help=f"Key {number}" if number <= 9 else None,
        )


def action_buttons(project: ProjectRef, item: QueueItem, *, audio: bool) -> None:
    if audio:
        accept, reject, skip, add, undo = st.columns(5)
    else:
        accept, reject, skip, undo = st.columns(4)
    accept.button(
        "Accept",
        key="accept",
        shortcut="A",
        type="primary",
        disabled=item.label is None,
        on_click=review.accept,
        args=(project,),
        width="stretch",
    )
    reject.button(
        "No event" if audio else "None of these",
        key="reject",
        shortcut="X",
        on_click=review.reject,
        args=(project,),
        width="stretch",
    )
    skip.button(
        "Skip", key="skip", shortcut="S", on_click=review.skip, args=(project,), width="stretch"
    )
    if audio:
        add.button(  # type: ignore[possibly-undefined]
            "Cancel add" if st.session_state.get(state.ADDING) else "Add segment",
            key="add",
            shortcut="N",
            on_click=review.toggle_adding,
            width="stretch",
            help="Drag a box over a missed event, then press its class key.",
        )
    undo.button(
        "Undo", key="undo", shortcut="U", on_click=review.undo, args=(project,), width="stretch"
    )


def suggestion_caption(item: QueueItem) -> str:
    if item.label is None:
        return "No suggestion yet: choose a class."
    confidence = f"{item.confidence:.0%}"
    return f"Suggested **{item.label}** ({confidence}) by model version {item.model_version_id}"


@st.fragment
def single_editor(project: ProjectRef) -> None:
    """The Annotate page's editor for the project's modality."""
    notice()
    item = review.current_item(project)
    progress_line(project)
    if item is None:
        queue_empty(project)
        return
    try:
        if project.modality == "audio":
            audio_item(project, item)
        elif project.modality == "spectrum":
            spectrum_item(project, item)
        else:
            crop_item(project, item)
    except MediaError as e:
        unreadable(project, item, e)
    server_time(project.modality)


def audio_item(project: ProjectRef, item: QueueItem) -> None:
    settings = project.settings.get("audio", {})
    figure = cache.audio_figure(item.source_uri, item.start_s, item.end_s, settings)
    window = tuple(figure["layout"]["xaxis2"]["range"])
    suggested = review.suggested_span(item)
    slider_key = f"{state.SPAN}-{item.item_id}"
    if slider_key not in st.session_state:
        st.session_state[slider_key] = suggested
    edit = review.edit_span(item)
    adding = bool(st.session_state.get(state.ADDING))
    where = f"{item.source_uri.rsplit('/', 1)[-1]} · {suggested[0]:.3f}–{suggested[1]:.3f} s"
    st.markdown(f"**Item {item.item_id}** · {where} · {suggestion_caption(item)}")
    if adding:
        st.info("Adding a missed segment: drag a box over it, then press its class key (1–9).")
    chart_key = f"wave-{item.item_id}"
    st.plotly_chart(
        figures.with_spans(figure, suggested, edit, adding),
        key=chart_key,
        on_select=lambda: review.on_box(item.item_id, chart_key, window),
        selection_mode="box",
        config=PLOT_CONFIG,
    )
    st.slider(
        "Span (s)",
        min_value=review.snap(window[0]),
        max_value=review.snap(window[1]),
        step=review.SPAN_STEP_S,
        format="%.3f",
        key=slider_key,
    )
    play, length = st.columns([4, 1])
    play.audio(cache.segment_wav(item.source_uri, edit[0], edit[1]), format="audio/wav")
    length.caption(f"{(edit[1] - edit[0]) * 1000:.0f} ms selected")
    class_buttons(project, item, adding)
    action_buttons(project, item, audio=True)


def spectrum_item(project: ProjectRef, item: QueueItem) -> None:
    figure, low, high = cache.spectrum_figure(
        item.source_uri, item.position, project.settings.get("spectrum", {})
    )
    name = item.source_uri.rsplit("/", 1)[-1]
    column = f" column {item.position}" if item.member else ""
    st.markdown(f"**Item {item.item_id}** · {name}{column} · {suggestion_caption(item)}")
    left, right = st.columns([3, 1])
    left.plotly_chart(figure, key=f"spectrum-{item.item_id}", config=PLOT_CONFIG)
    if item.probabilities is not None:
        right.caption("Calibrated probabilities")
        right.plotly_chart(
            figures.probabilities_figure(project.classes, item.probabilities, item.label),
            key=f"probabilities-{item.item_id}",
            config=PLOT_CONFIG,
        )
    right.caption(f"axis {low:.0f}…{high:.0f} cm⁻¹")
    class_buttons(project, item)
    action_buttons(project, item, audio=False)


def crop_item(project: ProjectRef, item: QueueItem) -> None:
    blob = cache.crop_image(item.source_uri, item.source_kind, item.member, item.position, 256)
    st.markdown(
        f"**Item {item.item_id}** · {item.member or ''}[{item.position}] · "
        + suggestion_caption(item)
    )
    left, right = st.columns([1, 2])
    with left:
        inline_image(blob, 256, f"crop {item.item_id}")
    if item.probabilities is not None:
        right.plotly_chart(
            figures.probabilities_figure(project.classes, item.probabilities, item.label),
            key=f"probabilities-{item.item_id}",
            config=PLOT_CONFIG,
        )
    class_buttons(project, item)
    action_buttons(project, item, audio=False)


THUMBNAIL_PX = 96


def inline_image(blob: bytes, width: int, alt: str, css_class: str | None = None) -> None:
    """An image inside the page (a data URI): no extra request per image, which is what makes
    a page of 48 crops appear at once instead of one by one. ``blob`` is drawn at its own size
    (``width`` is its width in pixels, for the layout): thumbnails are scaled on the server."""
    mime = "image/png" if blob[:4] == b"\x89PNG" else "image/jpeg"
    extra = f' class="{css_class}" tabindex="0" title="click to enlarge"' if css_class else ""
    st.markdown(
        f'<img src="data:{mime};base64,{base64.b64encode(blob).decode()}" width="{width}" '
        f'alt="{alt}"{extra}>',
        unsafe_allow_html=True,
    )


GRID_CSS = """<style>
img.loupe-crop { cursor: zoom-in; transition: transform 0.08s; transform-origin: center; }
img.loupe-crop:focus { transform: scale(3.2); position: relative; z-index: 1000;
  cursor: zoom-out; box-shadow: 0 0 0 2px #d62728, 0 8px 24px rgba(0,0,0,0.35); outline: none; }
</style>"""
"""A crop opens larger where it is when clicked (it takes the focus) and closes when anything
else is clicked: no rerun, no dialog, the page stays as it is."""


@st.fragment
def crop_grid(project: ProjectRef, rows: int, columns: int) -> None:
    """A page of crops with their suggestions: a click flips one, one key accepts the page."""
    notice()
    size = rows * columns
    page = grid_review.current_page(project, size)
    progress_line(project)
    if not page:
        queue_empty(project)
        return
    refs = tuple((i.source_uri, i.source_kind, i.member, i.position) for i in page)
    thumbnails = cache.crop_page(refs, THUMBNAIL_PX)
    bad = [
        (item, blob)
        for item, blob in zip(page, thumbnails, strict=True)
        if isinstance(blob, MediaError)
    ]
    for item, error in bad:
        review.mark_unreadable(project, item, str(error))
    flipped = len(st.session_state.get(state.FLIPS, {}))
    st.html(GRID_CSS)
    top = st.columns([3, 1, 1])
    top[0].markdown(
        f"**{len(page)} crops** · click a label to flip it, a crop to enlarge it · "
        "**A** accepts the page" + (f" · {flipped} flipped" if flipped else "")
    )
    top[1].button(
        "Accept page",
        key="accept-page",
        shortcut="A",
        type="primary",
        on_click=grid_review.accept_page,
        args=(project, size),
        width="stretch",
    )
    top[2].button(
        "Undo",
        key="undo-page",
        shortcut="U",
        on_click=grid_review.undo_page,
        args=(project,),
        width="stretch",
    )
    for start in range(0, len(page), columns):
        cells = st.columns(columns, gap="small")
        for cell, item, blob in zip(
            cells, page[start : start + columns], thumbnails[start : start + columns], strict=False
        ):
            crop_cell(cell, project, item, blob)
    if bad:
        st.warning(
            f"{len(bad)} crop(s) on this page cannot be read and will be skipped: "
            + "; ".join(str(e) for _, e in bad[:3])
        )
    server_time("crop_grid")


def crop_cell(cell, project: ProjectRef, item: QueueItem, blob) -> None:  # type: ignore[no-untyped-def]
    with cell.container(border=True, gap="small"):
        if isinstance(blob, MediaError):
            st.error("unreadable", icon=":material/broken_image:")
            return
        inline_image(blob, THUMBNAIL_PX, f"crop {item.item_id}", css_class="loupe-crop")
        label = grid_review.page_label(item)
        changed = label != item.label
        confidence = (
            f" {item.confidence:.0%}" if item.confidence is not None and not changed else ""
        )
        st.button(
            f"{'⇄ ' if changed else ''}{(label or '?').replace('_', ' ')}{confidence}",
            key=f"flip-{item.item_id}",
            on_click=grid_review.flip,
            args=(project, item),
            type="primary" if changed else "tertiary",
            width="stretch",
        )
