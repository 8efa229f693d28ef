"""Event detector and event-level scores: planted answers on synthetic recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from numpy.typing import NDArray

from learner.event_metrics import EventScores, event_scores, match_events, pooled
from learner.events import DetectorConfig, detect_events, detect_events_in_file

RATE = 32000


def recording(
    bursts: list[tuple[float, float]], *, duration_s: float = 4.0, chirp: bool = False, seed=0
) -> NDArray[np.float32]:
    """Faint white noise with loud 3 kHz tone bursts (or upward chirps) over ``bursts``."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(duration_s * RATE)) / RATE
    samples = rng.normal(0.0, 0.005, len(time))
    for start, end in bursts:
        inside = (time >= start) & (time < end)
        since = time[inside] - start
        phase = 3000 * since + (20000 * since**2 if chirp else 0.0)
        samples[inside] += 0.2 * np.sin(2 * np.pi * phase)
    return samples.astype(np.float32)


def assert_close(found: list[tuple[float, float]], truth: list[tuple[float, float]], tol: float):
    assert len(found) == len(truth), found
    assert np.abs(np.array(found) - np.array(truth)).max() <= tol, found


# --- the detector --------------------------------------------------------------------------


def test_three_tone_bursts_are_found_within_20_ms():
    truth = [(0.5, 0.6), (1.5, 1.8), (3.0, 3.12)]
    assert_close(detect_events(recording(truth), RATE), truth, 0.02)


def test_two_channels_are_averaged():
    truth = [(1.0, 1.2)]
    samples = recording(truth)
    stereo = np.stack([samples, samples], axis=1)
    assert detect_events(stereo, RATE) == detect_events(samples, RATE)


def test_bursts_10_ms_apart_merge_within_merge_gap():
    samples = recording([(1.0, 1.1), (1.11, 1.21)])
    apart = detect_events(samples, RATE, DetectorConfig(frame_s=0.004, merge_gap_s=0.0))
    merged = detect_events(samples, RATE, DetectorConfig(frame_s=0.004, merge_gap_s=0.05))
    assert len(apart) == 2
    assert_close(merged, [(1.0, 1.21)], 0.02)


def test_event_shorter_than_min_duration_is_dropped():
    samples = recording([(1.0, 1.015), (2.0, 2.1)])
    assert len(detect_events(samples, RATE, DetectorConfig(min_duration_s=0.0))) == 2
    kept = detect_events(samples, RATE, DetectorConfig(min_duration_s=0.03))
    assert_close(kept, [(2.0, 2.1)], 0.02)


def test_long_event_is_split_into_equal_parts_no_longer_than_max_duration():
    parts = detect_events(recording([(1.0, 2.0)]), RATE, DetectorConfig(max_duration_s=0.3))
    lengths = np.diff(np.array(parts), axis=1).ravel()
    assert len(parts) == 4
    assert (lengths <= 0.3 + 1e-9).all() and np.ptp(lengths) < 1e-6
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
    assert_close([(parts[0][0], parts[-1][1])], [(1.0, 2.0)], 0.02)


def test_silence_and_steady_noise_give_no_events():
    assert detect_events(np.zeros(RATE * 2, np.float32), RATE) == []
    for seed in range(3):
        assert detect_events(recording([], duration_s=10.0, seed=seed), RATE) == []
    assert detect_events(np.zeros(0, np.float32), RATE) == []


def test_flux_marks_the_onset_of_each_chirp():
    truth = [(0.5, 0.6), (1.5, 1.8), (3.0, 3.12)]
    config = DetectorConfig(method="flux", smooth_s=0.02, threshold_high=6.0, threshold_low=3.0)
    onsets = np.array(
        [start for start, _ in detect_events(recording(truth, chirp=True), RATE, config)]
    )
    for start, _ in truth:
        assert np.abs(onsets - start).min() <= 0.02, onsets


def test_event_across_a_block_edge_comes_out_once_as_in_one_pass(tmp_path: Path):
    # 5 s in 1 s blocks: the edges fall near 1, 2, 3 and 4 s, inside the second and third burst
    truth = [(0.3, 0.45), (1.9, 2.15), (2.8, 3.4)]
    samples = recording(truth, duration_s=5.0)
    path = tmp_path / "bursts.wav"
    soundfile.write(str(path), samples, RATE, subtype="FLOAT")
    in_blocks = detect_events_in_file(path, block_s=1.0)
    assert_close(in_blocks, truth, 0.02)
    assert_close(in_blocks, detect_events(samples, RATE), 0.004)
    assert detect_events_in_file(path, block_s=60.0) == detect_events(samples, RATE)


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="unknown detector settings: frame_size"):
        DetectorConfig.from_dict({"frame_size": 0.01})


def test_settings_round_trip():
    config = DetectorConfig(method="flux", max_duration_s=2.0)
    assert DetectorConfig.from_dict(config.as_dict()) == config
    assert DetectorConfig.from_dict(None) == DetectorConfig()


@pytest.mark.parametrize(
    "settings",
    [
        {"method": "loudness"},
        {"threshold_high": 2.0, "threshold_low": 3.0},
        {"f_low_hz": 5000.0, "f_high_hz": 1000.0},
        {"hop_s": 0.01, "frame_s": 0.005},
        {"noise_share": 0.0},
        {"max_duration_s": 0.0},
        {"merge_gap_s": -0.1},
    ],
)
def test_bad_setting_is_rejected(settings: dict):
    with pytest.raises(ValueError):
        DetectorConfig(**settings)


def test_band_above_nyquist_is_rejected():
    with pytest.raises(ValueError, match="holds no frequency bin"):
        detect_events(np.zeros(2000, np.float32), 2000)


def test_samples_with_nan_are_rejected():
    samples = recording([])
    samples[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detect_events(samples, RATE)


# --- event-level scores --------------------------------------------------------------------


def test_perfect_proposals_score_f1_one():
    truth = [(0.1, 0.2), (0.5, 0.9), (1.0, 1.05)]
    scores = event_scores(truth, truth)
    assert scores == EventScores(tp=3, fp=0, fn=0)
    assert scores.precision == scores.recall == scores.f1 == 1.0


def test_offset_60_ms_late_is_not_matched_at_50_ms():
    late = event_scores([(1.0, 1.56)], [(1.0, 1.5)])
    assert (late.tp, late.fp, late.fn, late.f1) == (0, 1, 1, 0.0)
    assert event_scores([(1.0, 1.56)], [(1.0, 1.5)], offset_tolerance_s=0.07).tp == 1
    assert event_scores([(1.04, 1.5)], [(1.0, 1.5)]).tp == 1


def test_matching_is_one_to_one():
    scores = event_scores([(1.0, 1.5), (1.01, 1.51)], [(1.0, 1.5)])
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 0)
    assert match_events([(1.0, 1.5), (1.01, 1.51)], [(1.0, 1.5)]) == [(0, 0)]


def test_matching_finds_the_most_pairs_not_the_best_first():
    # greedy by overlap would pair proposal 1 with reference 0 (identical) and strand both others
    proposals = [(0.0, 1.0), (0.02, 1.02)]
    references = [(0.02, 1.02), (0.06, 1.06)]
    assert match_events(proposals, references) == [(0, 0), (1, 1)]


def test_empty_sides_score_as_nothing_to_find_or_nothing_found():
    assert event_scores([], []).f1 == 1.0
    missed = event_scores([], [(0.0, 1.0)])
    assert (missed.precision, missed.recall, missed.f1) == (0.0, 0.0, 0.0)


def test_pooled_sums_counts():
    total = pooled([EventScores(2, 1, 0), EventScores(1, 0, 3)])
    assert total == EventScores(3, 1, 3)
    assert total.f1 == pytest.approx(6 / 10)


def test_span_ending_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match=r"references\[0\] ends before it starts"):
        event_scores([(0.0, 1.0)], [(1.0, 0.5)])


def test_negative_tolerance_is_rejected():
    with pytest.raises(ValueError, match="tolerances"):
        match_events([(0.0, 1.0)], [(0.0, 1.0)], onset_tolerance_s=-0.01)
