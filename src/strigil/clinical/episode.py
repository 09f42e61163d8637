"""An episode of care: condition, region and side, target tissue, onset and phase, goals, plan and consent."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from strigil.clinical.checks import ConditionCode, RegionCode, SideCode
from strigil.clinical.phase import DEFAULT_PHASE_CUTOFFS, PhaseCutoffs, TissuePhase, tissue_phase
from strigil.clinical.vocabulary import CoIntervention, Tissue

__all__ = ["Consent", "EpisodePlan"]


class Consent(BaseModel):
    """Informed consent: when, and what was explained (e.g. bruising, petechiae, soreness)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    given_on: dt.date
    explained: list[str] = Field(min_length=1, description="what was explained, e.g. ['bruising']")

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
    goals: list[str] = Field(default_factory=list)
    planned_iastm: bool = True
    planned_co_interventions: list[CoIntervention] = Field(default_factory=list)
    exercise_first_reason: str | None = Field(
        default=None, description="why IASTM is planned without an active exercise component (required then)"
    )
    consent: Consent | None = None




    @model_validator(mode="after")
    def _dates_agree(self) -> EpisodePlan:
        if self.onset_date > self.opened_on:
            raise ValueError(
                f"onset_date {self.onset_date} is after opened_on {self.opened_on}; onset must come first"
            )
        if self.consent is not None and self.consent.given_on > self.opened_on:
            raise ValueError(f"consent.given_on {self.consent.given_on} is after opened_on {self.opened_on}")
        if self.planned_iastm and self.consent is None:
            raise ValueError("consent is required when IASTM is planned (date and what was explained)")
        return self

    def phase(self, on: dt.date | None = None, cutoffs: PhaseCutoffs = DEFAULT_PHASE_CUTOFFS) -> TissuePhase:
        """Tissue phase on `on` (default: the opening date); cut-offs are a configurable heuristic."""
        return tissue_phase(self.onset_date, on or self.opened_on, cutoffs)
