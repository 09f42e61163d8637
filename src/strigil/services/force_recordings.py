"""Force recordings from files (CSV or Parquet) turned into a measured dose: one path for the `strigil force`
commands and the force web page.

Columns are found by name (time; normal force; shear x and y; tool angle), or named by the caller. Units
come from the file — a column named `time [s]`, `Fz (N)` or `force_kgf`, or a Parquet field's `unit`
metadata — or from the caller (`--unit` on the command line); they are never guessed from the numbers.
Every problem is a `RecordingError` whose message names the column, the row or the option.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strigil.force.recording import (
    ANGLE_UNITS,
    FORCE_UNITS,
    TIME_UNITS,
    Recording,
    RecordingError,
    unit_factor,
)

if TYPE_CHECKING:
    import numpy as np

    from strigil.clinical.session import MeasuredForce
    from strigil.force.analysis import ForceAnalysis
    from strigil.force.feedback import Feedback, Metric, Target
    from strigil.force.reliability import Reliability
    from strigil.force.settings import ForceSettings

__all__ = [
    "CHANNEL_NAMES",
    "MAX_UPLOAD_BYTES",
    "Columns",
    "RecordingAnalysis",
    "Units",
    "analyse_recording",
    "choose_target",
    "measured_force_summary",
    "read_recording",
    "read_scores",
    "reliability_of_table",
]

# Names a column may have for each channel (compared without case, spaces, dashes or underscores, and
# without the unit annotation).
CHANNEL_NAMES: dict[str, tuple[str, ...]] = {
    "time": ("time", "t", "timestamp", "elapsed"),
    "normal": ("normal", "normalforce", "fz", "fn", "force", "load"),
    "shear_x": ("shearx", "fx", "shearforcex"),
    "shear_y": ("sheary", "fy", "shearforcey"),
    "tool_angle": ("toolangle", "angle", "pitch", "toolpitch"),
}
# Uploads through the web page: an hour at 1 kHz with two shear channels is about 120 MB of CSV.
MAX_UPLOAD_BYTES = 160_000_000
_ANNOTATED = re.compile(r"^\s*(?P<name>.*?)\s*[\[(]\s*(?P<unit>[^\])]+?)\s*[\])]\s*$")
_KIND = {"time": "time", "normal": "force", "shear_x": "force", "shear_y": "force", "tool_angle": "angle"}
_UNITS = {"time": TIME_UNITS, "force": FORCE_UNITS, "angle": ANGLE_UNITS}


@dataclass(frozen=True)
class Columns:
    """Column names chosen by the caller (None: find the column by its name)."""

    time: str | None = None
    normal: str | None = None
    shear_x: str | None = None
    shear_y: str | None = None
    tool_angle: str | None = None


@dataclass(frozen=True)
class Units:
    """Units stated by the caller, for columns whose header does not say (None: the header must say)."""

    force: str | None = None
    time: str | None = None
    angle: str | None = None


def _split(header: str) -> tuple[str, str | None]:
    """A header's channel name and its unit: 'Fz [N]' → ('Fz', 'N'); 'time_ms' → ('time', 'ms')."""
    match = _ANNOTATED.match(header)
    if match:
        return match["name"], match["unit"]
    if "_" in header:
        name, suffix = header.rsplit("_", 1)
        known = {u.lower() for table in _UNITS.values() for u in table}
        if suffix.lower() in known and name:
            return name, suffix
    return header, None


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name).lower()


def _find(headers: Sequence[str], chosen: Columns) -> dict[str, str]:
    """Which header holds each channel."""
    found: dict[str, str] = {}
    for channel, names in CHANNEL_NAMES.items():
        wanted = getattr(chosen, channel)
        if wanted is not None:
            if wanted not in headers:
                raise RecordingError(
                    f"--{channel.replace('_', '-')}-column {wanted!r}: no such column; columns are "
                    + ", ".join(repr(h) for h in headers)
                )
            found[channel] = wanted
            continue
        hits = [h for h in headers if _key(_split(h)[0]) in names]
        if len(hits) > 1:
            raise RecordingError(
                f"columns {', '.join(repr(h) for h in hits)} could each be the {channel.replace('_', ' ')} "
                f"channel; name one with --{channel.replace('_', '-')}-column"
            )
        if hits:
            found[channel] = hits[0]
    for channel in ("time", "normal"):
        if channel not in found:
            expected = " or ".join(repr(n) for n in CHANNEL_NAMES[channel][:3])
            raise RecordingError(
                f"no {channel} column: expected a column named {expected} (with its unit, e.g. "
                f"'{CHANNEL_NAMES[channel][0]} [{'s' if channel == 'time' else 'N'}]'), or name it with "
                f"--{channel}-column; columns are " + ", ".join(repr(h) for h in headers)
            )
    return found


def _unit(channel: str, header: str, metadata: dict[str, str], stated: Units) -> str:
    kind = _KIND[channel]
    in_file = _split(header)[1] or metadata.get(header)
    given = {"time": stated.time, "force": stated.force, "angle": stated.angle}[kind]
    option = {"time": "--time-unit", "force": "--unit", "angle": "--angle-unit"}[kind]
    allowed = ", ".join(_UNITS[kind])
    if in_file is not None and given is not None and in_file.lower() != given.lower():
        raise RecordingError(
            f"column {header!r}: the file says {in_file!r} but {option} says {given!r}; leave out {option}"
        )
    unit = in_file or given
    if unit is None:
        raise RecordingError(
            f"column {header!r}: no unit in the file and no {option}; write it in the header (e.g. "
            f"'{_split(header)[0]} [{next(iter(_UNITS[kind]))}]') or give {option} (allowed: {allowed}). "
            "Units are never guessed from the numbers"
        )
    return unit


def _table(source: Path | bytes, name: str) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data: Any = source if isinstance(source, Path) else io.BytesIO(source)
    if isinstance(source, Path) and not source.is_file():
        raise RecordingError(f"FILE {str(source)!r}: no such file")
    if name.lower().endswith((".parquet", ".pq")):
        try:
            return pq.read_table(data)
        except (pa.ArrowInvalid, OSError) as exc:
            raise RecordingError(f"FILE {name!r}: cannot be read as Parquet ({exc})") from None
    try:
        return pacsv.read_csv(data, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"FILE {name!r}: cannot be read as CSV ({exc})") from None


def _numbers(table: Any, header: str) -> np.ndarray:
    import numpy as np
    import pyarrow as pa

    column = table.column(header)
    if not (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)
    ):
        raise RecordingError(
            f"column {header!r}: holds text ({column.type}), not numbers; "
            "check the decimal mark and the header"
        )
    return np.asarray(column.to_numpy(), dtype=np.float64)


def read_recording(
    source: Path | bytes, name: str = "", columns: Columns | None = None, units: Units | None = None
) -> Recording:
    """Read a CSV or Parquet recording (a path, or the bytes of an upload named `name`) into a `Recording`."""
    label = name or (source.name if isinstance(source, Path) else "upload")
    table = _table(source, label)
    headers = list(table.column_names)
    found = _find(headers, columns or Columns())
    metadata = {
        field.name: field.metadata[b"unit"].decode()
        for field in table.schema
        if field.metadata and b"unit" in field.metadata
    }
    stated = units or Units()
    units_of = {channel: _unit(channel, header, metadata, stated) for channel, header in found.items()}
    values = {channel: _numbers(table, header) for channel, header in found.items()}
    # Recording.from_arrays takes one force unit: shear channels are brought to the normal channel's.
    normal_unit = units_of["normal"]
    for channel in ("shear_x", "shear_y"):
        if channel in values:
            values[channel] = values[channel] * (
                unit_factor(units_of[channel], "force") / unit_factor(normal_unit, "force")
            )
    return Recording.from_arrays(
        values["time"],
        values["normal"],
        time_unit=units_of["time"],
        force_unit=normal_unit,
        shear_x=values.get("shear_x"),
        shear_y=values.get("shear_y"),
        tool_angle=values.get("tool_angle"),
        angle_unit=units_of.get("tool_angle", "deg"),
        source=label,
        labels=found,
    )


def measured_force_summary(analysis: ForceAnalysis) -> MeasuredForce | None:
    """The summary a dose step carries (`DoseStep.measured_force`); None when no complete stroke was found."""
    from strigil.clinical.session import MeasuredForce

    s = analysis.session
    if s.n_strokes == 0 or s.mean_n is None or s.peak_n is None:
        return None

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return MeasuredForce(
        recording=(analysis.source or "force recording")[:200],
        stroke_count=s.n_strokes,
        mean_n=round(s.mean_n, 3),
        peak_n=round(s.peak_n, 3),
        mean_cv_pct=rounded(s.mean_cv_pct, 2),
        peak_cv_pct=rounded(s.peak_cv_pct, 2),
    )


@dataclass(frozen=True)
class RecordingAnalysis:
    """A recording's measured dose, and the feedback against a target when one was given."""

    analysis: ForceAnalysis
    feedback: Feedback | None

    def to_json(self) -> dict[str, Any]:
        """The analysis's JSON with `feedback` (null without a target) and `measured_force`, the summary a
        dose step of the record carries (null without a complete stroke)."""
        summary = measured_force_summary(self.analysis)
        return {
            **self.analysis.to_json(),
            "feedback": None if self.feedback is None else self.feedback.to_json(),
            "measured_force": None if summary is None else summary.model_dump(),
        }


def analyse_recording(
    source: Path | bytes,
    name: str = "",
    *,
    columns: Columns | None = None,
    units: Units | None = None,
    settings: ForceSettings | None = None,
    target: Target | None = None,
) -> RecordingAnalysis:
    """Read a recording, find its strokes and their dose, and judge them against `target` if given."""
    from strigil.force.analysis import analyse
    from strigil.force.feedback import give_feedback

    result = analyse(read_recording(source, name, columns, units), settings)
    return RecordingAnalysis(result, None if target is None else give_feedback(result.strokes, target))


def choose_target(
    metric: str = "peak",
    *,
    low_n: float | None = None,
    high_n: float | None = None,
    around_n: float | None = None,
    tolerance_pct: float | None = None,
    earlier: Sequence[ForceAnalysis] = (),
) -> Target | None:
    """The clinician's target from one of: a band (low and high), a force ± tolerance, earlier recordings."""
    from strigil.force.feedback import DEFAULT_TOLERANCE_PCT, Target, TargetError, target_from_earlier

    if metric not in ("peak", "mean"):
        raise TargetError(f"metric {metric!r}: allowed 'peak' or 'mean'")
    which: Metric = "peak" if metric == "peak" else "mean"
    ways = [
        name
        for name, given in (
            ("a band", low_n is not None or high_n is not None),
            ("a force ± tolerance", around_n is not None),
            ("earlier recordings", bool(earlier)),
        )
        if given
    ]
    if len(ways) > 1:
        raise TargetError(f"target: {' and '.join(ways)} given; choose one way to set the target")
    pct = DEFAULT_TOLERANCE_PCT if tolerance_pct is None else tolerance_pct
    if low_n is not None or high_n is not None:
        if low_n is None or high_n is None:
            raise TargetError("target: a band needs both its low and its high force")
        return Target.between(low_n, high_n, which)
    if around_n is not None:
        return Target.around(around_n, pct, which)
    if earlier:
        import numpy as np

        values = np.concatenate([a.strokes.column(which) for a in earlier])
        return target_from_earlier(values, which, pct)
    return None


def read_scores(source: Path | bytes, name: str = "", id_column: str | None = None) -> tuple[list[str], Any]:
    """A wide table of scores: one row per subject, one column per session (an optional id column aside)."""
    import numpy as np

    label = name or (source.name if isinstance(source, Path) else "upload")
    table = _table(source, label)
    headers = list(table.column_names)
    if id_column is not None and id_column not in headers:
        raise RecordingError(f"--id {id_column!r}: no such column; columns are {', '.join(headers)}")
    sessions = [h for h in headers if h != id_column]
    scores = np.column_stack([_numbers(table, h) for h in sessions]) if sessions else np.zeros((0, 0))
    return sessions, scores


def reliability_of_table(
    source: Path | bytes, name: str = "", id_column: str | None = None, level: float = 0.95
) -> Reliability:
    """ICCs, SEM and Bland–Altman of a subjects × sessions table read from a file."""
    from strigil.force.reliability import reliability

    sessions, scores = read_scores(source, name, id_column)
    return reliability(scores, sessions, level)
