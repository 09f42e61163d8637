"""Exchange with other systems, on the database side: read dossiers out of the clinical record, write an
import plan into it.

Reading goes straight to the record's tables in batches of patients (a 10,000-patient clinic streams out
without holding every row at once); rows become domain objects through the store's one mapping
(`strigil.store.mapping`). `write_plan` writes through the record's services, so an import obeys every rule
recording obeys. `write_plan_bulk`, for whole clinics of new patients, checks the same rules that need the
database itself and then inserts rows in bulk through the same mapping (no per-record service calls).
Either runs inside the caller's one unit of work, so a refused record rolls the whole import back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.people import Clinic, Clinician
from strigil.clinical.session import AdverseResponse, Measurement
from strigil.interop.dossier import (
    ClinicDossier,
    DatedMeasurement,
    EpisodeDossier,
    PatientDossier,
    SessionEntry,
)
from strigil.interop.from_fhir import ForeignMeasurement, ImportPlan
from strigil.services.episodes import discharge_reason_of
from strigil.store.mapping import (
    adverse_columns,
    adverse_from,
    clinician_from,
    episode_columns,
    episode_plan_from,
    measurement_columns,
    measurement_from,
    patient_columns,
    patient_from,
    session_columns,
    session_record_from,
    step_columns,
)
from strigil.store.record import (
    AdverseResponseRow,
    ClinicianRow,
    ClinicRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)

__all__ = [
    "BATCH",
    "ImportReport",
    "clinic_code_of",
    "clinic_header",
    "patient_dossiers",
    "patient_id_of",
    "read_clinic",
    "write_plan",
    "write_plan_bulk",
]

BATCH = 500  # patients read per round of queries

def clinic_code_of(db: Session, clinic_id: int) -> str:
    """The code of the clinic with this id."""
    return str(db.scalar(select(ClinicRow.code).where(ClinicRow.id == clinic_id)))


def patient_id_of(db: Session, clinic_id: int, code: str) -> int | None:
    """The id of the clinic's patient with this code (None: unknown here, or another clinic's)."""
    found = db.scalar(select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, PatientRow.code == code))
    return None if found is None else int(found)


def clinic_header(db: Session, clinic_code: str) -> tuple[int, Clinic, tuple[Clinician, ...]]:
    """The clinic's id, the clinic and all its clinicians."""
    row = db.scalar(select(ClinicRow).where(ClinicRow.code == clinic_code))
    if row is None:
        raise LookupError(f"clinic {clinic_code!r} does not exist")
    clinicians = tuple(
        clinician_from(c)
        for c in db.scalars(
            select(ClinicianRow).where(ClinicianRow.clinic_id == row.id).order_by(ClinicianRow.id)
        )
    )
    return row.id, Clinic(code=row.code, name=row.name), clinicians


def patient_dossiers(
    db: Session,
    clinic_id: int,
    *,
    patient_codes: Sequence[str] | None = None,
    episode_ids: Sequence[int] | None = None,
) -> Iterator[PatientDossier]:
    """The clinic's patients (or the named ones, or those of the named episodes) with everything recorded
    that counts: void episodes and sessions (entered by mistake) are left out of the exchange."""
    query = select(PatientRow).where(PatientRow.clinic_id == clinic_id).order_by(PatientRow.id)
    if patient_codes is not None:
        query = query.where(PatientRow.code.in_(patient_codes))
    if episode_ids is not None:
        query = query.where(
            PatientRow.id.in_(select(EpisodeRow.patient_id).where(EpisodeRow.id.in_(episode_ids)))
        )
    clinician_code = {
        cid: ccode
        for cid, ccode in db.execute(
            select(ClinicianRow.id, ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id)
        )
    }
    patients = list(db.scalars(query))
    for start in range(0, len(patients), BATCH):
        batch = patients[start : start + BATCH]
        episode_query = select(EpisodeRow).where(
            EpisodeRow.patient_id.in_([p.id for p in batch]), EpisodeRow.voided_at.is_(None)
        )
        if episode_ids is not None:
            episode_query = episode_query.where(EpisodeRow.id.in_(episode_ids))
        episodes = list(db.scalars(episode_query.order_by(EpisodeRow.id)))
        ids = [e.id for e in episodes]
        sessions: dict[int, list[SessionRow]] = defaultdict(list)
        steps: dict[int, list[DoseStepRow]] = defaultdict(list)
        measurements: dict[int, list[MeasurementRow]] = defaultdict(list)
        adverse: dict[int, list[AdverseResponseRow]] = defaultdict(list)
        session_rows = list(
            db.scalars(
                select(SessionRow)
                .where(SessionRow.episode_id.in_(ids), SessionRow.voided_at.is_(None))
                .order_by(SessionRow.number)
                .execution_options(populate_existing=False)
            )
        )
        for s in session_rows:
            sessions[s.episode_id].append(s)
        session_ids = [s.id for s in session_rows]
        for chunk in range(0, len(session_ids), 5000):
            for st in db.scalars(
                select(DoseStepRow)
                .where(DoseStepRow.session_id.in_(session_ids[chunk : chunk + 5000]))
                .order_by(DoseStepRow.position)
            ):
                steps[st.session_id].append(st)
        for m in db.scalars(
            select(MeasurementRow).where(MeasurementRow.episode_id.in_(ids)).order_by(MeasurementRow.id)
        ):
            measurements[m.episode_id].append(m)
        for a in db.scalars(
            select(AdverseResponseRow)
            .where(AdverseResponseRow.episode_id.in_(ids))
            .order_by(AdverseResponseRow.id)
        ):
            adverse[a.episode_id].append(a)
        episodes_of: dict[int, list[EpisodeDossier]] = defaultdict(list)
        for e in episodes:
            entries = []
            for s in sessions[e.id]:
                record = session_record_from(
                    s,
                    clinician=clinician_code[s.clinician_id],
                    steps=steps[s.id],
                    measurements=[m for m in measurements[e.id] if m.session_id == s.id],
                    adverse=[a for a in adverse[e.id] if a.session_id == s.id],
                )
                entries.append(SessionEntry(s.number, record))
            episodes_of[e.patient_id].append(
                EpisodeDossier(
                    key=str(e.id),
                    plan=episode_plan_from(e),
                    closed_on=e.closed_on,
                    close_reason=e.close_reason,
                    sessions=tuple(entries),
                    measurements=tuple(
                        DatedMeasurement(m.taken_on, measurement_from(m))
                        for m in measurements[e.id]
                        if m.session_id is None
                    ),
                    adverse_responses=tuple(adverse_from(a) for a in adverse[e.id] if a.session_id is None),
                )
            )
        for p in batch:
            yield PatientDossier(
                patient_from(p),
                tuple(episodes_of[p.id]),
            )


def read_clinic(db: Session, clinic_code: str, *, episode_ids: Sequence[int] | None = None) -> ClinicDossier:
    """A whole clinic (or the patients of some episodes, with only those episodes) as one dossier."""
    clinic_id, clinic, clinicians = clinic_header(db, clinic_code)
    patients = tuple(patient_dossiers(db, clinic_id, episode_ids=episode_ids))
    return ClinicDossier(clinic, clinicians, patients)


@dataclass
class ImportReport:
    """What an import wrote, skipped as already present, or could not place."""

    patients_created: int = 0
    episodes_created: int = 0
    sessions_created: int = 0
    measurements_created: int = 0
    adverse_created: int = 0
    clinicians_created: int = 0
    already_present: list[str] = field(default_factory=list)
    not_placed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def _write_episode(
    db: Session, clinic_id: int, patient_code: str, episode: EpisodeDossier, by: str, report: ImportReport
) -> None:
    from strigil.services.episodes import close_episode, open_episode
    from strigil.services.outcomes import add_adverse_response, add_measurement
    from strigil.services.sessions import record_session

    patient_id = db.scalar(
        select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, PatientRow.code == patient_code)
    )
    plan = episode.plan
    same = db.scalar(
        select(EpisodeRow.id).where(
            EpisodeRow.patient_id == patient_id,
            EpisodeRow.condition == plan.condition,
            EpisodeRow.region == plan.region,
            EpisodeRow.side == plan.side,
            EpisodeRow.opened_on == plan.opened_on,
        )
    )
    if same is not None:
        report.already_present.append(
            f"patient {patient_code}: episode {plan.condition} {plan.region} "
            f"{plan.side} opened {plan.opened_on} (episode {same}) — not imported again"
        )
        return
    opened = open_episode(db, clinic_id, patient_code, plan, by=by, at_the_table=False)
    report.episodes_created += 1
    episode_id = opened.id
    today = max([dt.date.today(), *(s.record.date for s in episode.sessions)])
    for entry in episode.sessions:
        record_session(
            db,
            clinic_id,
            entry.record.model_copy(update={"episode_id": episode_id}),
            by=by,
            today=today,
            at_the_table=False,  # another system's history, recorded as it happened
        )
        report.sessions_created += 1
    for dated in episode.measurements:
        m = dated.measurement
        add_measurement(
            db, clinic_id, episode_id, m.measure, m.value, taken_on=dated.taken_on, timing=m.timing
        )
        report.measurements_created += 1
    for response in episode.adverse_responses:
        add_adverse_response(db, clinic_id, episode_id, response.model_dump())
        report.adverse_created += 1
    if episode.closed_on is not None:
        close_episode(
            db, clinic_id, episode_id, episode.closed_on, episode.close_reason or "closed (imported)"
        )


def _place_foreign(
    db: Session, clinic_id: int, foreign: ForeignMeasurement, patient_code: str | None, report: ImportReport
) -> None:
    from strigil.services.outcomes import add_measurement

    codes = [patient_code] if patient_code else list(foreign.patient_identifiers)
    patient = db.scalar(
        select(PatientRow).where(PatientRow.clinic_id == clinic_id, PatientRow.code.in_(codes))
    )
    if patient is None:
        report.not_placed.append(
            f"{foreign.source}: no Strigil patient has any of the codes {codes}; "
            "give --patient CODE to name one"
        )
        return
    episodes = db.scalars(
        select(EpisodeRow)
        .where(
            EpisodeRow.patient_id == patient.id,
            EpisodeRow.opened_on <= foreign.taken_on,
        )
        .order_by(EpisodeRow.opened_on.desc())
    ).all()
    open_then = [e for e in episodes if e.closed_on is None or e.closed_on >= foreign.taken_on]
    if not open_then:
        report.not_placed.append(
            f"{foreign.source}: patient {patient.code} has no episode open on {foreign.taken_on}"
        )
        return
    m = foreign.measurement
    add_measurement(
        db, clinic_id, open_then[0].id, m.measure, m.value, taken_on=foreign.taken_on, timing=m.timing
    )
    report.measurements_created += 1


def write_plan(
    db: Session,
    plan: ImportPlan,
    *,
    by: str = "fhir-import",
    patient_code: str | None = None,
    clinic_code: str | None = None,
) -> ImportReport:
    """Write an import plan through the record's services (the caller owns the transaction).

    Raises ValueError if the plan has errors; service errors (RecordError) propagate so the caller rolls back.
    """
    from strigil.services.clinics import add_clinician, ensure_clinic
    from strigil.services.errors import Refused
    from strigil.services.patients import add_patient

    if plan.errors:
        raise ValueError("; ".join(str(p) for p in plan.errors))
    report = ImportReport()
    for dossier in plan.clinics:
        clinic = ensure_clinic(db, clinic_code or dossier.clinic.code, dossier.clinic.name)
        known = set(db.scalars(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic.id)))
        for clinician in dossier.clinicians:
            if clinician.code not in known:
                add_clinician(db, clinic.id, clinician)
                report.clinicians_created += 1
        for patient_dossier in dossier.patients:
            patient = patient_dossier.patient
            row = db.scalar(
                select(PatientRow).where(PatientRow.clinic_id == clinic.id, PatientRow.code == patient.code)
            )
            if row is None:
                add_patient(db, clinic.id, patient)
                report.patients_created += 1
            elif (row.birth_year, row.sex) != (patient.birth_year, patient.sex):
                raise Refused(
                    f"patient {patient.code}: the bundle says born {patient.birth_year}, {patient.sex}; "
                    f"this clinic has {row.birth_year}, {row.sex} — a different person under the same "
                    "code? Nothing was imported"
                )
            for episode in patient_dossier.episodes:
                _write_episode(db, clinic.id, patient.code, episode, by, report)
    if plan.foreign_measurements:
        if clinic_code is None and len(plan.clinics) != 1:
            raise Refused(
                "measurements from another system need the clinic they belong to: give --clinic CODE"
            )
        code = clinic_code or plan.clinics[0].clinic.code
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == code))
        if clinic_id is None:
            raise Refused(f"clinic {code!r} does not exist")
        for foreign in plan.foreign_measurements:
            _place_foreign(db, clinic_id, foreign, patient_code, report)
    return report


def write_plan_bulk(db: Session, plan: ImportPlan, *, by: str = "fhir-import") -> ImportReport:
    """Write a plan of new patients with bulk inserts, in the caller's one transaction (for whole clinics).

    Every record was validated against the catalogue when the plan was read; here the rules that need the
    database are checked (patients must be new to the clinic, clinicians known, the exercise-first rule,
    session and outcome dates not before their episode), then rows go in with explicit ids. As on record's
    bulk demo path, the decision aid's recommendations are not computed (derived, not recorded facts).
    Measurements from other systems need `write_plan`.
    """
    from sqlalchemy import func, insert, text

    from strigil.services.clinics import add_clinician, ensure_clinic
    from strigil.services.decision_support import exercise_first_problem
    from strigil.services.errors import Refused, invalid

    if plan.errors:
        raise ValueError("; ".join(str(p) for p in plan.errors))
    if plan.foreign_measurements:
        raise Refused("measurements from another system are placed one by one: import without --bulk")
    report = ImportReport()
    tables = (PatientRow, EpisodeRow, SessionRow, DoseStepRow, MeasurementRow, AdverseResponseRow)
    next_id = {t: (db.scalar(select(func.max(t.id))) or 0) + 1 for t in tables}
    rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in tables}
    stamp = dt.datetime.now(dt.UTC)
    for dossier in plan.clinics:
        clinic = ensure_clinic(db, dossier.clinic.code, dossier.clinic.name)
        clinician_ids = dict(
            db.execute(
                select(ClinicianRow.code, ClinicianRow.id).where(ClinicianRow.clinic_id == clinic.id)
            ).all()
        )
        for clinician in dossier.clinicians:
            if clinician.code not in clinician_ids:
                clinician_ids[clinician.code] = add_clinician(db, clinic.id, clinician).id
                report.clinicians_created += 1
        codes = [p.patient.code for p in dossier.patients]
        taken = set()
        for start in range(0, len(codes), 5000):
            taken |= set(
                db.scalars(
                    select(PatientRow.code).where(
                        PatientRow.clinic_id == clinic.id, PatientRow.code.in_(codes[start : start + 5000])
                    )
                )
            )
        if taken:
            raise Refused(
                f"bulk import takes new patients only; already in clinic {clinic.code!r}: "
                f"{', '.join(sorted(taken)[:10])} — import without --bulk to add to them"
            )
        for patient_dossier in dossier.patients:
            patient = patient_dossier.patient
            patient_id = next_id[PatientRow]
            next_id[PatientRow] += 1
            rows[PatientRow].append(
                {
                    "id": patient_id,
                    "clinic_id": clinic.id,
                    **patient_columns(patient),
                    "version": 1,
                    "created_at": stamp,
                }
            )
            report.patients_created += 1
            for episode in patient_dossier.episodes:
                _bulk_episode(
                    episode,
                    patient.code,
                    patient_id,
                    clinician_ids,
                    next_id,
                    rows,
                    stamp,
                    by,
                    exercise_first_problem,
                    invalid,
                )
                report.episodes_created += 1
                report.sessions_created += len(episode.sessions)
                report.measurements_created += len(episode.measurements) + sum(
                    len(s.record.measurements) for s in episode.sessions
                )
                report.adverse_created += len(episode.adverse_responses) + sum(
                    len(s.record.adverse_responses) for s in episode.sessions
                )
    for table in tables:
        for start in range(0, len(rows[table]), 20000):
            db.execute(insert(table), rows[table][start : start + 20000])
        if db.get_bind().dialect.name == "postgresql" and rows[table]:
            # explicit ids: move the id sequence past them so later ordinary inserts do not collide
            name = table.__tablename__
            db.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
    return report


def _bulk_episode(
    episode: EpisodeDossier,
    patient_code: str,
    patient_id: int,
    clinician_ids: dict[str, int],
    next_id: dict[Any, int],
    rows: dict[Any, list[dict[str, Any]]],
    stamp: dt.datetime,
    by: str,
    exercise_first_problem: Any,
    invalid: Any,
) -> None:
    from strigil.services.errors import Refused

    plan = episode.plan
    where = f"patient {patient_code}, episode opened {plan.opened_on}"
    problem = exercise_first_problem(
        plan.planned_iastm, list(plan.planned_co_interventions), plan.exercise_first_reason
    )
    if problem:
        raise Refused(f"{where}: exercise first: {problem}")
    episode_id = next_id[EpisodeRow]
    next_id[EpisodeRow] += 1
    rows[EpisodeRow].append(
        {
            "id": episode_id,
            "patient_id": patient_id,
            **episode_columns(plan),
            "closed_on": episode.closed_on,
            "close_reason": episode.close_reason,
            "discharge_reason": None
            if episode.closed_on is None
            else discharge_reason_of(episode.close_reason or "closed (imported)")[0],
            "version": 1,
            "created_at": stamp,
            "created_by": by,
        }
    )
    if episode.closed_on is not None and episode.closed_on < plan.opened_on:
        raise invalid("closed_on", episode.closed_on.isoformat(), f"{where}: must be on or after opened_on")

    def measurement(m: Measurement, taken_on: dt.date, session_id: int | None) -> None:
        if taken_on < plan.onset_date:
            raise invalid(
                "taken_on", taken_on.isoformat(), f"{where}: must be on or after onset {plan.onset_date}"
            )
        rows[MeasurementRow].append(
            {
                "id": next_id[MeasurementRow],
                "episode_id": episode_id,
                "session_id": session_id,
                **measurement_columns(m, taken_on),
                "version": 1,
            }
        )
        next_id[MeasurementRow] += 1

    def adverse(a: AdverseResponse, session_id: int | None) -> None:
        if a.onset_on < plan.opened_on:
            raise invalid(
                "onset_on", a.onset_on.isoformat(), f"{where}: must be on or after {plan.opened_on}"
            )
        rows[AdverseResponseRow].append(
            {
                "id": next_id[AdverseResponseRow],
                "episode_id": episode_id,
                "session_id": session_id,
                **adverse_columns(a),
                "version": 1,
            }
        )
        next_id[AdverseResponseRow] += 1

    for entry in episode.sessions:
        record = entry.record
        if record.clinician not in clinician_ids:
            raise invalid("clinician", record.clinician, f"{where}: not a clinician of this clinic")
        if record.date < plan.opened_on:
            raise invalid("date", record.date.isoformat(), f"{where}: must be on or after {plan.opened_on}")
        session_id = next_id[SessionRow]
        next_id[SessionRow] += 1
        rows[SessionRow].append(
            {
                "id": session_id,
                "episode_id": episode_id,
                "clinician_id": clinician_ids[record.clinician],
                "number": entry.number,
                **session_columns(record),
                "recommendation": None,
                "version": 1,
                "created_at": stamp,
                "created_by": by,
            }
        )
        for position, step in enumerate(record.steps, start=1):
            rows[DoseStepRow].append(
                {
                    "id": next_id[DoseStepRow],
                    "session_id": session_id,
                    "position": position,
                    **step_columns(step),
                }
            )
            next_id[DoseStepRow] += 1
        for m in record.measurements:
            measurement(m, record.date, session_id)
        for a in record.adverse_responses:
            adverse(a, session_id)
    for dated in episode.measurements:
        measurement(dated.measurement, dated.taken_on, None)
    for a in episode.adverse_responses:
        adverse(a, None)
