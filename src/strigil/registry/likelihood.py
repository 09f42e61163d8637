"""Likelihood-ratio tests between nested mixed models of the same rows (lme4's `anova(m0, m1)`).

REML criteria of models with different fixed effects are not comparable, so REML fits are refitted by
maximum likelihood first, as lme4 does (`refit = TRUE`). The statistic 2 (ℓ₁ − ℓ₀) is referred to χ² with the
difference in the number of parameters as df; for a variance component tested at its boundary (zero) this p
is conservative (Self & Liang 1987, JASA 82:605).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from strigil.display import Presentable, Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.registry.mixed_model import MixedModelFit

__all__ = ["LikelihoodRatioTests", "anova"]


@dataclass(frozen=True, eq=False, repr=False)
class LikelihoodRatioTests(Presentable):
    """One row per model, fewest parameters first; each later row is tested against the one above it."""

    names: tuple[str, ...]
    npar: tuple[int, ...]
    AIC: tuple[float, ...]
    BIC: tuple[float, ...]
    logLik: tuple[float, ...]
    deviance: tuple[float, ...]
    chisq: tuple[float | None, ...]
    df: tuple[int | None, ...]
    p: tuple[float | None, ...]
    refitted: bool  # REML fits were refitted by ML

    def to_frame(self) -> pd.DataFrame:
        """lme4's anova table: npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq)."""
        from strigil.display import frame

        return frame(
            {
                "npar": self.npar,
                "AIC": self.AIC,
                "BIC": self.BIC,
                "logLik": self.logLik,
                "deviance": self.deviance,
                "Chisq": [np.nan if c is None else c for c in self.chisq],
                "Df": [np.nan if d is None else d for d in self.df],
                "p": [np.nan if p is None else p for p in self.p],
            },
            self.names,
            "model",
        )

    def summary(self) -> Summary:
        """lme4's printed anova table."""
        from strigil.registry.printing import anova_summary

        return anova_summary(self)


def anova(*fits: MixedModelFit) -> LikelihoodRatioTests:
    """Likelihood-ratio tests of nested models fitted to the same rows, in order of their parameters."""
    if len(fits) < 2:
        raise ValueError("anova needs at least two fits to compare")
    first = fits[0]
    for f in fits[1:]:
        if f.n_obs != first.n_obs or (
            f.design is not None and first.design is not None and f.design.response != first.design.response
        ):
            raise ValueError(
                "the models are not fitted to the same rows (outcome or number of rows differ)"
            )
    refitted = any(f.reml for f in fits)
    ml = [f.refit(reml=False) if f.reml else f for f in fits]
    order = sorted(range(len(fits)), key=lambda i: (ml[i].npar, i))
    models = [ml[i] for i in order]
    chisq: list[float | None] = [None]
    df: list[int | None] = [None]
    p: list[float | None] = [None]
    for small, large in itertools.pairwise(models):
        stat = max(0.0, small.objective - large.objective)
        k = large.npar - small.npar
        chisq.append(stat)
        df.append(k)
        p.append(float(stats.chi2.sf(stat, k)) if k > 0 else None)
    return LikelihoodRatioTests(
        names=tuple(fits[i].formula or f"model {i + 1}" for i in order),
        npar=tuple(m.npar for m in models),
        AIC=tuple(m.AIC for m in models),
        BIC=tuple(m.BIC for m in models),
        logLik=tuple(m.logLik for m in models),
        deviance=tuple(m.objective for m in models),
        chisq=tuple(chisq),
        df=tuple(df),
        p=tuple(p),
        refitted=refitted,
    )
