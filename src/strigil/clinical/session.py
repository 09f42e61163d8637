"""A treatment session: warm-up, emollient, ordered dose steps, what followed, measures, adverse responses.

The dose is recorded as structured observations of what was done — no validated IASTM dose-response exists
(domain reference §0), so nothing here implies a "correct" dose. The step fields follow the fully specified
BMC Musculoskelet Disord 2023 protocol table (domain reference §1.5).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from strigil.catalog import load_catalog
from strigil.clinical.checks import (
    EdgeCode,
    InstrumentCode,
    MeasureCode,
    RegionCode,
    SideCode,
    StrokeCode,
    within_measure_range,
)
from strigil.clinical.limits import (
    CODE_CHARS,
    LIST_ITEMS,
    MEASUREMENTS_PER_SESSION,
    NOTE_CHARS,
    REASON_CHARS,
)
from strigil.clinical.vocabulary import (
    AdverseKind,
    ClinicianDecision,
    FibreDirection,
    FollowUpKind,
    Joint,
    Motion,
    PressureCategory,
    Severity,
    Timing,
    Tolerance,
    WarmUpKind,
)

__all__ = [
    "DOSE_STEP_FIELDS",
    "MEASURED_FORCE_FIELDS",
    "AdverseResponse",
    "DoseStep",
    "FollowUp",
    "FollowUpAnswers",
    "MeasuredForce",
    "Measurement",
    "ReactionBetween",
    "Resolution",
    "ScreeningStep",
    "SessionFinding",
    "SessionRecord",
    "WarmUp",
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class WarmUp(_Part):
    """Warm-up before the instrument work (Stow 2011: preferably cardiovascular exercise)."""

    kind: WarmUpKind
    minutes: float = Field(gt=0, le=60)


class MeasuredForce(_Part):
    """The force a device measured during a dose step: a summary of one recording's strokes.

    Made by `strigil force analyse` (and the measured-dose page) from a force-plate or instrumented-tool
    recording: the number of complete strokes, the average over strokes of each stroke's mean and peak
    normal force, and their coefficients of variation across strokes (none with a single stroke).
    """

    recording: str = Field(min_length=1, max_length=200, description="the recording: file name or reference")
    stroke_count: int = Field(ge=1, le=100_000, description="complete strokes found in the recording")
    mean_n: float = Field(gt=0, le=200, description="average of the strokes' mean normal force, newtons")
    peak_n: float = Field(gt=0, le=200, description="average of the strokes' peak normal force, newtons")
    mean_cv_pct: float | None = Field(default=None, ge=0, le=1000, description="CV of strokes' mean force, %")
    peak_cv_pct: float | None = Field(default=None, ge=0, le=1000, description="CV of strokes' peak force, %")

    @model_validator(mode="after")
    def _peak_not_below_mean(self) -> MeasuredForce:
        if self.peak_n < self.mean_n:
            raise ValueError(f"peak_n {self.peak_n:g} N is below mean_n {self.mean_n:g} N; a peak cannot be")
        return self


class DoseStep(_Part):
    """One step of instrument work, in the order performed."""

    region: RegionCode
    side: SideCode
    instrument: InstrumentCode
    edge: EdgeCode | None = Field(default=None, description="edge type used; must be one the instrument has")
    stroke: StrokeCode
    angle_deg: float | None = Field(default=None, ge=0, le=90, description="tool-to-tissue angle, degrees")
    direction: FibreDirection = Field(description="direction relative to the fibres")
    pressure: PressureCategory = Field(description="verbal pressure category")
    force_n: float | None = Field(default=None, gt=0, le=200, description="measured force in newtons, if any")
    duration_s: int = Field(ge=1, le=3600)
    stroke_count: int | None = Field(default=None, ge=1, le=5000)
    patient_position: str | None = Field(default=None, max_length=200)
    active_movement: str | None = Field(default=None, max_length=200, description="movement during the step")
    measured_force: MeasuredForce | None = Field(
        default=None, description="summary of a force recording made during the step, beside force_n"
    )






    @model_validator(mode="after")
    def _edge_fits_instrument(self) -> DoseStep:
        if self.edge is not None:
            edges = load_catalog().instruments[self.instrument].edge_types
            if self.edge not in edges:
                raise ValueError(
                    f"edge {self.edge!r} is not an edge of instrument {self.instrument!r}; "
                    f"allowed: {', '.join(edges)}"
                )
        return self


# What one dose step records as plain values, in the model's order: the one list the store, the demo and the
# web form share. The measured-force summary is a part of its own, stored in the columns named below.
DOSE_STEP_FIELDS: tuple[str, ...] = tuple(f for f in DoseStep.model_fields if f != "measured_force")
MEASURED_FORCE_FIELDS: tuple[str, ...] = tuple(MeasuredForce.model_fields)


class FollowUp(_Part):
    """What followed the instrument work (stretching, strengthening, cryotherapy, taping, other)."""

    kind: FollowUpKind
    detail: str | None = Field(default=None, max_length=500)
    minutes: float | None = Field(default=None, gt=0, le=180)


class Measurement(_Part):
    """An outcome measurement: pre/post the IASTM within the session, or between sessions.

    A range of motion says which joint, motion and side it measured (its error depends on them: the one
    threshold rule, `clinical.response.change_bar`, judges it by joint and motion); a Patient-Specific
    Functional Scale item names the patient's activity. Other measures carry none of these.
    """

    measure: MeasureCode
    value: float
    timing: Timing
    joint: Joint | None = Field(default=None, description="range of motion: the joint measured")
    motion: Motion | None = Field(default=None, description="range of motion: the motion measured")
    side: SideCode | None = Field(default=None, description="range of motion: the side measured")
    activity: str | None = Field(
        default=None, min_length=1, max_length=200, description="PSFS: the activity in the patient's words"
    )

    @model_validator(mode="after")
    def _in_range(self) -> Measurement:
        within_measure_range(self.measure, self.value)
        kind = load_catalog().measures[self.measure].kind
        if kind != "rom" and (self.joint or self.motion or self.side):
            raise ValueError(f"joint, motion and side belong to a range of motion, not to {self.measure}")
        if self.activity is not None and self.measure != "psfs":
            raise ValueError(f"an activity belongs to a PSFS item, not to {self.measure}")
        return self


class AdverseResponse(_Part):
    """An adverse response to IASTM, with its course."""

    kind: AdverseKind
    severity: Severity
    onset_on: dt.date
    resolved_on: dt.date | None = None
    region: RegionCode | None = None
    note: str | None = Field(default=None, max_length=REASON_CHARS)


    @model_validator(mode="after")
    def _resolution_after_onset(self) -> AdverseResponse:
        if self.resolved_on is not None and self.resolved_on < self.onset_on:
            raise ValueError(f"resolved_on {self.resolved_on} is before onset_on {self.onset_on}")
        return self


class SessionFinding(_Part):
    """A screening finding (findings catalogue code) and where it is (omitted: at the treated region)."""

    code: str = Field(
        min_length=1, max_length=CODE_CHARS, description="a findings-catalogue code, e.g. open_wound"
    )
    region: RegionCode | None = None


class ScreeningStep(_Part):
    """The screening at the start of the session: confirm the latest one still holds, or screen anew."""

    no_change: bool = Field(
        default=False, description="the latest screening of the episode still holds (findings unchanged)"
    )
    findings: list[SessionFinding] = Field(
        default_factory=list, max_length=LIST_ITEMS, description="today's findings"
    )
    intolerance: bool = False

    @model_validator(mode="after")
    def _one_or_the_other(self) -> ScreeningStep:
        if self.no_change and (self.findings or self.intolerance):
            raise ValueError(
                "no_change confirms the latest screening; give findings only when screening anew"
            )
        return self


class ReactionBetween(AdverseResponse):
    """A reaction reported at this visit that followed an earlier session (by its number)."""

    session: int = Field(ge=1, description="the number of the session it followed")

    def response(self) -> AdverseResponse:
        """The adverse response itself, to store against the session it followed."""
        return AdverseResponse.model_validate(self.model_dump(exclude={"session"}))


class Resolution(_Part):
    """The answer "it has resolved, on this date" to a question about a recorded adverse response."""

    adverse_id: int = Field(ge=1, description="the adverse response's id (see `strigil episode show`)")
    resolved_on: dt.date


class FollowUpAnswers(_Part):
    """The follow-up questions at the start of a follow-up session: asked, and what the patient reported."""

    asked: bool = Field(description="the follow-up questions were asked")
    reactions: list[ReactionBetween] = Field(
        default_factory=list,
        max_length=LIST_ITEMS,
        description="reactions since an earlier session; none = nothing noticed",
    )
    resolved: list[Resolution] = Field(default_factory=list, max_length=LIST_ITEMS)

    @model_validator(mode="after")
    def _answers_need_asking(self) -> FollowUpAnswers:
        if not self.asked and (self.reactions or self.resolved):
            raise ValueError("reactions or resolutions are answers: set asked to true")
        return self


class SessionRecord(BaseModel):
    """A whole treatment session as one document (`strigil session record FILE.json`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    episode_id: int = Field(ge=1)
    clinician: str = Field(
        min_length=1, max_length=CODE_CHARS, description="code of the clinician who treated"
    )
    date: dt.date
    warm_up: WarmUp | None = None
    emollient: str | None = Field(default=None, max_length=100, description="e.g. lotion, cream; null = none")
    steps: list[DoseStep] = Field(default_factory=list, max_length=LIST_ITEMS)
    followed_by: list[FollowUp] = Field(default_factory=list, max_length=LIST_ITEMS)
    measurements: list[Measurement] = Field(default_factory=list, max_length=MEASUREMENTS_PER_SESSION)
    adverse_responses: list[AdverseResponse] = Field(default_factory=list, max_length=LIST_ITEMS)
    tolerance: Tolerance | None = None
    clinician_decision: ClinicianDecision | None = None
    decision_reason: str | None = Field(default=None, max_length=REASON_CHARS)
    notes: str | None = Field(default=None, max_length=NOTE_CHARS)
    screening: ScreeningStep | None = Field(
        default=None,
        description="the screening at the start of the session; omitted: the episode's latest stored "
        "screening (`strigil screen --episode`) is used",
    )
    follow_up: FollowUpAnswers | None = Field(
        default=None, description="answers to the follow-up questions about earlier sessions"
    )
    override_reason: str | None = Field(
        default=None,
        max_length=REASON_CHARS,
        description="why IASTM goes ahead over a contraindicated screening, or the clinician's decision "
        "overrides 'refer' (at least 3 words and 15 characters)",
    )
    dose_confirmed: bool = Field(
        default=False, description="the dose is intended although it goes beyond the ranges of the sources"
    )
    exercise_delivered: bool | None = Field(
        default=None, description="the exercise programme was delivered in this session (required)"
    )
    exercise_not_delivered_reason: str | None = Field(default=None, max_length=REASON_CHARS)

    @model_validator(mode="after")
    def _consistent(self) -> SessionRecord:
        timed = {m.timing for m in self.measurements}
        if not self.steps and timed & {"pre", "post"}:
            raise ValueError(
                "measurements timed 'pre'/'post' need at least one dose step; use timing 'between' otherwise"
            )
        for i, adverse in enumerate(self.adverse_responses):
            if adverse.onset_on < self.date:
                raise ValueError(
                    f"adverse_responses[{i}].onset_on {adverse.onset_on} is before "
                    f"the session date {self.date}"
                )
        if self.steps and self.tolerance is None:
            raise ValueError(
                "tolerance is required when instrument work was done; allowed: "
                "well_tolerated, tolerated_with_modification, poorly_tolerated, stopped_early"
            )
        return self

    def iastm_seconds(self) -> int:
        """Total duration of instrument work in this session."""
        return sum(s.duration_s for s in self.steps)
