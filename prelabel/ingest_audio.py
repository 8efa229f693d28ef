"""Ingest of recordings: one source per recording, one item per labelled span of the label
track beside it (Audacity or Raven), imported as a label."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from learner.formats import audio
from learner.formats.diagnostics import library_messages
from learner.formats.diagnostics import summary as said
from learner.formats.errors import FormatError
from learner.formats.paths import OutsideRootError, contained
from prelabel.ingest_run import IngestRun
from prelabel.jobs import JobRecorder
from store.catalog import ImportedLabel, ItemRow
from store.engine import transaction


def ingest_audio(run: IngestRun, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    recordings = [f for f, _ in files if f.suffix.lower() in audio.AUDIO_SUFFIXES]
    root_of = dict(files)
    label_files = {audio.find_label_file(path) for path in recordings}
    for path, _ in files:
        if path not in recordings:
            run.outcome(path, "label" if path in label_files else "ignored")
    job.total(len(recordings))
    for path in tqdm(recordings, unit="file", desc="audio", disable=not run.progress):
        _ingest_recording(run, path, (root_of[path], *run.media_roots))
        job.advance(1)


def _ingest_recording(run: IngestRun, path: Path, roots: tuple[Path, ...]) -> None:
    """One recording and the spans of its label track; a track that links outside ``roots``
    is not read (its lines would be quoted in errors), and a bad line costs only that line."""
    with library_messages() as messages:
        try:
            info = audio.recording_info(path)
        except FormatError as e:
            info = None
            failure = e
    if info is None:
        detail = f" ({said(messages)})" if messages else ""
        run.failed(path, failure.reason + detail, failure.member)
        return
    if messages:
        run.error_now(path, f"the audio decoder warned: {said(messages)}")
    label_file = audio.find_label_file(path)
    meta = {
        "sample_rate": info.sample_rate,
        "frames": info.frames,
        "channels": info.channels,
        "duration_s": info.duration_s,
        "format": info.format,
        "label_file": str(label_file) if label_file else None,
    }
    source, fresh = run.open_source(path, "recording", meta)
    if not fresh:
        return
    items: list[ItemRow] = []
    labels: list[ImportedLabel] = []
    with transaction(run.engine) as session:
        spans: list[audio.LabelSpan] = []
        if label_file is not None:
            try:
                spans, errors = audio.read_label_spans(contained(label_file, roots))
            except OutsideRootError as e:
                run.error(session, label_file, e.reason)
            except FormatError as e:
                run.error(session, label_file, e.reason, e.member)
            else:
                for problem in errors:
                    run.error(session, label_file, problem.reason, problem.member)
        for span in spans:
            member = f"line {span.line}"
            try:
                audio.check_span(span, info.duration_s)
            except FormatError as e:
                run.error(session, label_file or path, e.reason, e.member)
                continue
            row = ItemRow(
                f"span:{span.start_s:.6f}-{span.end_s:.6f}",
                None,
                None,
                span.start_s,
                span.end_s,
                span.f_low_hz,
                span.f_high_hz,
            )
            items.append(row)
            if run.check_label(session, label_file or path, span.label, member):
                labels.append(
                    ImportedLabel(
                        row.locator,
                        span.label,
                        span.start_s,
                        span.end_s,
                        span.f_low_hz,
                        span.f_high_hz,
                    )
                )
    run.register(source, _unique(items), labels)


def _unique(items: list[ItemRow]) -> list[ItemRow]:
    seen: set[str] = set()
    return [row for row in items if row.locator not in seen and not seen.add(row.locator)]
