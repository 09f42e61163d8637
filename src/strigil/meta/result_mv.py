"""The fitted multilevel/multivariate model: an immutable result in metafor's `rma.mv` vocabulary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary
from strigil.meta.likelihood import FitStatistics
from strigil.meta.result import Coefficient, Prediction, _num

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.anova import LikelihoodRatioTest, WaldTest
    from strigil.meta.blup import RandomEffects
    from strigil.meta.multilevel import Evaluation, MarginalModel
    from strigil.meta.profile import ComponentInterval
    from strigil.meta.random_effects import RandomSpec
    from strigil.meta.rma_mv import Setup
    from strigil.meta.robust import RobustResult

__all__ = ["RMAMVResult", "VarianceComponent"]

_Array = NDArray[np.float64]


@dataclass(frozen=True)
class VarianceComponent:
    """One variance component (σ², τ²) or correlation (ρ): its name, estimate, whether it was fixed,
    and the number of levels of its grouping factor (None for correlations)."""

    name: str
    estimate: float
    fixed: bool
    nlevels: int | None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {"name": self.name, "estimate": _num(self.estimate), "fixed": self.fixed,
                "nlevels": self.nlevels}


@dataclass(frozen=True, eq=False, repr=False)
class RMAMVResult(Presentable):
    """A fitted multilevel or multivariate model (metafor's `rma.mv`).

    `sigma2`: one component per `~ 1 | …` level; `tau2`, `rho`: the `~ inner | outer` term's G
    (struct, inner and outer name it). Fit statistics under both ML and REML (`fit_ml`, `fit_reml`);
    `logLik`, `deviance`, `AIC`, `BIC`, `AICc` are those of the fitting method.
    """

    k: int
    p: int
    method: str
    test: str
    dist: str
    df: int | None
    level: float
    beta: tuple[Coefficient, ...]
    vb: _Array
    sigma2: tuple[VarianceComponent, ...]
    tau2: tuple[VarianceComponent, ...]
    rho: tuple[VarianceComponent, ...]
    struct: str | None
    inner: str | None
    outer: str | None
    inner_levels: tuple[str, ...]
    G: _Array | None
    QE: float
    QE_df: int
    QE_p: float
    QM: float
    QM_df: int
    QM_ddf: int | None
    QM_p: float
    btt: tuple[int, ...]
    fit_ml: FitStatistics
    fit_reml: FitStatistics
    parms: int
    converged: bool
    iterations: int
    notes: tuple[str, ...]
    random: tuple[str, ...]
    intercept: bool
    slab: tuple[str, ...] | None
    yi: _Array = field(repr=False)
    X: _Array = field(repr=False)
    spec: RandomSpec = field(repr=False)
    model: MarginalModel = field(repr=False)
    evaluation: Evaluation = field(repr=False)
    theta: _Array = field(repr=False)
    free: NDArray[np.intp] = field(repr=False)
    setup: Setup = field(repr=False)

    # ---- fit statistics ---------------------------------------------------------------------------

    def fitstats(self, method: str | None = None) -> FitStatistics:
        """Fit statistics under ML or REML (default: the fitting method)."""
        which = (method or self.method).upper()
        if which not in ("ML", "REML"):
            raise ValueError(f"method {method!r}: fit statistics exist under 'ML' or 'REML'")
        return self.fit_reml if which == "REML" else self.fit_ml

    @property
    def logLik(self) -> float:
        """Log-likelihood (restricted under REML)."""
        return self.fitstats().logLik

    @property
    def deviance(self) -> float:
        """Deviance (ML: against the saturated model; REML: −2 ℓ_REML)."""
        return self.fitstats().deviance

    @property
    def AIC(self) -> float:
        """Akaike's information criterion."""
        return self.fitstats().AIC

    @property
    def BIC(self) -> float:
        """Schwarz's Bayesian information criterion."""
        return self.fitstats().BIC

    @property
    def AICc(self) -> float:
        """AIC with the small-sample correction."""
        return self.fitstats().AICc

    @property
    def coefficients(self) -> _Array:
        """The estimates β̂ as an array."""
        return np.array([c.estimate for c in self.beta])

    # ---- later steps on the fitted model ----------------------------------------------------------

    def predict(self, newmods: Any = None, *, tau2_levels: Any = None, intercept: bool | None = None,
                level: float | None = None) -> Prediction:
        """Predicted average effects with confidence and prediction intervals (metafor's `predict`).

        `newmods`: moderator values (n × q, without the intercept column); omitted: the pooled effect
        of an intercept-only model, else the fitted values. `tau2_levels`: the inner level (label or
        1-based position) whose τ² widens each prediction interval when τ² differs by level.
        """
        from strigil.meta.rma import critical_value

        lvl = self.level if level is None else level
        q = self.p - 1 if self.intercept else self.p
        int_only = self.intercept and self.p == 1
        if newmods is None:
            Xn = np.ones((1, 1)) if int_only else self.X
        else:
            if int_only:
                raise ValueError("a model without moderators takes no newmods")
            mods = np.asarray(newmods, dtype=float)
            if mods.ndim <= 1:
                mods = mods.reshape(-1, 1) if q == 1 else mods.reshape(1, -1)
            if mods.ndim != 2 or mods.shape[1] != q:
                raise ValueError(f"newmods must have {q} column(s); got shape {mods.shape}")
            use_int = self.intercept if intercept is None else intercept
            Xn = (np.column_stack([np.full(mods.shape[0], 1.0 if use_int else 0.0), mods])
                  if self.intercept else mods)
        b = self.coefficients
        pred = Xn @ b
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", Xn, self.vb, Xn), 0.0))
        crit = critical_value(lvl, self.df)
        extra = np.full(pred.shape[0], float(sum(c.estimate for c in self.sigma2)))
        if self.tau2:
            if len(self.tau2) == 1:
                extra += self.tau2[0].estimate
            elif tau2_levels is None:
                extra[:] = math.nan
            else:
                levels = [tau2_levels] * pred.shape[0] if np.isscalar(tau2_levels) else list(tau2_levels)
                if len(levels) != pred.shape[0]:
                    raise ValueError(f"tau2_levels has {len(levels)} entries for {pred.shape[0]} predictions")
                extra += np.array([self.tau2[self._inner_index(lv)].estimate for lv in levels])
        spread = crit * np.sqrt(se**2 + extra)
        return Prediction(pred, se, pred - crit * se, pred + crit * se, pred - spread, pred + spread)

    def _inner_index(self, level: Any) -> int:
        label = str(level)
        if label in self.inner_levels:
            return self.inner_levels.index(label)
        if isinstance(level, (int, np.integer)) and 1 <= int(level) <= len(self.inner_levels):
            return int(level) - 1
        raise ValueError(f"tau2_levels: {level!r} is not a level of {self.inner!r} "
                         f"({', '.join(self.inner_levels)})")

    def ranef(self, level: float | None = None) -> dict[str, RandomEffects]:
        """Best linear unbiased predictions of the random effects (strigil.meta.blup.ranef)."""
        from strigil.meta.blup import ranef

        return ranef(self, level=level)

    def confint(self, level: float | None = None) -> tuple[ComponentInterval, ...]:
        """Profile-likelihood confidence intervals of the variance components (strigil.meta.profile)."""
        from strigil.meta.profile import profile_confint

        return profile_confint(self, level=level)

    def anova(self, other: RMAMVResult | None = None, **kwargs: Any) -> WaldTest | LikelihoodRatioTest:
        """Wald test of coefficients or contrasts, or a likelihood-ratio test against `other`."""
        from strigil.meta.anova import anova

        return anova(self, other, **kwargs)

    def robust(self, cluster: Any, **kwargs: Any) -> RobustResult:
        """Cluster-robust tests and intervals (strigil.meta.robust.robust)."""
        from strigil.meta.robust import robust

        return robust(self, cluster, **kwargs)

    def refit(self, *, sigma2: Any = None, tau2: Any = None, rho: Any = None,
              method: str | None = None) -> RMAMVResult:
        """The same model with more components fixed (a number each; None keeps the component as it was
        in this fit) or under another method (ML, REML)."""
        from strigil.meta.profile import refit

        return refit(self, sigma2=sigma2, tau2=tau2, rho=rho, method=method)

    # ---- presentation -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        comps = ", ".join(f"sigma2[{c.name}]={c.estimate:.4g}" for c in self.sigma2)
        if self.tau2:
            taus = ", ".join(f"{c.estimate:.4g}" for c in self.tau2)
            rhos = ", ".join(f"{c.estimate:.4g}" for c in self.rho)
            comps = ", ".join(x for x in (comps, f"{self.struct}: tau2=({taus}), rho=({rhos})") if x)
        first = self.beta[0]
        return (f"RMAMVResult(k={self.k}, p={self.p}, method={self.method}, {comps or 'no random effects'}; "
                f"{first.name}={first.estimate:.4g} (SE {first.se:.4g}))")

    def summary(self) -> Summary:
        """What metafor prints for this model: variance components, tests and the coefficient table."""
        from strigil.meta.printing import rma_mv_summary

        return rma_mv_summary(self)

    def to_frame(self, part: str = "coefficients") -> pd.DataFrame:
        """A DataFrame of the coefficients (default) or of the variance components ("components": σ², τ²
        and ρ with their estimates, whether fixed and their number of levels)."""
        from strigil.meta.frames import coefficient_frame, components_frame

        if part == "coefficients":
            return coefficient_frame(self.beta)
        if part == "components":
            return components_frame(self)
        raise ValueError(f"part {part!r} is not one of coefficients, components")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with the contract's names; null where a quantity does not exist."""
        fs = self.fitstats()
        return {
            "model": "rma.mv",
            "k": self.k,
            "p": self.p,
            "method": self.method,
            "test": self.test,
            "dist": self.dist,
            "df": _num(self.df),
            "level": _num(self.level),
            "random": list(self.random),
            "struct": self.struct,
            "inner": self.inner,
            "outer": self.outer,
            "sigma2": [c.to_json() for c in self.sigma2],
            "tau2": [c.to_json() for c in self.tau2],
            "rho": [c.to_json() for c in self.rho],
            "beta": [c.to_json() for c in self.beta],
            "QE": _num(self.QE),
            "QE_df": self.QE_df,
            "QE_p": _num(self.QE_p),
            "QM": _num(self.QM),
            "QM_df": self.QM_df,
            "QM_ddf": _num(self.QM_ddf),
            "QM_p": _num(self.QM_p),
            "logLik": _num(fs.logLik),
            "deviance": _num(fs.deviance),
            "AIC": _num(fs.AIC),
            "BIC": _num(fs.BIC),
            "AICc": _num(fs.AICc),
            "parms": self.parms,
            "converged": self.converged,
            "notes": list(self.notes),
        }
