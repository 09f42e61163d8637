"""Per-stroke dose (peak and mean normal force, duration, impulse, rate, shear) and per-set summaries.

The quantities are those of the laboratory studies of IASTM force (domain reference §1.2): peak and mean
normal force per stroke and their coefficient of variation across strokes; stroke rate as in the
instrumented-tool work; the shear-to-normal ratio and the tool angle when those channels were recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strigil.force.clean import CleanedSignal
from strigil.force.segment import Segments, reduce_spans

__all__ = ["DoseSummary", "StrokeTable", "stroke_doses", "summarise"]

_Array = NDArray[np.float64]


def _num(x: Any, digits: int = 6) -> float | None:
    """A JSON number rounded to `digits` significant digits, or None where the quantity does not exist."""
    if x is None:
        return None
    value = float(x)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class StrokeTable:
    """One row per complete stroke, as columns (times in s, forces in N, impulse in N·s, angles in degrees).

    `interval_s` is the time from this stroke's onset to the next one's in the same set (NaN for a set's
    last stroke); `joined` marks a stroke that began without a return to rest; the shear and angle columns
    are NaN when the recording had no such channel.
    """

    onset_s: _Array
    offset_s: _Array
    duration_s: _Array
    peak_n: _Array
    peak_time_s: _Array
    mean_n: _Array
    impulse_ns: _Array
    interval_s: _Array
    set_index: NDArray[np.int64]
    joined: NDArray[np.bool_]
    shear_ratio: _Array
    shear_direction_deg: _Array
    tool_angle_deg: _Array

    def __len__(self) -> int:
        return len(self.onset_s)

    def column(self, metric: str) -> _Array:
        """The per-stroke force named 'peak' or 'mean' (N)."""
        if metric not in ("peak", "mean"):
            raise ValueError(f"metric {metric!r}: allowed 'peak' or 'mean'")
        return self.peak_n if metric == "peak" else self.mean_n

    def to_json(self) -> list[dict[str, Any]]:
        """One plain-JSON dict per stroke (null where a quantity does not exist)."""
        rows: list[dict[str, Any]] = []
        for i in range(len(self)):
            rows.append(
                {
                    "stroke": i + 1,
                    "set": int(self.set_index[i]) + 1,
                    "onset_s": _num(self.onset_s[i], 7),
                    "offset_s": _num(self.offset_s[i], 7),
                    "duration_s": _num(self.duration_s[i]),
                    "peak_n": _num(self.peak_n[i]),
                    "peak_time_s": _num(self.peak_time_s[i], 7),
                    "mean_n": _num(self.mean_n[i]),
                    "impulse_ns": _num(self.impulse_ns[i]),
                    "interval_s": _num(self.interval_s[i]),
                    "joined": bool(self.joined[i]),
                    "shear_ratio": _num(self.shear_ratio[i]),
                    "shear_direction_deg": _num(self.shear_direction_deg[i]),
                    "tool_angle_deg": _num(self.tool_angle_deg[i]),
                }
            )
        return rows


def stroke_doses(cleaned: CleanedSignal, segments: Segments, set_gap_s: float) -> StrokeTable:
    """Dose of every complete stroke (strokes cut by the recording's start or end are left out)."""
    keep = ~segments.truncated
    on = segments.onset[keep]
    off = segments.offset[keep]
    stop = off + 1
    t = cleaned.time_s
    x = cleaned.normal_n
    dt = 1.0 / cleaned.sampling_hz
    count = (stop - on).astype(np.float64)
    total = reduce_spans(np.add, x, on, stop)
    peak = reduce_spans(np.maximum, x, on, stop)
    peak_at = _first_index_of(x, on, stop, peak)
    # Impulse: trapezoid rule over the samples, plus the part-steps from the interpolated onset and offset.
    impulse = (
        (total - 0.5 * (x[on] + x[off])) * dt
        + 0.5 * (segments.onset_value_n[keep] + x[on]) * (t[on] - segments.onset_s[keep])
        + 0.5 * (x[off] + segments.offset_value_n[keep]) * (segments.offset_s[keep] - t[off])
    )
    onset_s, offset_s = segments.onset_s[keep], segments.offset_s[keep]
    duration = offset_s - onset_s
    # The time-weighted mean force of the contact.
    mean = impulse / duration
    new_set = np.ones(len(on), dtype=bool)
    if len(on) > 1:
        new_set[1:] = (onset_s[1:] - offset_s[:-1]) > set_gap_s
    set_index = np.cumsum(new_set) - 1
    interval = np.full(len(on), np.nan)
    if len(on) > 1:
        same = set_index[1:] == set_index[:-1]
        interval[:-1] = np.where(same, onset_s[1:] - onset_s[:-1], np.nan)
    shear_ratio = np.full(len(on), np.nan)
    direction = np.full(len(on), np.nan)
    sx, sy = cleaned.shear_x_n, cleaned.shear_y_n
    if sx is not None or sy is not None:
        magnitude = np.hypot(sx if sx is not None else 0.0, sy if sy is not None else 0.0)
        shear_ratio = reduce_spans(np.add, np.asarray(magnitude, dtype=np.float64), on, stop) / np.where(
            total > 0, total, np.nan
        )
        if sx is not None and sy is not None:
            direction = np.degrees(
                np.arctan2(reduce_spans(np.add, sy, on, stop), reduce_spans(np.add, sx, on, stop))
            )
    angle = np.full(len(on), np.nan)
    if cleaned.tool_angle_deg is not None:
        angle = reduce_spans(np.add, cleaned.tool_angle_deg, on, stop) / np.maximum(count, 1)
    return StrokeTable(
        onset_s=onset_s,
        offset_s=offset_s,
        duration_s=duration,
        peak_n=np.asarray(peak, dtype=np.float64),
        peak_time_s=t[peak_at],
        mean_n=mean,
        impulse_ns=impulse,
        interval_s=interval,
        set_index=set_index.astype(np.int64),
        joined=segments.joined[keep],
        shear_ratio=shear_ratio,
        shear_direction_deg=direction,
        tool_angle_deg=angle,
    )


def _first_index_of(
    x: _Array, on: NDArray[np.int64], stop: NDArray[np.int64], peak: _Array
) -> NDArray[np.int64]:
    """_Index of the first sample in each [on, stop) equal to its peak."""
    lengths = stop - on
    owner = np.repeat(np.arange(len(on)), lengths)
    idx = np.repeat(on - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    hits = idx[x[idx] == peak[owner]]
    first = np.searchsorted(hits, on)
    return np.asarray(hits[first], dtype=np.int64)


@dataclass(frozen=True)
class DoseSummary:
    """Counts, totals and variability of a group of strokes (a set, or the whole session).

    Forces are averages over strokes of each stroke's peak or mean force; CVs are SD/mean × 100 with the
    sample SD (n − 1), as in the force-consistency studies; `rate_hz` is strokes per second while stroking
    (within sets, rests between sets excluded). Quantities that need two strokes are None with one.
    """

    scope: str
    n_strokes: int
    n_sets: int
    start_s: float | None
    end_s: float | None
    contact_s: float
    impulse_ns: float
    peak_n: float | None
    peak_sd_n: float | None
    peak_cv_pct: float | None
    max_peak_n: float | None
    mean_n: float | None
    mean_sd_n: float | None
    mean_cv_pct: float | None
    duration_mean_s: float | None
    rate_hz: float | None
    shear_ratio: float | None
    tool_angle_deg: float | None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict (null where a quantity does not exist)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = (
                value if isinstance(value, (str, int)) and not isinstance(value, bool) else _num(value)
            )
        return out


def _spread(values: _Array) -> tuple[float | None, float | None, float | None]:
    if len(values) == 0:
        return None, None, None
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    sd = float(values.std(ddof=1))
    return mean, sd, (100.0 * sd / mean if mean > 0 else None)


def _finite_mean(values: _Array) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def summarise(
    strokes: StrokeTable, rows: NDArray[np.bool_] | None = None, scope: str = "session"
) -> DoseSummary:
    """Summary of the strokes selected by `rows` (all by default), named `scope` ('session', 'set 2', ...)."""
    pick = np.ones(len(strokes), dtype=bool) if rows is None else rows
    peak, peak_sd, peak_cv = _spread(strokes.peak_n[pick])
    mean, mean_sd, mean_cv = _spread(strokes.mean_n[pick])
    onset = strokes.onset_s[pick]
    sets = strokes.set_index[pick]
    n = int(pick.sum())
    rate: float | None = None
    if n > 1:
        first = np.unique(sets, return_index=True)[1]
        last = np.append(first[1:], n) - 1
        span = float((onset[last] - onset[first]).sum())
        gaps = int((last - first).sum())
        rate = gaps / span if span > 0 and gaps > 0 else None
    return DoseSummary(
        scope=scope,
        n_strokes=n,
        n_sets=len(np.unique(sets)),
        start_s=float(onset[0]) if n else None,
        end_s=float(strokes.offset_s[pick][-1]) if n else None,
        contact_s=float(strokes.duration_s[pick].sum()),
        impulse_ns=float(strokes.impulse_ns[pick].sum()),
        peak_n=peak,
        peak_sd_n=peak_sd,
        peak_cv_pct=peak_cv,
        max_peak_n=float(strokes.peak_n[pick].max()) if n else None,
        mean_n=mean,
        mean_sd_n=mean_sd,
        mean_cv_pct=mean_cv,
        duration_mean_s=float(strokes.duration_s[pick].mean()) if n else None,
        rate_hz=rate,
        shear_ratio=_finite_mean(strokes.shear_ratio[pick]),
        tool_angle_deg=_finite_mean(strokes.tool_angle_deg[pick]),
    )
