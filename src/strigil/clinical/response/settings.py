"""The response model's clinic settings, and the nearest source of every default no source fixes.

No source gives a numeric stop/switch rule (domain reference §8 gap 5), so every N here is a clinic setting,
labelled "configurable heuristic" wherever it shows while it is left at its default.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strigil.catalog import Catalog, Measure, UnknownCode, load_bibliography, load_catalog
from strigil.clinical.adverse import DEFAULT_COURSES

__all__ = ["NEAREST_SOURCES", "SETTING_NAMES", "ResponseSettings", "require_measure"]

# Defaults that no source fixes, with the nearest sources (cited through the one bibliography).
_cite = load_bibliography().render_field
NEAREST_SOURCES: Mapping[str, str] = {
    "switch_after_sessions": (
        "Patient-response approach: retest after every intervention and move to another tool if nothing "
        "changes (qualitative); clinics claim Graston responders change by treatment 3 or 4; no published "
        "numeric rule. Sources: "
        + _cite(
            "@baker2013; @baker2015; @mytrain (positive response by treatment 3 or 4); "
            "@protouch (relief expected by visit 3 or 4)"
        )
    ),
    "goal_kept_sessions": (
        "Discharged once gains were maintained; no numeric rule. Source: " + _cite("@baker2015 (case report)")
    ),
    "flag_unresolved_without_dates": (
        "Petechiae and bruising resolve in a few days; without dates the elapsed time is unknown, so a "
        "response still open at a later session is treated as beyond its window (conservative). Source: "
        + _cite("@baker2017")
    ),
    "adverse_lookback_sessions": (
        "Strigil's decision rules: every follow-up session asks about the previous session's responses; "
        "an earlier, resolved response stays a precaution in screening (prior_* findings) rather than a "
        "standing referral; no source fixes how long it should steer the recommendation"
    ),
    "population": (
        "MCIDs depend on population, baseline and method: without a clinic population or an episode "
        "condition that the catalogue maps to a studied population, the measure's default MCID is used "
        "(NPRS: 2 points or 30 % of baseline, consensus). Sources: "
        + _cite("@wright2012; @wang2011; @ostelo2008")
    ),
    "within_session_threshold": (
        "A change of 2 or more NPRS points within or between sessions by visit 2 was associated with "
        "outcome: the same bar judges within- and between-session change. Source: " + _cite("@cook2012")
    ),
}

SETTING_NAMES: tuple[str, ...] = (
    "switch_after_sessions",
    "goal_kept_sessions",
    "population",
    "thresholds",
    "adverse_windows_days",
    "flag_unresolved_without_dates",
    "adverse_lookback_sessions",
)


@dataclass(frozen=True)
class ResponseSettings:
    """Clinic-configurable settings of the response model (every N and threshold)."""

    switch_after_sessions: int = 3
    goal_kept_sessions: int = 2
    population: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)  # measure code -> MCID in its units
    adverse_windows_days: Mapping[str, float] = field(default_factory=dict)  # adverse type -> days
    flag_unresolved_without_dates: bool = True
    adverse_lookback_sessions: int = 1  # responses after the latest session or this many before it count
    clinic_set: frozenset[str] = frozenset()  # which settings the clinic chose (the rest are defaults)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ResponseSettings:
        """Settings from a JSON-like mapping; unknown or impossible settings raise ValueError."""
        data = dict(data or {})
        for key in data:
            if key not in SETTING_NAMES:
                near = difflib.get_close_matches(key, SETTING_NAMES, n=2, cutoff=0.5)
                hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
                known = ", ".join(SETTING_NAMES)
                raise ValueError(f"settings.{key}: unknown setting{hint}; allowed: {known}")
        for key in ("switch_after_sessions", "goal_kept_sessions"):
            if key in data and (
                isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 1
            ):
                raise ValueError(f"settings.{key}: {data[key]!r} is not allowed; allowed: a whole number ≥ 1")
        lookback = data.get("adverse_lookback_sessions", 1)
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
            raise ValueError(
                f"settings.adverse_lookback_sessions: {lookback!r} is not allowed; "
                "allowed: a whole number ≥ 0"
            )
        if "population" in data and data["population"] is not None and not str(data["population"]).strip():
            raise ValueError(
                "settings.population: empty text; allowed: words of a catalogue population, "
                "e.g. 'neck', 'low back'"
            )
        if "flag_unresolved_without_dates" in data and not isinstance(
            data["flag_unresolved_without_dates"], bool
        ):
            raise ValueError("settings.flag_unresolved_without_dates: allowed: true or false")
        thresholds = _positive_map(data.get("thresholds", {}), "settings.thresholds", allow_zero=False)
        windows = _positive_map(
            data.get("adverse_windows_days", {}), "settings.adverse_windows_days", allow_zero=True
        )
        catalog = load_catalog()
        for code in thresholds:
            require_measure(catalog, code, f"settings.thresholds.{code}")
        for kind in windows:
            if kind not in DEFAULT_COURSES:
                raise ValueError(
                    f"settings.adverse_windows_days.{kind}: unknown adverse type; "
                    f"allowed: {', '.join(DEFAULT_COURSES)}"
                )
        return cls(
            switch_after_sessions=data.get("switch_after_sessions", 3),
            goal_kept_sessions=data.get("goal_kept_sessions", 2),
            population=data.get("population"),
            thresholds=thresholds,
            adverse_windows_days=windows,
            flag_unresolved_without_dates=data.get("flag_unresolved_without_dates", True),
            adverse_lookback_sessions=lookback,
            clinic_set=frozenset(data),
        )


def require_measure(cat: Catalog, code: str, where: str) -> Measure:
    """The catalogue's measure `code`, or ValueError naming `where` and the closest codes."""
    try:
        entry: Measure = cat.require("measures", code)
        return entry
    except UnknownCode as exc:
        raise ValueError(f"{where}: {exc}") from None


def _positive_map(raw: Any, where: str, *, allow_zero: bool) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: allowed: an object mapping codes to numbers")
    out: dict[str, float] = {}
    for key, value in raw.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and not allow_zero):
            bound = "≥ 0" if allow_zero else "> 0"
            raise ValueError(f"{where}.{key}: {value!r} is not allowed; allowed: a number {bound}")
        out[str(key)] = float(value)
    return out
