"""Growth models of an outcome over sessions: the registry's mixed model, from named columns.

`fit_growth_model(columns, "pain ~ session + session:minutes", ["1 + session | patient"])` fits a random
intercept and slope per patient; a second term `"1 | clinic"` adds a random intercept per clinic, nested or
crossed with patients (the solver handles both; see `strigil.registry.mixed_model`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from strigil.registry.design import (
    Coded,
    Column,
    RandomTerm,
    codes_of,
    fixed_design,
    formula_variables,
    parse_random,
    random_design,
)
from strigil.registry.mixed_model import MixedModelFit, fit_mixed_model

__all__ = ["complete_rows", "fit_growth_model", "needed_columns"]


def needed_columns(formula: str, random: Sequence[str]) -> list[str]:
    """Every column a growth model reads (outcome, fixed-effect variables, random terms and groups)."""
    response, used = formula_variables(formula)
    names = [response, *used]
    for spec in random:
        term = parse_random(spec)
        names += [t for t in term.terms if t != "Intercept"] + [term.group]
    return list(dict.fromkeys(names))


def complete_rows(columns: Mapping[str, Column], names: Sequence[str]) -> dict[str, Column]:
    """The named columns restricted to rows where none of them is missing (as lme4's na.omit)."""
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(missing)} not in the data; columns: {', '.join(columns)}")
    n = len(columns[names[0]])
    keep = np.ones(n, dtype=bool)
    for name in names:
        col = columns[name]
        if isinstance(col, Coded):
            keep &= col.codes >= 0
        elif np.asarray(col).dtype.kind == "f":
            keep &= ~np.isnan(np.asarray(col))
        elif np.asarray(col).dtype.kind == "O":
            keep &= np.array([v is not None for v in np.asarray(col)])
    if keep.all():
        return {name: columns[name] for name in names}
    return {
        name: (
            columns[name].take(keep) if isinstance(columns[name], Coded) else np.asarray(columns[name])[keep]
        )
        for name in names
    }


def fit_growth_model(
    columns: Mapping[str, Column],
    formula: str,
    random: Sequence[str],
    reml: bool = True,
) -> MixedModelFit:
    """Fit `formula` with the random terms `random` (patient term first, then optionally `1 | clinic`)."""
    if not 1 <= len(random) <= 2:
        raise ValueError(
            f"random={list(random)!r}: give one patient term, optionally followed by '1 | clinic'"
        )
    terms: list[RandomTerm] = [parse_random(r) for r in random]
    if len(terms) == 2 and terms[1].terms != ("Intercept",):
        raise ValueError(
            f"random={random[1]!r}: the second grouping level allows a random intercept only ('1 | group')"
        )
    if len(terms) == 2 and terms[0].group == terms[1].group:
        raise ValueError(f"random: the two terms have the same group {terms[0].group!r}")
    data = complete_rows(columns, needed_columns(formula, random))
    if len(next(iter(data.values()))) == 0:
        raise ValueError("no complete rows: every row misses at least one of the model's columns")
    fd = fixed_design(formula, data)
    Z = random_design(terms[0], data)
    groups, _ = codes_of(data[terms[0].group])
    clinics = codes_of(data[terms[1].group])[0] if len(terms) == 2 else None
    return fit_mixed_model(
        fd.X,
        fd.y,
        Z,
        groups,
        fixed_names=fd.names,
        random_terms=terms[0].terms,
        group_name=terms[0].group,
        clinics=clinics,
        clinic_name=terms[1].group if len(terms) == 2 else "clinic",
        reml=reml,
    )
