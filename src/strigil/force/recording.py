"""A force recording as plain arrays: time in seconds, forces in newtons, the tool's angle in degrees.

Units are converted here from what the file or the user stated; they are never guessed from the size of
the numbers (a column of values around 900 may be grams-force or millinewtons, and only the source knows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ANGLE_UNITS",
    "FORCE_UNITS",
    "MAX_SAMPLING_HZ",
    "MIN_SAMPLING_HZ",
    "TIME_UNITS",
    "Recording",
    "RecordingError",
    "unit_factor",
]

_Array = NDArray[np.float64]

# Newtons per unit. Gram- and kilogram-force use standard gravity (9.80665 m/s², the CGPM's definition);
# "g" and "kg" are read as gram- and kilogram-force because a force channel cannot carry a mass.
FORCE_UNITS: dict[str, float] = {
    "N": 1.0,
    "mN": 1e-3,
    "kN": 1e3,
    "gf": 9.80665e-3,
    "g": 9.80665e-3,
    "kgf": 9.80665,
    "kg": 9.80665,
    "lbf": 4.4482216152605,
}
# Seconds per unit.
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0}
# Degrees per unit.
ANGLE_UNITS: dict[str, float] = {"deg": 1.0, "°": 1.0, "rad": 180.0 / np.pi}

# The sampling rates force plates and instrumented tools deliver, and what the filters are designed for.
MIN_SAMPLING_HZ = 50.0
MAX_SAMPLING_HZ = 2000.0
# A step between samples this many times the typical step is a gap in the recording, not jitter.
_GAP_STEPS = 10.0
# Steps within this relative spread are a regular grid; beyond it the recording is resampled.
_JITTER = 1e-3


class RecordingError(ValueError):
    """A recording that cannot be analysed; the message names the column, the row and what is allowed."""


def unit_factor(unit: str, kind: str) -> float:
    """The factor that turns a value in `unit` into newtons, seconds or degrees (`kind`: force/time/angle)."""
    table = {"force": FORCE_UNITS, "time": TIME_UNITS, "angle": ANGLE_UNITS}[kind]
    for name, factor in table.items():
        if unit == name:
            return factor
    # Case matters for mN vs MN-style units only in principle; accept a case-insensitive unique match.
    folded = [f for name, f in table.items() if name.lower() == unit.lower()]
    if len(set(folded)) == 1:
        return folded[0]
    allowed = ", ".join(table)
    raise RecordingError(f"{kind} unit {unit!r} is not known; allowed: {allowed}")


def _as_float(values: Any, column: str) -> _Array:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RecordingError(f"column {column!r}: holds values that are not numbers") from None
    if array.ndim != 1:
        raise RecordingError(f"column {column!r}: expected one value per row, got shape {array.shape}")
    return array


def _check_finite(array: _Array, column: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise RecordingError(
            f"column {column!r}: {int(bad.sum())} missing or non-numeric values (NaN/empty/inf), the first "
            f"at data row {first + 1}; remove or fill them before the analysis"
        )


@dataclass(frozen=True)
class Recording:
    """One recording on a regular time grid: time (s), normal force (N), optional shear (N) and tool angle.

    Build it with `Recording.from_arrays`, which checks the values and converts the stated units.
    """

    time_s: _Array
    normal_n: _Array
    shear_x_n: _Array | None = None
    shear_y_n: _Array | None = None
    tool_angle_deg: _Array | None = None
    source: str = ""
    resampled: bool = False

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return len(self.time_s)

    @property
    def sampling_hz(self) -> float:
        """Samples per second of the (regular) time grid."""
        return float((self.n_samples - 1) / (self.time_s[-1] - self.time_s[0]))

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample."""
        return float(self.time_s[-1] - self.time_s[0])

    @property
    def has_shear(self) -> bool:
        """Whether at least one shear channel was recorded."""
        return self.shear_x_n is not None or self.shear_y_n is not None

    @classmethod
    def from_arrays(
        cls,
        time: Any,
        normal: Any,
        *,
        time_unit: str,
        force_unit: str,
        shear_x: Any = None,
        shear_y: Any = None,
        tool_angle: Any = None,
        angle_unit: str = "deg",
        source: str = "",
        labels: dict[str, str] | None = None,
    ) -> Recording:
        """Check a recording's columns and convert them to seconds, newtons and degrees.

        Refuses (RecordingError) a missing or non-numeric value, time that does not increase, a gap in
        time, a sampling rate outside 50 Hz–2 kHz and a constant normal force. Slightly irregular sampling
        (jitter) is put on a regular grid by linear interpolation, and `resampled` says so. `labels` names
        the file's columns (channel → header) for the messages.
        """
        channel_names = ("time", "normal", "shear_x", "shear_y", "tool_angle")
        name = {channel: channel for channel in channel_names} | (labels or {})
        t = _as_float(time, name["time"]) * unit_factor(time_unit, "time")
        force_factor = unit_factor(force_unit, "force")
        channels: dict[str, _Array | None] = {"normal": _as_float(normal, name["normal"]) * force_factor}
        for channel, values in (("shear_x", shear_x), ("shear_y", shear_y)):
            channels[channel] = None if values is None else _as_float(values, name[channel]) * force_factor
        channels["tool_angle"] = (
            None
            if tool_angle is None
            else _as_float(tool_angle, name["tool_angle"]) * unit_factor(angle_unit, "angle")
        )
        for channel, values in channels.items():
            if values is not None and len(values) != len(t):
                raise RecordingError(f"column {name[channel]!r}: {len(values)} values but {len(t)} times")
        if len(t) < 10:
            raise RecordingError(f"the recording has {len(t)} samples; at least 10 are needed")
        _check_finite(t, name["time"])
        for channel, values in channels.items():
            if values is not None:
                _check_finite(values, name[channel])
        step = np.diff(t)
        if (step <= 0).any():
            row = int(np.flatnonzero(step <= 0)[0]) + 2
            raise RecordingError(
                f"column {name['time']!r}: does not increase at data row {row} "
                f"({t[row - 1]:g} s after {t[row - 2]:g} s); "
                "time must be strictly increasing (sort the rows or remove repeated times)"
            )
        typical = float(np.median(step))
        rate = 1.0 / typical
        if not MIN_SAMPLING_HZ * 0.99 <= rate <= MAX_SAMPLING_HZ * 1.01:
            raise RecordingError(
                f"column {name['time']!r}: sampling rate {rate:.4g} Hz is outside the {MIN_SAMPLING_HZ:g} Hz–"
                f"{MAX_SAMPLING_HZ:g} Hz this analysis is designed for "
                f"(is the time unit {time_unit!r} right?)"
            )
        if step.max() > _GAP_STEPS * typical:
            row = int(np.argmax(step)) + 2
            raise RecordingError(
                f"column {name['time']!r}: a gap of {step.max():.3g} s at data row {row} "
                f"(t = {t[row - 1]:g} s) while "
                f"samples are {typical:.3g} s apart; analyse the parts before and after the gap separately"
            )
        normal_n = channels["normal"]
        assert normal_n is not None
        if np.ptp(normal_n) == 0.0:
            raise RecordingError(
                f"column {name['normal']!r}: the force is constant ({normal_n[0]:g} N throughout); "
                "nothing was recorded (is the sensor connected, and is this the right column?)"
            )
        resampled = bool(np.ptp(step) > _JITTER * typical)
        if resampled:
            grid = t[0] + typical * np.arange(int(np.floor((t[-1] - t[0]) / typical)) + 1)
            channels = {k: None if v is None else np.interp(grid, t, v) for k, v in channels.items()}
            t = grid
        normal_n = channels["normal"]
        assert normal_n is not None
        return cls(
            time_s=t,
            normal_n=normal_n,
            shear_x_n=channels["shear_x"],
            shear_y_n=channels["shear_y"],
            tool_angle_deg=channels["tool_angle"],
            source=source,
            resampled=resampled,
        )
