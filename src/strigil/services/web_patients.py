"""Lists the web pages need over the clinical record: patient search with paging, today's patients, alerts.

Every query is filtered by the asking clinic; another clinic's rows never enter a result or a count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.services.views import PatientView
from strigil.store.record import AdverseResponseRow, EpisodeRow, PatientRow, SessionRow

__all__ = ["Alert", "PatientPage", "TodayRow", "clinic_alerts", "search_patients", "today_patients"]

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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_patients(
    db: Session, clinic_id: int, query: str = "", *, page: int = 1, per_page: int = 25
) -> PatientPage:
    """The clinic's patients whose code starts with `query` (case as typed), by code, one page at a time."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    where = [PatientRow.clinic_id == clinic_id]
    if query.strip():
        where.append(PatientRow.code.like(_escape_like(query.strip()) + "%", escape="\\"))
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


def today_patients(db: Session, clinic_id: int, today: dt.date, *, limit: int = 100) -> list[TodayRow]:
    """Patients with a session dated `today` in the clinic."""
    rows = db.execute(
        select(PatientRow.code, EpisodeRow.id, EpisodeRow.condition, SessionRow.number)
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(PatientRow.clinic_id == clinic_id, SessionRow.date == today)
        .order_by(PatientRow.code)
        .limit(limit)
    ).all()
    return [TodayRow(code, eid, cond, num) for code, eid, cond, num in rows]


def clinic_alerts(db: Session, clinic_id: int, *, since: dt.date, limit: int = 50) -> list[Alert]:
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
    latest = (
        select(SessionRow.episode_id, func.max(SessionRow.number).label("number"))
        .where(SessionRow.date >= since)
        .group_by(SessionRow.episode_id)
        .subquery()
    )
    recent = db.execute(
        select(PatientRow.code, EpisodeRow.id, SessionRow.recommendation)
        .join(latest, (latest.c.episode_id == SessionRow.episode_id) & (latest.c.number == SessionRow.number))
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(PatientRow.clinic_id == clinic_id, EpisodeRow.closed_on.is_(None))
        .limit(5000)
    ).all()
    for code, eid, rec in recent:
        word = (rec or {}).get("recommendation")
        if word in ATTENTION:
            reasons = "; ".join(r.get("text", "") for r in (rec or {}).get("reasons", [])[:2])
            alerts.append(Alert("recommendation", code, eid, f"decision aid says {word}: {reasons}", word))
        if len(alerts) >= 2 * limit:
            break
    return alerts
