"""The fitted meta-analysis: an immutable result whose fields carry the names of the JSON contract."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.bias import RankTest, RegTest
    from strigil.meta.influence import Baujat, Influence, StudySequence
    from strigil.meta.permutation import PermutationTest
    from strigil.meta.trimfill import TrimFill

__all__ = ["Coefficient", "Prediction", "RMAResult", "Subgroup", "Tau2Interval"]

_Array = NDArray[np.float64]


@dataclass(frozen=True)
class Coefficient:
    """One model coefficient with its test and confidence interval (metafor's `intrcpt` naming)."""

    name: str
    estimate: float
    se: float
    stat: float
    p: float
    ci_lb: float
    ci_ub: float

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict (null where a value does not exist)."""
        return {"name": self.name, "estimate": _num(self.estimate), "se": _num(self.se),
                "stat": _num(self.stat), "p": _num(self.p), "ci_lb": _num(self.ci_lb),
                "ci_ub": _num(self.ci_ub)}


@dataclass(frozen=True)
class Subgroup:
    """A separate meta-analysis of one subgroup (metafor's `rma(..., subset=group == name)`)."""

    name: str
    k: int
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    tau2: float
    I2: float
    result: RMAResult


@dataclass(frozen=True, repr=False)
class Prediction(Presentable):
    """Predicted (average) effects with confidence and prediction intervals (metafor's `predict`)."""

    pred: _Array
    se: _Array
    ci_lb: _Array
    ci_ub: _Array
    pi_lb: _Array
    pi_ub: _Array

    def to_frame(self) -> pd.DataFrame:
        """One row per prediction: pred, se, ci_lb, ci_ub, pi_lb, pi_ub."""
        from strigil.display import frame

        return frame({n: getattr(self, n) for n in ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub")})

    def summary(self) -> Summary:
        """The predictions as metafor's `print(predict(...))` lists them."""
        from strigil.meta.printing import table_summary

        n = len(self.pred)
        return table_summary(f"Predicted effect{'s' if n > 1 else ''} ({n})", self.to_frame())


@dataclass(frozen=True, repr=False)
class Tau2Interval(Presentable):
    """Q-profile confidence intervals for τ², τ, I² and H² (metafor's `confint`), as (estimate, lb, ub)."""

    level: float
    tau2: tuple[float, float, float]
    tau: tuple[float, float, float]
    I2: tuple[float, float, float]
    H2: tuple[float, float, float]

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity (tau2, tau, I2, H2): estimate, ci_lb, ci_ub."""
        from strigil.display import frame

        rows = (self.tau2, self.tau, self.I2, self.H2)
        return frame({"estimate": [r[0] for r in rows], "ci_lb": [r[1] for r in rows],
                      "ci_ub": [r[2] for r in rows]}, ["tau2", "tau", "I2", "H2"], "quantity")

    def summary(self) -> Summary:
        """metafor's `print(confint(res))`."""
        from strigil.meta.printing import tau2_interval_summary

        return tau2_interval_summary(self)


def _num(x: Any) -> Any:
    """A plain JSON number, or None where the quantity does not exist (NaN, ±inf, None)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    value = float(x)
    return value if math.isfinite(value) else None


@dataclass(frozen=True, eq=False, repr=False)
class RMAResult(Presentable):
    """A fitted random/fixed-effects model or meta-regression, in metafor's vocabulary.

    `tau2_ci` (the Q-profile interval) is computed on first access, so fitting stays cheap.
    """

    k: int
    p: int
    method: str
    test: str
    dist: str
    df: int | None
    tau2: float
    tau2_se: float
    I2: float
    H2: float
    Q: float
    Q_df: int
    Q_p: float
    beta: tuple[Coefficient, ...]
    pi_lb: float | None
    pi_ub: float | None
    QM: float
    QM_df: int
    QM_ddf: int | None
    QM_p: float
    R2: float | None
    subgroups: tuple[Subgroup, ...] | None
    Q_between: float | None
    Q_between_df: int | None
    Q_between_p: float | None
    level: float
    converged: bool
    yi: _Array
    vi: _Array
    X: _Array
    weights: _Array | None
    vb: _Array
    slab: tuple[str, ...] | None
    intercept: bool
    vt: float
    tau2_fixed: bool = False
    # indices (into the input) of the studies left out for a missing or non-finite value
    omitted: tuple[int, ...] = ()

    # ---- quantities computed on request -------------------------------------------------------

    @cached_property
    def tau2_ci(self) -> tuple[float, float] | None:
        """Q-profile confidence interval for τ² at the model's level; None for EE/FE models and for GENQ
        (whose interval needs the distribution of a weighted sum of χ², not implemented)."""
        if self.method in ("EE", "FE", "GENQ") or self.tau2_fixed:
            return None
        ci = self.confint()
        return (ci.tau2[1], ci.tau2[2])

    @property
    def weight_percent(self) -> _Array:
        """Each study's weight in percent of the total (metafor's `weights()`)."""
        w = 1.0 / (self.vi + self.tau2) if self.weights is None else self.weights
        return np.asarray(100 * w / w.sum())

    @property
    def moderators(self) -> bool:
        """True for a meta-regression (any coefficient besides the intercept)."""
        return not (self.intercept and self.p == 1)

    def confint(self, level: float | None = None) -> Tau2Interval:
        """Q-profile confidence intervals for τ², τ, I² and H² (Viechtbauer, 2007)."""
        from strigil.meta.tau2 import q_profile_ci

        lvl = self.level if level is None else level
        X = None if not self.moderators else self.X
        # Q(τ²) does not change when a constant is taken off every effect of a model with an intercept;
        # centred (as for the τ² estimate) it is not lost to cancellation when the effects share a large
        # offset (1e16 ± 1 gave bounds in the wrong order).
        y = self.yi - self.yi.mean() if self.intercept else self.yi
        lb, ub = q_profile_ci(y, self.vi, X, lvl)
        vt = self.vt

        def i2(t: float) -> float:
            return 100 * t / (vt + t) if math.isfinite(t) else math.nan

        def h2(t: float) -> float:
            return t / vt + 1 if math.isfinite(t) else math.nan

        sq = math.sqrt
        return Tau2Interval(
            level=lvl,
            tau2=(self.tau2, lb, ub),
            tau=(sq(self.tau2), sq(lb) if lb >= 0 else math.nan, sq(ub) if ub >= 0 else math.nan),
            I2=(self.I2, i2(lb), i2(ub)),
            H2=(self.H2, h2(lb), h2(ub)),
        )

    def predict(self, newmods: Any = None, level: float | None = None) -> Prediction:
        """Predicted average effect(s) with CI and prediction interval, as metafor's `predict`.

        Without moderators this is the pooled estimate; with them, `newmods` (n × q, the moderator
        values without the intercept) or, if omitted, the fitted values of the studies.
        """
        from strigil.meta.rma import critical_value

        lvl = self.level if level is None else level
        if not self.moderators:
            Xn = np.ones((1, 1))
        elif newmods is None:
            Xn = self.X
        else:
            q = self.p - 1 if self.intercept else self.p
            mods = np.asarray(newmods, dtype=float)
            if mods.ndim <= 1:
                mods = mods.reshape(-1, 1) if q == 1 else mods.reshape(1, -1)
            if mods.ndim != 2 or mods.shape[1] != q:
                raise ValueError(f"newmods must have {q} column(s); got shape {mods.shape}")
            Xn = np.column_stack([np.ones(mods.shape[0]), mods]) if self.intercept else mods
        b = np.array([c.estimate for c in self.beta])
        pred = Xn @ b
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, self.vb, Xn))
        crit = critical_value(lvl, self.df)
        spread = np.sqrt(se**2 + self.tau2)
        return Prediction(
            pred, se, pred - crit * se, pred + crit * se, pred - crit * spread, pred + crit * spread
        )

    def refit(self, subset: Any = None, *, tau2: float | None = None) -> RMAResult:
        """The same model on a subset of the studies (mask or indices) and/or with τ² fixed."""
        from strigil.meta.rma import fit_design

        idx = np.arange(self.k) if subset is None else np.asarray(subset)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        names = tuple(c.name for c in self.beta)
        return fit_design(
            self.yi[idx],
            self.vi[idx],
            self.X[idx] if self.moderators else None,
            names,
            intercept=self.intercept,
            method=self.method,
            test=self.test,
            level=self.level,
            weights=None if self.weights is None else self.weights[idx],
            tau2_fixed=tau2,
            slab=None if self.slab is None else tuple(self.slab[i] for i in idx),
        )

    # ---- diagnostics and plots live in their own modules ----------------------------------------

    def leave1out(self) -> StudySequence:
        """Leave-one-out estimates: the model refitted without each study in turn (metafor's `leave1out`)."""
        from strigil.meta.influence import leave1out

        return leave1out(self)

    def influence(self) -> Influence:
        """Case-deletion diagnostics per study (Viechtbauer & Cheung, 2010; metafor's `influence`):
        studentized residuals, DFFITS, Cook's distance, covariance ratio, τ² and Q without the study, hat
        values, weights, DFBETAS and the flag of influential studies."""
        from strigil.meta.influence import influence

        return influence(self)

    def baujat(self) -> Baujat:
        """Baujat plot coordinates (Baujat et al., 2002): each study's contribution to Q and its influence
        on the pooled estimate (metafor's `baujat`)."""
        from strigil.meta.influence import baujat

        return baujat(self)

    def cumul(self, order: Any = None) -> StudySequence:
        """Cumulative meta-analysis: the model refitted as studies are added one at a time (metafor's
        `cumul`).

        order: the order to add studies in — a sequence of sort keys, one per study (e.g. the year), or
            None for the order of the data.
        """
        from strigil.meta.cumulative import cumul

        return cumul(self, order)

    def regtest(self, model: str = "rma", predictor: str = "sei") -> RegTest:
        """Egger's regression test for funnel-plot asymmetry (Egger et al., 1997; metafor's `regtest`).

        model: "rma" (a meta-regression with the model's τ² estimator) or "lm" (weighted regression with
            multiplicative dispersion, Egger's original test).
        predictor: "sei" (standard error), "vi" (variance), "ni", "ninv", "sqrtni" or "sqrtninv".
        """
        from strigil.meta.bias import regtest

        return regtest(self, model, predictor)

    def ranktest(self) -> RankTest:
        """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (Begg & Mazumdar, 1994;
        metafor's `ranktest`): Kendall's tau of standardized effects and their variances."""
        from strigil.meta.bias import ranktest

        return ranktest(self)

    def trimfill(self, side: str | None = None, estimator: str = "L0") -> TrimFill:
        """Duval and Tweedie's trim-and-fill (Duval & Tweedie, 2000; metafor's `trimfill`).

        side: "left" or "right", where studies are missing; None picks it from Egger's slope.
        estimator: "L0" or "R0", the estimator of the number of missing studies.
        """
        from strigil.meta.trimfill import trimfill

        return trimfill(self, side, estimator)

    def permutest(self, iter: int = 1000, exact: bool = False, seed: int | None = None) -> PermutationTest:
        """Permutation tests of the coefficients and the omnibus test (Follmann & Proschan, 1999; metafor's
        `permutest`).

        iter: the number of random permutations when not all are enumerated.
        exact: enumerate every distinct permutation (or sign flip), however many.
        seed: the seed of the random permutations (None: a fresh random seed).
        """
        from strigil.meta.permutation import permutest

        return permutest(self, iter, exact, seed)

    def fitstats(self, method: str | None = None) -> Any:
        """Log-likelihood, deviance, AIC, BIC, AICc (strigil.meta.likelihood.fitstats)."""
        from strigil.meta.likelihood import fitstats

        return fitstats(self, method)

    def anova(self, *args: Any, **kwargs: Any) -> Any:
        """Wald or likelihood-ratio tests (strigil.meta.anova.anova)."""
        from strigil.meta.anova import anova

        return anova(self, *args, **kwargs)

    def robust(self, *args: Any, **kwargs: Any) -> Any:
        """Cluster-robust inference (strigil.meta.robust.robust)."""
        from strigil.meta.robust import robust

        return robust(self, *args, **kwargs)

    def blup(self, *args: Any, **kwargs: Any) -> Any:
        """Best linear unbiased predictions of the true effects (strigil.meta.blup.blup)."""
        from strigil.meta.blup import blup

        return blup(self, *args, **kwargs)

    def forest(self, *args: Any, **kwargs: Any) -> Any:
        """Forest plot (strigil.meta.plots.forest)."""
        from strigil.meta.plots import forest

        return forest(self, *args, **kwargs)

    def funnel(self, *args: Any, **kwargs: Any) -> Any:
        """Funnel plot (strigil.meta.plots.funnel)."""
        from strigil.meta.plots import funnel

        return funnel(self, *args, **kwargs)

    def _fit_statistics_json(self) -> dict[str, Any]:
        """logLik, deviance, AIC, BIC, AICc as metafor's fitstats (null where they do not exist)."""
        from strigil.meta.likelihood import fitstats

        keys = ("logLik", "deviance", "AIC", "BIC", "AICc")
        try:
            with np.errstate(all="ignore"):  # extreme data: a statistic that overflows is reported as null
                fs = fitstats(self)
        except (ValueError, np.linalg.LinAlgError):
            return dict.fromkeys(keys)
        return {key: _num(getattr(fs, key)) for key in keys}

    # ---- presentation (strigil.meta.printing, strigil.meta.frames) --------------------------------

    def summary(self) -> Summary:
        """What metafor prints for this model: heterogeneity, tests and the coefficient table."""
        from strigil.meta.printing import rma_summary

        return rma_summary(self)

    def to_frame(self, part: str = "coefficients") -> pd.DataFrame:
        """A pandas DataFrame of the coefficients, the studies (yi, vi, interval, weight), the model
        statistics (one row) or the subgroups: `part` = "coefficients", "studies", "model", "subgroups"."""
        from strigil.meta.frames import rma_frame

        return rma_frame(self, part)

    # ---- the JSON contract ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with the contract's names; null where a quantity does not exist."""
        ci = self.tau2_ci
        out: dict[str, Any] = {
            "k": self.k,
            "p": self.p,
            "method": self.method,
            "test": self.test,
            "dist": self.dist,
            "df": _num(self.df),
            "level": _num(self.level),
            "tau2": _num(self.tau2),
            "tau2_se": _num(self.tau2_se),
            "tau2_ci": None if ci is None else [_num(ci[0]), _num(ci[1])],
            "I2": _num(self.I2),
            "H2": _num(self.H2),
            "Q": _num(self.Q),
            "Q_df": _num(self.Q_df),
            "Q_p": _num(self.Q_p),
            "beta": [
                {
                    "name": c.name,
                    "estimate": _num(c.estimate),
                    "se": _num(c.se),
                    "stat": _num(c.stat),
                    "p": _num(c.p),
                    "ci_lb": _num(c.ci_lb),
                    "ci_ub": _num(c.ci_ub),
                }
                for c in self.beta
            ],
            "pi_lb": _num(self.pi_lb),
            "pi_ub": _num(self.pi_ub),
            "QM": _num(self.QM),
            "QM_df": _num(self.QM_df),
            "QM_ddf": _num(self.QM_ddf),
            "QM_p": _num(self.QM_p),
            "R2": _num(self.R2),
            "converged": bool(self.converged),
            "k_omitted": len(self.omitted),
            **self._fit_statistics_json(),
        }
        if self.subgroups is not None:
            out["subgroups"] = [
                {
                    "name": s.name,
                    "k": s.k,
                    "estimate": _num(s.estimate),
                    "se": _num(s.se),
                    "ci_lb": _num(s.ci_lb),
                    "ci_ub": _num(s.ci_ub),
                    "tau2": _num(s.tau2),
                    "I2": _num(s.I2),
                }
                for s in self.subgroups
            ]
            out["Q_between"] = _num(self.Q_between)
            out["Q_between_df"] = _num(self.Q_between_df)
            out["Q_between_p"] = _num(self.Q_between_p)
        return out
