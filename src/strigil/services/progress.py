"""An episode's progress: each measure's values over the sessions with the bar for a meaningful change
(the response model's one threshold rule, for the episode's condition), and the decision aid's latest
recommendation. Void sessions are left out of both."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from strigil.catalog import load_catalog
from strigil.clinical.response import change_bar
from strigil.clinical.vocabulary import display_name
from strigil.services.decision_support import (
    recommendation_for,
    respond_history,
    standing_contraindications,
)
from strigil.services.views import EpisodeView

__all__ = [
    "MeasureChange",
    "MeasureSeries",
    "Point",
    "change_over_episode",
    "latest_recommendation",
    "progress",
]


@dataclass(frozen=True)
class Point:
    """One measurement placed on the chart: session number and date, timing (pre/post/between) and value."""

    session: int
    timing: str
    value: float
    date: dt.date | None = None


@dataclass(frozen=True)
class MeasureSeries:
    """A measure's values over the sessions, with the threshold that counts as a meaningful change.

    One series per measure, and for a range of motion per joint, motion and side, for a PSFS per activity
    (`key` tells them apart; `label` says which it is).
    """

    measure: str
    name: str
    unit: str
    lower_is_better: bool
    low: float
    high: float
    baseline: float | None
    threshold: float | None  # the bar at this baseline (`change_bar`), in the measure's unit
    threshold_kind: str  # what sets the bar: MCID, MDC, or "" when none is known
    threshold_note: str  # the bar in words: value, population and source, and the other threshold
    points: list[Point] = field(default_factory=list)
    key: str = ""  # unique within the episode: measure[-joint-motion-side | -activity number]
    label: str = ""  # the series in words: "Range of motion — knee, extension, right"
    goal: str = ""  # the episode's goal in the clinician's words (charts show it beside the band)
    joint: str | None = None  # a range of motion's joint and motion (the bar depends on them)
    motion: str | None = None


def latest_recommendation(view: EpisodeView) -> dict[str, Any] | None:
    """The decision aid's judgement of the episode as its record stands now (None before any judgement).

    Judged again from the sessions that count, with the same rules that judged each session when it was
    recorded: an adverse response resolved since, or a session voided since, stops weighing as the decision
    rules say (`strigil.clinical.response`). Each session keeps the recommendation it was given then.
    While the episode's latest screening holds a contraindication, the judgement is refer (also before any
    session); a later screening that finds none lifts it.
    """
    counted = view.counted_sessions
    screening = view.latest_screening
    standing = (
        [] if screening is None else standing_contraindications(screening.result, screening.screened_on)
    )
    if not standing and not any(s.recommendation and s.recommendation.get("recommendation") for s in counted):
        return None
    number_of = {s.id: s.number for s in counted}
    history = respond_history(
        view.condition,
        {s.number: s.date for s in counted},
        [
            (
                number_of[m.session_id],
                m.measure,
                m.timing,
                m.value,
                {"joint": m.joint, "motion": m.motion, "side": m.side, "activity": m.activity},
            )
            for m in view.measurements
            if m.session_id in number_of
        ],
        [
            (number_of[a.session_id], a.kind, a.severity, a.onset_on, a.resolved_on)
            for a in view.adverse_responses
            if a.session_id in number_of
        ],
        standing,
    )
    judged = recommendation_for(history)
    return judged if judged and judged.get("recommendation") else None


def progress(view: EpisodeView) -> list[MeasureSeries]:
    """Each measure's values over the episode's sessions, with the bar for a meaningful change.

    The bar is `strigil.clinical.response.change_bar` for the episode's condition at the measure's baseline
    (its first pre-test) — for a range of motion with its joint and motion: the same number the decision aid
    judges by. A range of motion is one series per joint, motion and side; a PSFS one per activity.
    """
    catalogue = load_catalog()
    sessions = {s.id: s for s in view.counted_sessions}  # void sessions are left out
    grouped: dict[tuple[str, str | None, str | None, str | None, str | None], list[Point]] = {}
    for m in view.measurements:
        session = sessions.get(m.session_id) if m.session_id is not None else None
        if session is None:
            continue
        what = (m.measure, m.joint, m.motion, m.side, m.activity)
        grouped.setdefault(what, []).append(Point(session.number, m.timing, m.value, session.date))
    out = []
    activities: list[str] = []
    goal = "; ".join(view.goals)
    for (code, joint, motion, side, activity), points in grouped.items():
        entry = catalogue.measures[code]
        points.sort(key=lambda p: (p.session, {"pre": 0, "between": 1, "post": 2}.get(p.timing, 3)))
        baseline = next((p.value for p in points if p.timing == "pre"), points[0].value if points else None)
        bar = change_bar(entry, condition=view.condition, joint=joint, motion=motion, catalog=catalogue)
        at = 0.0 if entry.kind == "global" else (baseline or 0.0)  # a rating of change is itself a change
        by = None if bar is None else bar.deciding(at)
        parts = [display_name(x) for x in (joint, motion, side) if x]
        if activity is not None:
            activities.append(activity)
            parts = [f"“{activity}”"]
        key = "-".join([code, *[x for x in (joint, motion, side) if x]])
        if activity is not None:
            key += f"-{len(activities)}"
        out.append(
            MeasureSeries(
                measure=code,
                name=entry.name,
                unit=entry.unit,
                lower_is_better=entry.direction == "lower_is_better",
                low=entry.min,
                high=entry.max,
                baseline=baseline,
                threshold=None if bar is None else bar.units(at),
                threshold_kind="" if by is None else by.role,
                threshold_note="" if bar is None else bar.describe(at),
                points=points,
                key=key,
                label=entry.name + (" — " + ", ".join(parts) if parts else ""),
                goal=goal,
                joint=joint,
                motion=motion,
            )
        )
    return out


@dataclass(frozen=True)
class MeasureChange:
    """A measure's change over the episode, from its first to its latest value before IASTM (pre-tests and
    between sessions), judged against the bar for a meaningful change (`change_bar`)."""

    measure: str
    name: str
    unit: str
    first: float
    last: float
    first_session: int
    last_session: int
    change: float  # positive = better
    bar: float | None  # the bar in the measure's units (None: no MCID or MDC known)
    bar_note: str
    verdict: str  # "improved", "worse", "within the bar", "not judged"


def change_over_episode(view: EpisodeView) -> list[MeasureChange]:
    """Each measure's change from its first to its latest value before IASTM, against the episode's bar.

    The bar and the judgement are `strigil.clinical.response.change_bar` for the episode's condition (the
    response model's one threshold rule): a change inside the measurement error is never meaningful.
    """
    catalogue = load_catalog()
    out = []
    for series in progress(view):
        kept = [p for p in series.points if p.timing in ("pre", "between")]
        if len(kept) < 2:
            continue
        first, last = kept[0], kept[-1]
        change = (first.value - last.value) if series.lower_is_better else (last.value - first.value)
        entry = catalogue.measures[series.measure]
        bar = change_bar(
            entry, condition=view.condition, joint=series.joint, motion=series.motion, catalog=catalogue
        )
        at = 0.0 if entry.kind == "global" else (series.baseline or 0.0)
        if bar is None or bar.units(at) is None:
            verdict = "not judged"
        elif bar.meaningful(change, at):
            verdict = "improved"
        elif bar.meaningful(-change, at):
            verdict = "worse"
        else:
            verdict = "within the bar"
        out.append(
            MeasureChange(
                series.measure,
                series.label or series.name,
                series.unit,
                first.value,
                last.value,
                first.session,
                last.session,
                round(change, 6),
                series.threshold,
                series.threshold_note or "no MCID or MDC in the catalogue: not judged",
                verdict,
            )
        )
    return out
