"""Model formulas into matrices: fixed effects through formulaic, random terms in lme4's `1 + x | group` form.

formulaic names the fixed-effect columns (`Intercept`, `session:minutes`, `phase[T.chronic]`). On millions
of rows, building the matrix through formulaic is slow, so formulaic is asked only for the column names and
contrasts on a small frame that holds every level of every categorical variable, and the columns are then
computed with numpy. That fast path is checked against formulaic's own matrix on the small frame and is used
only when the two agree exactly; otherwise formulaic builds the whole matrix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from strigil.registry.formula import SimpleFormula, read_simple_formula

__all__ = [
    "Coded",
    "Column",
    "FixedDesign",
    "RandomTerm",
    "codes_of",
    "fixed_design",
    "formula_variables",
    "is_numeric",
    "labelled_codes",
    "parse_random",
    "random_design",
    "term_values",
    "values_of",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_LEVEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\[(T\.)?(.*)\]$")


@dataclass(frozen=True)
class Coded:
    """A text column stored as integer codes into its levels (as pyarrow's dictionary encoding gives it)."""

    codes: np.ndarray
    levels: Any  # a sequence of str: numpy array, list or Arrow string array

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> Coded:
        """The column restricted to `rows` (a boolean mask or indices)."""
        return Coded(self.codes[rows], self.levels)

    def level_texts(self) -> list[str]:
        """The levels as Python strings (Arrow arrays via to_pylist, which does not import pandas)."""
        if hasattr(self.levels, "to_pylist"):
            return [str(v) for v in self.levels.to_pylist()]
        return [str(v) for v in self.levels]


Column = np.ndarray | Coded


def values_of(col: Column, rows: np.ndarray | None = None) -> np.ndarray:
    """Plain values of a column (text levels for a coded column), optionally for some rows."""
    if isinstance(col, Coded):
        codes = col.codes if rows is None else col.codes[rows]
        return np.asarray(col.level_texts(), dtype=object)[codes]
    return np.asarray(col) if rows is None else np.asarray(col)[rows]


def codes_of(col: Column) -> tuple[np.ndarray, int]:
    """Integer codes 0..k-1 of a grouping column and the number k of groups that occur."""
    if isinstance(col, Coded):
        present = np.bincount(col.codes, minlength=len(col.levels)) > 0
        if present.all():
            return col.codes.astype(np.intp), len(col.levels)
        remap = np.cumsum(present) - 1
        return remap[col.codes].astype(np.intp), int(present.sum())
    levels, codes = np.unique(np.asarray(col), return_inverse=True)
    return codes.astype(np.intp), len(levels)


def labelled_codes(col: Column) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes 0..k-1 of a grouping column and the text of each level that occurs (sorted)."""
    if isinstance(col, Coded):
        codes, _ = codes_of(col)
        texts = col.level_texts()
        present = np.flatnonzero(np.bincount(col.codes[col.codes >= 0], minlength=len(texts)) > 0)
        return codes, tuple(texts[int(i)] for i in present)
    levels, codes = np.unique(np.asarray(col), return_inverse=True)
    return codes.astype(np.intp), tuple(str(v) for v in levels)


def is_numeric(col: Column) -> bool:
    """True for a numeric column (a coded or text column is categorical)."""
    return _is_numeric(col)


def _is_numeric(col: Column) -> bool:
    return not isinstance(col, Coded) and np.asarray(col).dtype.kind in "fiub"


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term `terms | group`, e.g. `1 + session | patient`."""

    terms: tuple[str, ...]  # "Intercept" for the random intercept, else a numeric column name
    group: str


@dataclass(frozen=True)
class FixedDesign:
    """Response and fixed-effects matrix with formulaic's column names."""

    y: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    response: str
    fast_path: bool  # True when the columns were computed with numpy after checking against formulaic


def parse_random(spec: str) -> RandomTerm:
    """Parse an lme4-style random term such as `1 + session | patient` (no nesting operators)."""
    text = spec.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    if text.count("|") != 1 or "||" in text:
        raise ValueError(
            f"random={spec!r}: expected one term of the form 'terms | group', e.g. '1 + session | patient'"
        )
    lhs, group = (s.strip() for s in text.split("|"))
    if not all(_NAME.match(part) for part in group.split(":")):
        raise ValueError(f"random={spec!r}: the group {group!r} must be a column name")
    intercept = True
    terms: list[str] = []
    for raw in re.split(r"\s*\+\s*", lhs.replace("- 1", "+ -1").replace("-1", "+ -1")):
        part = raw.strip()
        if part in ("", "+"):
            continue
        if part == "1":
            intercept = True
        elif part in ("0", "-1"):
            intercept = False
        elif _NAME.match(part):
            terms.append(part)
        else:
            raise ValueError(
                f"random={spec!r}: term {part!r} is not allowed; a random slope is a numeric column name "
                "(1 or 0 for the intercept). Compute an expression as a column of the data first, e.g. "
                "data['x2'] = data['x'] ** 2 for I(x^2), and name that column"
            )
    out = (("Intercept",) if intercept else ()) + tuple(dict.fromkeys(terms))
    if not out:
        raise ValueError(f"random={spec!r}: no random terms left")
    return RandomTerm(terms=out, group=group)


def random_design(term: RandomTerm, columns: Mapping[str, Column]) -> np.ndarray:
    """The n×q matrix Z of one random term."""
    n = len(next(iter(columns.values())))
    Z = np.empty((n, len(term.terms)), order="F")  # column-major: sums read columns
    for j, name in enumerate(term.terms):
        if name == "Intercept":
            Z[:, j] = 1.0
            continue
        if name not in columns:
            raise ValueError(f"random term {name!r} is not a column; columns: {', '.join(sorted(columns))}")
        col = columns[name]
        if not _is_numeric(col):
            raise ValueError(
                f"random term {name!r} must be numeric, got values such as {values_of(col)[:1]!r}"
            )
        Z[:, j] = np.asarray(col)
    return Z


def formula_variables(formula: str) -> tuple[str, list[str]]:
    """The response and the right-hand-side variables (as formulaic reads them) of a formula."""
    return _variables(formula)


def _variables(formula: str) -> tuple[str, list[str]]:
    simple = read_simple_formula(formula)
    if simple is not None:
        return simple.response, simple.variables
    from formulaic import Formula

    f = Formula(formula)
    lhs = [str(t) for t in f.lhs]
    if len(lhs) != 1 or not _NAME.match(lhs[0]):
        raise ValueError(
            f"formula={formula!r}: the left-hand side must be one column name, e.g. 'pain ~ session'"
        )
    names: list[str] = []
    for term in f.rhs:
        for factor in term.factors:
            s = str(factor)
            if s not in ("1", "0") and s not in names:
                names.append(s)
    return lhs[0], names


def _small_frame_rows(columns: Mapping[str, Column], used: list[str]) -> np.ndarray:
    """Row indices of a small frame holding every level of every categorical column, plus a few others."""
    n = len(next(iter(columns.values())))
    idx = [np.arange(min(n, 50))]
    for name in used:
        col = columns.get(name)
        if isinstance(col, Coded):
            _, first = np.unique(col.codes, return_index=True)
            idx.append(first)
        elif col is not None and not _is_numeric(col):
            _, first = np.unique(np.asarray(col), return_index=True)
            idx.append(first)
    return np.unique(np.concatenate(idx))


def _fast_column(name: str, columns: Mapping[str, Column], rows: np.ndarray | None) -> np.ndarray | None:
    """One fixed-effects column computed with numpy from formulaic's name for it, or None if not possible."""
    n = len(next(iter(columns.values()))) if rows is None else len(rows)
    if name == "Intercept":
        return np.ones(n)
    out = np.ones(n)
    for part in name.split(":"):
        if _NAME.match(part) and part in columns and _is_numeric(columns[part]):
            c = np.asarray(columns[part])
            out = out * (c if rows is None else c[rows]).astype(float)
            continue
        m = _LEVEL.match(part)
        if not m or m.group(1) not in columns or _is_numeric(columns[m.group(1)]):
            return None
        col = columns[m.group(1)]
        if isinstance(col, Coded):
            hit = np.flatnonzero(np.asarray(col.level_texts(), dtype=object) == m.group(3))
            if len(hit) != 1:
                return None
            codes = col.codes if rows is None else col.codes[rows]
            out = out * (codes == hit[0])
        else:
            out = out * (values_of(col, rows) == m.group(3))
    return out


def _simple_names(sf: SimpleFormula, columns: Mapping[str, Column]) -> tuple[str, ...] | None:
    """formulaic's column names for a simple formula, or None when formulaic's own coding rules are needed."""
    names = ["Intercept"] if sf.intercept else []
    for term in sf.terms:
        if all(_is_numeric(columns[v]) for v in term):
            names.append(":".join(term))
            continue
        if len(term) != 1 or not sf.intercept:
            return None  # text columns inside interactions, or without an intercept: formulaic decides
        col = columns[term[0]]
        present = (
            np.flatnonzero(np.bincount(col.codes[col.codes >= 0], minlength=len(col.levels)))
            if isinstance(col, Coded)
            else None
        )
        levels = (
            sorted(col.level_texts()[int(k)] for k in present)
            if isinstance(col, Coded) and present is not None
            else sorted({str(v) for v in np.asarray(col)})
        )
        names += [f"{term[0]}[T.{level}]" for level in levels[1:]]
    return tuple(names)


def term_values(name: str, columns: Mapping[str, Column]) -> np.ndarray | None:
    """Values of the fixed-effects column formulaic names `name` (e.g. `session:minutes`), or None."""
    return _fast_column(name, columns, None)


def fixed_design(formula: str, columns: Mapping[str, Column]) -> FixedDesign:
    """Response and fixed-effects matrix of `formula` over `columns` (rows with missing values removed)."""
    response, used = _variables(formula)
    for v in [response, *used]:
        if _NAME.match(v) and v not in columns:
            raise ValueError(
                f"formula={formula!r}: column {v!r} is not in the data; columns: {', '.join(columns)}"
            )
    if not _is_numeric(columns[response]):
        raise ValueError(f"formula={formula!r}: the outcome {response!r} must be numeric")
    y = np.asarray(columns[response], dtype=float)
    simple = read_simple_formula(formula)
    simple_names = _simple_names(simple, columns) if simple is not None else None
    if simple_names is not None:
        X = np.empty((len(y), len(simple_names)), order="F")
        for j, nm in enumerate(simple_names):
            col = _fast_column(nm, columns, None)
            if col is None:
                break
            X[:, j] = col
        else:
            return FixedDesign(y=y, X=X, names=simple_names, response=response, fast_path=True)
    import pandas as pd
    from formulaic import model_matrix

    # Every column named anywhere in the formula (a factor may be an expression such as np.log(dose)).
    used = [c for c in columns if re.search(rf"\b{re.escape(c)}\b", formula) and c != response]
    small = _small_frame_rows(columns, [v for v in used if v in columns])
    frame = pd.DataFrame({k: values_of(columns[k], small) for k in [response, *used] if k in columns})
    mm = model_matrix(formula, frame)
    names = tuple(str(c) for c in mm.rhs.columns)
    reference = np.asarray(mm.rhs, dtype=float)
    fast = [_fast_column(nm, columns, small) for nm in names]
    checked = [c for c in fast if c is not None]
    if len(checked) == len(names) and np.array_equal(np.column_stack(checked), reference):
        X = np.empty((len(y), len(names)), order="F")
        for j, nm in enumerate(names):
            col = _fast_column(nm, columns, None)
            assert col is not None
            X[:, j] = col
        return FixedDesign(y=y, X=X, names=names, response=response, fast_path=True)
    full = pd.DataFrame({k: values_of(columns[k]) for k in [response, *used] if k in columns})
    mm = model_matrix(formula, full, na_action="raise")
    return FixedDesign(
        y=np.asarray(mm.lhs, dtype=float).ravel(),
        X=np.asarray(mm.rhs, dtype=float),
        names=tuple(str(c) for c in mm.rhs.columns),
        response=response,
        fast_path=False,
    )
