"""Domain errors raised by the services; every shell (CLI, web) turns them into a clear message."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from strigil.clinical.checks import FieldProblem, problems_from

__all__ = ["InvalidInput", "NotFound", "RecordError", "Refused", "from_validation", "invalid"]


class RecordError(ValueError):
    """Base class of the clinical record's domain errors."""


class InvalidInput(RecordError):
    """Input that breaks a rule; `problems` names each field, the value given and what is allowed."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class NotFound(RecordError):
    """A record that does not exist (or belongs to another clinic — never said which)."""


class Refused(RecordError):
    """A valid request the record refuses (closed episode, exercise-first rule, ...); names what to do."""


def invalid(field: str, value: object, message: str) -> InvalidInput:
    """One-problem InvalidInput."""
    return InvalidInput([FieldProblem(field, value, message)])


def from_validation(exc: ValidationError) -> InvalidInput:
    """InvalidInput from a pydantic ValidationError."""
    return InvalidInput(problems_from(exc))
