"""strigil.meta — effect sizes and meta-analysis models in metafor's vocabulary.

`escalc` computes effect sizes, `rma` fits fixed/random-effects models and meta-regressions and
returns an immutable `RMAResult`; `rma_batch` fits many intercept-only models at once. Sparse binary
and count outcomes: `rma_mh` (Mantel–Haenszel, many at once with `rma_mh_batch`), `rma_peto` and
`rma_glmm` (binomial-normal and Poisson-normal mixed models); `to_long`/`to_wide` move between arm-level
rows and study tables. Residuals, formula moderators, more τ² estimators, GOSH and the RevMan-layout,
bubble, radial and L'Abbé plots live in their modules (see docs/meta-analysis.md). Dependent effects:
`rma_mv` fits multilevel and multivariate models (with `vcalc` building a sampling covariance matrix),
`robust` gives cluster-robust (CR2) inference, `anova` Wald and likelihood-ratio tests, `fitstats`
log-likelihoods and information criteria.
"""

from strigil.meta.anova import LikelihoodRatioTest, WaldTest, anova
from strigil.meta.batch import BatchResult, rma_batch
from strigil.meta.blocks import BlockCovariance
from strigil.meta.blup import RandomEffects, blup, ranef
from strigil.meta.escalc import EffectSizes, escalc
from strigil.meta.glmm import GLMMResult, rma_glmm
from strigil.meta.layout import to_long, to_wide
from strigil.meta.likelihood import FitStatistics, fitstats
from strigil.meta.mantel_haenszel import MHBatch, rma_mh, rma_mh_batch
from strigil.meta.peto import rma_peto
from strigil.meta.profile import ComponentInterval
from strigil.meta.result import Coefficient, Prediction, RMAResult, Subgroup, Tau2Interval
from strigil.meta.result_mv import RMAMVResult, VarianceComponent
from strigil.meta.rma import rma
from strigil.meta.rma_mv import rma_mv
from strigil.meta.robust import RobustResult, RobustWald, robust
from strigil.meta.tables_result import TablesResult
from strigil.meta.vcalc import vcalc

__all__ = [
    "BatchResult",
    "BlockCovariance",
    "Coefficient",
    "ComponentInterval",
    "EffectSizes",
    "FitStatistics",
    "GLMMResult",
    "LikelihoodRatioTest",
    "MHBatch",
    "Prediction",
    "RMAMVResult",
    "RMAResult",
    "RandomEffects",
    "RobustResult",
    "RobustWald",
    "Subgroup",
    "TablesResult",
    "Tau2Interval",
    "VarianceComponent",
    "WaldTest",
    "anova",
    "blup",
    "escalc",
    "fitstats",
    "ranef",
    "rma",
    "rma_batch",
    "rma_glmm",
    "rma_mh",
    "rma_mh_batch",
    "rma_mv",
    "rma_peto",
    "robust",
    "to_long",
    "to_wide",
    "vcalc",
]
