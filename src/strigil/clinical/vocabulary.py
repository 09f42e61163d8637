"""The record's closed vocabularies (allowed values of fields that have no catalogue file)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTIVE_COMPONENTS",
    "CONSENT_RISKS",
    "WORDS",
    "AdverseKind",
    "ClinicianDecision",
    "CoIntervention",
    "ConsentItem",
    "DischargeReason",
    "FibreDirection",
    "FollowUpKind",
    "Joint",
    "Motion",
    "PressureCategory",
    "Profession",
    "Severity",
    "Sex",
    "Timing",
    "Tissue",
    "Tolerance",
    "WarmUpKind",
    "allowed",
    "display_name",
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
# What a range-of-motion measurement measured (the error of a goniometric ROM depends on the joint and the
# motion: domain reference §4), said with the side in the record.
Joint = Literal[
    "neck",
    "thoracic_spine",
    "lumbar_spine",
    "shoulder",
    "elbow",
    "wrist",
    "hip",
    "knee",
    "ankle",
    "first_mtp",
]
Motion = Literal[
    "flexion",
    "extension",
    "abduction",
    "adduction",
    "internal_rotation",
    "external_rotation",
    "rotation",
    "side_bending",
    "pronation",
    "supination",
    "radial_deviation",
    "ulnar_deviation",
    "dorsiflexion",
    "plantarflexion",
    "inversion",
    "eversion",
]
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


# How the pages say the codes above (and a few more closed values) in words; anything not listed reads as its
# code with spaces. Catalogue codes (conditions, regions, measures, strokes, instruments, edges) are said by
# their catalogue names (`display_name`).
WORDS: dict[str, str] = {
    # units the measures catalogue abbreviates (a note never says "(degrees) (deg)")
    "deg": "degrees",
    # tolerance and severity
    "well_tolerated": "Well tolerated",
    "tolerated_with_modification": "Tolerated with changes to the dose",
    "poorly_tolerated": "Poorly tolerated",
    "stopped_early": "Stopped early",
    "mild": "Mild",
    "moderate": "Moderate",
    "severe": "Severe",
    # warm-up and what followed
    "cardiovascular": "Cardiovascular exercise",
    "moist_heat": "Moist heat",
    "massage": "Massage",
    "active_movement": "Active movement",
    "stretching": "Stretching",
    "strengthening": "Strengthening",
    "cryotherapy": "Cryotherapy (ice)",
    "taping": "Taping",
    "functional_exercise": "Functional exercise",
    "motor_control": "Motor control exercise",
    "education": "Education",
    "manual_therapy": "Manual therapy",
    "other": "Other",
    # direction and pressure
    "along": "Along the fibres",
    "across": "Across the fibres",
    "oblique": "Oblique to the fibres",
    "multidirectional": "In several directions",
    "light": "Light",
    "heavy": "Heavy",
    # adverse responses and consent
    "petechiae": "Petechiae (pinpoint red spots)",
    "bruising": "Bruising",
    "soreness": "Soreness",
    "skin_irritation": "Skin irritation",
    "pain_flare": "Flare of pain",
    "paresthesia": "Tingling or numbness",
    "numbness_tingling": "Numbness or tingling",
    "alternatives": "The alternatives to IASTM",
    "exercise_programme": "The exercise programme IASTM accompanies",
    "limited_evidence": "That the evidence for IASTM is limited",
    # decisions and recommendations
    "refer": "Refer",
    "switch": "Switch treatment",
    "modify": "Modify the dose",
    "continue": "Continue",
    "progress": "Progress the dose",
    "discharge": "Discharge",
    # screening verdicts
    "clear": "Clear",
    "precautions": "Precautions",
    "contraindicated": "Contraindicated",
    "consult_required": "Consult required",
    # timing, sides
    "pre": "before IASTM",
    "post": "after IASTM",
    "between": "between sessions",
    "left": "Left",
    "right": "Right",
    "bilateral": "Both sides",
    "midline": "Midline",
    # joints and motions of a range of motion
    "thoracic_spine": "Thoracic spine",
    "lumbar_spine": "Lumbar spine",
    "first_mtp": "Big toe (first MTP joint)",
    "flexion": "Flexion",
    "extension": "Extension",
    "abduction": "Abduction",
    "adduction": "Adduction",
    "internal_rotation": "Internal rotation",
    "external_rotation": "External rotation",
    "rotation": "Rotation",
    "side_bending": "Side bending",
    "pronation": "Pronation",
    "supination": "Supination",
    "radial_deviation": "Radial deviation",
    "ulnar_deviation": "Ulnar deviation",
    "dorsiflexion": "Dorsiflexion",
    "plantarflexion": "Plantarflexion",
    "inversion": "Inversion",
    "eversion": "Eversion",
    # sex and tissue
    "female": "Female",
    "male": "Male",
    "unknown": "Unknown",
    "tendon": "Tendon",
    "fascia": "Fascia",
    "muscle": "Muscle",
    "ligament": "Ligament",
    "nerve": "Nerve",
    "joint": "Joint",
    "scar": "Scar",
    "mixed": "Mixed tissues",
}

_CATALOGUES = ("conditions", "regions", "measures", "strokes", "instruments", "edge_types")


def display_name(code: str | None) -> str:
    """A code as the pages say it: its catalogue name, its words above, or the code with spaces."""
    if code is None:
        return ""
    from strigil.catalog import load_catalog

    catalog = load_catalog()
    for kind in _CATALOGUES:
        entry = getattr(catalog, kind).get(code)
        if entry is not None:
            return str(entry.name)
    return WORDS.get(code, code.replace("_", " "))
