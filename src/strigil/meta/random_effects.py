"""Random-effects terms of a multilevel/multivariate model, in metafor's formula notation.

`~ 1 | trial/effect` adds one variance component σ² per nesting level (Konstantopoulos, 2011);
`~ outcome | trial` adds correlated random effects of the outcomes within each trial, with a
variance-covariance matrix G of the chosen structure (Berkey et al., 1998):

| struct | G[i, j] for inner levels i ≠ j | parameters |
|---|---|---|
| CS   | ρ τ²                          | τ², ρ |
| HCS  | ρ τᵢ τⱼ                       | τ²₁…τ²ₘ, ρ |
| UN   | ρᵢⱼ τᵢ τⱼ                     | τ²₁…τ²ₘ, ρ₂₁, ρ₃₁, … (R's lower triangle, column by column) |
| AR   | τ² ρ^|i−j|                    | τ², ρ (AR(1) over the ordered inner levels) |
| HAR  | τᵢ τⱼ ρ^|i−j|                 | τ²₁…τ²ₘ, ρ |
| ID   | 0 (G = τ² I)                  | τ² |
| DIAG | 0 (G = diag(τ²ᵢ))             | τ²₁…τ²ₘ |

Levels sort as R's factors do for numbers (numerically) and by code point for text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "STRUCTS",
    "CovarianceStructure",
    "Factor",
    "InnerOuter",
    "RandomSpec",
    "covariance_structure",
    "outermost_group",
    "parse_random",
    "term_columns",
]

_Array = NDArray[np.float64]
_Index = NDArray[np.intp]

STRUCTS = ("CS", "HCS", "UN", "AR", "HAR", "ID", "DIAG")
_HETERO = {"HCS", "UN", "HAR", "DIAG"}
_TERM = re.compile(r"^\s*~\s*(?P<inner>[^|]+?)\s*\|\s*(?P<outer>.+?)\s*$")
_FACTOR_CALL = re.compile(r"^(?:factor|as\.factor)\((?P<name>[^()]+)\)$")


@dataclass(frozen=True, eq=False)
class Factor:
    """A grouping variable: its name, its sorted level labels and each row's level index."""

    name: str
    levels: tuple[str, ...]
    codes: _Index

    @property
    def nlevels(self) -> int:
        """Number of levels present in the data."""
        return len(self.levels)


@dataclass(frozen=True, eq=False)
class InnerOuter:
    """An `~ inner | outer` term: random effects of the inner levels, correlated within each outer level."""

    inner: Factor
    outer: Factor
    struct: str
    formula: str


@dataclass(frozen=True, eq=False)
class RandomSpec:
    """All random terms of a model: σ² components (`~ 1 | …`) and at most one `~ inner | outer` term."""

    sigma2: tuple[Factor, ...]
    inner_outer: InnerOuter | None
    formulas: tuple[str, ...]


def _label(value: float) -> str:
    """A numeric level as R prints it in a factor label ('11', '2.5')."""
    return str(int(value)) if math.isfinite(value) and float(value).is_integer() else repr(float(value))


def _levels(values: list[Any]) -> tuple[_Index, list[str]]:
    """Each value's level index and the level labels, sorted as R's factor(): numerically when every
    value is a number, else as text."""
    try:
        numeric = np.asarray(values, dtype=float)  # numbers, or text that reads as numbers
    except (TypeError, ValueError):
        text = np.array([str(v).strip() for v in values])
        uniq, inverse = np.unique(text, return_inverse=True)
        return inverse.astype(np.intp).ravel(), [str(u) for u in uniq]
    uniq_n, inverse = np.unique(numeric, return_inverse=True)
    return inverse.astype(np.intp).ravel(), [_label(u) for u in uniq_n]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(float(value))
    return str(value).strip() in ("", "NA", "NaN", "nan")


def _column(data: Mapping[str, Sequence[Any]], name: str, k: int, formula: str) -> list[Any]:
    if name not in data:
        cols = ", ".join(sorted(data)) if data else "none"
        raise ValueError(f"random term {formula!r} names the column {name!r}, which is not in the data "
                         f"(columns: {cols})")
    values = list(data[name])
    if len(values) != k:
        raise ValueError(f"column {name!r} has {len(values)} values for {k} effects")
    try:
        as_numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        bad = [i for i, v in enumerate(values) if _missing(v)]
    else:
        bad = np.flatnonzero(~np.isfinite(as_numbers)).tolist()
    if bad:
        raise ValueError(f"column {name!r} (random term {formula!r}) has missing values at rows {bad[:5]}")
    return values


def _factor(name: str, columns: list[list[Any]]) -> Factor:
    """A factor from one column, or the interaction of several (nesting), levels in R's lex order."""
    coded = [_levels(col) for col in columns]
    if len(coded) == 1:
        codes, single = coded[0]
        return Factor(name, tuple(single), codes)
    stacked = np.column_stack([c for c, _ in coded])
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    labels = tuple("/".join(coded[j][1][u[j]] for j in range(len(coded))) for u in uniq)
    return Factor(name, labels, inverse.astype(np.intp).ravel())


def _inner_name(text: str) -> str:
    m = _FACTOR_CALL.match(text.strip())
    return (m.group("name") if m else text).strip()


def outermost_group(random: str | Sequence[str]) -> str | None:
    """The column that groups effects at the top of the first random term ('trial' in '~ 1 | trial/effect'
    and in '~ outcome | trial'), or None when there is no term."""
    terms = [random] if isinstance(random, str) else list(random)
    if not terms:
        return None
    m = _TERM.match(terms[0])
    if not m:
        raise ValueError(f"random term {terms[0]!r} is not of the form '~ 1 | group', '~ 1 | outer/inner' "
                         "or '~ inner | outer'")
    return m.group("outer").split("/")[0].strip()


def term_columns(random: str | Sequence[str]) -> list[str]:
    """The data columns the random terms name, in order of first mention ('~ outcome | trial' -> outcome,
    trial; '~ 1 | group/trial' -> group, trial)."""
    names: list[str] = []
    for term in [random] if isinstance(random, str) else list(random):
        m = _TERM.match(term)
        if not m:
            raise ValueError(f"random term {term!r} is not of the form '~ 1 | group', '~ 1 | outer/inner' "
                             "or '~ inner | outer'")
        inner = _inner_name(m.group("inner"))
        if inner != "1":
            names.append(inner)
        names += [n.strip() for n in m.group("outer").split("/")]
    return list(dict.fromkeys(names))


def parse_random(random: str | Sequence[str], data: Mapping[str, Sequence[Any]] | None, k: int,
                 struct: str = "CS") -> RandomSpec:
    """Parse metafor-style random terms: '~ 1 | a', '~ 1 | a/b', '~ inner | outer' (one at most)."""
    terms = [random] if isinstance(random, str) else list(random)
    cols = {} if data is None else data  # never the truth value of a data frame
    sigma2: list[Factor] = []
    inner_outer: InnerOuter | None = None
    for formula in terms:
        m = _TERM.match(formula)
        if not m:
            raise ValueError(f"random term {formula!r} is not of the form '~ 1 | group', '~ 1 | outer/inner' "
                             "or '~ inner | outer'")
        inner, outer = m.group("inner").strip(), m.group("outer").strip()
        if inner == "1":
            names = [n.strip() for n in outer.split("/")]
            if any(not n for n in names):
                raise ValueError(f"random term {formula!r} has an empty grouping name")
            columns = [_column(cols, n, k, formula) for n in names]
            for depth in range(1, len(names) + 1):
                sigma2.append(_factor("/".join(names[:depth]), columns[:depth]))
            continue
        if "/" in outer:
            raise ValueError(f"random term {formula!r}: '~ inner | outer1/outer2' is not supported "
                             "(nest with '~ 1 | outer1/outer2' terms instead)")
        if inner_outer is not None:
            raise ValueError("only one '~ inner | outer' term is supported")
        s = struct.upper()
        if s not in STRUCTS:
            raise ValueError(f"struct {struct!r} is not supported; allowed: {', '.join(STRUCTS)}")
        iname = _inner_name(inner)
        inner_f = _factor(iname, [_column(cols, iname, k, formula)])
        outer_f = _factor(outer, [_column(cols, outer, k, formula)])
        inner_outer = InnerOuter(inner_f, outer_f, s, formula.strip())
    return RandomSpec(tuple(sigma2), inner_outer, tuple(t.strip() for t in terms))


# ---- the G matrix of an `~ inner | outer` term and its derivatives ------------------------------


@dataclass(frozen=True, eq=False)
class CovarianceStructure:
    """G(τ², ρ) for m inner levels, with first and second derivatives in the natural parameters.

    Parameters are ordered τ² (n_tau of them) then ρ (n_rho). `rho_pairs[c]` are the inner-level
    pairs that share ρ_c (UN: one pair each)."""

    struct: str
    m: int
    n_tau: int
    n_rho: int
    rho_pairs: tuple[tuple[int, int], ...]

    def _scale(self, tau2: _Array) -> tuple[_Array, list[_Array], dict[tuple[int, int], _Array]]:
        """p = s_i s_j with s_i = √τ²_(i), and its derivatives in τ²."""
        m = self.m
        if self.n_tau == 1:
            p = np.full((m, m), float(tau2[0]))
            return p, [np.ones((m, m))], {}
        if self.struct == "DIAG":  # no covariances: G = diag(τ²) is linear in τ²
            return np.diag(np.asarray(tau2, dtype=float)), [np.diag(np.eye(m)[a]) for a in range(m)], {}
        # floored so that the derivatives of √(τ²ᵢτ²ⱼ) stay finite for a component near 0
        t = np.maximum(np.asarray(tau2, dtype=float), 1e-100)
        s = np.sqrt(t)
        p = np.outer(s, s)
        np.fill_diagonal(p, t)
        d1, d2 = [], {}
        for a in range(m):
            d = np.zeros((m, m))
            d[a, :] = 0.5 * s / s[a]
            d[:, a] = 0.5 * s / s[a]
            d[a, a] = 1.0
            d1.append(d)
            e = np.zeros((m, m))
            e[a, :] = -0.25 * s / (t[a] * s[a])
            e[:, a] = e[a, :]
            e[a, a] = 0.0
            d2[(a, a)] = e
            for b in range(a):
                f = np.zeros((m, m))
                f[a, b] = f[b, a] = 0.25 / (s[a] * s[b])
                d2[(a, b)] = f
        return p, d1, d2

    def _correlation(self, rho: _Array) -> tuple[_Array, list[_Array], dict[int, _Array]]:
        """C(ρ) with unit diagonal, its derivatives and (AR) second derivatives in each ρ."""
        m = self.m
        if self.struct in ("ID", "DIAG"):
            return np.eye(m), [], {}
        if self.struct in ("AR", "HAR"):
            r = float(rho[0])
            lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m))).astype(float)
            c = np.where(lag == 0, 1.0, r ** lag)
            d = np.where(lag >= 1, lag * r ** np.maximum(lag - 1, 0), 0.0)
            dd = np.where(lag >= 2, lag * (lag - 1) * r ** np.maximum(lag - 2, 0), 0.0)
            return c, [d], {0: dd}
        c = np.eye(m)
        d1 = []
        for ci, pairs in enumerate(self.rho_pairs_by_param()):
            d = np.zeros((m, m))
            for i, j in pairs:
                c[i, j] = c[j, i] = float(rho[ci])
                d[i, j] = d[j, i] = 1.0
            d1.append(d)
        return c, d1, {}

    def rho_pairs_by_param(self) -> list[list[tuple[int, int]]]:
        """The pairs of inner levels each ρ parameter sets."""
        if self.struct == "UN":
            return [[pair] for pair in self.rho_pairs]
        return [list(self.rho_pairs)]

    def matrices(self, tau2: _Array, rho: _Array
                 ) -> tuple[_Array, list[_Array], dict[tuple[int, int], _Array]]:
        """G, [∂G/∂θ_a] and {(a, b): ∂²G/∂θ_a∂θ_b} (b ≤ a; absent pairs are zero), θ = (τ², ρ)."""
        p, dp, d2p = self._scale(tau2)
        c, dc, d2c = self._correlation(rho)
        G = p * c
        first = [d * c for d in dp] + [p * d for d in dc]
        second: dict[tuple[int, int], _Array] = {key: val * c for key, val in d2p.items()}
        nt = self.n_tau
        for a, d in enumerate(dp):
            for ci, e in enumerate(dc):
                second[(nt + ci, a)] = d * e
        for ci, e in d2c.items():
            second[(nt + ci, nt + ci)] = p * e
        return G, first, second


def covariance_structure(term: InnerOuter) -> CovarianceStructure:
    """The G-matrix parametrisation of an `~ inner | outer` term (the caller decides which ρ are free)."""
    m = term.inner.nlevels
    s = term.struct
    n_tau = m if s in _HETERO else 1
    if s in ("ID", "DIAG"):
        return CovarianceStructure(s, m, n_tau, 0, ())
    pairs = tuple((i, j) for j in range(m) for i in range(j + 1, m))  # R's lower.tri, column-major
    n_rho = max(len(pairs), 1) if s == "UN" else 1
    return CovarianceStructure(s, m, n_tau, n_rho, pairs)
