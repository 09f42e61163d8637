"""Rows → views (shared by the record's services)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.phase import tissue_phase
from strigil.services.views import (
    AdverseView,
    ClinicianView,
    DoseStepView,
    EpisodeView,
    MeasurementView,
    ScreeningView,
    SessionView,
)
from strigil.store.mapping import adverse_fields, measurement_fields, step_fields
from strigil.store.record import (
    AdverseResponseRow,
    ClinicianRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    ScreeningRow,
    SessionRow,
)

__all__ = [
    "adverse_view",
    "clinician_view",
    "episode_view",
    "measurement_view",
    "screening_view",
    "step_view",
]


def clinician_view(row: ClinicianRow) -> ClinicianView:
    return ClinicianView(
        row.id, row.clinic_id, row.code, row.name, row.profession, tuple(row.training), row.years_experience
    )


def step_view(row: DoseStepRow) -> DoseStepView:
    return DoseStepView(row.position, **step_fields(row))


def measurement_view(row: MeasurementRow) -> MeasurementView:
    return MeasurementView(
        row.id, row.session_id, public_id=row.public_id, taken_on=row.taken_on, **measurement_fields(row)
    )


def adverse_view(row: AdverseResponseRow) -> AdverseView:
    return AdverseView(
        row.id,
        row.session_id,
        public_id=row.public_id,
        version=row.version,
        resolved_where=row.resolved_where,
        resolution_note=row.resolution_note,
        **adverse_fields(row),
    )


def screening_view(row: ScreeningRow) -> ScreeningView:
    return ScreeningView(
        row.id,
        row.episode_id,
        row.screened_on,
        tuple(row.findings),
        row.intolerance,
        tuple(row.regions),
        row.verdict,
        dict(row.result),
        row.confirms_id,
        row.recorded_by,
        row.recorded_at,
        public_id=row.public_id,
    )


def episode_view(db: Session, episode: EpisodeRow, patient: PatientRow) -> EpisodeView:
    """The whole episode: sessions in order with their steps, measurements and adverse responses."""
    sessions = db.scalars(
        select(SessionRow).where(SessionRow.episode_id == episode.id).order_by(SessionRow.number)
    ).all()
    measurements = db.scalars(
        select(MeasurementRow).where(MeasurementRow.episode_id == episode.id).order_by(MeasurementRow.id)
    ).all()
    adverse = db.scalars(
        select(AdverseResponseRow)
        .where(AdverseResponseRow.episode_id == episode.id)
        .order_by(AdverseResponseRow.id)
    ).all()
    clinician_ids = {s.clinician_id for s in sessions}
    clinicians = (
        {c.id: c for c in db.scalars(select(ClinicianRow).where(ClinicianRow.id.in_(clinician_ids)))}
        if clinician_ids
        else {}
    )
    by_session_m: dict[int | None, list[MeasurementView]] = defaultdict(list)
    for m in measurements:
        by_session_m[m.session_id].append(measurement_view(m))
    by_session_a: dict[int | None, list[AdverseView]] = defaultdict(list)
    for a in adverse:
        by_session_a[a.session_id].append(adverse_view(a))
    session_views = tuple(
        SessionView(
            id=s.id,
            public_id=s.public_id,
            episode_id=s.episode_id,
            number=s.number,
            date=s.date,
            clinician_id=s.clinician_id,
            clinician_code=clinicians[s.clinician_id].code,
            warm_up_kind=s.warm_up_kind,
            warm_up_minutes=s.warm_up_minutes,
            emollient=s.emollient,
            steps=tuple(step_view(st) for st in s.steps),
            followed_by=tuple(s.followed_by),
            measurements=tuple(by_session_m.get(s.id, [])),
            adverse_responses=tuple(by_session_a.get(s.id, [])),
            tolerance=s.tolerance,
            recommendation=s.recommendation,
            clinician_decision=s.clinician_decision,
            decision_reason=s.decision_reason,
            notes=s.notes,
            version=s.version,
            screening=s.screening,
            override_reason=s.override_reason,
            dose_confirmed=bool(s.dose_confirmed),
            follow_up_asked=s.follow_up_asked,
            follow_up_reported=tuple((s.follow_up or {}).get("reported", ())),
            exercise_delivered=s.exercise_delivered,
            exercise_not_delivered_reason=s.exercise_not_delivered_reason,
            signed_at=s.signed_at,
            signed_by=s.signed_by,
            addenda=tuple(s.addenda or ()),
            voided_at=s.voided_at,
            voided_by=s.voided_by,
            void_reason=s.void_reason,
        )
        for s in sessions
    )
    latest = db.scalars(
        select(ScreeningRow)
        .where(ScreeningRow.episode_id == episode.id)
        .order_by(ScreeningRow.id.desc())
        .limit(1)
    ).first()
    return EpisodeView(
        id=episode.id,
        public_id=episode.public_id,
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        patient_code=patient.code,
        condition=episode.condition,
        region=episode.region,
        side=episode.side,
        target_tissue=episode.target_tissue,
        onset_date=episode.onset_date,
        opened_on=episode.opened_on,
        closed_on=episode.closed_on,
        close_reason=episode.close_reason,
        phase=tissue_phase(episode.onset_date, episode.opened_on),
        goals=tuple(episode.goals),
        planned_iastm=episode.planned_iastm,
        planned_co_interventions=tuple(episode.planned_co_interventions),
        exercise_first_reason=episode.exercise_first_reason,
        consent_on=episode.consent_on,
        consent_explained=tuple(episode.consent_explained),
        version=episode.version,
        sessions=session_views,
        measurements=tuple(measurement_view(m) for m in measurements),
        adverse_responses=tuple(adverse_view(a) for a in adverse),
        clinicians=tuple(clinician_view(c) for c in clinicians.values()),
        latest_screening=None if latest is None else screening_view(latest),
        consent_note=episode.consent_note,
        discharge_reason=episode.discharge_reason,
        referrer=episode.referrer,
        voided_at=episode.voided_at,
        voided_by=episode.voided_by,
        void_reason=episode.void_reason,
        exercise_prescription=tuple(episode.exercise_prescription or ()),
    )
