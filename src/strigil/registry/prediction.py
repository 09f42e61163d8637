"""Predictions of a fitted mixed model for the rows it was fitted to or for new rows (lme4's `predict`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.registry.design import Coded, Column, is_numeric, random_design, term_values, values_of

if TYPE_CHECKING:
    from strigil.registry.growth_model import GrowthDesign
    from strigil.registry.mixed_model import MixedModelFit

__all__ = ["data_columns", "predict"]


def data_columns(data: Any) -> dict[str, Column]:
    """Columns of a pandas DataFrame or a mapping as arrays: numbers as float, anything else as text."""
    names = list(data.columns) if hasattr(data, "columns") else list(data)
    if not isinstance(data, Mapping) and not hasattr(data, "columns"):
        raise ValueError("data must be a pandas DataFrame or a mapping column name → values")
    out: dict[str, Column] = {}
    for name in names:
        col = data[name]
        if isinstance(col, Coded):
            out[str(name)] = col
            continue
        arr = np.asarray(col)
        if arr.dtype.kind in "iu":
            out[str(name)] = arr  # integers stay integers: group labels such as 308, not 308.0
        elif arr.dtype.kind in "fb":
            out[str(name)] = arr.astype(float)
        else:
            out[str(name)] = np.array([None if v is None or v != v else str(v) for v in arr], dtype=object)
    return out


def _fixed_matrix(design: GrowthDesign, columns: Mapping[str, Column], n: int) -> np.ndarray:
    for name, levels in design.categories.items():
        if name not in columns:
            raise ValueError(f"newdata has no column {name!r}")
        unknown = sorted({str(v) for v in values_of(columns[name])} - set(levels))
        if unknown:
            raise ValueError(
                f"newdata: {name} = {unknown} did not occur in the fitted data (levels: "
                f"{', '.join(levels)})"
            )
    X = np.empty((n, len(design.fixed_names)))
    for j, term in enumerate(design.fixed_names):
        values = term_values(term, columns)
        if values is None:
            raise ValueError(
                f"cannot compute the fixed-effects column {term!r} for new data; give the columns "
                "it is made of"
            )
        X[:, j] = values
    return X


def _codes(column: Column, levels: tuple[str, ...], what: str, allow_new: bool) -> np.ndarray:
    index = {lvl: i for i, lvl in enumerate(levels)}
    texts = [str(v) for v in values_of(column)]
    codes = np.array([index.get(t, -1) for t in texts], dtype=np.intp)
    if not allow_new and (codes < 0).any():
        new = sorted({t for t, c in zip(texts, codes, strict=True) if c < 0})
        raise ValueError(
            f"newdata: {what} {new[:5]} did not occur in the fitted data; pass "
            "allow_new_levels=True to predict them with random effects 0"
        )
    return codes


def predict(
    fit: MixedModelFit, newdata: Any = None, *, random: bool = True, allow_new_levels: bool = False
) -> np.ndarray:
    """Xβ̂ (+ Zb̃ of the patient and the clinic when `random`); see `MixedModelFit.predict`."""
    d = fit.design
    if d is None:
        raise ValueError("this fit was pooled from clinic aggregates; predictions need the fitted design")
    if newdata is None:
        mean = d.X @ fit.beta
        if not random:
            return np.asarray(mean)
        Z, groups, clinics = d.Z, d.groups, d.clinics
    else:
        columns = data_columns(newdata)
        n = len(next(iter(columns.values())))
        mean = _fixed_matrix(d, columns, n) @ fit.beta
        if not random:
            return np.asarray(mean)
        patient, *clinic = d.terms
        for term in patient.terms:
            if term != "Intercept" and (term not in columns or not is_numeric(columns[term])):
                raise ValueError(f"newdata needs the numeric column {term!r} of the random term")
        Z = random_design(patient, columns)
        if patient.group not in columns:
            raise ValueError(
                f"newdata has no column {patient.group!r}; use random=False for population-level "
                "predictions"
            )
        groups = _codes(columns[patient.group], d.group_levels, patient.group, allow_new_levels)
        clinics = None
        if clinic:
            if clinic[0].group not in columns:
                raise ValueError(f"newdata has no column {clinic[0].group!r}")
            clinics = _codes(columns[clinic[0].group], d.clinic_levels, clinic[0].group, allow_new_levels)
    effects = fit.ranef()
    patient_b = effects[d.terms[0].group].values
    known = groups >= 0
    out = np.array(mean, dtype=float)
    out[known] += np.einsum("ij,ij->i", Z[known], patient_b[groups[known]])
    if clinics is not None:
        clinic_b = effects[d.terms[1].group].values[:, 0]
        seen = clinics >= 0
        out[seen] += clinic_b[clinics[seen]]
    return out
