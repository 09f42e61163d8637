"""Segmentation rules one by one, and the per-stroke dose and per-set summaries they lead to."""

from __future__ import annotations

import numpy as np
import pytest

from strigil.force import (
    ForceSettings,
    Recording,
    SyntheticSpec,
    analyse,
    generate_recording,
    match_strokes,
    segment_strokes,
)

FS = 1000.0


def _pulse(t: np.ndarray, start: float, duration: float, peak: float) -> np.ndarray:
    """A smooth (sin²) stroke of `duration` s from `start` with the given peak."""
    tau = (t - start) / duration
    return np.where((tau > 0) & (tau < 1), peak * np.sin(np.pi * tau) ** 2, 0.0)


def _recording(force: np.ndarray) -> Recording:
    t = np.arange(len(force)) / FS
    return Recording.from_arrays(t, force, time_unit="s", force_unit="N")


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * FS)) / FS


def test_hysteresis_keeps_one_stroke_when_force_wobbles_around_the_onset_threshold() -> None:
    t = _time(8.0)
    # A light stroke whose force swings by ± 22 % across the 1 N onset level, too little to be split.
    x = _pulse(t, 1.0, 6.0, 1.2) * (1 + 0.22 * np.sin(2 * np.pi * 1.0 * t))
    bare = ForceSettings(lowpass_hz=None, mains_hz=(), baseline="none")
    assert len(segment_strokes(t, x, bare)) == 1
    # Without hysteresis (the offset level a hair below the onset level) the swings cut the stroke up.
    assert len(segment_strokes(t, x, bare.model_copy(update={"offset_n": 0.99}))) == 2


def test_a_short_loss_of_contact_is_merged_and_a_long_one_is_not() -> None:
    t = _time(5.0)
    x = _pulse(t, 1.0, 2.0, 8.0)
    dip = (t > 1.97) & (t < 2.03)  # 60 ms without contact in the middle of the stroke
    x[dip] = 0.0
    bare = ForceSettings(lowpass_hz=None, mains_hz=(), baseline="none")
    assert len(segment_strokes(t, x, bare)) == 1
    assert len(segment_strokes(t, x, bare.model_copy(update={"merge_gap_s": 0.03}))) == 2


def test_bursts_shorter_than_the_minimum_duration_are_not_strokes() -> None:
    t = _time(4.0)
    x = _pulse(t, 1.0, 0.12, 3.0) + _pulse(t, 2.0, 1.0, 6.0)
    bare = ForceSettings(lowpass_hz=None, mains_hz=(), baseline="none")
    seg = segment_strokes(t, x, bare)
    assert len(seg) == 1 and seg.onset_s[0] > 1.9
    assert len(segment_strokes(t, x, bare.model_copy(update={"min_duration_s": 0.05}))) == 2


def test_two_handed_strokes_are_split_at_the_force_minimum() -> None:
    made = generate_recording(SyntheticSpec(n_strokes=12, overlap=1.0), seed=5)
    result = analyse(made.recording)
    s = result.strokes
    assert len(s) == 12
    assert s.joined.sum() == 11  # every stroke after the first began without a return to rest
    match = match_strokes(s.onset_s, s.offset_s, made.truth.onset_s, made.truth.offset_s, 0.01)
    assert match.f1 == 1.0
    # Adjacent joined strokes share the instant they part at; impulses add up to the whole.
    assert np.allclose(s.offset_s[:-1], s.onset_s[1:])
    never = analyse(made.recording, ForceSettings(split_valley_ratio=0.0))
    assert len(never.strokes) == 1


def test_a_shallow_dip_inside_a_stroke_is_not_a_split() -> None:
    t = _time(4.0)
    x = _pulse(t, 1.0, 2.0, 8.0) * (1 - 0.3 * _pulse(t, 1.8, 0.4, 1.0))  # a 30 % dip
    bare = ForceSettings(lowpass_hz=None, mains_hz=(), baseline="none")
    assert len(segment_strokes(t, x, bare)) == 1
    assert len(segment_strokes(t, x, bare.model_copy(update={"split_valley_ratio": 0.9}))) == 2


def test_strokes_cut_by_the_recording_are_left_out_and_said() -> None:
    t = _time(6.0)
    x = _pulse(t, -0.5, 1.0, 8.0) + _pulse(t, 2.0, 1.0, 8.0) + _pulse(t, 5.5, 1.0, 8.0)
    result = analyse(_recording(x), ForceSettings(baseline="none"))
    assert len(result.strokes) == 1 and result.n_truncated == 2
    assert any("cut by the start or end" in n for n in result.notes)


def test_dose_of_known_strokes() -> None:
    t = _time(12.0)
    starts = [1.0, 3.0, 5.0, 7.0, 9.0]
    peaks = [6.0, 8.0, 10.0, 8.0, 6.0]
    x = sum(_pulse(t, a, 1.0, p) for a, p in zip(starts, peaks, strict=True))
    result = analyse(_recording(np.asarray(x)), ForceSettings(baseline="none", lowpass_hz=None, mains_hz=()))
    s = result.strokes
    assert len(s) == 5
    assert s.peak_n == pytest.approx(peaks, rel=1e-4)
    # For sin² pulses, the contact above the 0.5 N contact level and its mean are known in closed form.
    above = [1 - 2 / np.pi * np.arcsin(np.sqrt(0.5 / p)) for p in peaks]
    assert s.duration_s == pytest.approx(above, abs=2e-4)
    assert s.impulse_ns == pytest.approx(s.mean_n * s.duration_s, rel=1e-12)
    onset = [a + np.arcsin(np.sqrt(0.5 / p)) / np.pi for a, p in zip(starts, peaks, strict=True)]
    assert s.onset_s == pytest.approx(onset, abs=1e-4)
    assert s.interval_s[:-1] == pytest.approx(np.diff(onset), abs=1e-4) and np.isnan(s.interval_s[-1])
    session = result.session
    assert session.n_strokes == 5 and session.n_sets == 1
    assert session.rate_hz == pytest.approx(4 / (onset[-1] - onset[0]), rel=1e-4)
    assert session.peak_n == pytest.approx(np.mean(peaks), rel=1e-4)
    assert session.peak_cv_pct == pytest.approx(100 * np.std(peaks, ddof=1) / np.mean(peaks), rel=1e-3)
    assert session.max_peak_n == pytest.approx(10.0, rel=1e-4)
    assert session.impulse_ns == pytest.approx(s.impulse_ns.sum())


def test_sets_are_split_by_long_rests_and_rate_ignores_them() -> None:
    made = generate_recording(SyntheticSpec(n_strokes=18, n_sets=3, set_rest_s=20.0), seed=2)
    result = analyse(made.recording)
    assert [s.n_strokes for s in result.sets] == [6, 6, 6]
    assert [s.scope for s in result.sets] == ["set 1", "set 2", "set 3"]
    assert result.session.n_sets == 3
    within = np.nanmean(result.strokes.interval_s)
    assert result.session.rate_hz == pytest.approx(1.0 / within, rel=1e-9)
    assert result.session.rate_hz > 0.3  # the 20 s rests between sets are not stroking time


def test_shear_ratio_direction_and_tool_angle_when_recorded() -> None:
    spec = SyntheticSpec(
        n_strokes=10, noise_sd_n=0.05, shear_ratio=0.3, shear_direction_deg=30.0, tool_angle_deg=45.0
    )
    result = analyse(generate_recording(spec, seed=4).recording)
    s = result.strokes
    assert s.shear_ratio == pytest.approx(np.full(10, 0.3), rel=0.03)
    assert s.shear_direction_deg == pytest.approx(np.full(10, 30.0), abs=1.0)
    assert s.tool_angle_deg == pytest.approx(np.full(10, 45.0), abs=0.5)
    assert result.session.shear_ratio == pytest.approx(0.3, rel=0.03)
    plain = analyse(generate_recording(SyntheticSpec(n_strokes=4), seed=4).recording)
    assert np.isnan(plain.strokes.shear_ratio).all() and plain.session.shear_ratio is None
    assert plain.to_json()["strokes"][0]["shear_ratio"] is None


def test_no_stroke_is_said_plainly() -> None:
    t = _time(3.0)
    result = analyse(_recording(0.3 * np.sin(2 * np.pi * 0.5 * t) + 0.3))
    assert len(result.strokes) == 0 and result.session.n_strokes == 0
    assert result.session.peak_n is None and result.session.rate_hz is None
    assert any("no stroke was found" in n for n in result.notes)


def test_json_carries_settings_with_units_and_basis() -> None:
    result = analyse(generate_recording(SyntheticSpec(n_strokes=3), seed=1).recording)
    out = result.to_json()
    names = {s["name"]: s for s in out["settings"]}
    assert names["onset_n"]["unit"] == "N" and names["onset_n"]["basis"] == "configurable heuristic"
    assert names["lowpass_hz"]["value"] == 10.0
    assert out["session"]["n_strokes"] == 3 and len(out["strokes"]) == 3
    assert out["cleaning"]["filters"] and "Butterworth" in " ".join(out["cleaning"]["filters"])
    assert "3 strokes" in result.summary()
