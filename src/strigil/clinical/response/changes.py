"""Measure changes: within a session (pre → post IASTM) and between sessions (pre-test to pre-test).

A gain counts between sessions, from one session's pre-test to a later one's: relief right after the
instrument work that is gone by the next session is not a kept gain (Baker RT, Hansberger BL, Warren L,
Nasypany A. IJSPT 2015;10(5):723 — add IASTM only if it produces *maintained* improvement; domain
reference §5).
Every change is judged against the one bar of `strigil.clinical.response.thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from strigil.catalog import Catalog, Measure
from strigil.clinical.response.settings import ResponseSettings, require_measure
from strigil.clinical.response.thresholds import ChangeBar, change_bar

__all__ = [
    "Goal",
    "MeasureResponse",
    "MeasureTable",
    "SessionMeasurement",
    "measure_response",
    "measure_table",
    "plateau_sessions",
    "relief_not_kept",
]

# measure code -> {(session, timing): value}
MeasureTable = dict[str, dict[tuple[int, str], float]]


@dataclass(frozen=True, slots=True)
class SessionMeasurement:
    """One outcome value: measure code, session number (1, 2, …), before or after IASTM, value."""

    measure: str
    session: int
    timing: Literal["pre", "post"]
    value: float
    joint: str | None = None  # a range of motion's joint, motion and side (its error depends on them)
    motion: str | None = None
    side: str | None = None
    activity: str | None = None  # a PSFS item's activity

    @property
    def series(self) -> str:
        """What this value is one of: the measure, or the measure of one joint, motion and side (a range of
        motion) or one activity (a PSFS item): "rom_deg (knee extension right)"."""
        words = [w for w in (self.joint, self.motion, self.side, self.activity) if w]
        return f"{self.measure} ({' '.join(words)})" if words else self.measure


@dataclass(frozen=True, slots=True)
class Goal:
    """The episode's goal: a measure and the value to reach (direction from the catalogue)."""

    measure: str
    target: float


@dataclass(frozen=True, slots=True)
class MeasureResponse:
    """Within- and between-session change of one measure, judged against its bar."""

    measure: str
    unit: str
    direction: str
    within_change: float | None
    between_change: float | None
    bar: ChangeBar | None
    baseline: float
    meaningful_within: bool
    meaningful_between: bool
    worse_within: bool
    worse_between: bool
    first_session: int
    latest_pre_session: int
    global_rating: bool = False
    note: str = ""
    series: str = ""  # the measure of one joint and motion, or one activity ("" = the measure itself)

    @property
    def key(self) -> str:
        """The series this response judges (its row of the measure table)."""
        return self.series or self.measure

    @property
    def mcid(self) -> float | None:
        """The bar as a number in the measure's units (the contract's `mcid`: the number used as the bar)."""
        return None if self.bar is None else _r(self.bar.units(self.baseline))

    @property
    def threshold_kind(self) -> str | None:
        """What sets the bar: MCID, MDC or clinic setting."""
        by = None if self.bar is None else self.bar.deciding(self.baseline)
        return None if by is None else by.role

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the contract's keys first; `bar` says which thresholds, populations, sources)."""
        by = None if self.bar is None else self.bar.deciding(self.baseline)
        mcid = None if self.bar is None else self.bar.mcid
        notes = [self.note, *(() if self.bar is None else self.bar.notes), "" if by is None else by.note]
        return {
            "measure": self.measure,
            "series": self.key,
            "within_change": _r(self.within_change),
            "between_change": _r(self.between_change),
            "mcid": self.mcid,
            "meaningful_within": self.meaningful_within,
            "meaningful_between": self.meaningful_between,
            "threshold_kind": None if by is None else by.role,
            "threshold_detail": None if by is None else (by.kind if by.role == "MDC" else by.note or by.kind),
            "threshold_effective": self.mcid,
            "mcid_percent": None if mcid is None else mcid.percent,
            "population": None if by is None else by.population,
            "source": None if by is None else by.source,
            "verified": None if by is None else by.verified,
            "unit": self.unit,
            "direction": self.direction,
            "baseline": self.baseline,
            "first_session": self.first_session,
            "latest_pre_session": self.latest_pre_session,
            "note": "; ".join(dict.fromkeys(n for n in notes if n)),
            "bar": None if self.bar is None else self.bar.to_json(self.baseline),
        }


def measure_table(measures: Sequence[SessionMeasurement], cat: Catalog) -> MeasureTable:
    """The measurements by measure, session and timing; ValueError names impossible or contradictory input."""
    if not measures:
        raise ValueError("measures: empty; allowed: at least one {measure, session, timing, value}")
    table: MeasureTable = {}
    for i, m in enumerate(measures):
        where = f"measures[{i}]"
        entry = require_measure(cat, m.measure, f"{where}.measure")
        if isinstance(m.session, bool) or not isinstance(m.session, int) or m.session < 1:
            raise ValueError(f"{where}.session: {m.session!r} is impossible; allowed: 1, 2, 3, …")
        if m.timing not in ("pre", "post"):
            raise ValueError(f"{where}.timing: {m.timing!r} is not allowed; allowed: pre, post")
        if not math.isfinite(m.value) or not entry.min <= m.value <= entry.max:
            raise ValueError(
                f"{where}.value: {m.value!r} is impossible for {entry.code}; allowed: "
                f"{entry.min:g} to {entry.max:g} {entry.unit}"
            )
        values = table.setdefault(m.series, {})
        key = (m.session, m.timing)
        if key in values and values[key] != m.value:
            raise ValueError(
                f"{where}: {m.series} has two {m.timing} values for session {m.session} "
                f"({values[key]:g} and {m.value:g}); allowed: one value per measure, session "
                "and timing"
            )
        values[key] = m.value
    for code, values in table.items():
        if not any(t == "pre" for _, t in values):
            raise ValueError(
                f"measures: {code} has no 'pre' value; changes are counted from the pre-test "
                "(before IASTM), so every measure needs at least one"
            )
    return table


def measure_response(
    m: Measure,
    values: Mapping[tuple[int, str], float],
    latest: int,
    cfg: ResponseSettings,
    condition: str | None = None,
    catalog: Catalog | None = None,
    *,
    joint: str | None = None,
    motion: str | None = None,
    series: str = "",
) -> MeasureResponse:
    """The within-session change of the latest session and the change since the first pre-test, judged
    (a range of motion by the error of its joint and motion)."""
    pres = sorted(s for s, t in values if t == "pre")
    first, last = pres[0], pres[-1]
    baseline = values[(first, "pre")]
    bar = change_bar(
        m,
        condition=condition,
        population=cfg.population,
        clinic_value=cfg.thresholds.get(m.code),
        joint=joint,
        motion=motion,
        catalog=catalog,
    )
    note = ""
    if m.kind == "global":
        # A global rating of change is itself a change since the episode began (Kamper 2009, §4).
        within = None
        rated = max(values)
        between: float | None = values[rated] if m.direction == "higher_is_better" else -values[rated]
        baseline, note = 0.0, "global rating of change: between_change is the latest rating itself"
    else:
        within = (
            m.improvement(values[(latest, "pre")], values[(latest, "post")])
            if (latest, "pre") in values and (latest, "post") in values
            else None
        )
        between = m.improvement(baseline, values[(last, "pre")]) if last != first else None
    if bar is None:
        note = f"{m.code} has no MCID or MDC in the catalogue: not judged (set settings.thresholds.{m.code})"

    def reaches(change: float | None) -> bool:
        return bar is not None and bar.meaningful(change, baseline)

    return MeasureResponse(
        measure=m.code,
        unit=m.unit,
        direction=m.direction,
        within_change=within,
        between_change=between,
        bar=bar,
        baseline=baseline,
        meaningful_within=reaches(within),
        meaningful_between=reaches(between),
        worse_within=reaches(None if within is None else -within),
        worse_between=reaches(None if between is None else -between),
        first_session=first,
        latest_pre_session=last,
        global_rating=m.kind == "global",
        note=note,
        series="" if series == m.code else series,
    )


def _session_changes(
    table: MeasureTable, cat: Catalog, judged: Sequence[MeasureResponse]
) -> tuple[list[int], list[MeasureResponse]]:
    """The sessions with a pre-test of a judged session measure (global ratings are not session changes)."""
    session_measures = [r for r in judged if not r.global_rating and r.bar is not None]
    sessions = sorted({s for r in session_measures for s, t in table[r.key] if t == "pre"})
    return sessions, session_measures


def plateau_sessions(table: MeasureTable, cat: Catalog, judged: Sequence[MeasureResponse]) -> tuple[int, int]:
    """Between-session changes in a row, ending with the latest pre-test, with no meaningful gain.

    For c = 1, 2, …: is some measure's latest pre-test meaningfully better than its pre-test c sessions
    earlier? The count is the largest c for which the answer is "no" for every window up to c. Comparing
    windows (not a running best) keeps the rule monotone: a better later value can only shorten a plateau.
    Returns the count and how many between-session changes there are at all.
    """
    sessions, measures = _session_changes(table, cat, judged)
    count = 0
    for c in range(1, len(sessions)):
        latest, earlier = sessions[-1], sessions[-1 - c]
        gained = False
        for r in measures:
            values = table[r.key]
            if (latest, "pre") in values and (earlier, "pre") in values:
                m = cat.measures[r.measure]
                change = m.improvement(values[(earlier, "pre")], values[(latest, "pre")])
                gained = gained or bool(r.bar and r.bar.meaningful(change, r.baseline))
        if gained:
            break
        count += 1
    return count, max(len(sessions) - 1, 0)


def relief_not_kept(
    table: MeasureTable, cat: Catalog, judged: Sequence[MeasureResponse], plateau: int
) -> list[tuple[str, int, float, int, float]]:
    """Within-session relief in the plateau that the next session's pre-test did not keep.

    One (measure, session, relief, next session, change to the next pre-test) per case, for the reasons.
    """
    sessions, measures = _session_changes(table, cat, judged)
    out = []
    for s, nxt in zip(sessions[-1 - plateau : -1], sessions[-plateau:], strict=False) if plateau else ():
        for r in measures:
            v = table[r.key]
            if not all(k in v for k in ((s, "pre"), (s, "post"), (nxt, "pre"))):
                continue
            m = cat.measures[r.measure]
            relief = m.improvement(v[(s, "pre")], v[(s, "post")])
            kept = m.improvement(v[(s, "pre")], v[(nxt, "pre")])
            bar, base = r.bar, r.baseline
            if bar is not None and bar.meaningful(relief, base) and not bar.meaningful(kept, base):
                out.append((r.key, s, relief, nxt, kept))
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 9)
