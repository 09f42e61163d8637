"""The record's closed vocabularies (allowed values of fields that have no catalogue file)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTIVE_COMPONENTS",
    "CONSENT_RISKS",
    "AdverseKind",
    "ClinicianDecision",
    "CoIntervention",
    "ConsentItem",
    "DischargeReason",
    "FibreDirection",
    "FollowUpKind",
    "PressureCategory",
    "Profession",
    "Severity",
    "Sex",
    "Timing",
    "Tissue",
    "Tolerance",
    "WarmUpKind",
    "allowed",
]

Sex = Literal["female", "male", "other", "unknown"]
# TIDieR item 5 "who provided": AT/PT/DC/LMT (domain reference §6).
Profession = Literal["athletic_trainer", "physical_therapist", "chiropractor", "massage_therapist", "other"]
Tissue = Literal["tendon", "fascia", "muscle", "ligament", "nerve", "joint", "scar", "mixed"]
# Direction relative to the fibres (domain reference §1.5, §6 item 4).
FibreDirection = Literal["along", "across", "oblique", "multidirectional"]
# Pressure is a verbal category in practice; force in newtons only in lab studies (domain reference §1.2).
PressureCategory = Literal["light", "moderate", "heavy"]
WarmUpKind = Literal["cardiovascular", "moist_heat", "massage", "active_movement", "other"]
# What followed the instrument treatment (Stow 2011 sequence; taping per Baker & Baker 2017 courses).
FollowUpKind = Literal["stretching", "strengthening", "cryotherapy", "taping", "other"]
# Planned co-interventions of an episode; the active ones count for the exercise-first rule.
CoIntervention = Literal[
    "strengthening",
    "functional_exercise",
    "motor_control",
    "stretching",
    "cryotherapy",
    "taping",
    "education",
    "manual_therapy",
    "other",
]
ACTIVE_COMPONENTS: frozenset[str] = frozenset({"strengthening", "functional_exercise", "motor_control"})
# Measurement timing: before/after the IASTM within a session, or between sessions.
Timing = Literal["pre", "post", "between"]
AdverseKind = Literal[
    "petechiae", "bruising", "soreness", "skin_irritation", "pain_flare", "paresthesia", "other"
]
Severity = Literal["mild", "moderate", "severe"]
Tolerance = Literal["well_tolerated", "tolerated_with_modification", "poorly_tolerated", "stopped_early"]
# What informed consent explained, as choices: the risks (the adverse responses the domain reference §0, §7
# names; consent should mention bruising, redness and discoloration — practitioner source ⚠️, §7), the
# alternatives, the exercise programme IASTM accompanies, and that the evidence is limited.
ConsentItem = Literal[
    "bruising",
    "petechiae",
    "soreness",
    "skin_irritation",
    "pain_flare",
    "numbness_tingling",
    "alternatives",
    "exercise_programme",
    "limited_evidence",
]
CONSENT_RISKS: frozenset[str] = frozenset(
    {"bruising", "petechiae", "soreness", "skin_irritation", "pain_flare", "numbness_tingling"}
)
# The clinician's actual choice after a session (same words as the decision aid's recommendations).
ClinicianDecision = Literal["refer", "switch", "modify", "continue", "progress", "discharge"]
# Why an episode of care ends (a discharge summary's coded reason; "other" needs words).
DischargeReason = Literal[
    "goals_met", "plateau", "referred_on", "patients_choice", "lost_to_follow_up", "other"
]


def allowed(literal: object) -> tuple[str, ...]:
    """The allowed values of one of the Literal vocabularies above."""
    return tuple(str(v) for v in get_args(literal))
