"""How well the event detector finds labelled sound events in the real recordings, and how fast.

Scores event-level precision, recall and F1 (onset and offset each within 50 ms, one-to-one
matching) on the Bengalese finch songs (12 recordings, 466 syllables) and the spinetail recording
(18 events, some overlapping in time) for three settings: the first guess, the detector's
defaults, and the result of a small coordinate-wise grid search on the finch files (best mean
per-recording F1) started from the first guess. The defaults were set to that result, so a
re-run checks that they still are. The spinetail rows are an out-of-sample check: nothing was
chosen by looking at them. Then times detection on the files and on a 10-minute recording made
by repeating the finch songs.

    .venv/bin/python benchmarks/audio_events.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

import numpy as np
import scipy
import soundfile
from numpy.typing import NDArray

from learner.event_metrics import EventScores, event_scores, pooled
from learner.events import DetectorConfig, detect_events, detect_events_in_file
from learner.formats.audio import read_label_file

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TOLERANCE_S = 0.05
LONG_RECORDING_S = 600.0
FIRST_GUESS = DetectorConfig(
    frame_s=0.016,
    f_low_hz=1000.0,
    f_high_hz=10000.0,
    threshold_high=6.0,
    threshold_low=3.0,
    noise_share=1.0,
)
"""Where the search starts: the settings before tuning, so a re-run re-derives the defaults."""


@dataclass
class Recording:
    path: Path
    samples: NDArray[np.float32]
    sample_rate: int
    references: list[tuple[float, float]]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def load(folder: Path) -> list[Recording]:
    recordings = []
    for path in sorted(folder.glob("*.wav"), key=lambda p: (len(p.stem), p.stem)):
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        spans = read_label_file(path.with_suffix(".txt"))
        references = [(span.start_s, span.end_s) for span in spans]
        recordings.append(Recording(path, samples.mean(axis=1), rate, references))
    if not recordings:
        raise SystemExit(f"no recordings in {folder}")
    return recordings


def score(
    recordings: list[Recording], config: DetectorConfig, *, from_file: bool = False
) -> list[EventScores]:
    """Per-recording scores; ``from_file`` runs the block-wise file path the product uses."""
    results = []
    for recording in recordings:
        if from_file:
            found = detect_events_in_file(recording.path, config)
        else:
            found = detect_events(recording.samples, recording.sample_rate, config)
        results.append(
            event_scores(
                found,
                recording.references,
                onset_tolerance_s=TOLERANCE_S,
                offset_tolerance_s=TOLERANCE_S,
            )
        )
    return results


def mean_f1(scores: list[EventScores]) -> float:
    return float(np.mean([s.f1 for s in scores]))


def stages() -> list[list[dict]]:
    """Settings tried together; the search repeats the stages until none improves."""
    analysis = [
        {"method": method, "frame_s": frame, "f_low_hz": low, "f_high_hz": high}
        for method, frame, (low, high) in product(
            ("energy", "flux"),
            (0.003, 0.004, 0.006, 0.008, 0.016),
            (
                (300.0, None),
                (500.0, 12000.0),
                (1000.0, 10000.0),
                (1000.0, 8000.0),
                (1500.0, 8000.0),
                (1500.0, 6000.0),
                (2000.0, 8000.0),
            ),
        )
    ]
    thresholds = [
        {"threshold_high": high, "threshold_low": high * share, "noise_share": noise}
        for high, share, noise in product(
            (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0), (0.5, 0.75), (1.0, 0.5, 0.25)
        )
    ]
    shaping = [
        {"min_duration_s": low, "merge_gap_s": gap, "smooth_s": smooth}
        for low, gap, smooth in product(
            (0.01, 0.02, 0.03, 0.04), (0.0, 0.005, 0.01, 0.02), (0.0, 0.004, 0.008)
        )
    ]
    return [analysis, thresholds, shaping]


def tune(recordings: list[Recording], start: DetectorConfig) -> tuple[DetectorConfig, int]:
    """Coordinate-wise grid search for the best mean F1; returns the settings and the number
    of settings scored."""
    best, best_f1, tried = start, mean_f1(score(recordings, start)), 1
    for _ in range(4):
        improved = False
        for stage in stages():
            for change in stage:
                candidate = replace(best, **change)
                f1 = mean_f1(score(recordings, candidate))
                tried += 1
                if f1 > best_f1 + 1e-9:
                    best, best_f1, improved = candidate, f1, True
        if not improved:
            break
    return best, tried


def print_machine() -> None:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(
        f"machine: {cpu}, {os.cpu_count()} logical cores, python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )


def print_scores(rows: list[tuple[str, str, list[Recording], list[EventScores]]]) -> None:
    header = (
        f"{'dataset':<10} {'settings':<12} {'files':>5} {'events':>6} {'precision':>9} "
        f"{'recall':>6} {'F1':>6} {'mean F1':>7} {'tp':>4} {'fp':>4} {'fn':>4}"
    )
    print(header)
    print("-" * len(header))
    for dataset, name, recordings, scores in rows:
        total = pooled(scores)
        print(
            f"{dataset:<10} {name:<12} {len(recordings):>5} {total.tp + total.fn:>6} "
            f"{total.precision:>9.3f} {total.recall:>6.3f} {total.f1:>6.3f} "
            f"{mean_f1(scores):>7.3f} {total.tp:>4} {total.fp:>4} {total.fn:>4}"
        )
    print(
        f"event-level, onset and offset within {TOLERANCE_S * 1000:.0f} ms, one-to-one; "
        "precision/recall/F1 pooled over recordings, mean F1 over recordings"
    )


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def print_speed(recordings: list[Recording], config: DetectorConfig) -> None:
    audio_s = sum(r.duration_s for r in recordings)
    files_s = best_of(3, lambda: [detect_events_in_file(r.path, config) for r in recordings])
    memory_s = best_of(
        3, lambda: [detect_events(r.samples, r.sample_rate, config) for r in recordings]
    )
    song = np.concatenate([r.samples for r in recordings if r.sample_rate == 32000])
    long = np.tile(song, int(np.ceil(LONG_RECORDING_S * 32000 / len(song))))
    long = long[: int(LONG_RECORDING_S * 32000)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        soundfile.write(str(path), long, 32000, subtype="PCM_16")
        long_s = best_of(3, lambda: detect_events_in_file(path, config, block_s=60.0))
        events = len(detect_events_in_file(path, config, block_s=60.0))
    print("detection speed (best of 3, one process, seconds of audio per second):")
    print(
        f"  {len(recordings)} files from disk      {audio_s / files_s:>9,.0f} x  ({audio_s:.1f} s)"
    )
    print(f"  same, samples in memory {audio_s / memory_s:>9,.0f} x")
    print(
        f"  {LONG_RECORDING_S / 60:.0f}-minute file, 60 s blocks "
        f"{LONG_RECORDING_S / long_s:>6,.0f} x  ({events} events)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    print_machine()
    finch = load(args.data / "audio" / "finch")
    spinetail = load(args.data / "audio" / "spinetail")

    defaults = DetectorConfig()
    started = time.perf_counter()
    tuned, tried = tune(finch, FIRST_GUESS)
    print(
        f"tuned on finch from the first guess: {tried} settings scored in "
        f"{time.perf_counter() - started:.1f} s"
    )
    for name, config in (("first guess", FIRST_GUESS), ("finch-tuned", tuned)):
        changed = {k: v for k, v in config.as_dict().items() if v != defaults.as_dict()[k]}
        print(f"  {name:<12} differs from the defaults in {changed or 'nothing'}")
    print(f"  defaults     {defaults.as_dict()}")
    print()
    settings = (("first guess", FIRST_GUESS), ("defaults", defaults), ("finch-tuned", tuned))
    rows = [
        (dataset, name, recordings, score(recordings, config, from_file=True))
        for dataset, recordings in (("finch", finch), ("spinetail", spinetail))
        for name, config in settings
    ]
    print_scores(rows)
    print()
    print_speed(finch + spinetail, defaults)


if __name__ == "__main__":
    main()
