"""Exercise first: IASTM is an adjunct to active rehabilitation, never the plan on its own.

An episode whose planned care includes IASTM but no active component — strengthening, functional or
motor-control work (therapeutic exercise); stretching alone is not enough — is refused unless the clinician
records a reason, which follows the override-reason rule of `strigil.clinical.gates` (at least 3 words and
15 characters: "x" is not a reason). Why: the evidence does not support IASTM as a standalone treatment and
most trials combine it with exercise (Cheatham 2016 review; the undated critical review, domain reference §0,
§1.8); adding IASTM to other care mostly gave no clinically important difference (Nazari 2019, §1.8); manual
therapy is "at best adjunctive" and exercise the cornerstone (critical review, §0); the Graston sequence
itself ends with stretching *and strengthening* (Stow 2011, §1.7).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strigil.catalog import load_bibliography, load_catalog
from strigil.clinical.gates import reason_problem
from strigil.clinical.vocabulary import ACTIVE_COMPONENTS, CoIntervention, allowed

__all__ = [
    "ACTIVE",
    "SOURCES",
    "ExerciseFirstCheck",
    "ExerciseFirstRefused",
    "check_exercise_first",
    "known_care_codes",
    "require_exercise_first",
]

# IASTM itself: our code and the protocol-step catalogue's.
_IASTM = frozenset({"iastm", "instrument_treatment"})
# The record's active co-interventions, plus the protocol-step catalogue's generic "therapeutic_exercise"
# (therapeutic exercise here means strengthening, functional or motor-control work).
ACTIVE: frozenset[str] = frozenset(ACTIVE_COMPONENTS) | {"therapeutic_exercise"}

SOURCES: tuple[str, ...] = tuple(
    str(c)
    for c in load_bibliography().cite_field(
        "@cheatham2016 (insufficient evidence for IASTM as a standalone treatment); "
        "@critical_review_sg (manual therapy at best adjunctive; choose practitioners who combine IASTM with "
        "exercise therapy); "
        "@nazari2019 (adding IASTM to other treatment: mostly no clinically important difference); "
        "@stow2011 (Graston sequence: examination, warm-up, instrument treatment, stretching, strengthening, "
        "cryotherapy); "
        "@baker2017 (use IASTM when appropriate and add other therapies when needed)"
    )
)


def known_care_codes() -> tuple[str, ...]:
    """Codes accepted in planned care: IASTM, the record's co-interventions, the protocol steps."""
    codes = set(_IASTM) | set(allowed(CoIntervention)) | set(load_catalog().codes("protocol_steps"))
    return tuple(sorted(codes))


@dataclass(frozen=True, slots=True)
class ExerciseFirstCheck:
    """The outcome of the exercise-first rule for one plan of care."""

    allowed: bool
    applies: bool  # False when the plan has no IASTM
    active_components: tuple[str, ...]
    overridden: bool  # allowed only because the clinician recorded a reason
    reason: str | None
    message: str
    sources: tuple[str, ...] = SOURCES

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "allowed": self.allowed,
            "applies": self.applies,
            "active_components": list(self.active_components),
            "overridden": self.overridden,
            "reason": self.reason,
            "message": self.message,
            "sources": list(self.sources),
        }


class ExerciseFirstRefused(ValueError):
    """Planned care with IASTM and no active component, and no reason recorded."""

    def __init__(self, check: ExerciseFirstCheck) -> None:
        self.check = check
        super().__init__(check.message)


_WHY = (
    "IASTM is an adjunct to exercise, not a treatment on its own: the evidence does not support it as a "
    "standalone treatment (Cheatham 2016), adding it to other care mostly made no clinically important "
    "difference (Nazari 2019), and exercise is the cornerstone of recovery (critical review; Stow 2011)."
)


def check_exercise_first(
    planned_care: Iterable[str], reason: str | None = None, *, includes_iastm: bool | None = None
) -> ExerciseFirstCheck:
    """Apply the exercise-first rule to a plan of care (codes of `known_care_codes()`).

    `includes_iastm` says whether IASTM is planned; None infers it from the codes ("iastm" or
    "instrument_treatment"). A reason shorter than the override-reason rule (`strigil.clinical.gates`) is no
    reason. Unknown codes raise ValueError with close matches.
    """
    codes = list(planned_care)
    known = known_care_codes()
    for i, code in enumerate(codes):
        if code not in known:
            near = difflib.get_close_matches(code, known, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            raise ValueError(
                f"planned_care[{i}]: {code!r} is not a known care code{hint}; allowed: {', '.join(known)}"
            )
    iastm = any(c in _IASTM for c in codes) if includes_iastm is None else includes_iastm
    active = tuple(c for c in codes if c in ACTIVE)
    given = reason.strip() if reason and reason.strip() else None
    if not iastm:
        return ExerciseFirstCheck(
            True, False, active, False, given, "No IASTM planned: the exercise-first rule does not apply."
        )
    if active:
        return ExerciseFirstCheck(
            True,
            True,
            active,
            False,
            given,
            f"IASTM is planned as an adjunct to active care ({', '.join(active)}).",
        )
    lacking = (
        "stretching alone is not an active component — add strengthening, functional or motor-control work"
        if "stretching" in codes
        else "add an active component: strengthening, functional or motor-control work"
    )
    problem = reason_problem(given, "reason") if given else None
    if given and problem:
        return ExerciseFirstCheck(
            False,
            True,
            active,
            False,
            given,
            f"Refused: the plan includes IASTM but no exercise, and {problem}. {_WHY}",
        )
    if given:
        return ExerciseFirstCheck(
            True,
            True,
            active,
            True,
            given,
            f"Warning: IASTM without exercise, allowed because the clinician recorded: {given!r}. {_WHY}",
        )
    return ExerciseFirstCheck(
        False,
        True,
        active,
        False,
        None,
        f"Refused: the plan includes IASTM but no exercise; {lacking}, or record why not. {_WHY}",
    )


def require_exercise_first(
    planned_care: Iterable[str], reason: str | None = None, *, includes_iastm: bool | None = None
) -> ExerciseFirstCheck:
    """Like `check_exercise_first`, but raise ExerciseFirstRefused when the plan is refused."""
    check = check_exercise_first(planned_care, reason, includes_iastm=includes_iastm)
    if not check.allowed:
        raise ExerciseFirstRefused(check)
    return check
