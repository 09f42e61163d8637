"""Discharge and reopen: an episode closes with a coded reason and a discharge summary — the sessions, the
IASTM dose per area, each measure's change against its bar, the adverse responses and their course — printable
as a letter to the referring clinician; reopening asks for a reason and keeps the discharge as it was.

Void sessions are left out of the summary (`EpisodeView.counted_sessions`). Each action writes its audit
event here, so the web page, the API and the command line leave the same trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from strigil.catalog import load_catalog
from strigil.clinical.gates import reason_problem
from strigil.services import audit, record_ids
from strigil.services.amendments import keep_previous
from strigil.services.audit import Actor
from strigil.services.episodes import close_episode, find_episode, show_episode
from strigil.services.errors import Refused, invalid
from strigil.services.progress import MeasureChange, change_over_episode
from strigil.services.views import EpisodeView
from strigil.store.record import ClinicRow

__all__ = [
    "AdverseCourse",
    "AreaDose",
    "DischargeSummary",
    "discharge_episode",
    "discharge_summary",
    "reopen_episode",
]


@dataclass(frozen=True)
class AreaDose:
    """The IASTM dose one body area received over the episode (sessions that count)."""

    region: str
    region_name: str
    side: str
    sessions: int
    steps: int
    seconds: int
    strokes: int | None  # the stroke counts recorded (None when no step recorded one)

    @property
    def minutes(self) -> float:
        """Total instrument time on the area, in minutes."""
        return round(self.seconds / 60, 2)


@dataclass(frozen=True)
class AdverseCourse:
    """An adverse response and its course: onset, resolution (or open at discharge), days."""

    RECORD_KIND: ClassVar[str] = "adverse_response"  # what `id` names (strigil.services.record_ids)
    id: int
    session: int | None
    kind: str
    severity: str
    onset_on: dt.date
    resolved_on: dt.date | None
    days: int | None  # onset to resolution; None while unresolved
    text: str


@dataclass(frozen=True)
class DischargeSummary:
    """An episode's discharge summary (also the body of the letter to the referring clinician)."""

    clinic: str
    episode: EpisodeView
    sessions: int
    first_session_on: dt.date | None
    last_session_on: dt.date | None
    dose: tuple[AreaDose, ...]
    changes: tuple[MeasureChange, ...]
    adverse: tuple[AdverseCourse, ...]
    reason: str | None  # the coded reason (None while the episode is open)
    reason_text: str  # the reason in words
    closed_on: dt.date | None
    referrer: str | None

    def to_json(self, db: Session) -> dict[str, Any]:
        """JSON-ready form (dates as ISO text; the episode without its sessions' details; records named by
        their public ids)."""
        plain = record_ids.outward(db, dataclasses.replace(self, episode=_bare(self.episode)))
        plain["dose"] = [{**d, "minutes": a.minutes} for d, a in zip(plain["dose"], self.dose, strict=True)]
        return json.loads(json.dumps(plain, default=lambda v: v.isoformat()))


def _bare(view: EpisodeView) -> EpisodeView:
    return dataclasses.replace(view, sessions=(), measurements=(), adverse_responses=(), clinicians=())


def discharge_summary(db: Session, clinic_id: int, episode_id: int) -> DischargeSummary:
    """The summary of an episode (open: so far; closed: at discharge)."""
    view = show_episode(db, clinic_id, episode_id)
    catalogue = load_catalog()
    counted = view.counted_sessions
    number_of = {s.id: s.number for s in counted}
    areas: dict[tuple[str, str], dict[str, Any]] = {}
    for s in counted:
        for step in s.steps:
            area = areas.setdefault(
                (step.region, step.side), {"sessions": set(), "steps": 0, "seconds": 0, "strokes": None}
            )
            area["sessions"].add(s.number)
            area["steps"] += 1
            area["seconds"] += step.duration_s
            if step.stroke_count is not None:
                area["strokes"] = (area["strokes"] or 0) + step.stroke_count
    dose = tuple(
        AreaDose(
            region,
            catalogue.regions[region].name if region in catalogue.regions else region,
            side,
            len(a["sessions"]),
            a["steps"],
            a["seconds"],
            a["strokes"],
        )
        for (region, side), a in areas.items()
    )
    adverse = tuple(
        _course(a, number_of.get(a.session_id or -1), view.closed_on)
        for a in view.adverse_responses
        if a.session_id is None or a.session_id in number_of
    )
    clinic = db.get(ClinicRow, clinic_id)
    return DischargeSummary(
        clinic=clinic.name if clinic else "",
        episode=view,
        sessions=len(counted),
        first_session_on=counted[0].date if counted else None,
        last_session_on=counted[-1].date if counted else None,
        dose=dose,
        changes=tuple(change_over_episode(view)),
        adverse=adverse,
        reason=view.discharge_reason,
        reason_text=view.close_reason or "",
        closed_on=view.closed_on,
        referrer=view.referrer,
    )


def _course(a: Any, session: int | None, closed_on: dt.date | None) -> AdverseCourse:
    after = f" after session {session}" if session else ""
    if a.resolved_on is not None:
        days: int | None = (a.resolved_on - a.onset_on).days
        course = f"resolved {a.resolved_on} ({days} day{'' if days == 1 else 's'})"
        if a.resolved_where:
            course += f", {a.resolved_where}"
    else:
        days = None
        course = "not resolved" + (f" at discharge ({closed_on})" if closed_on else " yet")
    return AdverseCourse(
        a.id,
        session,
        a.kind,
        a.severity,
        a.onset_on,
        a.resolved_on,
        days,
        f"{a.severity} {a.kind.replace('_', ' ')}{after}, onset {a.onset_on}; {course}",
    )


def discharge_episode(
    db: Session,
    clinic_id: int,
    episode_id: int,
    *,
    on: dt.date,
    reason: str,
    actor: Actor,
    text: str | None = None,
    referrer: str | None = None,
) -> DischargeSummary:
    """Discharge an episode with a coded reason (`DISCHARGE_REASONS`; "other" with text — words that are no
    code are kept as "other") and return its discharge summary."""
    view = close_episode(db, clinic_id, episode_id, on, reason, text=text, referrer=referrer)
    audit.record(
        db,
        actor,
        "update",
        "episode",
        view.id,
        patient_id=view.patient_id,
        detail=f"discharged: {view.discharge_reason}",
    )
    return discharge_summary(db, clinic_id, episode_id)


def reopen_episode(db: Session, clinic_id: int, episode_id: int, *, reason: str, actor: Actor) -> EpisodeView:
    """Reopen a discharged episode; the discharge is kept as an earlier version with who, when and why."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.voided_at is not None:
        raise Refused(f"episode {episode.public_id} is void ({episode.void_reason}); it cannot be reopened")
    if episode.closed_on is None:
        raise Refused(f"episode {episode.public_id} is open; only a discharged episode is reopened")
    problem = reason_problem(reason, "reason")
    if problem:
        raise invalid("reason", reason, problem.split(": ", 1)[1])
    why = " ".join(reason.split())
    keep_previous(
        db,
        "episode",
        episode.id,
        episode.version,
        {
            "closed_on": episode.closed_on.isoformat(),
            "close_reason": episode.close_reason,
            "discharge_reason": episode.discharge_reason,
        },
        by=actor.username,
        reason=f"reopened: {why}",
    )
    episode.closed_on = episode.close_reason = episode.discharge_reason = None
    episode.version += 1
    db.flush()
    audit.record(db, actor, "update", "episode", episode.id, patient_id=patient.id, detail=f"reopened: {why}")
    return show_episode(db, clinic_id, episode_id)
