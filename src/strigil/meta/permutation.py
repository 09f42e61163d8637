"""Permutation tests of the model coefficients and of the omnibus test (metafor's `permutest`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary
from strigil.meta.batch import rma_batch
from strigil.meta.rma import fit_design

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult

__all__ = ["PermutationTest", "permutest"]

_Array = NDArray[np.float64]

# metafor counts a permuted statistic as extreme when it reaches the observed one within sqrt(eps)
_COMPTOL = math.sqrt(float(np.finfo(float).eps))
# sign-flip sets are fitted in chunks to bound memory (k × chunk doubles)
_CHUNK = 4096


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True, repr=False)
class PermutationTest(Presentable):
    """Permutation p-values per coefficient (`pval`) and for the omnibus test (`QMp`).

    `exact` tells whether every distinct sign flip (intercept-only model) or ordering of the
    moderator rows was enumerated (`iter` of them); otherwise `iter` random ones were drawn with
    `seed` (the observed data counted as the first), and the p-values carry Monte Carlo error of
    about sqrt(p(1 − p)/iter)."""

    names: tuple[str, ...]
    pval: tuple[float, ...]
    QMp: float
    exact: bool
    iter: int
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: its permutation p-value."""
        from strigil.display import frame

        return frame({"p": list(self.pval)}, self.names, "term")

    def summary(self) -> Summary:
        """The permutation p-values of the coefficients and of the omnibus test."""
        from strigil.meta.printing import permutest_summary

        return permutest_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with metafor's names."""
        return {"names": list(self.names), "pval": [_num(p) for p in self.pval], "QMp": _num(self.QMp),
                "exact": self.exact, "iter": self.iter, "seed": self.seed}


def _distinct_orderings(codes: list[int]) -> Iterator[list[int]]:
    """Every distinct ordering of a multiset (rows with identical moderators are interchangeable)."""
    counts: dict[int, int] = {}
    for c in codes:
        counts[c] = counts.get(c, 0) + 1
    n = len(codes)
    current: list[int] = []

    def extend() -> Iterator[list[int]]:
        if len(current) == n:
            yield list(current)
            return
        for c in sorted(counts):
            if counts[c]:
                counts[c] -= 1
                current.append(c)
                yield from extend()
                current.pop()
                counts[c] += 1

    yield from extend()


def _multinomial(counts: list[int]) -> float:
    total = math.factorial(sum(counts))
    for c in counts:
        total //= math.factorial(c)
    return float(total)


def permutest(
    res: RMAResult, iter: int = 1000, exact: bool = False, seed: int | None = None
) -> PermutationTest:
    """Permutation test of a meta-analytic model (Follmann & Proschan, 1999, Biometrics 55:1244;
    Higgins & Thompson, 2004, Stat Med 23:1663), as metafor's `permutest.rma.uni`.

    Intercept-only models: the signs of the effects are flipped; with moderators: the rows of the
    design matrix are permuted against the effects. All distinct flips/orderings are used when
    `exact` or when there are at most `iter` of them; otherwise `iter` random ones (seeded).
    """
    if iter < 2:
        raise ValueError(f"iter must be at least 2; got {iter}")
    names = tuple(c.name for c in res.beta)
    z_obs = np.array([c.stat for c in res.beta])
    k = res.k
    if not res.moderators:
        n_exact = 2.0**k
        use_exact = exact or n_exact <= iter
        if use_exact and n_exact > 2**20:
            raise ValueError(f"an exact sign-flip test at k={k} needs {n_exact:.0f} fits; use Monte Carlo")
        rng = None if use_exact else np.random.default_rng(seed)
        if use_exact:
            signs = np.array(list(itertools.product((1.0, -1.0), repeat=k))).T
        else:
            signs = rng.choice((-1.0, 1.0), size=(k, iter)) if rng is not None else np.empty((k, 0))
            signs[:, 0] = 1.0  # the observed data count as one permutation (as metafor)
        stats = _sign_flip_stats(res, signs)
        p = float(np.mean(np.abs(stats) >= abs(z_obs[0]) - _COMPTOL))
        # the omnibus statistic of an intercept-only model is the squared test statistic
        qm = float(np.mean(stats**2 >= res.QM - _COMPTOL))
        return PermutationTest(names, (min(p, 1.0),), qm, use_exact, signs.shape[1],
                               None if use_exact else seed)
    # meta-regression: permute the rows of X; identical rows give identical orderings
    X = res.X
    _, codes_arr = np.unique(X, axis=0, return_inverse=True)
    codes = [int(c) for c in np.asarray(codes_arr).ravel()]
    counts = [codes.count(c) for c in sorted(set(codes))]
    n_exact = _multinomial(counts)
    use_exact = exact or n_exact <= iter
    if use_exact and n_exact > 200_000:
        raise ValueError(f"an exact permutation test here needs {n_exact:.0f} fits; use Monte Carlo")
    rows_by_code = {c: X[codes.index(c)] for c in set(codes)}
    if use_exact:
        designs = [np.array([rows_by_code[c] for c in order]) for order in _distinct_orderings(codes)]
    else:
        rng = np.random.default_rng(seed)
        designs = [X] + [X[rng.permutation(k)] for _ in range(iter - 1)]
    zs = np.full((len(designs), len(names)), math.nan)
    qms = np.full(len(designs), math.nan)
    for j, Xp in enumerate(designs):
        if np.linalg.matrix_rank(Xp) < Xp.shape[1]:
            continue
        fit = fit_design(res.yi, res.vi, Xp, names, intercept=res.intercept, method=res.method,
                         test=res.test, level=res.level, weights=res.weights, r2=False)
        zs[j] = [c.stat for c in fit.beta]
        qms[j] = fit.QM
    pv = tuple(float(np.nanmean(np.abs(zs[:, i]) >= abs(z_obs[i]) - _COMPTOL)) for i in range(len(names)))
    qm = float(np.nanmean(qms >= res.QM - _COMPTOL))
    return PermutationTest(names, pv, qm, use_exact, len(designs), None if use_exact else seed)


def _sign_flip_stats(res: RMAResult, signs: _Array) -> _Array:
    """Test statistics of the intercept-only model for every column of sign flips."""
    out = np.empty(signs.shape[1])
    if res.weights is None:
        for start in range(0, signs.shape[1], _CHUNK):
            block = signs[:, start:start + _CHUNK]
            y = block * res.yi[:, None]
            v = np.broadcast_to(res.vi[:, None], y.shape)
            out[start:start + block.shape[1]] = rma_batch(y, v, method=res.method, test=res.test,
                                                          level=res.level).stat
        return out
    for j in range(signs.shape[1]):
        fit = fit_design(signs[:, j] * res.yi, res.vi, None, ("intrcpt",), method=res.method,
                         test=res.test, level=res.level, weights=res.weights, r2=False)
        out[j] = fit.beta[0].stat
    return out
