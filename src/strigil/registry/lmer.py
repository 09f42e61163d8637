"""lme4's one-formula syntax for the registry's mixed model:
`lmer("pain ~ dose * session + (1 + session | patient)", data)`.

The random-effects terms in parentheses are taken out of the formula; what is left are the fixed effects
(formulaic). The solver fits one random term with any numeric columns per patient, optionally with a random
intercept of a second grouping factor (a clinic) nested in or crossed with it, so these forms are accepted:

- `(1 | patient)`, `(1 + session | patient)`, `(session | patient)` (intercept implied),
  `(0 + session | patient)`;
- plus `(1 | clinic)`: nested or crossed, the solver tells which from the data;
- `(1 | clinic/patient)` = `(1 | clinic) + (1 | patient:clinic)`: patients numbered within clinics.

Anything else (uncorrelated terms `||`, random slopes for the second factor, three or more terms, an
expression such as `I(session^2)` as a random slope, a grouping factor with a single level) is refused with
the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from strigil.registry.design import Column, values_of
from strigil.registry.growth_model import fit_design, growth_design
from strigil.registry.mixed_model import MixedModelFit
from strigil.registry.prediction import data_columns

__all__ = ["lmer", "split_formula"]

_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_SUPPORTED = (
    "the solver fits one random term per patient (any numeric columns, e.g. (1 + session | patient)) "
    "and optionally a random intercept of a second grouping factor, nested or crossed "
    "((1 | clinic) or (1 | clinic/patient))"
)


def _expand(term: str, formula: str) -> list[tuple[str, str]]:
    """One parenthesised term as (left-hand side, group) pairs; `a/b` becomes a and a:b."""
    if "||" in term:
        raise ValueError(
            f"formula {formula!r}: ({term}) asks for uncorrelated random effects (||), which the "
            f"solver does not fit; {_SUPPORTED}"
        )
    lhs, group = (part.strip() for part in term.split("|"))
    if re.fullmatch(rf"{_NAME}", group):
        return [(lhs, group)]
    nested = re.fullmatch(rf"({_NAME})\s*/\s*({_NAME})", group)
    if nested:
        outer, inner = nested.groups()
        return [(lhs, outer), (lhs, f"{inner}:{outer}")]  # lme4 names it inner:outer
    if re.fullmatch(rf"{_NAME}\s*:\s*{_NAME}", group):
        return [(lhs, re.sub(r"\s+", "", group))]
    raise ValueError(f"formula {formula!r}: the grouping {group!r} is not a column, a:b or a/b")


def _random_spans(formula: str) -> list[tuple[int, int]]:
    """Where the parenthesised random terms are: '(' … ')' holding a '|' outside any inner parentheses,
    and not a function's argument list (so `(1 + I(Days^2) | Subject)` is one term, `I(a | b)` none)."""
    spans: list[tuple[int, int]] = []
    opened: list[int] = []
    for j, ch in enumerate(formula):
        if ch == "(":
            opened.append(j)
        elif ch == ")" and opened:
            i = opened.pop()
            inner, depth, bar = formula[i + 1 : j], 0, False
            for c in inner:
                depth += (c == "(") - (c == ")")
                bar = bar or (c == "|" and depth == 0)
            called = re.search(r"[A-Za-z0-9_.]\s*$", formula[:i]) is not None
            if bar and not called:
                spans.append((i, j + 1))
    return spans


def split_formula(formula: str) -> tuple[str, list[str]]:
    """The fixed-effects formula and the random terms ('terms | group') of an lme4 formula."""
    spans = _random_spans(formula)
    terms = [formula[i + 1 : j - 1] for i, j in spans]
    if not terms:
        raise ValueError(f"formula {formula!r} has no random term such as (1 + session | patient)")
    fixed = formula
    for i, j in reversed(spans):
        fixed = fixed[:i] + " " + fixed[j:]
    fixed = re.sub(r"\+\s*(?=\+|$)", "", re.sub(r"\s+", " ", fixed)).strip()
    fixed = re.sub(r"~\s*\+", "~", fixed).rstrip("+ ").strip()
    if fixed.endswith("~"):
        fixed += " 1"
    if "|" in fixed:
        raise ValueError(f"formula {formula!r}: write each random term in parentheses, e.g. (1 | patient)")
    pairs = [pair for t in terms for pair in _expand(t, formula)]
    return fixed, [f"{lhs} | {group}" for lhs, group in pairs]


def _with_interactions(columns: dict[str, Column], groups: list[str]) -> None:
    """Add a column `a:b` for each grouping `a:b` (the levels of b within a)."""
    for g in groups:
        if ":" in g and g not in columns:
            a, b = g.split(":")
            for name in (a, b):
                if name not in columns:
                    raise ValueError(f"grouping {g!r}: column {name!r} is not in the data")
            columns[g] = np.array(
                [f"{x}:{y}" for x, y in zip(values_of(columns[a]), values_of(columns[b]), strict=True)],
                dtype=object,
            )


def _order(random: list[str], columns: Mapping[str, Column], formula: str) -> list[str]:
    """The patient term first (the one with more than an intercept, else the finer grouping), then the
    second factor's random intercept."""
    if len(random) == 1:
        return random
    if len(random) > 2:
        raise ValueError(f"formula {formula!r} has {len(random)} random terms; {_SUPPORTED}")
    intercept_only = [r.split("|")[0].strip() in ("1", "1 ") for r in random]
    if not any(intercept_only):
        raise ValueError(f"formula {formula!r}: two random terms with slopes; {_SUPPORTED}")
    if intercept_only[0] and not intercept_only[1]:
        return [random[1], random[0]]
    if all(intercept_only):
        sizes = [len(set(values_of(columns[r.split("|")[1].strip()]).tolist())) for r in random]
        return random if sizes[0] >= sizes[1] else [random[1], random[0]]
    return random


def lmer(formula: str, data: Any, *, REML: bool = True) -> MixedModelFit:
    """Fit a linear mixed model written as in lme4 (Bates et al. 2015, J Stat Softw 67(1)).

    formula: fixed effects and random terms in one formula, e.g.
        "pain ~ dose * session + (1 + session | patient)" or "... + (1 + session | patient) + (1 | clinic)".
    data: a pandas DataFrame or a mapping column → values; rows with a missing value in a column the model
        uses are left out (as lme4's na.omit).
    REML: restricted maximum likelihood (default, as lme4) or maximum likelihood (False).

    Returns a `MixedModelFit`: `summary()` prints what lme4 prints; `fixef`, `ranef()`, `predict()`,
    `confint()`, `logLik`, `AIC`, `BIC`, `anova()` follow lme4.
    """
    fixed, random = split_formula(formula)
    columns = data_columns(data)
    _with_interactions(columns, [r.split("|")[1].strip() for r in random])
    ordered = _order(random, columns, formula)
    for spec in ordered[1:]:
        if spec.split("|")[0].strip() != "1":
            raise ValueError(f"formula {formula!r}: ({spec}) — {_SUPPORTED}")
    return fit_design(growth_design(columns, fixed, ordered), reml=REML)
