"""Typed records of the IASTM study library: studies, arms, TIDieR dose, printed rows, flags, comparisons.

Printed numbers are kept as the strings the source printed ("0.60", "-0.01", "0.3…") so nothing is lost by
rounding; `number()` turns one into a float when a calculation needs it.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CSV_COLUMNS",
    "DESIGNS",
    "RANDOMIZED_DESIGNS",
    "REVIEW_DESIGNS",
    "Arm",
    "Comparison",
    "Dose",
    "Flag",
    "PrintedRow",
    "PublishedFigure",
    "Study",
    "number",
]

REVIEW_DESIGNS = frozenset({"systematic_review_meta_analysis", "systematic_review", "effect_size_review"})
RANDOMIZED_DESIGNS = frozenset({"rct", "pilot_rct", "randomized_crossover"})
DESIGNS = (
    REVIEW_DESIGNS
    | RANDOMIZED_DESIGNS
    | frozenset(
        {"within_subject_trial", "single_arm_study", "case_series", "non_randomized_trial", "expert_article"}
    )
)

CSV_COLUMNS = (
    "review_or_trial",
    "study",
    "year",
    "condition",
    "outcome",
    "measure",
    "n_t",
    "mean_t",
    "sd_t",
    "n_c",
    "mean_c",
    "sd_c",
    "yi",
    "ci_low",
    "ci_high",
    "source_address",
    "where_in_source",
)


def number(printed: str | None) -> float | None:
    """The value of a printed number, or None when it is blank or not a complete number (e.g. '0.3…')."""
    if printed is None or not printed.strip():
        return None
    try:
        value = float(printed)
    except ValueError:
        return None
    # 'nan' and 'inf' parse as floats but are never a printed result (found by the hardening fuzz tests).
    return value if math.isfinite(value) else None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Arm(_Frozen):
    """One group of a trial: what it received and how many were in it (None when not printed)."""

    label: str
    role: Literal["iastm", "comparison"]
    n: int | None = None
    n_unit: str = "participants"
    n_note: str = ""


class Dose(_Frozen):
    """The IASTM dose as TIDieR items (Hoffmann et al., BMJ 2014), values as reported; '' = not reported."""

    brief_name: str = ""  # item 1: technique or product
    materials: str = ""  # item 3: instruments as reported
    instruments: tuple[str, ...] = ()  # item 3: clinical catalogue instrument codes
    procedures: str = ""  # item 4: what was done
    strokes: tuple[str, ...] = ()  # item 4: clinical catalogue stroke codes
    provider: str = ""  # item 5
    minutes: str = ""  # item 8: time per application or session
    sessions_per_week: str = ""  # item 8
    sessions: str = ""  # item 8
    weeks: str = ""  # item 8
    tailoring: str = ""  # item 9
    co_interventions: str = ""
    source: str = ""


class PrintedRow(_Frozen):
    """One row of iastm_trials.csv, every value exactly as printed, with its 1-based data-row number."""

    row: int
    review_or_trial: str
    study: str
    year: str
    condition: str
    outcome: str
    measure: str
    n_t: str
    mean_t: str
    sd_t: str
    n_c: str
    mean_c: str
    sd_c: str
    yi: str
    ci_low: str
    ci_high: str
    source_address: str
    where_in_source: str

    def matches(self, criteria: dict[str, str]) -> bool:
        """True when every named column holds exactly the given printed value."""
        return all(getattr(self, column) == value for column, value in criteria.items())


class Flag(_Frozen):
    """A printed number that looks wrong or needs a warning; the number itself stays as printed."""

    study: str
    field: str
    printed: str
    explanation: str
    rows: tuple[int, ...] = ()
    doubtful: bool = True  # False: a caveat about provenance, not a number that looks wrong


class Comparison(_Frozen):
    """How one printed row gives (or cannot give) a between-group effect: IASTM arm minus comparison arm."""

    study: str
    outcome: str
    label: str
    kind: Literal["arm_means", "printed_md_ci", "not_usable"]
    higher_is_better: bool
    row: int
    measure_code: str | None = None
    unit: str = ""
    primary: bool = True
    reason: str = ""


class PublishedFigure(_Frozen):
    """A review's own pooled figure or main conclusion, as printed, with where it was read."""

    review: str
    outcome: str
    population: str
    applies_to: tuple[Literal["patients", "rom_limitation"], ...]
    where: str
    conditions: tuple[str, ...] = ()  # condition codes the figure applies to, beyond `applies_to` groups
    row: int | None = None
    k: int | None = None
    n: int | None = None
    measure: str | None = None
    effect: str | None = None
    ci: tuple[str, str] | None = None
    model: str | None = None
    certainty: str | None = None
    statement: str | None = None
    plain: str = ""  # the sentence a patient reads
    plain_certainty: Literal["high", "moderate", "low", "very low"] = "very low"


class Study(_Frozen):
    """A review, trial or background article in the library, with its printed rows and flags.

    `citation` and `address` cite the source itself (from the one bibliography for shipped studies; from the
    import file for imported ones); `read_in` holds the copies the team read, which are never shown.
    """

    id: str
    citation: str
    design: str
    population: str
    year: int | None = None
    condition: str | None = None
    condition_note: str = ""
    address: str | None = None
    practitioner: bool = False
    read_in: tuple[str, ...] = ()
    compared: Literal[
        "add_on", "other_treatment", "sham", "no_treatment", "single_group", "unknown"
    ] = "unknown"
    both: str = ""  # add_on: what both groups did, in plain words
    other: str = ""  # what the comparison group had, in plain words
    result: Literal["", "no_difference", "favours_iastm"] = ""  # as the source states it
    arms: tuple[Arm, ...] = ()
    dose: Dose | None = None
    pedro: int | None = Field(default=None, ge=0, le=10)
    pedro_source: str = ""
    related_technique: str = ""
    reported_in: tuple[str, ...] = ()
    unverified: str = ""
    certainty_as_printed: str = ""
    notes: str = ""
    participants: int | None = None  # when arms overlap (crossover) or count limbs: the printed N of people
    origin: Literal["shipped", "user"] = "shipped"
    rows: tuple[PrintedRow, ...] = ()
    flags: tuple[Flag, ...] = ()

    @property
    def source(self) -> str:
        """The address shown with the citation ('' when none is known)."""
        return self.address or ""

    @property
    def is_review(self) -> bool:
        """True for systematic reviews and effect-size reviews."""
        return self.design in REVIEW_DESIGNS

    @property
    def total_n(self) -> int | None:
        """Participants: the printed N when given, else the sum over arms (None if an arm size is unknown)."""
        if self.participants is not None:
            return self.participants
        sizes = [arm.n for arm in self.arms]
        if not sizes or any(size is None for size in sizes):
            return None
        return sum(size for size in sizes if size is not None)
