"""The clinic's dashboard: today's patients and the alerts that need a look.

Every query is filtered by the asking clinic; another clinic's rows never enter a result or a count. Void
sessions and episodes (entered by mistake) enter none either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session, aliased

from strigil.store.record import AdverseResponseRow, EpisodeRow, PatientRow, ScreeningRow, SessionRow

__all__ = [
    "ATTENTION",
    "Alert",
    "SafetyCounts",
    "TodayRow",
    "clinic_alerts",
    "prior_adverse",
    "safety_counts",
    "today_patients",
]

# Recommendations that need the clinician's attention on the dashboard: the decision aid's worst two.
ATTENTION = ("switch", "refer")


def _in_clinic_unindexed(db: Session, clinic_id: int) -> Any:
    """`patients.clinic_id = :clinic`, written on SQLite so that its planner will not drive the query from it.

    The dashboard's lists are narrow in time (a date or "unresolved" index) but wide in clinic: a clinic
    holds all of its 100,000 patients. SQLite keeps no histograms, so it starts from the clinic index
    (every patient, then every episode, then every session: 0.2 s at a million sessions). An expression
    is not indexable, so it starts from the narrow index instead (6 ms). PostgreSQL plans by statistics
    and must see the plain column: it has none for the expression, guesses it selective, and starts from
    the patients (0.35 s).
    """
    if db.get_bind().dialect.name == "sqlite":
        return (PatientRow.clinic_id + 0) == clinic_id
    return PatientRow.clinic_id == clinic_id


def _of_void_session() -> Any:
    """An adverse response recorded with a void session (entered by mistake: it raises no alert)."""
    void = aliased(SessionRow)
    return exists().where(void.id == AdverseResponseRow.session_id, void.voided_at.is_not(None))


@dataclass(frozen=True)
class TodayRow:
    """A patient seen (or booked) today, with the episode and session."""

    patient_code: str
    episode_id: int
    condition: str
    session_number: int
    region: str = ""
    episode_public_id: str = ""


@dataclass(frozen=True)
class Alert:
    """Something on the dashboard that needs a look: kind, patient, episode and a short text."""

    kind: str  # adverse, recommendation, screening
    patient_code: str
    episode_id: int
    text: str
    severity: str = ""
    adverse_id: int | None = None  # the adverse response an "adverse" alert is about (to resolve it)
    episode_public_id: str = ""  # the names outside the server (strigil.services.record_ids)
    adverse_public_id: str | None = None


def today_patients(db: Session, clinic_id: int, today: dt.date, *, limit: int = 100) -> list[TodayRow]:
    """Patients with a session dated `today` in the clinic's open episodes, each once (with the latest session
    recorded today), the latest recorded first."""
    rows = db.execute(
        select(
            PatientRow.code,
            EpisodeRow.id,
            EpisodeRow.condition,
            SessionRow.number,
            EpisodeRow.region,
            EpisodeRow.public_id,
        )
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            _in_clinic_unindexed(db, clinic_id),
            SessionRow.date == today,
            EpisodeRow.closed_on.is_(None),
            SessionRow.voided_at.is_(None),
            EpisodeRow.voided_at.is_(None),
        )
        # newest first, straight from the date index (its entries are in id order within a day): a busy
        # day's thousands of sessions are not all joined and sorted to show the latest hundred
        .order_by(SessionRow.date, SessionRow.id.desc())
        .limit(limit)
    ).all()
    seen: set[str] = set()
    out = []
    for code, eid, condition, number, region, public_id in rows:  # each patient once, their latest session
        if code not in seen:
            seen.add(code)
            out.append(TodayRow(code, eid, condition, number, region, public_id))
    return out


def clinic_alerts(db: Session, clinic_id: int, *, since: dt.date, limit: int = 50) -> list[Alert]:
    """Unresolved adverse responses; open episodes whose latest session since `since` says switch or refer.

    Both lists are chosen by the database (newest first, at most `limit` each), so the dashboard costs
    the same whether the clinic saw ten sessions this month or ten thousand.
    """
    alerts: list[Alert] = []
    adverse = db.execute(
        select(
            PatientRow.code,
            EpisodeRow.id,
            AdverseResponseRow.kind,
            AdverseResponseRow.severity,
            AdverseResponseRow.onset_on,
            AdverseResponseRow.id,
            EpisodeRow.public_id,
            AdverseResponseRow.public_id,
        )
        .join(EpisodeRow, EpisodeRow.id == AdverseResponseRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            _in_clinic_unindexed(db, clinic_id),
            AdverseResponseRow.resolved_on.is_(None),
            EpisodeRow.closed_on.is_(None),
            EpisodeRow.voided_at.is_(None),
            ~_of_void_session(),
        )
        .order_by(AdverseResponseRow.onset_on.desc())
        .limit(limit)
    ).all()
    for code, eid, kind, severity, onset, aid, episode_public, adverse_public in adverse:
        text = f"{kind.replace('_', ' ')} since {onset}, not resolved"
        alerts.append(Alert("adverse", code, eid, text, severity, aid, episode_public, adverse_public))
    later = aliased(SessionRow)
    newest: list[Any] = []
    # One query per word, each walking the (recommended, date) index newest first and stopping at `limit`:
    # an IN over both words would read every such session of the window and sort them.
    for word in ATTENTION:
        newest += db.execute(
            select(
                SessionRow.date,
                SessionRow.id,
                PatientRow.code,
                EpisodeRow.id,
                SessionRow.recommendation,
                EpisodeRow.public_id,
            )
            .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
            .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
            .where(
                SessionRow.recommended == word,
                SessionRow.date >= since,
                _in_clinic_unindexed(db, clinic_id),
                EpisodeRow.closed_on.is_(None),
                EpisodeRow.voided_at.is_(None),
                SessionRow.voided_at.is_(None),
                # only the episode's latest session counts: a later "continue" clears an earlier "switch"
                ~exists().where(
                    later.episode_id == SessionRow.episode_id,
                    later.number > SessionRow.number,
                    later.voided_at.is_(None),
                ),
            )
            .order_by(SessionRow.date.desc(), SessionRow.id.desc())
            .limit(limit)
        ).all()
    later_screening = aliased(ScreeningRow)
    for code, eid, on, result, episode_public in db.execute(
        select(
            PatientRow.code,
            EpisodeRow.id,
            ScreeningRow.screened_on,
            ScreeningRow.result,
            EpisodeRow.public_id,
        )
        .join(EpisodeRow, EpisodeRow.id == ScreeningRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            ScreeningRow.verdict == "contraindicated",
            ScreeningRow.screened_on >= since,
            _in_clinic_unindexed(db, clinic_id),
            EpisodeRow.closed_on.is_(None),
            EpisodeRow.voided_at.is_(None),
            # only the episode's latest screening counts: a later one that clears it clears the alert
            ~exists().where(
                later_screening.episode_id == ScreeningRow.episode_id, later_screening.id > ScreeningRow.id
            ),
        )
        .order_by(ScreeningRow.screened_on.desc(), ScreeningRow.id.desc())
        .limit(limit)
    ):
        reasons = "; ".join(r.get("name", "") for r in result.get("reasons", [])[:2])
        urgent = " — refer the same day" if result.get("referral") == "urgent" else ""
        text = f"screened {on}: contraindicated ({reasons}){urgent}; decision aid says refer"
        alerts.append(
            Alert("screening", code, eid, text, "contraindicated", episode_public_id=episode_public)
        )
    # While a contraindication stands the decision aid says refer (`services.progress.latest_recommendation`):
    # a session's earlier "switch" for the same episode would contradict the screening's alert.
    contraindicated = {a.episode_id for a in alerts if a.kind == "screening"}
    newest = [r for r in newest if r[3] not in contraindicated]
    newest.sort(key=lambda r: (r[0], r[1]), reverse=True)  # by date, then by id
    for _date, _id, code, eid, rec, episode_public in newest[:limit]:
        reasons = "; ".join(r.get("text", "") for r in rec.get("reasons", [])[:2])
        alerts.append(
            Alert(
                "recommendation",
                code,
                eid,
                f"decision aid says {rec['recommendation']}: {reasons}",
                rec["recommendation"],
                episode_public_id=episode_public,
            )
        )
    return alerts


def prior_adverse(
    db: Session, episode_ids: list[int]
) -> dict[int, list[tuple[str, str, dt.date, dt.date | None]]]:
    """Adverse responses (kind, severity, onset, resolution) of several episodes in one query."""
    out: dict[int, list[tuple[str, str, dt.date, dt.date | None]]] = {e: [] for e in episode_ids}
    if not episode_ids:
        return out
    for eid, kind, severity, onset, resolved in db.execute(
        select(
            AdverseResponseRow.episode_id,
            AdverseResponseRow.kind,
            AdverseResponseRow.severity,
            AdverseResponseRow.onset_on,
            AdverseResponseRow.resolved_on,
        ).where(AdverseResponseRow.episode_id.in_(episode_ids), ~_of_void_session())
    ):
        out[eid].append((kind, severity, onset, resolved))
    return out


@dataclass(frozen=True)
class SafetyCounts:
    """The safety gates over the clinic's sessions since a date: overrides, and follow-up completeness."""

    since: dt.date
    sessions: int
    overrides: int  # sessions recorded with an override reason (over a contraindication or a 'refer')
    follow_up_sessions: int  # sessions after an episode's first
    follow_up_asked: int  # of those, sessions whose follow-up questions were asked and answered

    @property
    def follow_up_completeness(self) -> float | None:
        """Follow-up sessions with the questions answered ÷ follow-up sessions (None without any)."""
        return self.follow_up_asked / self.follow_up_sessions if self.follow_up_sessions else None


def safety_counts(db: Session, clinic_id: int, *, since: dt.date) -> SafetyCounts:
    """Overrides and follow-up completeness of the clinic's sessions dated `since` or later (one query)."""
    follow_up = SessionRow.number > 1
    row = db.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((SessionRow.override_reason.is_not(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((follow_up, 1), else_=0)), 0),
            func.coalesce(func.sum(case((follow_up & SessionRow.follow_up_asked.is_(True), 1), else_=0)), 0),
        )
        .select_from(SessionRow)
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            _in_clinic_unindexed(db, clinic_id),
            SessionRow.date >= since,
            SessionRow.voided_at.is_(None),
            EpisodeRow.voided_at.is_(None),
        )
    ).one()
    return SafetyCounts(since, int(row[0]), int(row[1]), int(row[2]), int(row[3]))
