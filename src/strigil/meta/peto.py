"""Peto's one-step odds ratio for 2×2 tables (metafor's `rma.peto`).

Yusuf, Peto, Lewis, Collins & Sleight (1985, Prog Cardiovasc Dis 27:335): each table contributes its
observed minus expected events in group 1, Oᵢ − Eᵢ, and the hypergeometric variance Vᵢ of that count
under no effect; log OR = Σ(Oᵢ − Eᵢ)/ΣVᵢ with variance 1/ΣVᵢ, and heterogeneity
Q = Σ(Oᵢ − Eᵢ)²/Vᵢ − (Σ(Oᵢ − Eᵢ))²/ΣVᵢ on k − 1 df (the tables with a per-study estimate). Nothing is
added to zero cells: a table without events in either arm has Vᵢ = 0 and no say. Reliable for rare
events with balanced arms and moderate effects; biased for large effects or unbalanced arms
(Bradburn et al., 2007, Stat Med 26:53).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from strigil.meta import counts
from strigil.meta.rma import critical_value
from strigil.meta.tables_result import TablesResult

__all__ = ["rma_peto"]


def rma_peto(
    ai: Any,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    level: float = 95.0,
    slab: Sequence[Any] | None = None,
) -> TablesResult:
    """Peto's common-effect log odds ratio of 2×2 tables (ai, bi, ci, di or ai, n1i, ci, n2i), as
    metafor's `rma.peto`. Tables with a missing count are left out and counted (`k_omitted`)."""
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    table = counts.two_by_two(ai, bi, ci, di, n1i=n1i, n2i=n2i, labels=slab)
    omitted = table.missing
    table = table.subset(~omitted)
    if len(table) == 0:
        raise ValueError("no table without missing counts is left")
    a, b, c, d = table.ai, table.bi, table.ci, table.di
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, nonevents = a + c, b + d
    expected = events * n1 / n
    var = events * nonevents * (n1 / n) * (n2 / n) / (n - 1)
    total_var = float(var.sum())
    if total_var == 0:
        raise ValueError("Peto's method needs both outcomes: in every table either nobody or everybody "
                         "had the event")
    o_e = a - expected
    estimate = float(o_e.sum()) / total_var
    se = 1 / math.sqrt(total_var)
    # the per-study effects (escalc "PETO", 1/2 added to tables with a zero cell, no-event tables left out)
    yi, vi = counts.table_effects("PETO", table, drop00=True)
    k_yi = int(np.isfinite(yi).sum())
    # heterogeneity as Yusuf et al. (1985): from O − E and V, tables with V = 0 left out
    informative = var > 0
    Q = max(0.0, float((o_e[informative] ** 2 / var[informative]).sum()) - float(o_e.sum()) ** 2 / total_var)
    if int(informative.sum()) > 1:
        df = k_yi - 1
        Q_p = float(special.chdtrc(df, Q))
        I2 = max(0.0, 100 * (Q - df) / Q) if Q > 0 else 0.0
        H2 = Q / df
    else:
        df, Q_p, I2, H2 = max(k_yi - 1, 0), 1.0, 0.0, 1.0
    z = estimate / se
    crit = critical_value(level, None)
    labels = table.labels or tuple(f"Study {i + 1}" for i in np.flatnonzero(~omitted))
    return TablesResult(
        method="PETO", measure="OR", level=level, k=len(table), k_yi=k_yi, k_omitted=int(omitted.sum()),
        k_double_zero=int(counts.double_zero(table).sum()), estimate=estimate, se=se, z=z,
        p=math.erfc(abs(z) / math.sqrt(2)), ci_lb=estimate - crit * se, ci_ub=estimate + crit * se,
        Q=Q, Q_df=df, Q_p=Q_p, I2=I2, H2=H2, yi=yi, vi=vi, weights=100 * var / total_var,
        slab=tuple(labels), tables=table, k_pos=int(informative.sum()),
    )
