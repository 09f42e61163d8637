"""Plain-language summaries for patients, one per condition, every finding tied to its source.

A summary says what the studies compared, how many studies and people there were, how sure we can be (GRADE
in words), what is not known, why people often feel better whatever the treatment, which studies found no
difference, when a big effect should not be trusted, what to report and when, and what to ask.

The wording of a finding follows its GRADE certainty (the GRADE Working Group's informative statements:
high — "leads to", moderate — "probably", low — "may", very low — "we are very unsure"), so no sentence
claims more than its evidence. Sizes of standardized effects use Cohen's conventional bands (0.2 small,
0.5 medium, 0.8 large; Cohen 1988) — a configurable heuristic, not an IASTM-specific cut-off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strigil.evidence.effect_sizes import StudyEffect, study_effects
from strigil.evidence.library import Library
from strigil.evidence.patient_text import (
    CERTAINTY_WORDS,
    EXERCISE,
    EXPECTATIONS,
    OUTCOME_WORDS,
    PLAIN_NAMES,
    QUESTIONS,
    UNKNOWNS,
    WHAT_IS,
    WHY_BETTER,
    Sentence,
    report_advice,
)
from strigil.evidence.pooling import OutcomeSummary, summarise_condition
from strigil.evidence.reading_level import reading_grade
from strigil.evidence.records import PublishedFigure, Study

__all__ = [
    "NO_NUMBERS_CERTAINTY",
    "ROM_LIMITATION_CONDITIONS",
    "SMALL_STUDY",
    "ConditionInfo",
    "PatientSummary",
    "Section",
    "build_summary",
    "condition_codes",
    "condition_info",
    "finding_sentence",
]

# Below this many participants a trial is called "small" in patient text (configurable heuristic).
SMALL_STUDY = 100

# A condition whose trials give no usable between-group numbers is rated "very low" overall: nothing can be
# estimated, so nothing can be trusted (configurable heuristic; docs/evidence.md).
NO_NUMBERS_CERTAINTY = "very low"

# Conditions whose studies enrolled healthy or athletic people with (or without) a movement limit; the
# reviews' figures for such people apply to them (configurable heuristic grouping).
ROM_LIMITATION_CONDITIONS = frozenset(
    {"healthy_rom_limitation", "posterior_shoulder_tightness", "hamstring_tightness", "tfl_shortness"}
)

_LEVELS = ("very low", "low", "moderate", "high")


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
    """Everything a patient page shows for one condition, plus the numbers behind it (clinician view)."""

    condition: ConditionInfo
    plain_name: str
    outcomes: tuple[OutcomeSummary, ...]
    published: tuple[PublishedFigure, ...]
    studies: tuple[str, ...]
    unusable: tuple[StudyEffect, ...]
    sections: tuple[Section, ...]
    reading_grade: float  # of the sentences alone; the rendered pages measure their own (render.py)
    sources: tuple[Study, ...] = field(default=())
    participants: int = 0  # people in the condition's trials whose size is known
    unknown_size: int = 0  # trials whose size is not known
    certainty: str | None = None  # overall: the best outcome's, or NO_NUMBERS_CERTAINTY; None if untested
    bruise_days: float = 0.0

    def section(self, key: str) -> Section:
        """The section with this key."""
        return next(s for s in self.sections if s.key == key)

    def has_section(self, key: str) -> bool:
        """True when the summary has a section with this key."""
        return any(s.key == key for s in self.sections)

    @property
    def text(self) -> str:
        """All patient-facing sentences, as one plain text."""
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


def _studies(k: int) -> str:
    return "1 study" if k == 1 else f"{k} studies"


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _one_study(study: Study) -> str:
    """'one study of 30 people' (or 'one study' when its size is not known)."""
    n = study.total_n
    return f"one study of {_people(n)}" if n else "one study"


def _is_iastm_study(study: Study) -> bool:
    return not study.is_review and study.design != "expert_article"


def _compared_sentence(study: Study) -> Sentence:
    """What one trial compared, in plain words (from its `compared`, `both` and `other` fields)."""
    which = _one_study(study).capitalize()
    also = f" Both groups also did {study.both}." if study.both else ""
    text = {
        "add_on": f"In {_one_study(study)}, both groups did {study.both}. One group also had IASTM.",
        "other_treatment": f"{which} compared IASTM with {study.other}.{also}",
        "sham": f"{which} compared IASTM with {study.other}.{also}",
        "no_treatment": f"{which} compared IASTM with {study.other}.",
        "single_group": f"{which} had no other group to compare with. So it cannot show what IASTM did.",
        "unknown": f"For {_one_study(study)}, we do not know what IASTM was compared with.",
    }[study.compared]
    if study.related_technique:
        text += f" It tested a related method, not IASTM itself: {study.related_technique}."
    return Sentence(text, (study.id,), finding=True)


def _compared_section(trials: list[Study], name: str) -> Section:
    if not trials:
        return Section(
            "compared", "What the studies compared", (Sentence(f"No study tested IASTM for {name}."),)
        )
    return Section("compared", "What the studies compared", tuple(_compared_sentence(s) for s in trials))


def _count_sentence(outcome: OutcomeSummary) -> Sentence:
    people = f"with {_people(outcome.n)} in all" if outcome.n else "whose size we do not know"
    return Sentence(f"This comes from {_studies(outcome.k)} {people}.", outcome.studies, finding=True)


def _research_section(
    info: ConditionInfo, name: str, outcomes: list[OutcomeSummary], trials: list[Study]
) -> Section:
    sentences: list[Sentence] = []
    if not trials:
        sentences.append(Sentence(f"No study in our library tested IASTM for {name}."))
        sentences.append(
            Sentence(
                "Some clinics say it helps, but no trial we hold has tested that.", (f"catalog:{info.code}",)
            )
        )
        sentences.append(Sentence("So we cannot say if it helps or not. How sure are we? We cannot say."))
        return Section("research", "What the research shows", tuple(sentences))
    ids = tuple(s.id for s in trials)
    known = sum(s.total_n or 0 for s in trials)
    unknown = sum(1 for s in trials if not s.total_n)
    found = f"We found {_studies(len(trials))} of IASTM for {name}"
    if not unknown:
        sentences.append(Sentence(f"{found}, with {_people(known)} in all.", ids, finding=True))
    elif not known:  # no trial gives its size: say so plainly, never "at least 0 people"
        sentences.append(
            Sentence(f"{found}. We do not know how many people took part.", ids, finding=True)
        )
    else:
        sentences.append(Sentence(f"{found}, with at least {_people(known)}.", ids, finding=True))
        sentences.append(
            Sentence(f"We do not know how many people were in {_studies(unknown)}.", ids, finding=True)
        )
    for outcome in outcomes:
        stated, tally = finding_sentence(outcome), _count_sentence(outcome)
        sure = f"How sure are we? {CERTAINTY_WORDS[outcome.certainty]}"
        sentences.append(
            Sentence(f"{stated.text} {tally.text} {sure}", stated.sources, True, stated.certainty)
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
        sure = CERTAINTY_WORDS[NO_NUMBERS_CERTAINTY]
        sentences.append(Sentence(f"How sure are we? {sure}", ids, finding=True))
    within_only = tuple(s.id for s in trials if s.id not in used and s.rows)
    if within_only:
        sentences.append(
            Sentence(
                "Some gave only the change within each group. That cannot show what IASTM itself added.",
                within_only,
                finding=True,
            )
        )
    if all((s.total_n or 0) < SMALL_STUDY for s in trials):  # unknown sizes count as small
        sentences.append(Sentence("Small studies like these can easily be wrong."))
    return Section("research", "What the research shows", tuple(sentences))


def _no_difference_sentence(study: Study) -> Sentence:
    if study.compared == "add_on":
        who = f"people who only did {study.both}"
    else:
        who = f"people who had {study.other}" if study.other else "the other group"
    text = f"In {_one_study(study)}, people who had IASTM did no better than {who}."
    return Sentence(text, (study.id,), finding=True)


def _reviews_section(figures: list[PublishedFigure], name: str) -> Section:
    sentences = [Sentence(f.plain, (f.review,), finding=True, certainty=f.plain_certainty) for f in figures]
    if not figures:
        sentences.append(Sentence(f"No review in our library looked at {name}."))
    else:
        reviews = tuple(dict.fromkeys(f.review for f in figures if f.effect is not None))
        if reviews:
            sentences.append(
                Sentence(
                    "We could not check these pooled results with our own studies, because we could not get "
                    "the study data behind them.",
                    reviews,
                    finding=True,
                )
            )
    return Section("reviews", "What larger reviews found", tuple(sentences))


def _doubtful_large(trials: list[Study], figures: list[PublishedFigure], library: Library) -> tuple[str, ...]:
    """Studies and reviews behind a flagged, implausibly large effect shown with this condition."""
    ids: list[str] = []
    for figure in figures:
        review = library.studies[figure.review]
        if any(fl.doubtful and figure.row in fl.rows and "large" in fl.explanation for fl in review.flags):
            ids.append(review.id)
    ids += [s.id for s in trials if any(fl.doubtful and "large" in fl.explanation for fl in s.flags)]
    return tuple(dict.fromkeys(ids))


def _caution_section(doubtful: tuple[str, ...]) -> Section:
    return Section(
        "caution",
        "Take care with big claims",
        (
            Sentence(
                "Some reports show very large gains. Big effects from small or doubtful studies are often "
                "wrong, so we do not rely on them.",
                doubtful,
                finding=True,
                certainty="very low",
            ),
        ),
    )


def _published_for(info: ConditionInfo, library: Library) -> list[PublishedFigure]:
    if info.evidence == "claimed":
        return []
    group = "rom_limitation" if info.code in ROM_LIMITATION_CONDITIONS else "patients"
    return [f for f in library.published if group in f.applies_to or info.code in f.conditions]


def _overall(outcomes: list[OutcomeSummary], trials: list[Study]) -> str | None:
    if outcomes:
        return max((o.certainty for o in outcomes), key=_LEVELS.index)
    return NO_NUMBERS_CERTAINTY if trials else None


def build_summary(
    info: ConditionInfo, library: Library, effects: Iterable[StudyEffect] | None = None
) -> PatientSummary:
    """The patient summary for one condition (pure: library and catalogue entry in, summary out)."""
    from strigil.clinical.adverse import DEFAULT_COURSES

    all_effects = study_effects(library) if effects is None else list(effects)
    name = PLAIN_NAMES.get(info.code, info.name.lower())
    trials = [s for s in library.for_condition(info.code) if _is_iastm_study(s)]
    outcomes = summarise_condition(library, info.code, all_effects)
    figures = _published_for(info, library)
    unusable = tuple(e for e in all_effects if not e.usable and e.study in {s.id for s in trials})
    certainty = _overall(outcomes, trials)
    bruise_days = DEFAULT_COURSES["bruising"].window_days  # the decision aid's window: one place
    no_difference = [s for s in trials if s.result == "no_difference"]
    doubtful = _doubtful_large(trials, figures, library)
    parts: list[Section] = [
        Section("what_is", "What is IASTM?", WHAT_IS),
        _compared_section(trials, name),
        _research_section(info, name, outcomes, trials),
    ]
    if no_difference:
        parts.append(
            Section(
                "no_difference",
                "Studies that found no difference",
                tuple(_no_difference_sentence(s) for s in no_difference),
            )
        )
    parts.append(_reviews_section(figures, name))
    if doubtful:
        parts.append(_caution_section(doubtful))
    parts += [
        Section("why_better", "Why people feel better whatever the treatment", WHY_BETTER),
        Section("unknowns", "What is not known", UNKNOWNS),
        Section("expectations", "What to expect", EXPECTATIONS),
        Section("report", "What to tell your clinician, and when", report_advice(bruise_days)),
        Section("exercise", "Exercise comes first", EXERCISE),
        Section("questions", "Questions to ask your clinician", QUESTIONS),
    ]
    sections = tuple(parts)
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
        participants=sum(s.total_n or 0 for s in trials),
        unknown_size=sum(1 for s in trials if not s.total_n),
        certainty=certainty,
        bruise_days=bruise_days,
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
