"""Cleaning a recording: mains-hum notches, a zero-phase low-pass, and the baseline (tare and drift).

Filters run forwards and backwards (`scipy.signal.sosfiltfilt`), so they shift no stroke in time. The
baseline is the force the sensor reads with no contact: with baseline='rest' it is measured between strokes
in windows of `drift_window_s` and interpolated, which removes both the tare (a constant offset) and slow
drift (temperature, creep).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from strigil.force.recording import Recording, RecordingError
from strigil.force.segment import hysteresis_runs
from strigil.force.settings import ForceSettings

__all__ = ["CleanedSignal", "clean"]

_Array = NDArray[np.float64]

# Around each stroke found on the first pass, this much is kept out of the resting samples, so that the
# feet of the stroke (below the offset threshold) do not lift the baseline.
_REST_MARGIN_S = 0.2
# Low quantile of each window for the first baseline estimate: the resting level when at least this
# fraction of the window is rest.
_FIRST_PASS_QUANTILE = 0.05
# A window needs this fraction of resting samples for its own baseline; others are interpolated.
_MIN_REST_FRACTION = 0.05
# Median of this many neighbouring windows guards the first pass against a window of continuous contact.
_MEDIAN_WINDOWS = 5
# 1.4826 × MAD estimates the SD of normal noise (robust to a stray spike).
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class CleanedSignal:
    """The cleaned channels on the recording's time grid, with what was done to them.

    `rest` marks the samples used as resting force; `noise_sd_n` is the robust SD of the cleaned force
    at rest; `filters` and `notes` say in words what was applied and what could not be.
    """

    time_s: _Array
    normal_n: _Array
    baseline_n: _Array
    shear_x_n: _Array | None
    shear_y_n: _Array | None
    tool_angle_deg: _Array | None
    rest: NDArray[np.bool_]
    noise_sd_n: float
    sampling_hz: float
    filters: tuple[str, ...]
    notes: tuple[str, ...]


def _filters(fs: float, settings: ForceSettings) -> tuple[_Array | None, list[str], list[str]]:
    # scipy.signal takes longer to import than the analysis of an hour's recording: load it when needed.
    from scipy import signal

    nyquist = fs / 2.0
    sections: list[_Array] = []
    said: list[str] = []
    notes: list[str] = []
    lowpass = settings.lowpass_hz
    if lowpass is not None and lowpass >= 0.98 * nyquist:
        notes.append(
            f"lowpass_hz {lowpass:g} Hz is not below half the sampling rate ({nyquist:g} Hz): "
            "no low-pass applied"
        )
        lowpass = None
    for mains in settings.mains_hz:
        if mains >= 0.98 * nyquist:
            notes.append(
                f"mains hum at {mains:g} Hz is at or above half the sampling rate ({nyquist:g} Hz) and "
                "cannot be filtered; any hum is folded into slower waves in the force"
            )
            continue
        # Harmonics above the low-pass cut-off are removed by the low-pass; below it they get notches too.
        limit = min(0.98 * nyquist, lowpass) if lowpass is not None else 0.98 * nyquist
        harmonics = [mains * h for h in range(1, int(limit // mains) + 1)] or [mains]
        for f in harmonics:
            b, a = signal.iirnotch(f, settings.notch_q, fs=fs)
            sections.append(signal.tf2sos(b, a))
        said.append(f"notch at {', '.join(f'{f:g}' for f in harmonics)} Hz (Q = {settings.notch_q:g})")
    if lowpass is not None:
        sections.append(signal.butter(settings.lowpass_order, lowpass, btype="low", fs=fs, output="sos"))
        said.append(
            f"Butterworth low-pass {lowpass:g} Hz, order {settings.lowpass_order}, forwards and backwards"
        )
    if not sections:
        return None, ["none"], notes
    return np.vstack(sections), said, notes


def _filtered(sos: _Array | None, x: _Array, fs: float, settings: ForceSettings) -> _Array:
    """Zero-phase filtering with each end padded by the median of its first samples.

    scipy's default padding (the signal reflected through its end sample) turns the noise of that one
    sample into a step that rings into the start; a constant pad at the local median does not. The pad is
    three periods of the lowest filter frequency, long enough for the filter to settle.
    """
    if sos is None:
        return x.astype(np.float64, copy=True)
    from scipy import signal

    lowest = min([settings.lowpass_hz or np.inf, *settings.mains_hz])
    pad = min(len(x), max(3 * (2 * len(sos) + 1), round(3 * fs / lowest)))
    head = np.full(pad, np.median(x[: max(pad // 10, 1)]))
    tail = np.full(pad, np.median(x[-max(pad // 10, 1) :]))
    padded = np.concatenate([head, x, tail])
    return np.asarray(signal.sosfiltfilt(sos, padded, padlen=0)[pad:-pad], dtype=np.float64)


def _windows(n: int, fs: float, settings: ForceSettings) -> NDArray[np.int64]:
    """Sample indices where each baseline window starts, and n at the end (the last window takes the rest)."""
    length = max(1, round(settings.drift_window_s * fs))
    count = max(1, n // length)
    bounds = np.arange(count + 1, dtype=np.int64) * length
    bounds[-1] = n
    return bounds


def _window_sums(values: _Array, bounds: NDArray[np.int64]) -> _Array:
    return np.asarray(np.add.reduceat(values, bounds[:-1]), dtype=np.float64)


def _first_pass(y: _Array, bounds: NDArray[np.int64], t: _Array) -> _Array:
    """Baseline from each window's low quantile, median-smoothed over neighbouring windows."""
    count = len(bounds) - 1
    length = int(bounds[1] - bounds[0])
    full = (count - 1) * length  # every window but the last has the same length
    low = np.empty(count)
    if count > 1:
        blocks = y[:full].reshape(count - 1, length)
        kth = int(_FIRST_PASS_QUANTILE * (length - 1))
        low[:-1] = np.partition(blocks, kth, axis=1)[:, kth]
    low[-1] = np.quantile(y[full:], _FIRST_PASS_QUANTILE)
    centre = 0.5 * (t[bounds[:-1]] + t[bounds[1:] - 1])
    if count > 2:
        half = _MEDIAN_WINDOWS // 2
        padded = np.pad(low, half, mode="edge")
        low = np.median(np.lib.stride_tricks.sliding_window_view(padded, _MEDIAN_WINDOWS), axis=1)
    return np.asarray(np.interp(t, centre, low), dtype=np.float64)


def _rest_mask(y: _Array, fs: float, settings: ForceSettings) -> NDArray[np.bool_]:
    starts, ends = hysteresis_runs(y, settings.onset_n, settings.offset_n)
    margin = round(_REST_MARGIN_S * fs)
    n = len(y)
    edge = np.zeros(n + 1, dtype=np.int32)
    np.add.at(edge, np.maximum(starts - margin, 0), 1)
    np.add.at(edge, np.minimum(ends + margin, n), -1)
    return np.asarray(np.cumsum(edge[:-1], dtype=np.int32) == 0)


def _rest_baseline(y: _Array, rest: NDArray[np.bool_], bounds: NDArray[np.int64], t: _Array) -> _Array | None:
    """Baseline interpolated between the mean resting force of each window (at the windows' resting times)."""
    n_rest = _window_sums(rest.astype(np.float64), bounds)
    size = np.diff(bounds)
    enough = n_rest >= np.maximum(_MIN_REST_FRACTION * size, 10)
    if not enough.any():
        return None
    level = _window_sums(np.where(rest, y, 0.0), bounds)[enough] / n_rest[enough]
    when = _window_sums(np.where(rest, t, 0.0), bounds)[enough] / n_rest[enough]
    return _interpolate(t, when, level)


def _interpolate(t: _Array, when: _Array, level: _Array) -> _Array:
    """Straight lines between the windows' levels, continued with the end windows' slopes to the ends."""
    if len(when) >= 2:
        head = level[0] - (level[1] - level[0]) / (when[1] - when[0]) * (when[0] - t[0])
        tail = level[-1] + (level[-1] - level[-2]) / (when[-1] - when[-2]) * (t[-1] - when[-1])
        when = np.concatenate([[t[0]], when, [t[-1]]])
        level = np.concatenate([[head], level, [tail]])
    return np.asarray(np.interp(t, when, level), dtype=np.float64)


def _robust_sd(values: _Array) -> float:
    if len(values) < 10:
        return 0.0
    # Every k-th resting sample is plenty for an SD and keeps the median cheap on hour-long recordings.
    values = values[:: max(1, len(values) // 200_000)]
    centre = np.median(values)
    return float(_MAD_TO_SD * np.median(np.abs(values - centre)))


def clean(recording: Recording, settings: ForceSettings) -> CleanedSignal:
    """Filter hum and noise, then remove the baseline of every force channel (settings: `ForceSettings`)."""
    fs = recording.sampling_hz
    t = recording.time_s
    sos, said, notes = _filters(fs, settings)
    y = _filtered(sos, recording.normal_n, fs, settings)
    n = len(y)
    bounds = _windows(n, fs, settings)
    shear = {
        name: None if raw is None else _filtered(sos, raw, fs, settings)
        for name, raw in (("x", recording.shear_x_n), ("y", recording.shear_y_n))
    }
    if settings.baseline == "none":
        baseline = np.zeros(n)
        rest = _rest_mask(y, fs, settings)
        said.append("baseline: none (the file's zero is used)")
    elif settings.baseline == "start":
        quiet = t < t[0] + settings.tare_s
        if quiet.sum() < 2 or t[-1] - t[0] < settings.tare_s:
            raise RecordingError(
                f"baseline='start' needs at least tare_s = {settings.tare_s:g} s of recording "
                "before the first stroke"
            )
        tare = float(np.median(y[quiet]))
        baseline = np.full(n, tare)
        rest = _rest_mask(y - baseline, fs, settings)
        if np.ptp(y[quiet]) > settings.onset_n:
            notes.append(
                f"the first {settings.tare_s:g} s were not at rest (a stroke began there); "
                "the tare may be wrong"
            )
        said.append(f"baseline: tare {tare:.4g} N, the median of the first {settings.tare_s:g} s")
        shear = {k: None if v is None else v - float(np.median(v[quiet])) for k, v in shear.items()}
    else:
        first = _first_pass(y, bounds, t)
        rest = _rest_mask(y - first, fs, settings)
        found = _rest_baseline(y, rest, bounds, t)
        if found is None:
            notes.append(
                "no window of the recording was at rest: the baseline is each window's 5th percentile, which "
                "underestimates force if the instrument never left the skin"
            )
            baseline = first
        else:
            baseline = found
        said.append(
            f"baseline: resting force measured in {settings.drift_window_s:g} s windows and interpolated "
            f"(from {baseline.min():.4g} to {baseline.max():.4g} N)"
        )
        for name, values in shear.items():
            if values is not None:
                level = _rest_baseline(values, rest, bounds, t)
                shear[name] = values - (level if level is not None else float(np.median(values)))
    cleaned = y - baseline
    noise = _robust_sd(cleaned[rest])
    angle = recording.tool_angle_deg
    return CleanedSignal(
        time_s=t,
        normal_n=cleaned,
        baseline_n=baseline,
        shear_x_n=shear["x"],
        shear_y_n=shear["y"],
        tool_angle_deg=None if angle is None else _filtered(sos, angle, fs, settings),
        rest=rest,
        noise_sd_n=noise,
        sampling_hz=fs,
        filters=tuple(said),
        notes=tuple(notes),
    )
