"""Typed, read-only results the services return (the shells render them; no database access here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AdverseView",
    "ClinicView",
    "ClinicianView",
    "DoseStepView",
    "EpisodeSummary",
    "EpisodeView",
    "MeasurementView",
    "PatientView",
    "ScreeningView",
    "SessionView",
]


@dataclass(frozen=True)
class ClinicView:
    """A clinic."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ClinicianView:
    """A clinician (TIDieR item 5)."""

    id: int
    clinic_id: int
    code: str
    name: str
    profession: str
    training: tuple[dict[str, Any], ...]
    years_experience: int


@dataclass(frozen=True)
class EpisodeSummary:
    """One line per episode in a patient's list."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    condition: str
    region: str
    side: str
    opened_on: dt.date
    closed_on: dt.date | None
    sessions: int  # sessions that count (not void)
    void_reason: str | None = None  # set when the episode is void (entered by mistake)


@dataclass(frozen=True)
class PatientView:
    """A pseudonymous patient and their episodes."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    clinic_id: int
    code: str
    birth_year: int
    sex: str
    version: int
    episodes: tuple[EpisodeSummary, ...] = ()


@dataclass(frozen=True)
class DoseStepView:
    """One dose step as recorded."""

    position: int
    region: str
    side: str
    instrument: str
    edge: str | None
    stroke: str
    angle_deg: float | None
    direction: str
    pressure: str
    force_n: float | None
    duration_s: int
    stroke_count: int | None
    patient_position: str | None
    active_movement: str | None
    measured_force: dict[str, Any] | None = None  # clinical.session.MeasuredForce's fields, if measured


@dataclass(frozen=True)
class MeasurementView:
    """An outcome measurement."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    session_id: int | None
    measure: str
    value: float
    timing: str
    taken_on: dt.date
    joint: str | None = None  # range of motion: joint, motion and side measured
    motion: str | None = None
    side: str | None = None
    activity: str | None = None  # PSFS: the activity in the patient's words


@dataclass(frozen=True)
class AdverseView:
    """An adverse response."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    session_id: int | None
    kind: str
    severity: str
    onset_on: dt.date
    resolved_on: dt.date | None
    region: str | None
    note: str | None
    version: int
    resolved_where: str | None = None  # how the resolution became known (seen in clinic, by phone, ...)
    resolution_note: str | None = None


@dataclass(frozen=True)
class SessionView:
    """A treatment session with everything it holds."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    episode_id: int
    number: int
    date: dt.date
    clinician_id: int
    clinician_code: str
    warm_up_kind: str | None
    warm_up_minutes: float | None
    emollient: str | None
    steps: tuple[DoseStepView, ...]
    followed_by: tuple[dict[str, Any], ...]
    measurements: tuple[MeasurementView, ...]
    adverse_responses: tuple[AdverseView, ...]
    tolerance: str | None
    recommendation: dict[str, Any] | None
    clinician_decision: str | None
    decision_reason: str | None
    notes: str | None
    version: int
    screening: dict[str, Any] | None = None  # the screening the session was gated on (a copy)
    override_reason: str | None = None
    dose_confirmed: bool = False
    follow_up_asked: bool | None = None  # None: not recorded
    follow_up_reported: tuple[str, ...] = ()  # what the follow-up answers reported, in words
    exercise_delivered: bool | None = None
    exercise_not_delivered_reason: str | None = None
    signed_at: dt.datetime | None = None
    signed_by: str | None = None  # the clinician's code
    addenda: tuple[dict[str, Any], ...] = ()  # {on, text, by, at}, in the order added
    voided_at: dt.datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None

    @property
    def voided(self) -> bool:
        """Entered by mistake: kept and shown struck through, left out of analyses and recommendations."""
        return self.voided_at is not None

    @property
    def iastm_seconds(self) -> int:
        """Total duration of instrument work in this session."""
        return sum(s.duration_s for s in self.steps)


@dataclass(frozen=True)
class ScreeningView:
    """A screening stored on an episode: findings (code, region), regions screened, verdict and reasons."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    episode_id: int
    screened_on: dt.date
    findings: tuple[dict[str, Any], ...]
    intolerance: bool
    regions: tuple[str, ...]
    verdict: str
    result: dict[str, Any]
    confirms_id: int | None
    recorded_by: str
    recorded_at: dt.datetime

    @property
    def findings_text(self) -> str:
        """The findings in words: each finding's name and where ("no findings" when there are none)."""
        from strigil.clinical.screening import load_findings
        from strigil.clinical.vocabulary import display_name

        named = load_findings().findings

        def words(code: str) -> str:
            return str(named[code].name) if code in named else display_name(code)

        return (
            ", ".join(
                words(f["code"]) + (f" at {display_name(f['region'])}" if f.get("region") else "")
                for f in self.findings
            )
            or "no findings"
        )


@dataclass(frozen=True)
class EpisodeView:
    """An episode of care with its sessions, measurements and adverse responses."""

    id: int
    public_id: str = field(kw_only=True)  # the name outside the server (strigil.services.record_ids)
    clinic_id: int
    patient_id: int
    patient_code: str
    condition: str
    region: str
    side: str
    target_tissue: str
    onset_date: dt.date
    opened_on: dt.date
    closed_on: dt.date | None
    close_reason: str | None
    phase: str
    goals: tuple[str, ...]
    planned_iastm: bool
    planned_co_interventions: tuple[str, ...]
    exercise_first_reason: str | None
    consent_on: dt.date | None
    consent_explained: tuple[str, ...]
    version: int
    sessions: tuple[SessionView, ...] = ()
    measurements: tuple[MeasurementView, ...] = ()
    adverse_responses: tuple[AdverseView, ...] = ()
    clinicians: tuple[ClinicianView, ...] = field(default=())
    latest_screening: ScreeningView | None = None
    consent_note: str | None = None
    discharge_reason: str | None = None  # strigil.clinical.vocabulary.DischargeReason
    referrer: str | None = None
    voided_at: dt.datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None

    @property
    def voided(self) -> bool:
        """Entered by mistake: kept and shown struck through, left out of analyses and exports."""
        return self.voided_at is not None

    @property
    def counted_sessions(self) -> tuple[SessionView, ...]:
        """The sessions that count (not void), in order: what analyses and the decision aid read."""
        return tuple(s for s in self.sessions if not s.voided)
    exercise_prescription: tuple[dict[str, Any], ...] = ()  # the home programme, as the clinician wrote it
