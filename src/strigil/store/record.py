"""The clinical record's tables: clinics, clinicians, patients, episodes, sessions and what they hold.

Corrections never overwrite silently: the current row carries a `version`, and every earlier version is kept
as a JSON snapshot in `amendments` with who changed it, when and why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from strigil.store.base import Base
from strigil.store.public_ids import PUBLIC_ID_LENGTH, new_public_id
from strigil.store.types import UTCTimestamp, now_utc

__all__ = [
    "AdverseResponseRow",
    "AmendmentRow",
    "ClinicRow",
    "ClinicTemplateRow",
    "ClinicianRow",
    "DoseStepRow",
    "EpisodeRow",
    "MeasurementRow",
    "PatientIdentifierRow",
    "PatientRow",
    "ScreeningRow",
    "SessionRow",
]


class ClinicRow(Base):
    """A clinic; every patient belongs to one."""

    __tablename__ = "clinics"
    __table_args__ = (Index("ux_clinics_public_id", "public_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the clinic's name outside the server; scopes the identifier systems of its patient and clinician codes
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)


class ClinicianRow(Base):
    """A clinician of a clinic, with profession, IASTM training and experience (TIDieR item 5)."""

    __tablename__ = "clinicians"
    __table_args__ = (
        UniqueConstraint("clinic_id", "code"),
        Index("ux_clinicians_public_id", "public_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the clinician's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    profession: Mapped[str] = mapped_column(String(32))
    training: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    years_experience: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)


class PatientRow(Base):
    """A pseudonymous patient: code, year of birth, sex."""

    __tablename__ = "patients"
    # lower(code) serves the patient search, which ignores case
    __table_args__ = (
        Index("ux_patients_public_id", "public_id", unique=True),
        UniqueConstraint("clinic_id", "code"),
        Index("ix_patients_clinic_lower_code", "clinic_id", func.lower(text("code"))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    code: Mapped[str] = mapped_column(String(32))
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)


class PatientIdentifierRow(Base):
    """A patient's identifier in another system (system and value, e.g. an MRN): how a later import from that
    system finds the same patient. A pair names at most one patient of a clinic."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("clinic_id", "system", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    system: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class EpisodeRow(Base):
    """An episode of care for one condition, region and side."""

    __tablename__ = "episodes"
    __table_args__ = (Index("ux_episodes_public_id", "public_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    condition: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(16))
    target_tissue: Mapped[str] = mapped_column(String(16))
    onset_date: Mapped[dt.date] = mapped_column(Date)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    goals: Mapped[list[str]] = mapped_column(JSON, default=list)
    planned_iastm: Mapped[bool] = mapped_column(Boolean, default=True)
    planned_co_interventions: Mapped[list[str]] = mapped_column(JSON, default=list)
    exercise_first_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    consent_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    consent_explained: Mapped[list[str]] = mapped_column(JSON, default=list)
    consent_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # (columns added by later migrations, in the order the database has them)
    # The discharge: a coded reason (close_reason keeps its words, e.g. what "other" was), and the referring
    # clinician the discharge letter is addressed to.
    discharge_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    referrer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Void: entered by mistake; kept and shown struck through, left out of every analysis and export.
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCTimestamp(), nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the home-exercise programme as the clinician wrote it (clinical.home_exercise; null: none yet)
    exercise_prescription: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # the last write to the episode or its sessions (bulk exports' _since); NULL before it was kept
    changed_at: Mapped[dt.datetime | None] = mapped_column(
        UTCTimestamp(), nullable=True, default=now_utc, onupdate=now_utc
    )


class SessionRow(Base):
    """A treatment session, with the decision aid's recommendation and the clinician's actual decision."""

    __tablename__ = "treatment_sessions"
    # The date index serves the dashboard's "sessions of the last four weeks" without a full scan.
    __table_args__ = (
        Index("ux_treatment_sessions_public_id", "public_id", unique=True),
        UniqueConstraint("episode_id", "number"),
        Index("ix_treatment_sessions_date", "date"),
        Index("ix_treatment_sessions_recommended_date", "recommended", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    warm_up_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    warm_up_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    emollient: Mapped[str | None] = mapped_column(String(100), nullable=True)
    followed_by: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tolerance: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # none_as_null: "no recommendation" is SQL NULL (not JSON null), as the bulk demo path writes it
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    # The recommendation's word (continue … refer) beside the document, so the dashboard finds the
    # sessions that say switch or refer by index instead of reading every recent session's JSON.
    recommended: Mapped[str | None] = mapped_column(String(16), nullable=True)
    clinician_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The safety gates: the screening the session was gated on (a copy, and the stored screening it came
    # from), what an override reason let go ahead, the dose confirmation, the follow-up answers, exercise.
    # the stored screening it was gated on (a plain id, not a key: see migration 0116_safety_gates)
    screening_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    screening: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    dose_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    follow_up: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    follow_up_asked: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    exercise_delivered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    exercise_not_delivered_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # (columns added by later migrations, in the order the database has them)
    # The note's signature (the clinician's code and when), dated addenda added after it, and a void.
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCTimestamp(), nullable=True)
    signed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    addenda: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCTimestamp(), nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    steps: Mapped[list[DoseStepRow]] = relationship(
        order_by="DoseStepRow.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ScreeningRow(Base):
    """A screening stored on an episode: findings with their regions, the regions screened, the verdict,
    its reasons, who screened and when. A session is gated on the episode's latest one."""

    __tablename__ = "screenings"
    # the episode's latest screening; the dashboard's contraindicated screenings of the last weeks
    __table_args__ = (
        Index("ux_screenings_public_id", "public_id", unique=True),
        Index("ix_screenings_episode_id", "episode_id", "id"),
        Index("ix_screenings_verdict_screened_on", "verdict", "screened_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    screened_on: Mapped[dt.date] = mapped_column(Date)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{code, region}]
    intolerance: Mapped[bool] = mapped_column(Boolean, default=False)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    verdict: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the screening as `strigil screen --json` prints it
    confirms_id: Mapped[int | None] = mapped_column(ForeignKey("screenings.id"), nullable=True)  # "no change"
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)
    recorded_by: Mapped[str] = mapped_column(String(64), default="")


class DoseStepRow(Base):
    """One dose step of a session, at its position in the sequence."""

    __tablename__ = "dose_steps"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"))
    position: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(16))
    instrument: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stroke: Mapped[str] = mapped_column(String(32))
    angle_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    direction: Mapped[str] = mapped_column(String(32))
    pressure: Mapped[str] = mapped_column(String(16))
    force_n: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_s: Mapped[int] = mapped_column(Integer)
    stroke_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_position: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active_movement: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The measured-force summary (clinical.session.MeasuredForce), all null when the step has none.
    measured_recording: Mapped[str | None] = mapped_column(String(200), nullable=True)
    measured_stroke_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    measured_mean_n: Mapped[float | None] = mapped_column(Float, nullable=True)
    measured_peak_n: Mapped[float | None] = mapped_column(Float, nullable=True)
    measured_mean_cv_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    measured_peak_cv_pct: Mapped[float | None] = mapped_column(Float, nullable=True)


class MeasurementRow(Base):
    """An outcome measurement of an episode, within a session (pre/post) or between sessions."""

    __tablename__ = "measurements"
    __table_args__ = (
        Index("ux_measurements_public_id", "public_id", unique=True),
        Index("ix_measurements_episode_id", "episode_id"),
        Index("ix_measurements_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), nullable=True)
    measure: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    timing: Mapped[str] = mapped_column(String(8))
    taken_on: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # what was measured, where the measure needs it: a range of motion's joint, motion and side; a PSFS
    # item's activity in the patient's words (null otherwise)
    joint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    motion: Mapped[str | None] = mapped_column(String(32), nullable=True)
    side: Mapped[str | None] = mapped_column(String(16), nullable=True)
    activity: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # when it was written or last corrected (bulk exports' _since); NULL before it was kept
    recorded_at: Mapped[dt.datetime | None] = mapped_column(
        UTCTimestamp(), nullable=True, default=now_utc, onupdate=now_utc
    )
    # the record of another system it was imported from (its identifier or address): imported once only
    source: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)


class AdverseResponseRow(Base):
    """An adverse response (petechiae, bruising, soreness, ...) with severity, onset and resolution."""

    __tablename__ = "adverse_responses"
    __table_args__ = (
        Index("ux_adverse_responses_public_id", "public_id", unique=True),
        Index("ix_adverse_responses_episode_id", "episode_id"),
        # The dashboard's newest unresolved responses, read in onset order without scanning the resolved.
        Index(
            "ix_adverse_responses_unresolved_onset",
            "onset_on",
            sqlite_where=text("resolved_on IS NULL"),
            postgresql_where=text("resolved_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the record's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    onset_on: Mapped[dt.date] = mapped_column(Date)
    resolved_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    region: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # how the resolution became known (seen in clinic, reported by phone, ...) and a note on it
    resolved_where: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # when it was written or last corrected (bulk exports' _since); NULL before it was kept
    recorded_at: Mapped[dt.datetime | None] = mapped_column(
        UTCTimestamp(), nullable=True, default=now_utc, onupdate=now_utc
    )


class AmendmentRow(Base):
    """An earlier version of a record, kept when it was corrected: what it was, who changed it, when, why."""

    __tablename__ = "amendments"
    __table_args__ = (Index("ix_amendments_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    amended_by: Mapped[str] = mapped_column(String(64))
    amended_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)
    reason: Mapped[str] = mapped_column(Text)


class ClinicTemplateRow(Base):
    """A clinic's own session template: dose steps as a draft for the session form (not an evidence-based
    dose; the two sourced templates live in the catalogue)."""

    __tablename__ = "clinic_templates"
    __table_args__ = (
        UniqueConstraint("clinic_id", "name"),
        Index("ux_clinic_templates_public_id", "public_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the template's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    name: Mapped[str] = mapped_column(String(120))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCTimestamp(), default=now_utc)
