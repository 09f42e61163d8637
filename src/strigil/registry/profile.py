"""Confidence intervals of a fitted mixed model: Wald intervals of the fixed effects and likelihood-profile
intervals of every parameter (lme4's `confint(method = "Wald" / "profile")`).

The profile of a parameter φ is ζ(φ) = sign(φ − φ̂) √(d(φ) − d(φ̂)), with d the ML deviance minimised over all
other parameters; the interval is where ζ crosses ∓z (Bates et al. 2015, J Stat Softw 67(1), section 5.1). The
variance parameters are profiled on lme4's scale: the standard deviation of each random term, their
correlations, and σ; the deviance is then d(θ, σ) = log|P| + n log(2πσ²) + r²(θ)/σ² with θ = Λ/σ. As lme4, the
profile is that of the ML deviance also for a REML fit (refitted by ML first; the estimates shown with the
intervals are then the ML estimates). lme4 interpolates a spline through profile points, so its bounds differ
from the exact crossings found here in about the fourth digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, special

from strigil.display import Presentable, Summary
from strigil.registry.crossproducts import Crossproducts, crossproducts
from strigil.registry.mixed_model import _factorise, _minimise

if TYPE_CHECKING:
    import pandas as pd

    from strigil.registry.mixed_model import MixedModelFit

__all__ = ["METHODS", "Intervals", "confint"]

METHODS = ("Wald", "profile")
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True, eq=False, repr=False)
class Intervals(Presentable):
    """Confidence intervals, one row per parameter (names as lme4's `confint(oldNames = FALSE)`)."""

    method: str
    level: float
    names: tuple[str, ...]
    estimate: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: estimate, lower, upper."""
        from strigil.display import frame

        return frame(
            {"estimate": self.estimate, "lower": self.lower, "upper": self.upper}, self.names, "parameter"
        )

    def summary(self) -> Summary:
        """The intervals as lme4 prints them (lower and upper percentage columns)."""
        from strigil.registry.printing import intervals_summary

        return intervals_summary(self)


def confint(fit: MixedModelFit, method: str = "Wald", level: float = 95.0) -> Intervals:
    """Wald intervals of the fixed effects or profile intervals of every parameter."""
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    z = float(special.ndtri(1 - (1 - level / 100) / 2))
    if method == "Wald":
        se = fit.se
        return Intervals(
            "Wald",
            level,
            fit.fixed_names,
            tuple(float(b) for b in fit.beta),
            tuple(float(b - z * s) for b, s in zip(fit.beta, se, strict=True)),
            tuple(float(b + z * s) for b, s in zip(fit.beta, se, strict=True)),
        )
    return _profile(fit, z, level)


# ---- the variance parameters on lme4's scale ----------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    """Maps the standard deviations, correlations (and σ) to θ and back; parameters in lme4's order."""

    q: int
    clinic: bool

    def names(self, fit: MixedModelFit) -> list[str]:
        groups = list(fit.random_terms)
        terms = fit.random_terms[groups[0]]
        out = []
        for j in range(self.q):
            out.append(f"sd_{terms[j]}|{groups[0]}")
            out += [f"cor_{terms[i]}.{terms[j]}|{groups[0]}" for i in range(j + 1, self.q)]
        if self.clinic:
            out.append(f"sd_Intercept|{groups[1]}")
        return [*out, "sigma"]

    def kinds(self) -> list[str]:
        out = []
        for j in range(self.q):
            out += ["sd"] + ["cor"] * (self.q - j - 1)
        return out + (["sd"] if self.clinic else []) + ["sd"]

    def from_fit(self, fit: MixedModelFit) -> np.ndarray:
        groups = list(fit.random_cov)
        cov = fit.random_cov[groups[0]]
        sd = np.sqrt(np.diag(cov))
        out = []
        for j in range(self.q):
            out.append(sd[j])
            out += [
                cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else 0.0
                for i in range(j + 1, self.q)
            ]
        if self.clinic:
            out.append(math.sqrt(float(fit.random_cov[groups[1]][0, 0])))
        return np.array([*out, fit.sigma])

    def theta(self, phi: np.ndarray) -> np.ndarray | None:
        """θ (lme4's order) from the parameters; None where they are not a valid covariance."""
        q = self.q
        sd = np.empty(q)
        R = np.eye(q)
        k = 0
        for j in range(q):
            sd[j] = phi[k]
            k += 1
            for i in range(j + 1, q):
                R[i, j] = R[j, i] = phi[k]
                k += 1
        sigma = phi[-1]
        if sigma <= 0 or np.any(sd < 0) or (self.clinic and phi[k] < 0):
            return None
        try:
            L = np.linalg.cholesky(R)
        except np.linalg.LinAlgError:
            return None
        T = (sd[:, None] * L) / sigma
        theta = [T[i, j] for j in range(q) for i in range(j, q)]
        if self.clinic:
            theta.append(phi[k] / sigma)
        return np.array(theta)


def _deviance(cp: Crossproducts, reml: bool, theta: np.ndarray, sigma: float) -> float:
    """The deviance (REML criterion) at θ and σ, β profiled out."""
    fac = _factorise(theta, cp, reml)
    dof = cp.n_obs - cp.p if reml else cp.n_obs
    # the profiled deviance is logdet + dof (1 + log(2π r²/dof)); take σ back out of it
    rest = fac.deviance - dof * (1.0 + _LOG_2PI + math.log(fac.r2 / dof))
    return rest + dof * (_LOG_2PI + 2 * math.log(sigma)) + fac.r2 / sigma**2


def _unbounded(kind: str, x: float) -> float:
    return math.log(max(x, 1e-12)) if kind == "sd" else math.atanh(max(-1 + 1e-12, min(1 - 1e-12, x)))


def _bounded(kind: str, u: float) -> float:
    return math.exp(u) if kind == "sd" else math.tanh(u)


def _crossing(
    zeta: Callable[[float], float], start: float, step: float, target: float, limit: float
) -> float:
    """The value where ζ reaches `target` going from `start` by `step` towards `limit` (or `limit` itself,
    where the profile does not reach the target before the parameter's bound)."""
    a, za, x = start, 0.0, start + step
    for _ in range(60):
        if (step > 0 and x >= limit) or (step < 0 and x <= limit):
            x = limit
        zx = zeta(x)
        if math.isfinite(zx) and (zx - target) * (za - target) <= 0:
            return float(optimize.brentq(lambda v: zeta(v) - target, a, x, xtol=1e-12, rtol=1e-7))
        if x == limit:
            return limit
        a, za, x, step = x, zx, x + 2 * step, 2 * step
    return math.nan


def _profile(fit: MixedModelFit, z: float, level: float) -> Intervals:
    d = fit.design
    if d is None:
        raise ValueError("this fit was pooled from clinic aggregates; profile intervals need the rows")
    if fit.reml:
        fit = fit.refit(reml=False)
    cp = crossproducts(d.X, d.y, d.Z, d.groups, d.clinics)
    scale = _Scale(cp.q, bool(cp.n_clinics))
    kinds = scale.kinds()
    phi_hat = scale.from_fit(fit)
    d_hat = fit.objective
    names, estimates, lower, upper = scale.names(fit), list(phi_hat), [], []
    for k, kind in enumerate(kinds):
        others = [i for i in range(len(kinds)) if i != k]
        warm = np.array([_unbounded(kinds[i], phi_hat[i]) for i in others])

        def dev_at(value: float, k: int = k, others: list[int] = others) -> float:
            nonlocal warm
            phi = phi_hat.copy()
            phi[k] = value

            def objective(u: np.ndarray) -> float:
                for i, ui in zip(others, u, strict=True):
                    phi[i] = _bounded(kinds[i], float(ui))
                theta = scale.theta(phi)
                return math.inf if theta is None else _deviance(cp, fit.reml, theta, float(phi[-1]))

            res = optimize.minimize(objective, warm, method="BFGS", options={"gtol": 1e-5})
            warm = res.x
            return float(res.fun)

        def zeta(value: float, k: int = k) -> float:
            change = max(dev_at(value) - d_hat, 0.0)
            return math.copysign(math.sqrt(change), value - phi_hat[k])

        width = 0.2 * abs(phi_hat[k]) if kind == "sd" else 0.1
        width = max(width, 1e-3)
        low_limit = 0.0 if kind == "sd" else -1.0
        high_limit = math.inf if kind == "sd" else 1.0
        lower.append(_crossing(zeta, phi_hat[k], -width, -z, low_limit))
        upper.append(_crossing(zeta, phi_hat[k], width, z, high_limit))
    for j, name in enumerate(fit.fixed_names):
        lo, hi = _fixed_bounds(fit, cp, j, z)
        names.append(name)
        estimates.append(float(fit.beta[j]))
        lower.append(lo)
        upper.append(hi)
    return Intervals(
        "profile", level, tuple(names), tuple(float(e) for e in estimates), tuple(lower), tuple(upper)
    )


def _fixed_bounds(fit: MixedModelFit, cp: Crossproducts, j: int, z: float) -> tuple[float, float]:
    """Profile bounds of one fixed effect: β_j held at b, the model refitted with offset b·x_j."""
    d = fit.design
    assert d is not None
    keep = [i for i in range(d.X.shape[1]) if i != j]
    X, x = d.X[:, keep], d.X[:, j]
    start = np.array(fit.theta, dtype=float)
    b_hat, se = float(fit.beta[j]), float(fit.se[j])

    def deviance(b: float) -> float:
        nonlocal start
        cpj = crossproducts(X, d.y - b * x, d.Z, d.groups, d.clinics)
        opt = _minimise(cpj, fit.reml, start, None)
        start = opt.x
        return float(opt.fun)

    base = fit.objective

    def zeta(b: float) -> float:
        return math.copysign(math.sqrt(max(deviance(b) - base, 0.0)), b - b_hat)

    return (_crossing(zeta, b_hat, -se, -z, -math.inf), _crossing(zeta, b_hat, se, z, math.inf))
