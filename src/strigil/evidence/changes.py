"""What an import changed: for each condition, the pooled estimates, GRADE ratings and patient summaries
before and after, from what to what.

Pure: two libraries in (before and after), a typed report out. `strigil evidence import` prints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strigil.evidence.library import Library
from strigil.evidence.patient_summary import ConditionInfo, PatientSummary, build_summary
from strigil.evidence.pooling import OutcomeSummary

__all__ = ["ConditionChange", "Estimate", "LibraryChanges", "OutcomeChange", "compare_libraries"]


@dataclass(frozen=True)
class Estimate:
    """One outcome's estimate as a summary shows it: measure, effect and interval, studies, people, GRADE."""

    measure: str
    effect: float
    ci: tuple[float, float]
    unit: str
    k: int
    n: int
    certainty: str
    studies: tuple[str, ...]

    @classmethod
    def of(cls, o: OutcomeSummary) -> Estimate:
        """The estimate of a condition × outcome summary."""
        return cls(o.measure, o.effect, o.ci, o.unit, o.k, o.n, o.certainty, o.studies)

    def __str__(self) -> str:
        studies = "1 study" if self.k == 1 else f"{self.k} studies"
        return (
            f"{self.measure} {self.effect:.2f} ({self.ci[0]:.2f} to {self.ci[1]:.2f}) {self.unit}, "
            f"{studies}, {self.n} people, {self.certainty} certainty"
        ).replace(" ,", ",")

    def to_json(self) -> dict[str, Any]:
        """The estimate as plain JSON-ready data."""
        return {
            "measure": self.measure,
            "effect": round(self.effect, 4),
            "ci": [round(self.ci[0], 4), round(self.ci[1], 4)],
            "unit": self.unit,
            "k": self.k,
            "n": self.n,
            "certainty": self.certainty,
            "studies": list(self.studies),
        }


@dataclass(frozen=True)
class OutcomeChange:
    """One outcome of one condition whose estimate or rating changed (None: absent on that side)."""

    outcome: str
    before: Estimate | None
    after: Estimate | None

    @property
    def certainty_changed(self) -> bool:
        """True when the GRADE rating moved (or appeared or went)."""
        return (self.before and self.before.certainty) != (self.after and self.after.certainty)

    def to_json(self) -> dict[str, Any]:
        """The change as plain JSON-ready data."""
        return {
            "outcome": self.outcome,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
            "certainty_changed": self.certainty_changed,
        }


@dataclass(frozen=True)
class ConditionChange:
    """Everything that changed for one condition."""

    condition: str
    outcomes: tuple[OutcomeChange, ...]
    certainty_before: str | None
    certainty_after: str | None
    sentences_removed: tuple[str, ...]
    sentences_added: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The change as plain JSON-ready data."""
        return {
            "condition": self.condition,
            "pooled_estimates": [o.to_json() for o in self.outcomes],
            "certainty": {"before": self.certainty_before, "after": self.certainty_after},
            "summary": {"removed": list(self.sentences_removed), "added": list(self.sentences_added)},
        }

    def lines(self) -> list[str]:
        """The change as readable lines: 'from ... to ...'."""
        out = [f"{self.condition}:"]
        for o in self.outcomes:
            before = str(o.before) if o.before else "no estimate"
            after = str(o.after) if o.after else "no estimate"
            out.append(f"  {o.outcome}: {before} -> {after}")
        if self.certainty_before != self.certainty_after:
            out.append(
                f"  overall certainty: {self.certainty_before or 'not rated'} -> "
                f"{self.certainty_after or 'not rated'}"
            )
        out += [f"  summary no longer says: {s}" for s in self.sentences_removed]
        out += [f"  summary now says: {s}" for s in self.sentences_added]
        return out


@dataclass(frozen=True)
class LibraryChanges:
    """The conditions whose pooled estimates, GRADE ratings or patient summaries an import changed."""

    added_studies: tuple[str, ...]
    conditions: tuple[ConditionChange, ...]

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "added_studies": list(self.added_studies),
            "changed_conditions": [c.to_json() for c in self.conditions],
        }

    def lines(self) -> list[str]:
        """The report as readable lines."""
        if not self.conditions:
            return ["no condition's pooled estimates, GRADE ratings or summaries changed"]
        return [line for c in self.conditions for line in c.lines()]


def _outcome_changes(before: PatientSummary, after: PatientSummary) -> tuple[OutcomeChange, ...]:
    def keyed(s: PatientSummary) -> dict[tuple[str, str, str], Estimate]:
        return {(o.outcome, o.measure, o.unit): Estimate.of(o) for o in s.outcomes}

    old, new = keyed(before), keyed(after)
    changes: list[OutcomeChange] = []
    for key in dict.fromkeys([*old, *new]):
        if old.get(key) != new.get(key):
            changes.append(OutcomeChange(key[0], old.get(key), new.get(key)))
    # An estimate whose measure or unit changed (MD -> SMD when a trial on another scale joins) is one
    # change "from -> to", not one estimate gone and another new: pair them per outcome, in order.
    out: list[OutcomeChange] = []
    for change in changes:
        if change.before is None:
            at = next(
                (i for i, o in enumerate(out) if o.outcome == change.outcome and o.after is None), None
            )
            if at is not None:
                out[at] = OutcomeChange(change.outcome, out[at].before, change.after)
                continue
        out.append(change)
    return tuple(out)


def _sentences(summary: PatientSummary) -> list[str]:
    return [s.text for sec in summary.sections for s in sec.sentences]


def compare_libraries(before: Library, after: Library, conditions: Iterable[ConditionInfo]) -> LibraryChanges:
    """For each condition, what changed between two libraries (e.g. before and after an import)."""
    added = tuple(sid for sid in after.studies if sid not in before.studies)
    changed = []
    for info in conditions:
        old, new = build_summary(info, before), build_summary(info, after)
        outcomes = _outcome_changes(old, new)
        removed = tuple(t for t in _sentences(old) if t not in _sentences(new))
        gained = tuple(t for t in _sentences(new) if t not in _sentences(old))
        if outcomes or removed or gained or old.certainty != new.certainty:
            changed.append(
                ConditionChange(info.code, outcomes, old.certainty, new.certainty, removed, gained)
            )
    return LibraryChanges(added, tuple(changed))
