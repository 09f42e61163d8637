"""Profile-likelihood confidence intervals of variance components (metafor's `confint.rma.mv`),
and refits of a multilevel model with components fixed.

The interval for one component θⱼ is {θⱼ : 2 [ℓ(θ̂) − max ℓ(θ | θⱼ)] ≤ χ²₁,₁₋α}, the other components
re-estimated at each θⱼ (Hardy & Thompson, 1996; Viechtbauer, 2010, for metafor's search): variances
are searched in [0, max(10, 100 θ̂ⱼ)], correlations in [−1, 1] (AR, HAR: [min(0, ρ̂), 1]). When the
profile at the search bound stays within the cut-off, that bound is the limit (`lb_at_bound`,
`ub_at_bound`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, special

from strigil.display import Presentable, Summary
from strigil.meta.multilevel import maximise

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result_mv import RMAMVResult

__all__ = ["ComponentInterval", "profile_confint", "refit"]


@dataclass(frozen=True, repr=False)
class ComponentInterval(Presentable):
    """A profile-likelihood interval for one component (`component` is 'sigma2', 'tau2' or 'rho',
    `position` its 1-based index as metafor numbers them, `name` its factor or level)."""

    component: str
    position: int
    name: str
    estimate: float
    ci_lb: float
    ci_ub: float
    level: float
    lb_at_bound: bool
    ub_at_bound: bool

    def summary(self) -> Summary:
        """The interval as a row of metafor's `print(confint(rma.mv(...)))`."""
        from strigil.meta.printing import component_interval_summary

        return component_interval_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """One row: the component, its estimate and interval."""
        from strigil.display import frame

        return frame({k: [v] for k, v in self.to_json().items()})

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        from strigil.meta.result import _num

        return {"component": self.component, "position": self.position, "name": self.name,
                "estimate": _num(self.estimate), "ci_lb": _num(self.ci_lb), "ci_ub": _num(self.ci_ub),
                "level": self.level, "lb_at_bound": self.lb_at_bound, "ub_at_bound": self.ub_at_bound}


def _components(res: RMAMVResult) -> list[tuple[str, int, str, int]]:
    """(component, 1-based position, name, index into θ) of every parameter, in θ's order."""
    out = [("sigma2", i + 1, c.name, i) for i, c in enumerate(res.sigma2)]
    off = len(res.sigma2)
    out += [("tau2", i + 1, c.name, off + i) for i, c in enumerate(res.tau2)]
    off += len(res.tau2)
    if res.model.structure is not None and res.model.structure.n_rho:
        out += [("rho", i + 1, c.name, off + i) for i, c in enumerate(res.rho)]
    return out


def _profile_ll(res: RMAMVResult, index: int, value: float) -> float:
    """max ℓ over the other free components with component `index` fixed at `value`; −inf where the
    marginal covariance is not positive definite there."""
    free = res.free[res.free != index]
    theta = res.theta.copy()
    theta[index] = value
    try:
        return maximise(res.model, theta, free).evaluation.ll
    except ValueError:
        return -math.inf


def profile_confint(res: RMAMVResult, level: float | None = None) -> tuple[ComponentInterval, ...]:
    """Profile-likelihood intervals for every estimated variance component and correlation."""
    lvl = res.level if level is None else level
    if not 0 < lvl < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {lvl!r}")
    cut = float(special.chdtri(1, 1 - lvl / 100))
    ll_hat = res.evaluation.ll_reml if res.model.reml else res.evaluation.ll_ml
    free = set(res.free.tolist())
    out = []
    for comp, pos, name, idx in _components(res):
        if idx not in free:
            continue
        est = float(res.theta[idx])

        def excess(val: float, idx: int = idx) -> float:
            return -2.0 * (_profile_ll(res, idx, val) - ll_hat) - cut

        if comp == "rho":
            struct = res.struct or ""
            lo = min(0.0, est) if struct in ("AR", "HAR") else -1.0
            hi = 1.0
        else:
            lo = 0.0
            hi = max(10.0 if est <= math.sqrt(np.finfo(float).eps) else max(10.0, 100.0 * est), lo)
        lb, lb_bound = _limit(excess, est, lo)
        ub, ub_bound = _limit(excess, est, hi)
        out.append(ComponentInterval(comp, pos, name, est, lb, ub, lvl, lb_bound, ub_bound))
    return tuple(out)


def _limit(excess: Any, est: float, bound: float) -> tuple[float, bool]:
    """Where the profile crosses the cut-off between the estimate and `bound`; the bound itself when
    it does not (as metafor, which retries nearer the estimate when the bound cannot be evaluated)."""
    if bound == est:
        return bound, True
    step = (bound - est) / 10.0
    edge = bound
    for _ in range(10):
        value = excess(edge)
        if math.isfinite(value):
            if value < 0:
                return edge, True
            lo, hi = (edge, est) if edge < est else (est, edge)
            root = optimize.brentq(excess, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500)
            return float(root), False
        edge -= step
    return math.nan, False


def refit(res: RMAMVResult, *, sigma2: Any = None, tau2: Any = None, rho: Any = None,
          method: str | None = None) -> RMAMVResult:
    """The model refitted with components fixed (numbers; None leaves a component as it was) or by
    another method; starts from this fit's estimates."""
    from strigil.meta.rma_mv import estimate

    model = res.model
    if method is not None:
        meth = method.upper()
        if meth not in ("ML", "REML"):
            raise ValueError(f"method {method!r} is not supported for rma_mv; allowed: REML, ML")
        model = model.with_reml(meth == "REML")
    is_free = np.zeros(res.theta.size, dtype=bool)
    is_free[res.free] = True
    fixed: list[float | None] = [None if is_free[i] else float(res.theta[i]) for i in range(res.theta.size)]
    comps = _components(res)
    for comp, given in (("sigma2", sigma2), ("tau2", tau2), ("rho", rho)):
        if given is None:
            continue
        idx = [c[3] for c in comps if c[0] == comp]
        vals: list[Any] = [given] * len(idx) if np.isscalar(given) else list(given)
        if len(vals) != len(idx):
            raise ValueError(f"{comp} has {len(vals)} values but the model has {len(idx)} such component(s)")
        for i, v in zip(idx, vals, strict=True):
            if v is not None:
                fixed[i] = float(v)
    return estimate(model, res.spec, fixed, res.theta, res.setup)
