"""Meta-analysis results as pandas DataFrames (`to_frame()`): coefficients, studies, diagnostics.

Column names follow metafor (`ci.lb` → `ci_lb`), one row per coefficient, study or analysis; study
labels are the index. Nothing here computes a statistic beyond the study-level intervals yᵢ ± z √vᵢ (and, for
a GLMM, the inverse-variance weights 1/(vᵢ + τ²) of its escalc effects, as metafor's `weights()`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import frame

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.glmm import GLMMResult
    from strigil.meta.result import Coefficient, RMAResult
    from strigil.meta.result_mv import RMAMVResult
    from strigil.meta.tables_result import TablesResult

__all__ = ["RMA_PARTS", "coefficient_frame", "components_frame", "glmm_frame", "model_frame", "rma_frame",
           "study_frame",
           "tables_frame"]

RMA_PARTS = ("coefficients", "studies", "model", "subgroups")


def coefficient_frame(beta: Sequence[Coefficient]) -> pd.DataFrame:
    """One row per coefficient: estimate, se, stat (z or t), p, ci_lb, ci_ub."""
    cols = ("estimate", "se", "stat", "p", "ci_lb", "ci_ub")
    return frame({c: [getattr(b, c) for b in beta] for c in cols}, [b.name for b in beta], "term")


def study_frame(slab: Sequence[str] | None, yi: Any, vi: Any, weight: Any, level: float) -> pd.DataFrame:
    """One row per study: its effect, variance, standard error, interval and weight (%)."""
    from strigil.meta.rma import critical_value

    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    sei = np.sqrt(vi)
    z = critical_value(level, None)
    labels = list(slab) if slab is not None else [f"Study {i + 1}" for i in range(yi.shape[0])]
    return frame({"yi": yi, "vi": vi, "sei": sei, "ci_lb": yi - z * sei, "ci_ub": yi + z * sei,
                  "weight": np.asarray(weight, dtype=float)}, labels, "study")


def model_frame(values: dict[str, Any]) -> pd.DataFrame:
    """One row of model-level statistics (k, τ², I², Q, …)."""
    return frame({k: [v] for k, v in values.items()})


def rma_frame(res: RMAResult, part: str) -> pd.DataFrame:
    """`RMAResult.to_frame(part)`."""
    if part == "coefficients":
        return coefficient_frame(res.beta)
    if part == "studies":
        return study_frame(res.slab, res.yi, res.vi, res.weight_percent, res.level)
    if part == "model":
        return model_frame({"k": res.k, "p": res.p, "method": res.method, "test": res.test, "tau2": res.tau2,
                            "tau2_se": res.tau2_se, "tau": math.sqrt(res.tau2), "I2": res.I2, "H2": res.H2,
                            "Q": res.Q, "Q_df": res.Q_df, "Q_p": res.Q_p, "QM": res.QM, "QM_df": res.QM_df,
                            "QM_p": res.QM_p, "R2": res.R2, "pi_lb": res.pi_lb, "pi_ub": res.pi_ub,
                            "converged": res.converged})
    if part == "subgroups":
        groups = res.subgroups or ()
        cols = ("k", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2")
        return frame({c: [getattr(s, c) for s in groups] for c in cols}, [s.name for s in groups], "subgroup")
    raise ValueError(f"part {part!r} is not one of {', '.join(RMA_PARTS)}")


def tables_frame(res: TablesResult, part: str) -> pd.DataFrame:
    """`TablesResult.to_frame(part)`: the pooled estimate (with the ratio), the studies, or the tests."""
    if part == "coefficients":
        out = frame({"estimate": [res.estimate], "se": [res.se], "stat": [res.z], "p": [res.p],
                     "ci_lb": [res.ci_lb], "ci_ub": [res.ci_ub]}, ["intrcpt"], "term")
        if res.ratio:
            out["exp_estimate"] = math.exp(res.estimate)
            out["exp_ci_lb"] = math.exp(res.ci_lb)
            out["exp_ci_ub"] = math.exp(res.ci_ub)
        return out
    if part == "studies":
        return study_frame(res.slab, res.yi, res.vi, res.weights, res.level)
    if part == "tests":
        tests = [("Q", res.Q, res.Q_p), ("CMH", res.cmh, res.cmh_p), ("Cochran", res.cochran, res.cochran_p),
                 ("Breslow-Day", res.breslow_day, res.breslow_day_p), ("Tarone", res.tarone, res.tarone_p)]
        kept = [t for t in tests if t[1] is not None]
        return frame({"stat": [t[1] for t in kept], "p": [t[2] for t in kept]}, [t[0] for t in kept], "test")
    raise ValueError(f"part {part!r} is not one of coefficients, studies, tests")


def glmm_frame(res: GLMMResult, part: str) -> pd.DataFrame:
    """`GLMMResult.to_frame(part)`; the coefficients carry the ratio scale (exp) as the tables' frame does:
    every GLMM measure (OR, IRR) is a log ratio."""
    if part == "coefficients":
        out = coefficient_frame(res.beta)
        for column in ("estimate", "ci_lb", "ci_ub"):
            out[f"exp_{column}"] = np.exp(out[column].to_numpy(dtype=float))
        return out
    if part == "studies":
        w = 1 / (res.vi + res.tau2)
        return study_frame(res.slab, res.yi, res.vi, 100 * w / np.nansum(w), res.level)
    if part == "model":
        return model_frame({"k": res.k, "tau2": res.tau2, "sigma2": res.sigma2, "I2": res.I2, "H2": res.H2,
                            "QE_Wld": res.QE_Wld, "QE_Wld_p": res.QE_Wld_p, "QE_LRT": res.QE_LRT,
                            "QE_LRT_p": res.QE_LRT_p, "QE_df": res.QE_df, "logLik": res.logLik,
                            "converged": res.converged})
    raise ValueError(f"part {part!r} is not one of coefficients, studies, model")


def components_frame(res: RMAMVResult) -> pd.DataFrame:
    """The variance components of an `rma_mv` fit: one row each for σ², τ² and ρ."""
    rows = [*(("sigma2", c) for c in res.sigma2), *(("tau2", c) for c in res.tau2),
            *(("rho", c) for c in res.rho)]
    return frame({"component": [k for k, _ in rows], "name": [c.name for _, c in rows],
                  "estimate": [c.estimate for _, c in rows], "fixed": [c.fixed for _, c in rows],
                  "nlevels": [c.nlevels for _, c in rows]})
