"""An episode's progress: each measure's values over the sessions with the bar for a meaningful change,
and the decision aid's latest recommendation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strigil.catalog import load_catalog
from strigil.services.views import EpisodeView

__all__ = [
    "MeasureSeries",
    "Point",
    "latest_recommendation",
    "progress",
]


@dataclass(frozen=True)
class Point:
    """One measurement placed on the chart: session number, timing (pre/post/between) and value."""

    session: int
    timing: str
    value: float


@dataclass(frozen=True)
class MeasureSeries:
    """A measure's values over the sessions, with the threshold that counts as a meaningful change."""

    measure: str
    name: str
    unit: str
    lower_is_better: bool
    low: float
    high: float
    baseline: float | None
    threshold: float | None
    threshold_kind: str  # MCID, MDC, or "" when none is known
    threshold_note: str  # population and source
    points: list[Point] = field(default_factory=list)


def latest_recommendation(view: EpisodeView) -> dict[str, Any] | None:
    """The decision aid's recommendation stored with the latest session (None before any judgement)."""
    for session in reversed(view.sessions):
        if session.recommendation and session.recommendation.get("recommendation"):
            return session.recommendation
    return None


def _threshold_from(rec: dict[str, Any] | None, measure: str) -> tuple[float | None, str, str]:
    for m in (rec or {}).get("measures", []):
        if m.get("measure") == measure and m.get("mcid") is not None:
            note = f"{m.get('population', '')} — {m.get('source', '')}".strip(" —")
            return float(m["mcid"]), str(m.get("threshold_kind") or "MCID"), note
    return None, "", ""


def progress(view: EpisodeView) -> list[MeasureSeries]:
    """Each measure's values over the episode's sessions, with the MCID (or MDC) the decision aid used.

    The threshold is the one in the latest recommendation (population-appropriate); before the
    aid has judged, the catalogue's first threshold for the measure, labelled with its population and source.
    """
    catalogue = load_catalog()
    number_of = {s.id: s.number for s in view.sessions}
    rec = latest_recommendation(view)
    by_measure: dict[str, list[Point]] = {}
    for m in view.measurements:
        if m.session_id is None or m.session_id not in number_of:
            continue
        by_measure.setdefault(m.measure, []).append(Point(number_of[m.session_id], m.timing, m.value))
    out = []
    for code, points in by_measure.items():
        entry = catalogue.measures[code]
        threshold, kind, note = _threshold_from(rec, code)
        if threshold is None:
            first = next((t for t in (*entry.mcids, *entry.mdcs) if t.value is not None), None)
            if first is not None and first.value is not None:
                threshold, kind, note = float(first.value), first.kind, f"{first.population} — {first.source}"
        points.sort(key=lambda p: (p.session, {"pre": 0, "between": 1, "post": 2}.get(p.timing, 3)))
        baseline = next((p.value for p in points if p.timing == "pre"), points[0].value if points else None)
        out.append(
            MeasureSeries(
                measure=code,
                name=entry.name,
                unit=entry.unit,
                lower_is_better=entry.direction == "lower_is_better",
                low=entry.min,
                high=entry.max,
                baseline=baseline,
                threshold=threshold,
                threshold_kind=kind,
                threshold_note=note,
                points=points,
            )
        )
    return out
