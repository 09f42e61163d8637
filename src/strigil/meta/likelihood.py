"""Log-likelihood, deviance and information criteria of fitted models (metafor's `logLik`,
`deviance`, `AIC`, `BIC`, `AICc` and `fitstats`).

For `rma` (Viechtbauer, 2005; metafor's `rma.uni`), with wᵢ = 1/(vᵢ + τ²) and β̂ the model's estimate:

    ℓ_ML   = −½ k log 2π − ½ Σ log(vᵢ + τ²) − ½ Σ wᵢ (yᵢ − xᵢ'β̂)²
    ℓ_REML = −½ (k − p) log 2π + ½ log|X'X| − ½ Σ log(vᵢ + τ²) − ½ log|X'WX| − ½ Σ wᵢ (yᵢ − xᵢ'β̂)²

The ML deviance is −2 (ℓ_ML − ℓ_saturated) with ℓ_saturated = Σ log φ(0; vᵢ) (0 when k ≤ p), the
REML deviance −2 ℓ_REML; with `parms` parameters (the coefficients and each estimated variance
component) and n = k (ML) or k − p (REML): AIC = −2ℓ + 2·parms, BIC = −2ℓ + parms·log n,
AICc = −2ℓ + 2·parms·max(n, parms + 2)/(max(n, parms + 2) − parms − 1) (Hurvich & Tsai, 1989).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Presentable, Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult
    from strigil.meta.result_mv import RMAMVResult

__all__ = ["FitStatistics", "criteria", "fitstats"]

_LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True, repr=False)
class FitStatistics(Presentable):
    """Log-likelihood, deviance, AIC, BIC and AICc under ML or REML, as metafor's `fitstats`."""

    method: str
    logLik: float
    deviance: float
    AIC: float
    BIC: float
    AICc: float
    parms: int
    nobs: int

    def summary(self) -> Summary:
        """metafor's `print(fitstats(res))`."""
        from strigil.meta.printing import fitstats_summary

        return fitstats_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """One row: logLik, deviance, AIC, BIC, AICc, parameters and observations."""
        from strigil.display import frame

        return frame({k: [v] for k, v in self.to_json().items()})

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict (null where a value does not exist)."""
        from strigil.meta.result import _num

        return {"method": self.method, "logLik": _num(self.logLik), "deviance": _num(self.deviance),
                "AIC": _num(self.AIC), "BIC": _num(self.BIC), "AICc": _num(self.AICc), "parms": self.parms,
                "nobs": self.nobs}

    def __repr__(self) -> str:
        return (f"FitStatistics({self.method}: logLik={self.logLik:.4f}, deviance={self.deviance:.4f}, "
                f"AIC={self.AIC:.4f}, BIC={self.BIC:.4f}, AICc={self.AICc:.4f}, parms={self.parms})")


def criteria(method: str, ll: float, deviance: float, parms: int, n: int) -> FitStatistics:
    """AIC, BIC and AICc from a log-likelihood with `parms` parameters and n observations (k or k − p)."""
    m = max(n, parms + 2)
    aicc = -2 * ll + 2 * parms * m / (m - parms - 1)
    bic = -2 * ll + parms * math.log(n) if n > 0 else math.nan
    return FitStatistics(method, ll, deviance, -2 * ll + 2 * parms, bic, aicc, parms, n)


def fitstats(res: RMAResult | RMAMVResult, method: str | None = None) -> FitStatistics:
    """Fit statistics of an `rma` or `rma_mv` fit under ML or REML; by default REML for REML fits, else ML.

    An `rma_mv` fit keeps both sets from its fit (the same as `res.fitstats(method)`).
    """
    from strigil.meta.result_mv import RMAMVResult

    if isinstance(res, RMAMVResult):
        return res.fitstats(method)
    which = (method or ("REML" if res.method == "REML" else "ML")).upper()
    if which not in ("ML", "REML"):
        raise ValueError(f"method {method!r}: fit statistics exist under 'ML' or 'REML'")
    y, v, X = res.yi, res.vi, res.X
    k, p = res.k, res.p
    tau2 = 0.0 if res.method in ("EE", "FE") else res.tau2
    w = 1.0 / (v + tau2)
    b = np.array([c.estimate for c in res.beta])
    e = y - X @ b
    rss = float(w @ (e * e))
    sum_log = float(np.log(v + tau2).sum())
    estimated_tau2 = res.method not in ("EE", "FE") and not res.tau2_fixed
    parms = p + int(estimated_tau2)
    if which == "ML":
        ll = -0.5 * k * _LOG2PI - 0.5 * sum_log - 0.5 * rss
        saturated = -0.5 * k * _LOG2PI - 0.5 * float(np.log(v).sum())
        dev = -2 * (ll - saturated) if k > p else 0.0
        return criteria("ML", ll, dev, parms, k)
    _, logdet_xx = np.linalg.slogdet(X.T @ X)
    _, logdet_xwx = np.linalg.slogdet(X.T @ (w[:, None] * X))
    ll = (-0.5 * (k - p) * _LOG2PI + 0.5 * float(logdet_xx) - 0.5 * sum_log - 0.5 * float(logdet_xwx)
          - 0.5 * rss)
    return criteria("REML", ll, -2 * ll, parms, k - p)
