"""Lists the web pages need over the clinical record: patient search with paging, today's patients, alerts.

Every query is filtered by the asking clinic; another clinic's rows never enter a result or a count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.services.views import PatientView
from strigil.store.record import AdverseResponseRow, EpisodeRow, PatientRow, SessionRow

__all__ = [
    "Alert",
    "PatientPage",
    "TodayRow",
    "clinic_alerts",
    "patient_overview",
    "prior_adverse",
    "recent_sessions",
    "search_patients",
    "today_patients",
]

# Recommendations that need the clinician's attention on the dashboard (issue 4's worst two).
ATTENTION = ("switch", "refer")


@dataclass(frozen=True)
class PatientPage:
    """One page of a clinic's patients matching a search, with the total for paging."""

    patients: list[PatientView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class TodayRow:
    """A patient seen (or booked) today, with the episode and session."""

    patient_code: str
    episode_id: int
    condition: str
    session_number: int


@dataclass(frozen=True)
class Alert:
    """Something on the dashboard that needs a look: kind, patient, episode and a short text."""

    kind: str  # adverse, recommendation
    patient_code: str
    episode_id: int
    text: str
    severity: str = ""


def search_patients(
    db: Session, clinic_id: int, query: str = "", *, page: int = 1, per_page: int = 25
) -> PatientPage:
    """The clinic's patients whose code starts with `query` (case as typed), by code, one page at a time."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    where = [PatientRow.clinic_id == clinic_id]
    prefix = query.strip()
    if prefix:
        # A range on the (clinic_id, code) index instead of LIKE, which SQLite cannot serve from an index.
        where += [PatientRow.code >= prefix, PatientRow.code < prefix + "\U0010ffff"]
    total = db.scalar(select(func.count(PatientRow.id)).where(*where)) or 0
    rows = db.scalars(
        select(PatientRow)
        .where(*where)
        .order_by(PatientRow.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    views = [PatientView(r.id, r.clinic_id, r.code, r.birth_year, r.sex, r.version) for r in rows]
    return PatientPage(views, int(total), page, per_page)


def recent_sessions(
    db: Session, clinic_id: int, since: dt.date, today: dt.date | None = None
) -> list[tuple[str, int, str, str, int, dt.date, Any]]:
    """Today's and judged sessions dated on or after `since` in the clinic's open episodes (one pass)."""
    today = today or dt.date.today()
    rows = db.execute(
        select(
            PatientRow.code,
            EpisodeRow.id,
            EpisodeRow.condition,
            EpisodeRow.region,
            SessionRow.number,
            SessionRow.date,
            SessionRow.recommendation,
        )
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            PatientRow.clinic_id == clinic_id,
            SessionRow.date >= since,
            # only what the dashboard shows: today's sessions and sessions the decision aid has judged
            (SessionRow.date == today) | SessionRow.recommendation.is_not(None),
            EpisodeRow.closed_on.is_(None),
        )
        .order_by(PatientRow.code, SessionRow.number)
        .limit(20_000)
    ).all()
    return [tuple(r) for r in rows]


def today_patients(
    db: Session,
    clinic_id: int,
    today: dt.date,
    *,
    limit: int = 100,
    recent: list[tuple[Any, ...]] | None = None,
) -> list[TodayRow]:
    """Patients with a session dated `today` in the clinic."""
    rows = recent if recent is not None else recent_sessions(db, clinic_id, today)
    return [TodayRow(code, eid, cond, num) for code, eid, cond, _r, num, date, _ in rows if date == today][
        :limit
    ]


def clinic_alerts(
    db: Session,
    clinic_id: int,
    *,
    since: dt.date,
    limit: int = 50,
    recent: list[tuple[Any, ...]] | None = None,
) -> list[Alert]:
    """Unresolved adverse responses; open episodes whose latest session since `since` says switch or refer."""
    alerts: list[Alert] = []
    adverse = db.execute(
        select(
            PatientRow.code,
            EpisodeRow.id,
            AdverseResponseRow.kind,
            AdverseResponseRow.severity,
            AdverseResponseRow.onset_on,
        )
        .join(EpisodeRow, EpisodeRow.id == AdverseResponseRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            PatientRow.clinic_id == clinic_id,
            AdverseResponseRow.resolved_on.is_(None),
            EpisodeRow.closed_on.is_(None),
        )
        .order_by(AdverseResponseRow.onset_on.desc())
        .limit(limit)
    ).all()
    for code, eid, kind, severity, onset in adverse:
        alerts.append(
            Alert("adverse", code, eid, f"{kind.replace('_', ' ')} since {onset}, not resolved", severity)
        )
    recent = recent if recent is not None else recent_sessions(db, clinic_id, since)
    latest: dict[int, tuple[str, int, Any]] = {}
    for code, eid, _cond, _region, number, _date, rec in recent:
        if eid not in latest or number > latest[eid][1]:
            latest[eid] = (code, number, rec)
    for eid, (code, _number, rec) in latest.items():
        word = (rec or {}).get("recommendation")
        if word in ATTENTION:
            reasons = "; ".join(r.get("text", "") for r in (rec or {}).get("reasons", [])[:2])
            alerts.append(Alert("recommendation", code, eid, f"decision aid says {word}: {reasons}", word))
        if len(alerts) >= 2 * limit:
            break
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
        ).where(AdverseResponseRow.episode_id.in_(episode_ids))
    ):
        out[eid].append((kind, severity, onset, resolved))
    return out


def patient_overview(db: Session, clinic_id: int, code: str) -> PatientView:
    """A patient with their episodes and session counts, counting only this patient's sessions.

    Same result as `patients.show_patient`; its session count aggregates every session of the database
    first, which takes seconds at a million sessions (reported to the record area).
    """
    from strigil.services.patients import find_patient
    from strigil.services.views import EpisodeSummary

    row = find_patient(db, clinic_id, code)
    counts = (
        select(func.count(SessionRow.id))
        .where(SessionRow.episode_id == EpisodeRow.id)
        .correlate(EpisodeRow)
        .scalar_subquery()
    )
    rows = db.execute(
        select(EpisodeRow, counts)
        .where(EpisodeRow.patient_id == row.id)
        .order_by(EpisodeRow.opened_on, EpisodeRow.id)
    ).all()
    episodes = tuple(
        EpisodeSummary(e.id, e.condition, e.region, e.side, e.opened_on, e.closed_on, n or 0) for e, n in rows
    )
    return PatientView(row.id, row.clinic_id, row.code, row.birth_year, row.sex, row.version, episodes)
