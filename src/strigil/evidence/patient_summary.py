"""Plain-language summaries for patients, one per condition, every finding tied to its source.

The wording of a finding follows its GRADE certainty (the GRADE Working Group's informative statements:
high — "leads to", moderate — "probably", low — "may", very low — "we are very unsure"), so no sentence
claims more than its evidence. Sizes of standardized effects use Cohen's conventional bands (0.2 small,
0.5 medium, 0.8 large; Cohen 1988) — a configurable heuristic, not an IASTM-specific cut-off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from strigil.evidence.effect_sizes import StudyEffect, study_effects
from strigil.evidence.library import Library
from strigil.evidence.pooling import OutcomeSummary, summarise_condition
from strigil.evidence.reading_level import reading_grade
from strigil.evidence.records import PublishedFigure, Study

__all__ = [
    "EXERCISE",
    "EXPECTATIONS",
    "HEDGES",
    "OUTCOME_WORDS",
    "PLAIN_NAMES",
    "QUESTIONS",
    "ROM_LIMITATION_CONDITIONS",
    "SMALL_STUDY",
    "UNKNOWNS",
    "WHAT_IS",
    "ConditionInfo",
    "PatientSummary",
    "Section",
    "Sentence",
    "build_summary",
    "condition_codes",
    "condition_info",
    "finding_sentence",
]

# The words a finding must contain at each certainty (at least one of them).
HEDGES: Mapping[str, tuple[str, ...]] = {
    "high": (),
    "moderate": ("probably",),
    "low": ("may ", "might "),
    "very low": ("very unsure", "do not rely"),
}

# Below this many participants a trial is called "small" in patient text (configurable heuristic).
SMALL_STUDY = 100

# Conditions whose studies enrolled healthy or athletic people with (or without) a movement limit; the
# reviews' figures for such people apply to them (configurable heuristic grouping).
ROM_LIMITATION_CONDITIONS = frozenset(
    {"healthy_rom_limitation", "posterior_shoulder_tightness", "hamstring_tightness", "tfl_shortness"}
)

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
    "iliotibial_band_syndrome": "IT band pain",
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


@dataclass(frozen=True)
class Sentence:
    """One or two sentences of patient text; a finding names its sources and the certainty it commits to."""

    text: str
    sources: tuple[str, ...] = ()
    finding: bool = False
    certainty: str | None = None


@dataclass(frozen=True)
class Section:
    """A headed part of the summary."""

    key: str
    heading: str
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class ConditionInfo:
    """What the summary needs to know about the condition (from the clinical catalogue)."""

    code: str
    name: str
    evidence: str  # "studied" or "claimed"
    source: str


@dataclass(frozen=True)
class PatientSummary:
    """Everything a patient page shows for one condition, plus the numbers behind it."""

    condition: ConditionInfo
    plain_name: str
    outcomes: tuple[OutcomeSummary, ...]
    published: tuple[PublishedFigure, ...]
    studies: tuple[str, ...]
    unusable: tuple[StudyEffect, ...]
    sections: tuple[Section, ...]
    reading_grade: float
    sources: tuple[Study, ...] = field(default=())

    def section(self, key: str) -> Section:
        """The section with this key."""
        return next(s for s in self.sections if s.key == key)

    @property
    def text(self) -> str:
        """All patient-facing sentences, as one plain text (what the reading grade measures)."""
        return " ".join(s.text for sec in self.sections for s in sec.sentences)


def _size(outcome: OutcomeSummary) -> str:
    if outcome.smd is None:
        return ""
    g = abs(outcome.smd)
    if g < 0.2:
        return "a very small"
    if g < 0.5:
        return "a small"
    if g < 0.8:
        return "a medium"
    return "a large"


def finding_sentence(outcome: OutcomeSummary) -> Sentence:
    """The one-line finding for an outcome, worded no stronger than its certainty."""
    benefit, measured = OUTCOME_WORDS.get(
        outcome.outcome, (f"better {outcome.label.lower()}", outcome.label.lower())
    )
    c, favours, size = outcome.certainty, outcome.favours, _size(outcome)
    amount = f" by {size} amount" if size else ""
    if favours == "iastm":
        text = {
            "high": f"IASTM leads to {benefit}{amount}.",
            "moderate": f"IASTM probably leads to {benefit}{amount}.",
            "low": f"IASTM may lead to {benefit}, but we are not sure.",
            "very low": f"We are very unsure if IASTM leads to {benefit}.",
        }[c]
    elif favours == "comparison":
        text = {
            "high": f"The other care led to {benefit} than IASTM did.",
            "moderate": f"The other care probably led to {benefit} than IASTM did.",
            "low": f"The other care may have led to {benefit} than IASTM did.",
            "very low": f"We are very unsure, but the other care did better for {measured}.",
        }[c]
    else:
        text = {
            "high": f"IASTM makes little or no change to {measured}.",
            "moderate": f"IASTM probably makes little or no change to {measured}.",
            "low": f"IASTM may make little or no change to {measured}.",
            "very low": f"We are very unsure if IASTM changes {measured}.",
        }[c]
    return Sentence(text, outcome.studies, finding=True, certainty=c)


def _count_sentence(outcome: OutcomeSummary) -> Sentence:
    studies = "1 study" if outcome.k == 1 else f"{outcome.k} studies"
    return Sentence(
        f"This comes from {studies} with {outcome.n} people in all.", outcome.studies, finding=True
    )


def _is_iastm_study(study: Study) -> bool:
    return not study.is_review and study.design != "expert_article"


def _research_section(
    info: ConditionInfo, name: str, outcomes: list[OutcomeSummary], trials: list[Study]
) -> Section:
    sentences: list[Sentence] = []
    if not trials:
        sentences.append(
            Sentence(
                f"No study in our library tested IASTM for {name}.", (f"catalog:{info.code}",), finding=True
            )
        )
        sentences.append(
            Sentence(
                "Some clinics say it helps, but no trial we hold has tested that.",
                (f"catalog:{info.code}",),
                finding=True,
            )
        )
        sentences.append(Sentence("So we cannot say if it helps or not."))
        return Section("research", "What the research shows", tuple(sentences))
    ids = tuple(s.id for s in trials)
    count = "1 study" if len(trials) == 1 else f"{len(trials)} studies"
    sentences.append(Sentence(f"We found {count} of IASTM for {name}.", ids, finding=True))
    for outcome in outcomes:
        stated, tally = finding_sentence(outcome), _count_sentence(outcome)
        sure = f"How sure we are: {outcome.certainty}."
        sentences.append(
            Sentence(f"{stated.text} {tally.text} {sure}", stated.sources, True, stated.certainty)
        )
    related = [s for s in trials if s.related_technique and any(s.id in o.studies for o in outcomes)]
    for study in related:
        sentences.append(
            Sentence(
                f"One study here used {study.related_technique}, an old scraping method like IASTM, "
                "not IASTM itself.",
                (study.id,),
                finding=True,
            )
        )
    used = {sid for o in outcomes for sid in o.studies}
    others = tuple(s.id for s in trials if s.id not in used)
    if outcomes and others:
        rest = "The other study" if len(others) == 1 else f"The other {len(others)} studies"
        sentences.append(
            Sentence(f"{rest} gave no numbers we could use to measure the effect.", others, finding=True)
        )
    if not outcomes:
        sentences.append(
            Sentence("None of them gave numbers we could use to measure the effect.", ids, finding=True)
        )
    within_only = tuple(s.id for s in trials if s.id not in used and s.rows)
    if within_only:
        sentences.append(
            Sentence(
                "Some gave only the change within each group, or no measure of spread. "
                "That cannot show what IASTM itself added.",
                within_only,
                finding=True,
            )
        )
    if all((s.total_n or 0) < SMALL_STUDY for s in trials):  # unknown sizes count as small
        sentences.append(Sentence("Small studies like these can easily be wrong."))
    return Section("research", "What the research shows", tuple(sentences))


def _reviews_section(figures: list[PublishedFigure], name: str) -> Section:
    sentences = [Sentence(f.plain, (f.review,), finding=True, certainty=f.plain_certainty) for f in figures]
    if not figures:
        sentences.append(Sentence(f"No review in our library looked at {name}."))
    if figures:
        reviews = tuple(dict.fromkeys(f.review for f in figures if f.effect is not None))
        sentences.append(
            Sentence(
                "We could not check these pooled results with our own studies, because we "
                "could not get the study data behind them.",
                reviews,
                finding=True,
            )
        )
    return Section("reviews", "What larger reviews found", tuple(sentences))


UNKNOWNS = (
    Sentence(
        "No one knows the best dose: how hard to press, how long, how often, or how many visits.",
        ("baker2017", "seffrin2019"),
        finding=True,
    ),
    Sentence(
        "No one knows for sure how it works. Ideas such as breaking up scar tissue have not been proven.",
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
    Sentence(
        "If it hurts too much, tell your clinician. You can ask for a different kind of care.",
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

WHAT_IS = (
    Sentence(
        "IASTM is a hands-on treatment. A clinician rubs a smooth tool made of metal or plastic over your "
        "skin.",
        ("baker2017",),
    ),
    Sentence("The aim is to ease pain and help you move more freely.", ("baker2017",)),
)


def _published_for(info: ConditionInfo, library: Library) -> list[PublishedFigure]:
    if info.evidence == "claimed":
        return []
    group = "rom_limitation" if info.code in ROM_LIMITATION_CONDITIONS else "patients"
    return [f for f in library.published if group in f.applies_to]


def build_summary(
    info: ConditionInfo, library: Library, effects: Iterable[StudyEffect] | None = None
) -> PatientSummary:
    """The patient summary for one condition (pure: library and catalogue entry in, summary out)."""
    all_effects = study_effects(library) if effects is None else list(effects)
    name = PLAIN_NAMES.get(info.code, info.name.lower())
    trials = [s for s in library.for_condition(info.code) if _is_iastm_study(s)]
    outcomes = summarise_condition(library, info.code, all_effects)
    figures = _published_for(info, library)
    unusable = tuple(e for e in all_effects if not e.usable and e.study in {s.id for s in trials})
    sections = (
        Section("what_is", "What is IASTM?", WHAT_IS),
        _research_section(info, name, outcomes, trials),
        _reviews_section(figures, name),
        Section("unknowns", "What is not known", UNKNOWNS),
        Section("expectations", "What to expect", EXPECTATIONS),
        Section("exercise", "Exercise comes first", EXERCISE),
        Section("questions", "Questions to ask your clinician", QUESTIONS),
    )
    cited = dict.fromkeys(src for sec in sections for s in sec.sentences for src in s.sources)
    sources = tuple(library.studies[sid] for sid in cited if sid in library.studies)
    text = " ".join(s.text for sec in sections for s in sec.sentences)
    return PatientSummary(
        condition=info,
        plain_name=name,
        outcomes=tuple(outcomes),
        published=tuple(figures),
        studies=tuple(s.id for s in trials),
        unusable=unusable,
        sections=sections,
        reading_grade=reading_grade(text),
        sources=sources,
    )


def condition_info(code: str) -> ConditionInfo:
    """The catalogue entry of a condition code; UnknownCode (with suggestions) when there is none."""
    from strigil.catalog import load_catalog

    entry = load_catalog().require("conditions", code)
    return ConditionInfo(code=entry.code, name=entry.name, evidence=entry.evidence, source=entry.source)


def condition_codes() -> list[str]:
    """Every condition code of the clinical catalogue (each gets a summary)."""
    from strigil.catalog import load_catalog

    return load_catalog().codes("conditions")
