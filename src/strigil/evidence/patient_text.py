"""The fixed words of the patient summaries: plain names, certainty in words, and the sentences every summary
shares (what IASTM is, why people feel better whatever the treatment, what to report, questions to ask).

Written for a reading grade of 8 or below, without statistical abbreviations; every sentence that states a
finding names its sources (library study ids). Advice that no source gives (when to report a bruise) is
Strigil's own, and the day count it uses is a configurable heuristic, said so on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CERTAINTY_WORDS",
    "EXERCISE",
    "EXPECTATIONS",
    "HEDGES",
    "OUTCOME_WORDS",
    "PLAIN_NAMES",
    "QUESTIONS",
    "UNKNOWNS",
    "WHAT_IS",
    "WHY_BETTER",
    "Sentence",
    "report_advice",
]


@dataclass(frozen=True)
class Sentence:
    """One or two sentences of patient text; a finding names its sources and the certainty it commits to."""

    text: str
    sources: tuple[str, ...] = ()
    finding: bool = False
    certainty: str | None = None


# The words a finding must contain at each certainty (at least one of them): the GRADE Working Group's
# informative statements (high "leads to", moderate "probably", low "may", very low "very unsure").
HEDGES: Mapping[str, tuple[str, ...]] = {
    "high": (),
    "moderate": ("probably",),
    "low": ("may ", "might "),
    "very low": ("very unsure", "do not rely"),
}

# GRADE certainty in words, for "How sure are we?" (the level's own name stays, in brackets).
CERTAINTY_WORDS: Mapping[str, str] = {
    "high": "Very sure (high certainty).",
    "moderate": "Fairly sure (moderate certainty). The real effect is probably close to this.",
    "low": "Not very sure (low certainty). The real effect may be quite different.",
    "very low": "Very unsure (very low certainty). The real effect may be very different.",
}

PLAIN_NAMES: Mapping[str, str] = {
    "lateral_elbow_tendinopathy": "tennis elbow",
    "carpal_tunnel_syndrome": "carpal tunnel syndrome",
    "plantar_heel_pain": "heel pain (plantar fasciitis)",
    "chronic_ankle_instability": "an ankle that keeps giving way",
    "thoracic_spine_pain": "upper back pain",
    "chronic_low_back_pain": "long-term low back pain",
    "neck_pain": "neck pain",
    "myofascial_trigger_points": "tight, tender knots in a muscle",
    "cervicogenic_headache": "headache that comes from the neck",
    "posterior_shoulder_tightness": "a tight back of the shoulder",
    "adhesive_capsulitis": "frozen shoulder",
    "hamstring_tightness": "tight hamstrings",
    "tfl_shortness": "a tight muscle at the side of the hip",
    "knee_osteoarthritis": "knee arthritis",
    "patellofemoral_pain": "pain at the front of the knee",
    "patellar_tendinopathy": "jumper's knee",
    "lower_extremity_injury": "a leg injury",
    "healthy_rom_limitation": "stiff joints in healthy people",
    "achilles_tendinopathy": "Achilles tendon pain",
    "rotator_cuff_tendinopathy": "rotator cuff tendon pain",
    "iliotibial_band_syndrome": "pain on the outside of the knee (IT band)",
    "shin_splints": "shin splints",
    "de_quervain_tenosynovitis": "De Quervain's (thumb-side wrist pain)",
    "fibromyalgia": "fibromyalgia",
    "painful_scar": "a painful scar",
}

# outcome -> (what a benefit is, what is measured), in plain words
OUTCOME_WORDS: Mapping[str, tuple[str, str]] = {
    "pain": ("less pain", "pain"),
    "function": ("easier daily tasks", "daily tasks"),
    "lumbar_flexion_rom": ("more bending forward", "bending forward"),
    "lumbar_extension_rom": ("more bending back", "bending back"),
    "lateral_bending_right_rom": ("more bending to the right", "bending to the right"),
    "lateral_bending_left_rom": ("more bending to the left", "bending to the left"),
    "hip_flexion_rom": ("more hip bending", "hip bending"),
    "squat_strength": ("more leg strength", "leg strength"),
    "pressure_pain_threshold": ("less tenderness", "tenderness"),
}

WHAT_IS = (
    Sentence(
        "IASTM is a hands-on treatment. A clinician rubs a smooth tool made of metal or plastic over your "
        "skin.",
        ("baker2017",),
    ),
    Sentence("The aim is to ease pain and help you move more freely.", ("baker2017",)),
)

WHY_BETTER = (
    Sentence(
        "Many people feel better over time, whatever the treatment. Pain often eases on its own as the "
        "body heals. This is called natural recovery.",
        ("critical_review_sg",),
        finding=True,
    ),
    Sentence(
        "Time and care from a clinician can help too. So can the hope of getting better. This is part of "
        "what is called the placebo effect.",
        ("critical_review_sg",),
        finding=True,
    ),
    Sentence(
        "That is why a fair study compares a group who had IASTM with a group who did not.",
    ),
)

UNKNOWNS = (
    Sentence(
        "No one knows the best dose: how hard to press, how long, how often, or how many visits.",
        ("baker2017", "seffrin2019"),
        finding=True,
    ),
    Sentence(
        "No one knows for sure how it works. Ideas such as breaking up scar tissue have not been shown.",
        ("baker2017", "critical_review_sg"),
        finding=True,
    ),
    Sentence(
        "In most studies, people also did exercise or other care, so it is hard to tell what IASTM added.",
        ("critical_review_sg", "cheatham2016"),
        finding=True,
    ),
    Sentence(
        "Few studies checked for harms. In one review, only 10 of 46 trials did.",
        ("nazari_update",),
        finding=True,
    ),
)

EXPECTATIONS = (
    Sentence(
        "Your skin may turn red. You may see tiny red dots, called petechiae, or a bruise.",
        ("baker2017",),
        finding=True,
    ),
    Sentence(
        "You may feel sore. These signs are common, and they most often fade in a few days.",
        ("baker2017",),
        finding=True,
    ),
)


def report_advice(bruise_days: float) -> tuple[Sentence, ...]:
    """What to tell the clinician, and when; `bruise_days` is the configurable window for a bruise."""
    days = f"{bruise_days:g}"
    return (
        Sentence("Tell your clinician right away if you feel numbness or tingling, during or after."),
        Sentence(f"Tell your clinician if a bruise spreads, or if it lasts more than {days} days."),
        Sentence(
            f"The {days} days is a configurable heuristic: a rule of thumb your clinic can change. The "
            "research only says bruises most often fade in a few days.",
            ("baker2017",),
            finding=True,
        ),
        Sentence(
            "Tell your clinician if it hurts too much. You can ask for a different kind of care.",
            ("baker2017",),
            finding=True,
        ),
    )


EXERCISE = (
    Sentence(
        "Exercise is the main part of care for most muscle and joint problems.",
        ("critical_review_sg",),
        finding=True,
    ),
    Sentence(
        "IASTM is at best an add-on to exercise. It does not replace exercise.",
        ("critical_review_sg", "nazari2019"),
        finding=True,
    ),
)

QUESTIONS = (
    Sentence("What is the goal of IASTM for me, and how will we check if it works?"),
    Sentence("Which exercises should I do at home?"),
    Sentence("How many visits should we try before we stop or change the plan?"),
    Sentence("What should I do if I get sore or bruised?"),
    Sentence("What other choices do I have?"),
    Sentence("What training do you have in this method?", ("critical_review_sg",)),
)
