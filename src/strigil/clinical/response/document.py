"""The JSON document of `strigil respond`: its input, validated at the edge, and its published output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from strigil.clinical.adverse import AdverseReport
from strigil.clinical.checks import problems_from
from strigil.clinical.limits import (
    CODE_CHARS,
    HISTORY_ITEMS,
    LABEL_CHARS,
    LIST_ITEMS,
    NOTE_CHARS,
    REASON_CHARS,
)
from strigil.clinical.response.changes import Goal, SessionMeasurement
from strigil.clinical.response.rules import Recommendation, StandingContraindication, recommend
from strigil.clinical.response.settings import ResponseSettings

__all__ = [
    "AdverseEntry",
    "BarOut",
    "ContraindicationEntry",
    "GoalEntry",
    "MeasureEntry",
    "MeasureOut",
    "RespondDocument",
    "RespondOutput",
    "SessionDateEntry",
    "ThresholdOut",
    "recommend_document",
    "respond_schema",
]


class MeasureEntry(BaseModel):
    """One outcome value of one session."""

    model_config = ConfigDict(extra="forbid")
    measure: str = Field(
        max_length=CODE_CHARS, description="Measure code (catalogue of measures), e.g. nprs, lefs, rom_deg."
    )
    session: int = Field(ge=1, description="Session number, 1 = first session of the episode.")
    timing: Literal["pre", "post"] = Field(description="Before (pre) or after (post) IASTM in that session.")
    value: float = Field(allow_inf_nan=False, description="The value in the measure's unit.")
    joint: str | None = Field(
        default=None, max_length=CODE_CHARS, description="Range of motion: the joint measured."
    )
    motion: str | None = Field(
        default=None, max_length=CODE_CHARS, description="Range of motion: the motion measured."
    )
    side: str | None = Field(
        default=None, max_length=CODE_CHARS, description="Range of motion: the side measured."
    )
    activity: str | None = Field(
        default=None, max_length=LABEL_CHARS, description="PSFS: the activity this item scores."
    )


class GoalEntry(BaseModel):
    """The goal of the episode: a measure and the value to reach."""

    model_config = ConfigDict(extra="forbid")
    measure: str = Field(max_length=CODE_CHARS)
    target: float = Field(allow_inf_nan=False)


class AdverseEntry(BaseModel):
    """An adverse response after a session."""

    model_config = ConfigDict(extra="forbid")
    session: int = Field(ge=1)
    type: str = Field(
        max_length=CODE_CHARS,
        description="petechiae, bruising, soreness, skin_irritation, pain_flare, paresthesia, other",
    )
    severity: Literal["mild", "moderate", "severe"]
    resolved_days: float | None = Field(
        None, ge=0, description="Days until it resolved; null = not resolved."
    )


class ContraindicationEntry(BaseModel):
    """A contraindication standing at the episode's latest screening (the recommendation is then refer)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=CODE_CHARS, description="Findings-catalogue code, e.g. suspected_dvt.")
    name: str = Field(max_length=LABEL_CHARS, description="The finding in words.")
    source: str = Field(max_length=NOTE_CHARS, description="The finding's source, as the screening cites it.")
    screened_on: dt.date | None = Field(None, description="The date of the screening that found it.")
    urgent: bool = Field(False, description="The screening asks for a same-day referral.")
    detail: str = Field("", max_length=REASON_CHARS, description="Where it was found, in words.")


class SessionDateEntry(BaseModel):
    """The date of a session."""

    model_config = ConfigDict(extra="forbid")
    session: int = Field(ge=1)
    date: dt.date


class RespondDocument(BaseModel):
    """Input of `strigil respond FILE.json`."""

    model_config = ConfigDict(extra="forbid", title="strigil respond input")
    measures: list[MeasureEntry] = Field(max_length=HISTORY_ITEMS)
    goal: GoalEntry | None = None
    adverse_responses: list[AdverseEntry] = Field(default_factory=list, max_length=HISTORY_ITEMS)
    settings: dict[str, Any] | None = Field(
        None,
        description="Clinic settings: switch_after_sessions, goal_kept_sessions, population, "
        "thresholds {measure: change}, adverse_windows_days {type: days}, "
        "flag_unresolved_without_dates, adverse_lookback_sessions.",
    )
    sessions: list[SessionDateEntry] = Field(
        default_factory=list, max_length=HISTORY_ITEMS, description="Optional session dates."
    )
    red_flags: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)]] = Field(
        default_factory=list, max_length=LIST_ITEMS, description="Red flags noted by the clinician."
    )
    condition: str | None = Field(
        None,
        max_length=CODE_CHARS,
        description="The episode's condition code (catalogue of conditions): picks the MCID and MDC of the "
        "population the catalogue maps to it; without it, each measure's default MCID and the largest MDC "
        "listed apply (output: measures[].bar).",
    )
    contraindications: list[ContraindicationEntry] = Field(
        default_factory=list,
        max_length=LIST_ITEMS,
        description="Contraindications standing at the episode's latest screening: any one makes the "
        "recommendation refer, with the finding named and its source (measures may then be empty).",
    )


# ---- the output, published in `strigil schema respond` under $defs.RespondOutput --------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdOut(_Out):
    """An MCID or MDC the bar rule used, with its population and source."""

    kind: str = Field(description="MCID, MDC, MDC90, SDC, SEM, limits of agreement, or clinic setting.")
    value: float | None
    percent: float | None = Field(description="% of the episode's baseline (first pre-test).")
    units: float | None = Field(description="The threshold in the measure's units at this baseline.")
    population: str
    source: str
    basis: str = Field(
        description="Why this entry applies: the condition, the clinic's population, the "
        "default, or the largest listed (a fallback, said so)."
    )
    note: str
    verified: bool


class BarOut(_Out):
    """The bar a change must reach: the larger of the MDC and the MCID (the one threshold rule)."""

    value: float | None = Field(description="The bar in the measure's units (= measures[].mcid).")
    decided_by: Literal["MCID", "MDC", "clinic setting"] | None
    mcid: ThresholdOut | None
    mdc: ThresholdOut | None
    condition: str | None
    notes: list[str]
    rule: str


class MeasureOut(_Out):
    """One measure's changes, judged against its bar."""

    measure: str
    series: str = Field(
        description="The measure, or the measure of one joint, motion and side (range of motion) or one "
        "activity (PSFS): 'rom_deg (knee extension right)'."
    )
    within_change: float | None
    between_change: float | None = Field(description="First pre-test to latest pre-test (a kept gain).")
    mcid: float | None = Field(description="The number used as the bar (MDC or MCID, whichever is larger).")
    meaningful_within: bool
    meaningful_between: bool
    threshold_kind: str | None = Field(description="What set the bar: MCID, MDC or clinic setting.")
    threshold_detail: str | None
    threshold_effective: float | None
    mcid_percent: float | None
    population: str | None = Field(description="Population of the threshold that set the bar.")
    source: str | None = Field(description="Source of the threshold that set the bar.")
    verified: bool | None
    unit: str
    direction: str
    baseline: float
    first_session: int
    latest_pre_session: int
    note: str
    bar: BarOut | None


class RespondOutput(_Out):
    """Output of `strigil respond --json` (every key of earlier versions kept; new ones optional to read)."""

    recommendation: Literal["refer", "switch", "modify", "continue", "progress", "discharge"]
    reasons: list[dict[str, str]]
    measures: list[MeasureOut]
    heuristics: list[dict[str, Any]]
    adverse_responses: list[dict[str, Any]]
    also_noted: list[dict[str, str]]
    latest_session: int
    follow_up_questions: list[dict[str, Any]]
    order: list[str]
    condition: str | None = Field(description="The condition the bars were chosen for.")
    plateau_sessions: int = Field(
        description="Between-session changes in a row, ending with the latest, without a meaningful gain."
    )
    advice: str = Field(
        description="What the recommendation means for the plan: exercise stays the "
        "cornerstone, IASTM an adjunct."
    )
    advice_sources: list[str]


def respond_schema() -> dict[str, Any]:
    """`strigil schema respond`: the input document's JSON Schema, with the output under $defs."""
    schema = RespondDocument.model_json_schema()
    output = RespondOutput.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(output.pop("$defs", {}))
    defs["RespondOutput"] = output
    return schema


def recommend_document(doc: Mapping[str, Any]) -> Recommendation:
    """Validate a `strigil respond` JSON document and run the response model; ValueError names bad fields."""
    try:
        parsed = RespondDocument.model_validate(doc)
    except ValidationError as exc:
        raise ValueError("; ".join(str(p) for p in problems_from(exc))) from None
    dates: dict[int, dt.date] = {}
    for s in parsed.sessions:
        if s.session in dates and dates[s.session] != s.date:
            raise ValueError(f"sessions: session {s.session} has two dates ({dates[s.session]} and {s.date})")
        dates[s.session] = s.date
    adverse = []
    for i, a in enumerate(parsed.adverse_responses):
        try:
            adverse.append(AdverseReport(a.type, a.severity, a.resolved_days, a.session))
        except ValueError as exc:
            raise ValueError(f"adverse_responses[{i}]: {exc}") from None
    return recommend(
        [
            SessionMeasurement(m.measure, m.session, m.timing, m.value, m.joint, m.motion, m.side, m.activity)
            for m in parsed.measures
        ],
        goal=None if parsed.goal is None else Goal(parsed.goal.measure, parsed.goal.target),
        adverse_responses=adverse,
        settings=ResponseSettings.from_mapping(parsed.settings),
        session_dates=dates,
        red_flags=parsed.red_flags,
        condition=parsed.condition,
        contraindications=[
            StandingContraindication(c.code, c.name, c.source, c.screened_on, c.urgent, c.detail)
            for c in parsed.contraindications
        ],
    )
