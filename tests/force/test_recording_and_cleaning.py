"""What a recording must be, and what cleaning does to hum, noise, tare and drift."""

from __future__ import annotations

import numpy as np
import pytest

from strigil.force import (
    ForceSettings,
    Recording,
    RecordingError,
    SettingsError,
    SyntheticSpec,
    analyse,
    clean,
    describe_settings,
    generate_recording,
    settings_from_pairs,
    unit_factor,
)


def _t(n: int = 2000, fs: float = 1000.0) -> np.ndarray:
    return np.arange(n) / fs


def test_units_are_converted_as_stated() -> None:
    rec = Recording.from_arrays(
        np.arange(100) * 2.0, np.linspace(0, 1000, 100), time_unit="ms", force_unit="gf"
    )
    assert rec.sampling_hz == pytest.approx(500.0)
    assert rec.normal_n[-1] == pytest.approx(9.80665)
    assert unit_factor("lbf", "force") == pytest.approx(4.4482216152605)
    assert unit_factor("KGF", "force") == pytest.approx(9.80665)
    with pytest.raises(RecordingError, match="force unit 'stone' is not known; allowed: N, mN"):
        unit_factor("stone", "force")


@pytest.mark.parametrize(
    ("time", "force", "message"),
    [
        (
            _t(),
            np.where(np.arange(2000) == 17, np.nan, 1.0 + np.arange(2000) % 3),
            "1 missing or non-numeric values",
        ),
        (np.r_[_t(1000), _t(1000)], np.arange(2000.0), "does not increase at data row 1001"),
        (_t(), np.full(2000, 4.2), "the force is constant \\(4.2 N throughout\\)"),
        (_t(2000, 10.0), np.arange(2000.0), "sampling rate 10 Hz is outside the 50 Hz–2000 Hz"),
        (np.r_[_t(1000), 5 + _t(1000)], np.arange(2000.0), "a gap of 4 s at data row 1001"),
        (_t(5), np.arange(5.0), "at least 10 are needed"),
        (_t(), ["a"] * 2000, "holds values that are not numbers"),
    ],
)
def test_bad_recordings_are_refused_with_a_clear_message(
    time: np.ndarray, force: np.ndarray, message: str
) -> None:
    with pytest.raises(RecordingError, match=message):
        Recording.from_arrays(time, force, time_unit="s", force_unit="N")


def test_jittered_time_is_put_on_a_regular_grid() -> None:
    rng = np.random.default_rng(0)
    t = _t() + rng.uniform(-2e-4, 2e-4, 2000)
    rec = Recording.from_arrays(np.sort(t), np.sin(t), time_unit="s", force_unit="N")
    assert rec.resampled and np.ptp(np.diff(rec.time_s)) < 1e-9
    made = generate_recording(SyntheticSpec(n_strokes=3), seed=0).recording
    jittered = Recording.from_arrays(
        made.time_s + rng.uniform(-1e-4, 1e-4, made.n_samples), made.normal_n, time_unit="s", force_unit="N"
    )
    assert any("irregular" in n for n in analyse(jittered).notes)


def test_hum_and_noise_are_filtered_and_the_filters_are_said() -> None:
    made = generate_recording(SyntheticSpec(n_strokes=6, hum_n=1.0, hum_hz=50.0, noise_sd_n=0.2), seed=1)
    cleaned = clean(made.recording, ForceSettings())
    rest = cleaned.rest
    assert cleaned.normal_n[rest].std() < 0.05  # 1 N of hum and 0.2 N of noise at rest, before
    assert made.recording.normal_n[rest].std() > 0.7
    assert any("notch at 50 Hz" in f for f in cleaned.filters)
    assert any("Butterworth low-pass 10 Hz" in f for f in cleaned.filters)
    assert 0.01 < cleaned.noise_sd_n < 0.05
    # At 100 Hz the 50 and 60 Hz hum cannot be filtered: the analysis says so.
    slow = clean(
        generate_recording(SyntheticSpec(sampling_hz=100, n_strokes=3), seed=1).recording, ForceSettings()
    )
    assert any("mains hum at 60 Hz is at or above half the sampling rate" in n for n in slow.notes)


def test_tare_and_drift_are_removed_from_the_resting_force() -> None:
    spec = SyntheticSpec(n_strokes=40, offset_n=3.0, drift_n_per_min=2.0, noise_sd_n=0.05)
    made = generate_recording(spec, seed=2)
    rest = clean(made.recording, ForceSettings())
    err = rest.normal_n - made.noise_free_n
    assert np.abs(err[rest.rest]).max() < 0.1
    start = clean(made.recording, ForceSettings(baseline="start"))
    # A tare alone leaves the drift: by the end of the recording it is well above the resting level.
    assert start.normal_n[-100:].mean() > 1.0
    assert "tare 3" in " ".join(start.filters)
    none = clean(made.recording, ForceSettings(baseline="none"))
    assert none.normal_n[:100].mean() == pytest.approx(3.0, abs=0.05)


def test_start_tare_needs_a_quiet_start() -> None:
    made = generate_recording(SyntheticSpec(n_strokes=3, lead_s=0.2), seed=0)
    cleaned = clean(made.recording, ForceSettings(baseline="start", tare_s=1.0))
    assert any("were not at rest" in n for n in cleaned.notes)


def test_every_setting_is_described_with_unit_and_basis() -> None:
    rows = describe_settings()
    assert {r["name"] for r in rows} == set(ForceSettings.model_fields)
    assert all(r["basis"] == "configurable heuristic" and r["meaning"] for r in rows)
    assert {r["name"]: r["unit"] for r in rows}["merge_gap_s"] == "s"


def test_settings_from_text_pairs() -> None:
    s = settings_from_pairs(["onset_n=2", "offset_n=0.8", "mains_hz=60", "lowpass_hz=none", "baseline=start"])
    assert (s.onset_n, s.offset_n, s.mains_hz, s.lowpass_hz, s.baseline) == (2.0, 0.8, (60.0,), None, "start")
    assert settings_from_pairs(["mains_hz=none"]).mains_hz == ()
    with pytest.raises(SettingsError, match="must be below onset_n"):
        settings_from_pairs(["offset_n=1.5"])
    with pytest.raises(SettingsError, match="setting 'onset' is not known"):
        settings_from_pairs(["onset=2"])
    with pytest.raises(SettingsError, match="write NAME=VALUE"):
        settings_from_pairs(["onset_n"])
    with pytest.raises(SettingsError, match="baseline"):
        settings_from_pairs(["baseline=guess"])
