"""The pooled result of 2×2 or person-time tables by Mantel–Haenszel or Peto (metafor's `rma.mh`,
`rma.peto`): a common-effect estimate, its tests, and the per-study effects behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary
from strigil.meta.counts import PersonTime, TwoByTwo
from strigil.meta.result import _num

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.residuals import Residuals

__all__ = ["RATIO_MEASURES", "TablesResult"]

_Array = NDArray[np.float64]
# measures pooled on the log scale: the estimate is a log ratio, exp() gives the ratio
RATIO_MEASURES = ("OR", "RR", "IRR", "PETO")


@dataclass(frozen=True, eq=False, repr=False)
class TablesResult(Presentable):
    """A Mantel–Haenszel (`method="MH"`) or Peto (`"PETO"`) common-effect meta-analysis.

    `k` tables enter the pooled estimate (tables with a missing count are left out and counted in
    `k_omitted`); `k_yi` of them enter the heterogeneity test: tables without events (or without
    non-events) in either arm carry no information on a ratio and are left out of it, counted in
    `k_double_zero` (metafor's `drop00`). `yi`, `vi` are the per-study effects of that test (NaN for the
    tables left out of it) and `weights` each table's share of the pooled estimate in percent.
    The Cochran–Mantel–Haenszel (`cmh`, with `cochran` its variant without the N/(N − 1) factor),
    Breslow–Day and Tarone tests exist for the MH odds ratio (the CMH test also for the rate ratio),
    None otherwise.
    """

    method: str
    measure: str
    level: float
    k: int
    k_yi: int
    k_omitted: int
    k_double_zero: int
    estimate: float
    se: float
    z: float
    p: float
    ci_lb: float
    ci_ub: float
    Q: float
    Q_df: int
    Q_p: float
    I2: float
    H2: float
    yi: _Array
    vi: _Array
    weights: _Array
    slab: tuple[str, ...]
    tables: TwoByTwo | PersonTime
    correct: bool = True
    cmh: float | None = None
    cmh_p: float | None = None
    cochran: float | None = None
    cochran_p: float | None = None
    breslow_day: float | None = None
    breslow_day_p: float | None = None
    tarone: float | None = None
    tarone_p: float | None = None
    k_pos: int | None = None

    @property
    def ratio(self) -> bool:
        """True when the estimate is a log ratio (exp() gives the odds, risk or rate ratio)."""
        return self.measure in RATIO_MEASURES or self.method == "PETO"

    def rstandard(self) -> Residuals:
        """Standardized residuals (yᵢ − β̂)/√vᵢ of the tables in the heterogeneity test (metafor's
        `rstandard.rma.mh`/`rstandard.rma.peto`)."""
        from strigil.meta.residuals import Residuals

        keep = np.isfinite(self.yi)
        resid = self.yi[keep] - self.estimate
        resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
        se = np.sqrt(self.vi[keep])
        return Residuals(tuple(s for s, k in zip(self.slab, keep, strict=True) if k), resid, se, resid / se)

    def summary(self) -> Summary:
        """metafor's `print(rma.mh(...))` or `print(rma.peto(...))`."""
        from strigil.meta.printing import tables_summary

        return tables_summary(self)

    def to_frame(self, part: str = "coefficients") -> pd.DataFrame:
        """A DataFrame of the pooled estimate ("coefficients", with the ratio for log measures), the
        studies ("studies") or the tests ("tests": Q, CMH, Breslow–Day, Tarone)."""
        from strigil.meta.frames import tables_frame

        return tables_frame(self, part)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict; ratio measures also give the exponentiated estimate and interval."""
        out: dict[str, Any] = {
            "method": self.method, "measure": self.measure, "level": _num(self.level),
            "k": self.k, "k_yi": self.k_yi, "k_omitted": self.k_omitted, "k_double_zero": self.k_double_zero,
            "estimate": _num(self.estimate), "se": _num(self.se), "z": _num(self.z), "p": _num(self.p),
            "ci_lb": _num(self.ci_lb), "ci_ub": _num(self.ci_ub),
            "Q": _num(self.Q), "Q_df": self.Q_df, "Q_p": _num(self.Q_p), "I2": _num(self.I2),
            "H2": _num(self.H2),
            "tests": {name: {"stat": _num(stat), "p": _num(p)} for name, stat, p in (
                ("cmh", self.cmh, self.cmh_p), ("cochran", self.cochran, self.cochran_p),
                ("breslow_day", self.breslow_day, self.breslow_day_p), ("tarone", self.tarone, self.tarone_p))
                if stat is not None},
            "correct": self.correct,
            "studies": [{"slab": s, "yi": _num(y), "vi": _num(v), "weight": _num(w)}
                        for s, y, v, w in zip(self.slab, self.yi, self.vi, self.weights, strict=True)],
        }
        if self.ratio:
            out["exp"] = {name: _num(math.exp(value)) if math.isfinite(value) else None
                          for name, value in (("estimate", self.estimate), ("ci_lb", self.ci_lb),
                                              ("ci_ub", self.ci_ub))}
        return out
