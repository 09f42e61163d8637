"""Tests of several coefficients at once and of nested models (metafor's `anova.rma`).

Wald tests: QM = (Lβ̂ − c)'(L Var(β̂) L')⁻¹(Lβ̂ − c) against χ²ₘ, or QM/m against F(m, k − p) for
t-based models (a set of coefficients is L = rows of the identity). Likelihood-ratio tests compare a
full and a reduced model fitted to the same data: LRT = deviance_reduced − deviance_full against χ²
with the difference in the number of parameters (Viechtbauer, 2010; for REML fits only when both
models have the same fixed effects, since restricted likelihoods of different X are not comparable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta.likelihood import FitStatistics
from strigil.meta.result import RMAResult, _num
from strigil.meta.result_mv import RMAMVResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LikelihoodRatioTest", "WaldTest", "anova", "coefficient_rows", "likelihood_ratio", "wald"]

_Array = NDArray[np.float64]
_Model = RMAResult | RMAMVResult


@dataclass(frozen=True, eq=False, repr=False)
class WaldTest(Presentable):
    """An omnibus Wald test of hypotheses Lβ = rhs, with each row's own test (for contrasts)."""

    hypotheses: tuple[str, ...]
    QM: float
    QM_df: int
    QM_ddf: int | None
    QM_p: float
    estimate: _Array
    se: _Array
    stat: _Array
    p: _Array
    btt: tuple[int, ...] | None = None  # 1-based positions of the coefficients tested (None: contrasts)

    def summary(self) -> Summary:
        """metafor's `print(anova(res, btt = ...))`."""
        from strigil.meta.printing import wald_summary

        return wald_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per hypothesis: estimate, se, statistic, p."""
        from strigil.display import frame

        cols = {"estimate": self.estimate, "se": self.se, "stat": self.stat, "p": self.p}
        return frame(cols, self.hypotheses, "hypothesis")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {"test": "Wald", "hypotheses": list(self.hypotheses), "QM": _num(self.QM), "QM_df": self.QM_df,
                "QM_ddf": self.QM_ddf, "QM_p": _num(self.QM_p),
                "estimate": [_num(x) for x in self.estimate], "se": [_num(x) for x in self.se],
                "stat": [_num(x) for x in self.stat], "p": [_num(x) for x in self.p]}

    def __repr__(self) -> str:
        ddf = f", {self.QM_ddf}" if self.QM_ddf is not None else ""
        return f"WaldTest(QM({self.QM_df}{ddf}) = {self.QM:.4f}, p = {self.QM_p:.4g})"


@dataclass(frozen=True, repr=False)
class LikelihoodRatioTest(Presentable):
    """A likelihood-ratio test of a reduced against a full model (same data and method)."""

    method: str
    full: FitStatistics
    reduced: FitStatistics
    LRT: float
    df: int
    p: float
    QE_full: float
    QE_reduced: float

    def summary(self) -> Summary:
        """metafor's `print(anova(full, reduced))`."""
        from strigil.meta.printing import lrt_summary

        return lrt_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """Two rows (full, reduced): df, AIC, BIC, AICc, logLik, LRT, p, QE."""
        from strigil.display import frame

        f, r = self.full, self.reduced
        return frame({"df": [f.parms, r.parms], "AIC": [f.AIC, r.AIC], "BIC": [f.BIC, r.BIC],
                      "AICc": [f.AICc, r.AICc], "logLik": [f.logLik, r.logLik], "LRT": [None, self.LRT],
                      "p": [None, self.p], "QE": [self.QE_full, self.QE_reduced]},
                     ["Full", "Reduced"], "model")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {"test": "LRT", "method": self.method, "full": self.full.to_json(),
                "reduced": self.reduced.to_json(),
                "LRT": _num(self.LRT), "df": self.df, "p": _num(self.p), "QE_full": _num(self.QE_full),
                "QE_reduced": _num(self.QE_reduced)}

    def __repr__(self) -> str:
        return f"LikelihoodRatioTest({self.method}: LRT = {self.LRT:.4f}, df = {self.df}, p = {self.p:.4g})"


def coefficient_rows(model: _Model, btt: Sequence[int | str]) -> _Array:
    """Rows of the identity selecting coefficients by name or 0-based position."""
    names = [c.name for c in model.beta]
    idx = []
    for b in btt:
        if isinstance(b, str):
            if b not in names:
                raise ValueError(f"btt: no coefficient named {b!r}; coefficients are {', '.join(names)}")
            idx.append(names.index(b))
        else:
            j = int(b)
            if not 0 <= j < len(names):
                raise ValueError(f"btt: position {j} is out of range (0 to {len(names) - 1})")
            idx.append(j)
    if len(set(idx)) != len(idx):
        raise ValueError("btt names a coefficient twice")
    return np.eye(len(names))[idx]


def _df(model: _Model) -> int | None:
    return model.df if model.test in ("t", "knha") else None


def wald(model: _Model, L: Any, rhs: Any = None, *, labels: Sequence[str] | None = None) -> WaldTest:
    """Wald test of Lβ = rhs (rows of L are linear combinations of the coefficients)."""
    names = [c.name for c in model.beta]
    p = len(names)
    Lm = np.atleast_2d(np.asarray(L, dtype=float))
    if Lm.ndim != 2 or Lm.shape[1] != p:
        raise ValueError(f"L must have {p} column(s), one per coefficient ({', '.join(names)}); "
                         f"got shape {Lm.shape}")
    m = Lm.shape[0]
    c = np.zeros(m) if rhs is None else np.broadcast_to(np.asarray(rhs, dtype=float), (m,)).copy()
    b = np.array([x.estimate for x in model.beta])
    vb = np.asarray(model.vb)
    est = Lm @ b - c
    cov = Lm @ vb @ Lm.T
    se = np.sqrt(np.diag(cov))
    df = _df(model)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    pval = special.erfc(np.abs(stat) / math.sqrt(2)) if df is None else 2 * special.stdtr(df, -np.abs(stat))
    QM, QM_p = math.nan, math.nan
    if np.linalg.matrix_rank(Lm) == m:
        try:
            QM = float(est @ np.linalg.solve(cov, est))
        except np.linalg.LinAlgError:
            QM = math.nan
        if df is None:
            QM_p = float(special.chdtrc(m, QM))
        else:
            QM /= m
            QM_p = float(special.fdtrc(m, df, QM)) if df > 0 else math.nan
    hyp = tuple(labels) if labels is not None else tuple(
        _describe(row, names, ci) for row, ci in zip(Lm, c, strict=True))
    return WaldTest(hyp, QM, m, df, QM_p, est, se, stat, pval)


def _describe(row: _Array, names: list[str], rhs: float) -> str:
    terms = [f"{'' if w == 1 else '-' if w == -1 else f'{w:g}*'}{n}"
             for w, n in zip(row, names, strict=True) if w != 0]
    return " + ".join(terms).replace("+ -", "- ") + f" = {rhs:g}"


def anova(model: _Model, other: _Model | None = None, *, btt: Sequence[int | str] | None = None,
          L: Any = None, rhs: Any = None) -> WaldTest | LikelihoodRatioTest:
    """A Wald test (coefficients `btt` by name or 0-based position — default all but the intercept —
    or linear combinations `L`), or with `other` a likelihood-ratio test of the nested models."""
    if other is not None:
        if btt is not None or L is not None:
            raise ValueError("give either a second model (likelihood-ratio test) or btt/L (Wald test), "
                             "not both")
        return likelihood_ratio(model, other)
    if L is not None:
        if btt is not None:
            raise ValueError("give either btt or L, not both")
        return wald(model, L, rhs)
    if btt is None:
        names = [c.name for c in model.beta]
        btt = list(range(1, len(names))) if model.intercept and len(names) > 1 else list(range(len(names)))
    rows = coefficient_rows(model, btt)
    test = wald(model, rows, rhs)
    return replace(test, btt=tuple(int(np.flatnonzero(r)[0]) + 1 for r in rows))


def _same_data(a: _Model, b: _Model) -> bool:
    if not np.array_equal(a.yi, b.yi):
        return False
    if isinstance(a, RMAResult) and isinstance(b, RMAResult):
        return bool(np.array_equal(a.vi, b.vi))
    if isinstance(a, RMAMVResult) and isinstance(b, RMAMVResult):
        d = a.model.V_matrix - b.model.V_matrix
        return d.nnz == 0 or float(abs(d).max()) == 0.0
    return False


def likelihood_ratio(model: _Model, other: _Model) -> LikelihoodRatioTest:
    """Likelihood-ratio test of two nested models fitted to the same effects (the one with more
    parameters is the full model)."""
    if type(model) is not type(other):
        raise ValueError("a likelihood-ratio test compares two models of the same kind (rma with rma, "
                         "rma_mv with rma_mv)")
    fs_a, fs_b = _fitstats(model), _fitstats(other)
    if fs_a.parms == fs_b.parms:
        raise ValueError("the models have the same number of parameters; a likelihood-ratio test needs "
                         "nested models")
    full, reduced = (model, other) if fs_a.parms > fs_b.parms else (other, model)
    if not _same_data(full, reduced):
        raise ValueError("the two models were not fitted to the same effects and sampling (co)variances")
    mf, mr = full.method, reduced.method
    ee = ("EE", "FE")
    if mf in ee and mr not in ee:
        raise ValueError("the full model is a fixed-effects and the reduced a random-effects model")
    if {mf, mr} == {"ML", "REML"}:
        raise ValueError(f"one model uses ML and the other REML estimation ({mf} vs {mr}); "
                         "fit both the same way")
    for m in (mf, mr):
        if m not in ("EE", "FE", "ML", "REML"):
            raise ValueError(f"likelihood-ratio tests need ML or REML fits; one model uses {m}")
    if "REML" in (mf, mr) and (full.X.shape != reduced.X.shape or not np.array_equal(full.X, reduced.X)):
        raise ValueError("restricted likelihoods (REML) of models with different fixed effects are not "
                         "comparable; refit both models with method='ML'")
    which = "REML" if "REML" in (mf, mr) else "ML"
    f, r = _fitstats(full, which), _fitstats(reduced, which)
    lrt = max(0.0, r.deviance - f.deviance)
    df = f.parms - r.parms
    qe_f = full.QE if isinstance(full, RMAMVResult) else full.Q
    qe_r = reduced.QE if isinstance(reduced, RMAMVResult) else reduced.Q
    return LikelihoodRatioTest(which, f, r, lrt, df, float(special.chdtrc(df, lrt)), qe_f, qe_r)


def _fitstats(model: _Model, method: str | None = None) -> FitStatistics:
    if isinstance(model, RMAMVResult):
        return model.fitstats(method)
    from strigil.meta.likelihood import fitstats

    return fitstats(model, method)
