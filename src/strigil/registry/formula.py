"""A small reader for the common growth-model formulas, naming columns exactly as formulaic does.

Importing formulaic (with pandas) costs about a second, more than fitting 100,000 rows, so formulas made only
of `+`, `:`, `*`, `1`, `0`/`-1`, numeric columns and text columns as main effects (with an intercept) are read
here. The column names and order follow formulaic's rules: intercept first, then terms by degree in the order
written, factors within a term as written, repeated terms dropped, text columns as treatment contrasts against
their first level in sorted order (`phase[T.chronic]`). Anything else returns None and formulaic handles it.
tests/registry/test_formula.py checks names and values against formulaic itself.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["SimpleFormula", "read_simple_formula"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SimpleFormula:
    """A formula within the simple subset: response, intercept flag and terms (tuples of variable names)."""

    response: str
    intercept: bool
    terms: tuple[tuple[str, ...], ...]  # by degree, as formulaic orders them

    @property
    def variables(self) -> list[str]:
        """Right-hand-side variables in order of first appearance."""
        return list(dict.fromkeys(v for t in self.terms for v in t))


def read_simple_formula(formula: str) -> SimpleFormula | None:
    """Parse `formula` if it is in the simple subset, else None."""
    if formula.count("~") != 1:
        return None
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not _NAME.match(lhs) or not rhs:
        return None
    intercept = True
    terms: list[tuple[str, ...]] = []
    text = re.sub(r"\s+", "", rhs)
    # Split on + and on - (only "-1" may follow a minus).
    parts = re.split(r"(?=[+-])", text)
    for raw in parts:
        if raw in ("", "+"):
            continue
        sign, body = (raw[0], raw[1:]) if raw[0] in "+-" else ("+", raw)
        if sign == "-":
            if body != "1":
                return None
            intercept = False
            continue
        if body == "1":
            intercept = True
            continue
        if body == "0":
            intercept = False
            continue
        if "*" in body:
            factors = body.split("*")
            if not all(_NAME.match(f) for f in factors):
                return None
            for r in range(1, len(factors) + 1):
                terms += list(itertools.combinations(factors, r))
            continue
        factors = body.split(":")
        if not all(_NAME.match(f) for f in factors) or len(set(factors)) != len(factors):
            return None
        terms.append(tuple(factors))
    seen: set[frozenset[str]] = set()
    unique: list[tuple[str, ...]] = []
    for t in terms:
        if frozenset(t) not in seen:
            seen.add(frozenset(t))
            unique.append(t)
    unique.sort(key=len)  # stable: terms of equal degree keep the order written
    return SimpleFormula(response=lhs, intercept=intercept, terms=tuple(unique))
