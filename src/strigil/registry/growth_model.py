"""Growth models of an outcome over sessions: the registry's mixed model, from named columns.

`fit_growth_model(columns, "pain ~ session + session:minutes", ["1 + session | patient"])` fits a random
intercept and slope per patient; a second term `"1 | clinic"` adds a random intercept per clinic, nested or
crossed with patients (the solver handles both; see `strigil.registry.mixed_model`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from strigil.registry.design import (
    Coded,
    Column,
    RandomTerm,
    fixed_design,
    formula_variables,
    is_numeric,
    labelled_codes,
    parse_random,
    random_design,
)
from strigil.registry.mixed_model import MixedModelFit, fit_mixed_model

__all__ = [
    "GrowthDesign",
    "complete_mask",
    "complete_rows",
    "fit_design",
    "fit_growth_model",
    "growth_design",
    "needed_columns",
    "take_rows",
]


def needed_columns(formula: str, random: Sequence[str]) -> list[str]:
    """Every column a growth model reads (outcome, fixed-effect variables, random terms and groups)."""
    response, used = formula_variables(formula)
    names = [response, *used]
    for spec in random:
        term = parse_random(spec)
        names += [t for t in term.terms if t != "Intercept"] + [term.group]
    return list(dict.fromkeys(names))


def take_rows(col: Column, keep: np.ndarray) -> Column:
    """A column restricted to the rows where `keep` is true."""
    return col.take(keep) if isinstance(col, Coded) else np.asarray(col)[keep]


def complete_mask(columns: Mapping[str, Column], names: Sequence[str]) -> np.ndarray:
    """True for rows where none of the named columns is missing (as lme4's na.omit keeps them)."""
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(missing)} not in the data; columns: {', '.join(columns)}")
    keep = np.ones(len(columns[names[0]]), dtype=bool)
    for name in names:
        col = columns[name]
        if isinstance(col, Coded):
            keep &= col.codes >= 0
        elif np.asarray(col).dtype.kind == "f":
            keep &= ~np.isnan(np.asarray(col))
        elif np.asarray(col).dtype.kind == "O":
            keep &= np.array([v is not None for v in np.asarray(col)])
    return keep


def complete_rows(columns: Mapping[str, Column], names: Sequence[str]) -> dict[str, Column]:
    """The named columns restricted to rows where none of them is missing."""
    keep = complete_mask(columns, names)
    return {name: columns[name] if keep.all() else take_rows(columns[name], keep) for name in names}


@dataclass(frozen=True, eq=False)
class GrowthDesign:
    """The matrices of a growth model over complete rows, and what is needed to predict for new rows."""

    X: np.ndarray
    y: np.ndarray
    Z: np.ndarray
    groups: np.ndarray
    clinics: np.ndarray | None
    fixed_names: tuple[str, ...]
    terms: tuple[RandomTerm, ...]
    rows: np.ndarray  # which input rows are complete and used
    formula: str = ""
    response: str = ""
    group_levels: tuple[str, ...] = ()  # the text of each patient code
    clinic_levels: tuple[str, ...] = ()
    # the levels of each text column of the fixed effects (new data may hold no others)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)


def growth_design(columns: Mapping[str, Column], formula: str, random: Sequence[str]) -> GrowthDesign:
    """Check the model, keep complete rows and build its matrices."""
    if not 1 <= len(random) <= 2:
        raise ValueError(
            f"random={list(random)!r}: give one patient term, optionally followed by '1 | clinic'"
        )
    terms = tuple(parse_random(r) for r in random)
    if len(terms) == 2 and terms[1].terms != ("Intercept",):
        raise ValueError(
            f"random={random[1]!r}: the second grouping level allows a random intercept only ('1 | group')"
        )
    if len(terms) == 2 and terms[0].group == terms[1].group:
        raise ValueError(f"random: the two terms have the same group {terms[0].group!r}")
    names = needed_columns(formula, random)
    rows = complete_mask(columns, names)
    everything = bool(rows.all())
    data = {name: columns[name] if everything else take_rows(columns[name], rows) for name in names}
    if not rows.any():
        raise ValueError("no complete rows: every row misses at least one of the model's columns")
    fd = fixed_design(formula, data)
    groups, group_levels = labelled_codes(data[terms[0].group])
    clinics, clinic_levels = labelled_codes(data[terms[1].group]) if len(terms) == 2 else (None, ())
    _, used = formula_variables(formula)
    categories = {v: labelled_codes(data[v])[1] for v in used if v in data and not is_numeric(data[v])}
    return GrowthDesign(
        X=fd.X,
        y=fd.y,
        Z=random_design(terms[0], data),
        groups=groups,
        clinics=clinics,
        fixed_names=fd.names,
        terms=terms,
        rows=rows,
        formula=formula,
        response=fd.response,
        group_levels=group_levels,
        clinic_levels=clinic_levels,
        categories=categories,
    )


def _check_levels(design: GrowthDesign) -> None:
    """Refuse a grouping factor with a single level: its variance cannot be told apart from the residual."""
    levels = [(design.terms[0].group, design.group_levels)]
    if len(design.terms) == 2:
        levels.append((design.terms[1].group, design.clinic_levels))
    for group, present in levels:
        if len(present) < 2:
            only = f" ({present[0]!r})" if present else ""
            raise ValueError(
                f"grouping factor {group!r} has {len(present)} level{only} in the {len(design.y)} complete "
                f"rows; a random effect needs at least two groups to estimate its variance (leave out the "
                f"random term of {group!r}, or add data from more groups)"
            )


def fit_design(design: GrowthDesign, reml: bool = True) -> MixedModelFit:
    """Fit a prepared growth design by REML or ML (a grouping factor needs at least two levels)."""
    _check_levels(design)
    terms = design.terms
    fit = fit_mixed_model(
        design.X,
        design.y,
        design.Z,
        design.groups,
        fixed_names=design.fixed_names,
        random_terms=terms[0].terms,
        group_name=terms[0].group,
        clinics=design.clinics,
        clinic_name=terms[1].group if len(terms) == 2 else "clinic",
        reml=reml,
    )
    return replace(fit, design=design)


def fit_growth_model(
    columns: Mapping[str, Column],
    formula: str,
    random: Sequence[str],
    reml: bool = True,
) -> MixedModelFit:
    """Fit `formula` with the random terms `random` (patient term first, then optionally `1 | clinic`)."""
    return fit_design(growth_design(columns, formula, random), reml=reml)
