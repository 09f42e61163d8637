"""Moderators given as a model formula (`"~ dose + technique"`), built with formulaic the way R builds
metafor's `mods = ~ ...` design.

Text (and boolean) columns become categorical moderators with R's default treatment coding: the first
level in sorted order is the reference, every other level gets an indicator column named variable and
level run together (`techniqueGraston`), as R's `model.matrix`; without an intercept (`~ technique - 1`)
every level gets its own column. `factor(x)` (R) or `C(x)` (formulaic) treats a numeric column as
categorical. Interactions (`a:b`, `a * b`) and transformations formulaic knows work as well. Rows with a
missing value in any variable the formula uses are reported as missing (NaN rows), for the caller to
leave out and count, as metafor does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Design", "column", "columns_of", "formula_design"]

_FloatArray = NDArray[np.float64]
_LEVEL = re.compile(r"\[(?:T\.)?([^\]]*)\]")


@dataclass(frozen=True)
class Design:
    """A design matrix (NaN rows where a variable is missing), its column names as R names them, and
    whether the first column is the intercept."""

    X: _FloatArray
    names: tuple[str, ...]
    intercept: bool
    missing: NDArray[np.bool_]


def _frame(data: Any) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if isinstance(data, Mapping):
        return pd.DataFrame({str(k): list(v) for k, v in data.items()})
    raise ValueError("data must be a mapping of column name to values or a data frame")


def columns_of(data: Any) -> dict[str, list[Any]] | None:
    """`data` (a pandas DataFrame or a mapping column → values) as a plain dict of lists; None stays None."""
    if data is None:
        return None
    if isinstance(data, Mapping):  # kept as given (columns of unequal length are the caller's to report)
        return {str(name): list(values) for name, values in data.items()}
    frame = _frame(data)
    return {str(name): frame[name].tolist() for name in frame.columns}


def column(data: Any, name: str) -> list[Any]:
    """The column `name` of `data` (a mapping or a data frame) as a list."""
    if data is None:
        raise ValueError(f"{name!r} names a column, but no data were given")
    try:
        values = data[name]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"{name!r} is not a column of the data") from None
    return list(values)


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return x.strip() in ("", "NA", "NaN", "nan")
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _r_name(name: str) -> str:
    """formulaic's column name as R writes it: Intercept → intrcpt, alloc[T.random] → allocrandom,
    C(dose)[T.2] → factor(dose)2."""
    if name == "Intercept":
        return "intrcpt"
    parts = []
    for part in name.split(":"):
        part = _LEVEL.sub(lambda m: m.group(1), part)
        parts.append(re.sub(r"^C\(([^)]*)\)", r"factor(\1)", part))
    return ":".join(parts)


def formula_design(formula: str, data: Any) -> Design:
    """The design matrix of `formula` (e.g. "~ dose + technique") on `data`, with R's coding and names."""
    import formulaic
    import pandas as pd

    text = formula.strip()
    if not text.startswith("~"):
        raise ValueError(f"a moderator formula starts with '~' (e.g. '~ dose + technique'); got {formula!r}")
    text = re.sub(r"\bfactor\(", "C(", text)
    frame = _frame(data)
    try:
        needed = sorted(formulaic.Formula(text).required_variables)
    except Exception as exc:  # formulaic's parse errors have no common base class
        raise ValueError(f"cannot read the formula {formula!r}: {exc}") from None
    absent = [v for v in needed if v not in frame.columns]
    if absent:
        raise ValueError(f"the formula {formula!r} uses {', '.join(absent)}, which the data do not have; "
                         f"columns are {', '.join(map(str, frame.columns))}")
    n = len(frame)
    missing = np.zeros(n, dtype=bool)
    clean = {}
    for v in needed:
        values = list(frame[v])
        miss = np.array([_is_missing(x) for x in values], dtype=bool)
        missing |= miss
        numeric = all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                      for x, m in zip(values, miss, strict=True) if not m)
        clean[v] = pd.Series(values, dtype=float if numeric else object)
    complete = pd.DataFrame(clean).loc[~missing].reset_index(drop=True)
    if complete.empty:
        raise ValueError(f"every study has a missing value in a variable of {formula!r}")
    for v in needed:
        if complete[v].dtype == object:
            text_values = complete[v].astype(str)
            complete[v] = pd.Categorical(text_values, categories=sorted(set(text_values)))
    try:
        mm = formulaic.model_matrix(text, complete, na_action="raise")
    except Exception as exc:
        raise ValueError(f"cannot build the moderators of {formula!r}: {exc}") from None
    X = np.full((n, mm.shape[1]), np.nan)
    X[~missing] = np.asarray(mm, dtype=float)
    names = tuple(_r_name(str(c)) for c in mm.columns)
    return Design(X, names, names[:1] == ("intrcpt",), missing)
