"""Typed, immutable catalogue entries (one class per kind of catalogue)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = [
    "HEURISTIC",
    "Condition",
    "Direction",
    "EdgeType",
    "Entry",
    "Instrument",
    "Measure",
    "MeasureKind",
    "ProtocolStep",
    "Region",
    "Stroke",
    "Threshold",
]

Direction = Literal["lower_is_better", "higher_is_better"]
# How a default that no source fixes is labelled wherever it shows (the brief's rule for clinical numbers).
HEURISTIC = "configurable heuristic"
MeasureKind = Literal["pain", "function", "rom", "ppt", "strength", "global"]


class _Readable:
    """Entries read as attributes (`m.unit`) and, for JSON-minded callers, as keys (`m["unit"]`)."""

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            raise KeyError(key)
        return getattr(self, key)

    def to_json(self) -> dict[str, Any]:
        """The entry as plain JSON-ready data."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.to_json() if isinstance(v, _Readable) else v for v in value]
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class Threshold(_Readable):
    """One MCID or MDC: an absolute change (`value`, in the measure's unit) and/or a % of baseline.

    `conditions` names the condition codes whose population the source studied; `default` marks the entry
    used when no condition or population matches; `joint`/`motion` say which ROM an error was measured on.
    """

    value: float | None
    percent: float | None
    population: str
    source: str
    note: str = ""
    kind: str = "MCID"
    verified: bool = True
    conditions: tuple[str, ...] = ()
    default: bool = False
    joint: str | None = None
    motion: str | None = None


@dataclass(frozen=True, slots=True)
class Entry(_Readable):
    """What every catalogue entry has."""

    code: str
    name: str
    source: str
    note: str = ""
    verified: bool = True


@dataclass(frozen=True, slots=True)
class Region(Entry):
    """A body region; the side (left/right/bilateral/midline) is recorded separately."""


@dataclass(frozen=True, slots=True)
class Condition(Entry):
    """A condition; `evidence`: "studied" (trials in the domain reference) or "claimed" (clinics only)."""

    regions: tuple[str, ...] = ()
    tissue: str = "mixed"
    evidence: Literal["studied", "claimed"] = "studied"
    # the measures the session form offers first, and the study or guideline that measured them — or
    # HEURISTIC where no source fixes them
    measures: tuple[str, ...] = ()
    measures_source: str = ""

    @property
    def measures_heuristic(self) -> bool:
        """True when no source fixes this condition's default measures (a configurable heuristic)."""
        return self.measures_source == HEURISTIC


@dataclass(frozen=True, slots=True)
class Measure(Entry):
    """An outcome measure: scale range, unit, direction of improvement, MCIDs and MDCs with their sources."""

    kind: MeasureKind = "pain"
    unit: str = ""
    min: float = 0.0
    max: float = 0.0
    direction: Direction = "lower_is_better"
    mcids: tuple[Threshold, ...] = ()
    mdcs: tuple[Threshold, ...] = ()
    loinc: str | None = None
    loinc_verified: bool = False
    loinc_note: str = ""
    licence: str | None = None

    def improvement(self, before: float, after: float) -> float:
        """Change in the direction of improvement (positive = better), in the measure's unit."""
        return (before - after) if self.direction == "lower_is_better" else (after - before)


@dataclass(frozen=True, slots=True)
class EdgeType(Entry):
    """An instrument edge geometry (bevel, concave/convex)."""


@dataclass(frozen=True, slots=True)
class Instrument(Entry):
    """An IASTM instrument (make/model or family) with its material and the edge types it may use."""

    family: str = ""
    material: str = "unknown"
    edge_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Stroke(Entry):
    """A stroke type with the tool-to-tissue angle range (degrees) where a source gives one."""

    angle_min: float | None = None
    angle_max: float | None = None


@dataclass(frozen=True, slots=True)
class ProtocolStep(Entry):
    """A step of a session sequence; `sequence` names the protocol, `order` its place in it."""

    sequence: str = ""
    order: int | None = None
