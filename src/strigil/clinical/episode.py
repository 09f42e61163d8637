"""An episode of care: condition, region and side, target tissue, onset and phase, goals, plan and consent."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from strigil.clinical.checks import ConditionCode, RegionCode, SideCode
from strigil.clinical.limits import LABEL_CHARS, LIST_ITEMS, REASON_CHARS
from strigil.clinical.phase import DEFAULT_PHASE_CUTOFFS, PhaseCutoffs, TissuePhase, tissue_phase
from strigil.clinical.vocabulary import CONSENT_RISKS, CoIntervention, ConsentItem, Tissue, allowed

__all__ = ["Consent", "EpisodePlan", "consent_problem"]


class Consent(BaseModel):
    """Informed consent: when, and what was explained (choices: risks, alternatives, the exercise programme).

    Stored consents of earlier versions may hold free text; a new consent is checked by `consent_problem`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    given_on: dt.date
    explained: list[Annotated[str, StringConstraints(max_length=LABEL_CHARS)]] = Field(
        min_length=1,
        max_length=LIST_ITEMS,
        description="what was explained, as choices: " + ", ".join(allowed(ConsentItem)),
    )
    note: str | None = Field(
        default=None, max_length=REASON_CHARS, description="anything else explained, in words"
    )

    @field_validator("explained")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not i.strip() for i in items):
            raise ValueError("empty item; list what was explained, e.g. 'bruising', 'petechiae'")
        return items


class EpisodePlan(BaseModel):
    """What a clinician records when opening an episode of care."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    condition: ConditionCode
    region: RegionCode
    side: SideCode
    target_tissue: Tissue
    onset_date: dt.date
    opened_on: dt.date
    goals: list[Annotated[str, StringConstraints(max_length=LABEL_CHARS)]] = Field(
        default_factory=list, max_length=LIST_ITEMS
    )
    planned_iastm: bool = True
    planned_co_interventions: list[CoIntervention] = Field(default_factory=list, max_length=LIST_ITEMS)
    exercise_first_reason: str | None = Field(
        default=None,
        max_length=REASON_CHARS,
        description="why IASTM is planned without an active exercise component (required then)",
    )
    consent: Consent | None = None

    @model_validator(mode="after")
    def _dates_agree(self) -> EpisodePlan:
        if self.onset_date > self.opened_on:
            raise ValueError(
                f"onset_date {self.onset_date} is after opened_on {self.opened_on}; onset must come first"
            )
        if self.planned_iastm and self.consent is None:
            raise ValueError("consent is required when IASTM is planned (date and what was explained)")
        return self

    def phase(self, on: dt.date | None = None, cutoffs: PhaseCutoffs = DEFAULT_PHASE_CUTOFFS) -> TissuePhase:
        """Tissue phase on `on` (default: the opening date); cut-offs are a configurable heuristic."""
        return tissue_phase(self.onset_date, on or self.opened_on, cutoffs)


def consent_problem(consent: Consent | None) -> str | None:
    """Why a new consent to IASTM is not informed enough (None when it is).

    It must name its items as choices and cover at least one risk, the alternatives and the exercise
    programme IASTM accompanies: patients deserve transparent information (critical review, domain reference
    §0), IASTM is an adjunct to exercise (Cheatham 2016, §1.8), and consent should mention the bruising and
    discoloration IASTM can cause (practitioner source ⚠️, §7).
    """
    if consent is None:
        return "required when IASTM is planned (date and what was explained)"
    items = allowed(ConsentItem)
    unknown = [e for e in consent.explained if e not in items]
    if unknown:
        return (
            f"{', '.join(repr(u) for u in unknown)} is not a choice; allowed: {', '.join(items)} "
            "(free text goes in consent.note)"
        )
    missing = []
    if not CONSENT_RISKS & set(consent.explained):
        missing.append("a risk (e.g. bruising, petechiae, soreness)")
    missing += [e for e in ("alternatives", "exercise_programme") if e not in consent.explained]
    if missing:
        return f"does not cover {', '.join(missing)}; informed consent to IASTM names them"
    return None
