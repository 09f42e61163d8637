"""Patients: add, list, search, show, correct (by amendment)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.clinical.people import Patient
from strigil.services.amendments import keep_previous
from strigil.services.errors import NotFound, from_validation, invalid
from strigil.services.views import EpisodeSummary, PatientView
from strigil.store.mapping import patient_columns
from strigil.store.record import EpisodeRow, PatientRow, SessionRow

__all__ = [
    "PatientOverview",
    "PatientPage",
    "add_patient",
    "amend_patient",
    "codes_of",
    "find_patient",
    "list_patients",
    "overview",
    "patient_ids_by_code",
    "search_patients",
    "show_patient",
]


def _view(db: Session, row: PatientRow, with_episodes: bool) -> PatientView:
    episodes: tuple[EpisodeSummary, ...] = ()
    if with_episodes:
        # Counted per episode of this patient (a correlated count on the unique (episode_id, number) index),
        # not grouped over every session of the database first: that took seconds at a million sessions.
        counts = (
            select(func.count(SessionRow.id))
            .where(SessionRow.episode_id == EpisodeRow.id, SessionRow.voided_at.is_(None))
            .correlate(EpisodeRow)
            .scalar_subquery()
        )
        rows = db.execute(
            select(EpisodeRow, counts)
            .where(EpisodeRow.patient_id == row.id)
            .order_by(EpisodeRow.opened_on, EpisodeRow.id)
        ).all()
        episodes = tuple(
            EpisodeSummary(
                e.id,
                e.condition,
                e.region,
                e.side,
                e.opened_on,
                e.closed_on,
                n or 0,
                e.void_reason,
                public_id=e.public_id,
            )
            for e, n in rows
        )
    return PatientView(
        row.id,
        row.clinic_id,
        row.code,
        row.birth_year,
        row.sex,
        row.version,
        episodes,
        public_id=row.public_id,
    )


def add_patient(db: Session, clinic_id: int, data: dict[str, Any] | Patient) -> PatientView:
    """Register a pseudonymous patient; the code must be new in the clinic."""
    try:
        patient = data if isinstance(data, Patient) else Patient.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    folded = func.lower(PatientRow.code)
    taken = db.scalar(
        select(PatientRow.code).where(PatientRow.clinic_id == clinic_id, folded == patient.code.lower())
    )
    if taken is not None:  # the search ignores case, so codes differing only in case would be confused
        message = f"patient code {taken!r} is already used in this clinic; choose another code"
        raise invalid("code", patient.code, message)
    row = PatientRow(clinic_id=clinic_id, **patient_columns(patient))
    db.add(row)
    db.flush()
    return _view(db, row, with_episodes=False)


def find_patient(db: Session, clinic_id: int, code: str) -> PatientRow:
    """The clinic's patient with `code` (NotFound otherwise, also for other clinics' patients)."""
    row = db.scalar(select(PatientRow).where(PatientRow.clinic_id == clinic_id, PatientRow.code == code))
    if row is None:
        raise NotFound(f"no patient with code {code!r} in this clinic; list them with `strigil patient list`")
    return row


def list_patients(db: Session, clinic_id: int, *, limit: int = 100, offset: int = 0) -> list[PatientView]:
    """The clinic's patients by code, one page at a time."""
    rows = db.scalars(
        select(PatientRow)
        .where(PatientRow.clinic_id == clinic_id)
        .order_by(PatientRow.code)
        .limit(limit)
        .offset(offset)
    )
    return [_view(db, r, with_episodes=False) for r in rows]


def show_patient(db: Session, clinic_id: int, code: str) -> PatientView:
    """One patient with their episodes."""
    return _view(db, find_patient(db, clinic_id, code), with_episodes=True)


def amend_patient(
    db: Session,
    clinic_id: int,
    code: str,
    *,
    birth_year: int | None = None,
    sex: str | None = None,
    by: str,
    reason: str,
) -> PatientView:
    """Correct a patient's year of birth or sex; the earlier version is kept."""
    row = find_patient(db, clinic_id, code)
    try:
        new = Patient(
            code=row.code,
            birth_year=row.birth_year if birth_year is None else birth_year,
            sex=row.sex if sex is None else sex,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise from_validation(exc) from None
    previous = {"code": row.code, "birth_year": row.birth_year, "sex": row.sex}
    keep_previous(db, "patient", row.id, row.version, previous, by=by, reason=reason)
    row.birth_year, row.sex, row.version = new.birth_year, new.sex, row.version + 1
    db.flush()
    return _view(db, row, with_episodes=True)


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


def search_patients(
    db: Session, clinic_id: int, query: str = "", *, page: int = 1, per_page: int = 25
) -> PatientPage:
    """The clinic's patients whose code starts with `query` in any case (p-0 finds P-001), by code, one page
    at a time."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    where = [PatientRow.clinic_id == clinic_id]
    prefix = query.strip().lower()
    if prefix:
        # A range on the (clinic_id, lower(code)) index instead of LIKE, which SQLite cannot serve from an
        # index.
        folded = func.lower(PatientRow.code)
        where += [folded >= prefix, folded < prefix + "\U0010ffff"]
    total = db.scalar(select(func.count(PatientRow.id)).where(*where)) or 0
    rows = db.scalars(
        select(PatientRow)
        .where(*where)
        .order_by(PatientRow.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    views = [
        PatientView(r.id, r.clinic_id, r.code, r.birth_year, r.sex, r.version, public_id=r.public_id)
        for r in rows
    ]
    return PatientPage(views, int(total), page, per_page)


@dataclass(frozen=True)
class PatientOverview:
    """What the patient list shows beside a code: the open episode's condition and the last visit."""

    open_episode_id: int | None
    condition: str | None
    last_visit: dt.date | None
    open_episode_public_id: str | None = None


def overview(db: Session, patient_ids: list[int]) -> dict[int, PatientOverview]:
    """For each patient of a page: the latest open episode (its condition) and the date of the latest session
    of any episode. Two queries over the page's patients (episodes by their patient index, sessions by their
    unique (episode_id, number) index)."""
    if not patient_ids:
        return {}
    episodes = db.execute(
        select(
            EpisodeRow.id,
            EpisodeRow.patient_id,
            EpisodeRow.condition,
            EpisodeRow.closed_on,
            EpisodeRow.public_id,
        )
        .where(EpisodeRow.patient_id.in_(patient_ids))
        .order_by(EpisodeRow.opened_on, EpisodeRow.id)
    ).all()
    owner = {eid: pid for eid, pid, _, _, _ in episodes}
    open_episode: dict[int, tuple[int, str, str]] = {}
    for eid, pid, condition, closed_on, public_id in episodes:
        if closed_on is None:
            open_episode[pid] = (eid, condition, public_id)  # the latest open one wins
    last: dict[int, dt.date] = {}
    if owner:
        for eid, date in db.execute(
            select(SessionRow.episode_id, func.max(SessionRow.date))
            .where(SessionRow.episode_id.in_(list(owner)))
            .group_by(SessionRow.episode_id)
        ).all():
            pid = owner[eid]
            if pid not in last or date > last[pid]:
                last[pid] = date
    return {
        pid: PatientOverview(
            open_episode.get(pid, (None, None, None))[0],
            open_episode.get(pid, (None, None, None))[1],
            last.get(pid),
            open_episode.get(pid, (None, None, None))[2],
        )
        for pid in patient_ids
    }


def patient_ids_by_code(db: Session, clinic_id: int, code: str) -> int | None:
    """The id of the clinic's patient with this code in any case (None if there is none)."""
    folded = func.lower(PatientRow.code)
    return db.scalar(
        select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, folded == code.strip().lower())
    )


def codes_of(db: Session, clinic_id: int, ids: list[int]) -> dict[int, str]:
    """The codes of the clinic's patients with these ids (for pages that list ids, e.g. the audit trail)."""
    if not ids:
        return {}
    mine = (PatientRow.clinic_id == clinic_id) & PatientRow.id.in_(ids)
    rows = db.execute(select(PatientRow.id, PatientRow.code).where(mine)).all()
    return {pid: code for pid, code in rows}
