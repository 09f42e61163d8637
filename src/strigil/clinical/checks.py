"""Catalogue-backed field checks and readable validation problems (field, value, what is allowed)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, ValidationError

from strigil.catalog import UnknownCode, load_catalog
from strigil.clinical.limits import CODE_CHARS

__all__ = [
    "ConditionCode",
    "EdgeCode",
    "FieldProblem",
    "InstrumentCode",
    "MeasureCode",
    "RegionCode",
    "SideCode",
    "StrokeCode",
    "catalogue_code",
    "problems_from",
    "within_measure_range",
]

# How many allowed codes an error message lists before saying "…and N more".
_LISTED = 12


def _allowed_text(codes: list[str]) -> str:
    shown = ", ".join(codes[:_LISTED])
    return shown + (f", …and {len(codes) - _LISTED} more" if len(codes) > _LISTED else "")


def catalogue_code(kind: str, code: str) -> str:
    """Return `code` if catalogue `kind` has it, else raise ValueError naming the allowed codes."""
    catalog = load_catalog()
    try:
        catalog.require(kind, code)
    except UnknownCode as exc:
        codes = catalog.codes(kind)
        near = exc.suggestions
        hint = f" (did you mean {', '.join(repr(s) for s in near)}?)" if near else ""
        raise ValueError(f"{code!r} is not a known {kind[:-1].replace('_', ' ')} code{hint}; "
                         f"allowed: {_allowed_text(codes)}") from None
    return code


def _coded(kind: str) -> AfterValidator:
    return AfterValidator(partial(catalogue_code, kind))


# A field of one of these types accepts only that catalogue's codes; the message lists the allowed ones.
# The length is checked first, so a megabyte of text is refused before it is looked up.
_CODE = StringConstraints(max_length=CODE_CHARS)
ConditionCode = Annotated[str, _CODE, _coded("conditions")]
RegionCode = Annotated[str, _CODE, _coded("regions")]
SideCode = Annotated[str, _CODE, _coded("sides")]
InstrumentCode = Annotated[str, _CODE, _coded("instruments")]
EdgeCode = Annotated[str, _CODE, _coded("edge_types")]
StrokeCode = Annotated[str, _CODE, _coded("strokes")]
MeasureCode = Annotated[str, _CODE, _coded("measures")]


def within_measure_range(measure: str, value: float) -> None:
    """Raise ValueError if `value` lies outside the measure's scale (or plausibility bounds)."""
    m = load_catalog().measures[measure]
    if not m.min <= value <= m.max:
        raise ValueError(f"{value:g} is outside the {m.code} range; allowed: {m.min:g} to {m.max:g} {m.unit}")


@dataclass(frozen=True)
class FieldProblem:
    """One bad field: where (dotted path), the value given, and what is allowed."""

    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        got = "" if self.value is None else f" (got {self.value!r})"
        return f"{self.field or 'document'}: {self.message}{got}"


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Pydantic's messages in words a clinician reads without knowing the validator ("String should match
# pattern '^[A-Za-z0-9]…'" says nothing to a therapist); {names} come from the error's context.
_PLAIN = {
    "extra_forbidden": "unknown field; remove it (see `strigil schema session`)",
    "missing": "required field is missing",
    "string_pattern_mismatch": "use only letters, digits, '-' and '_' (no spaces, no names), "
    "starting with a letter or digit",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long: at most {max_length} characters",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "date_parsing": "must be a date (year-month-day, e.g. 2026-03-01)",
    "date_from_datetime_parsing": "must be a date (year-month-day, e.g. 2026-03-01)",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be less than or equal to {le}",
    "literal_error": "choose one of: {expected}",
    "bool_parsing": "must be yes or no",
    "too_long": "too many: at most {max_length}",
}


def _said(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def problems_from(exc: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic ValidationError into field-level problems with plain messages."""
    problems = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        plain = _PLAIN.get(err["type"])
        if plain is not None:
            msg = plain.format(**{k: _said(v) for k, v in (err.get("ctx") or {}).items()})
        # A whole-document rule (no field path) names its fields in the message; don't echo the document.
        value = None if err["type"] == "missing" or not err["loc"] else err.get("input")
        problems.append(FieldProblem(_path(tuple(err["loc"])), value, msg))
    return problems
