"""strigil.meta — effect sizes and meta-analysis models in metafor's vocabulary.

`escalc` computes effect sizes, `rma` fits fixed/random-effects models and meta-regressions and
returns an immutable `RMAResult`; `rma_batch` fits many intercept-only models at once.
"""

from strigil.meta.batch import BatchResult, rma_batch
from strigil.meta.escalc import EffectSizes, escalc
from strigil.meta.result import Coefficient, Prediction, RMAResult, Subgroup, Tau2Interval
from strigil.meta.rma import rma

__all__ = [
    "BatchResult",
    "Coefficient",
    "EffectSizes",
    "Prediction",
    "RMAResult",
    "Subgroup",
    "Tau2Interval",
    "escalc",
    "rma",
    "rma_batch",
]
