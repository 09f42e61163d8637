"""Cumulative meta-analysis: the pooled result as studies accumulate (metafor's `cumul`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.meta.influence import StudySequence, study_sequence

if TYPE_CHECKING:
    from strigil.meta.result import RMAResult

__all__ = ["cumul"]


def cumul(res: RMAResult, order: Sequence[Any] | None = None) -> StudySequence:
    """Cumulative meta-analysis (Lau et al., 1992, N Engl J Med 327:248): row i pools the first i
    studies, in data order or sorted by `order` (one sortable key per study, e.g. the year), with
    the model's method, test and level."""
    if res.moderators:
        raise ValueError("cumulative meta-analysis applies only to models without moderators")
    if order is None:
        idx = np.arange(res.k, dtype=np.intp)
    else:
        keys = list(order)
        if len(keys) != res.k:
            raise ValueError(f"order has {len(keys)} keys for k={res.k} studies")
        # a stable sort keeps data order among equal keys, as R's order()
        idx = np.array(sorted(range(res.k), key=lambda i: keys[i]), dtype=np.intp)
    labels = res.slab if res.slab is not None else tuple(f"Study {i + 1}" for i in range(res.k))
    return study_sequence(res, [idx[: i + 1] for i in range(res.k)], tuple(labels[i] for i in idx))
