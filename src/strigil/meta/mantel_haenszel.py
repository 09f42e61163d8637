"""Mantel–Haenszel pooling of 2×2 and person-time tables (metafor's `rma.mh`), one analysis or many.

Odds ratio: Mantel & Haenszel (1959, J Natl Cancer Inst 22:719) with the variance of Robins, Breslow
& Greenland (1986, Biometrics 42:311); risk ratio: Greenland & Robins (1985, Biometrics 41:55); risk
difference with the variance of Sato, Greenland & Robins (1989, Biometrics 45:1323); incidence-rate
ratio and difference: Rothman, Greenland & Lash (2008, Modern Epidemiology, ch. 15). Tests: the
Cochran–Mantel–Haenszel test (Mantel & Haenszel, 1959; with continuity correction by default, also its
person-time form for the rate ratio), the Breslow–Day test of homogeneity of odds ratios (Breslow &
Day, 1980) and Tarone's (1985, Biometrika 72:91) correction of it, and Cochran's Q of the per-study
effects (escalc's yi, vi with 1/2 added to tables with a zero cell) around the MH estimate.

As in metafor: nothing is added to the tables for the MH estimate itself; tables without events (or
without non-events) in either arm stay in it (they add nothing to a ratio; they weigh in a risk
difference) but leave the heterogeneity test. Every formula here works on arrays of shape (k,) or
(k, m) — m independent meta-analyses at once, summed over axis 0 — so `rma_mh_batch` runs thousands
of analyses in one vectorised pass, with the same numbers as `rma_mh` column by column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta import counts
from strigil.meta.batch import _matrix
from strigil.meta.counts import PersonTime, TwoByTwo
from strigil.meta.rma import critical_value
from strigil.meta.tables_result import TablesResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MEASURES", "MHBatch", "heterogeneity", "rma_mh", "rma_mh_batch"]

_Array = NDArray[np.float64]
_Cells = tuple[_Array, _Array, _Array, _Array]  # ai, bi, ci, di or x1i, t1i, x2i, t2i
MEASURES = ("OR", "RR", "RD", "IRR", "IRD")


def _sum(x: NDArray[Any]) -> Any:
    return np.add.reduce(x, axis=0)


def _chi2_p(stat: Any, df: Any) -> Any:
    with np.errstate(invalid="ignore"):
        return special.chdtrc(df, stat)


def _odds_ratio(a: _Array, b: _Array, c: _Array, d: _Array, correct: bool) -> dict[str, Any]:
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(invalid="ignore", divide="ignore"):
        r, s = a * d / n, b * c / n
        p, q = (a + d) / n, (b + c) / n
        R, S = _sum(r), _sum(s)
        est = np.log(R / S)
        # Robins, Breslow & Greenland (1986): the variance of log OR_MH, valid for sparse and large strata
        var = 0.5 * (_sum(p * r) / R**2 + _sum(p * s + q * r) / (R * S) + _sum(q * s) / S**2)
        bad = (R == 0) | (S == 0)
        est, var = np.where(bad, np.nan, est), np.where(bad, np.nan, var)
        # Cochran–Mantel–Haenszel: events in group 1 against their expectation under OR = 1
        events, nonevents = a + c, b + d
        dev = np.abs(_sum(a - n1 / n * events)) - (0.5 if correct else 0.0)
        no_test = (_sum(events) == 0) | (_sum(nonevents) == 0)
        base = (n1 / n) * (n2 / n) * events
        cochran = np.where(no_test, np.nan, dev**2 / _sum(base * nonevents / n))
        cmh = np.where(no_test, np.nan, dev**2 / _sum(base * nonevents / (n - 1)))
        bd, ta, k_pos = _breslow_day(a, n1, n2, n, events, nonevents, np.exp(est))
    return {"estimate": est, "var": var, "cochran": cochran, "cmh": cmh, "breslow_day": bd, "tarone": ta,
            "k_pos": k_pos}


def _breslow_day(a: _Array, n1: _Array, n2: _Array, n: _Array, events: _Array, nonevents: _Array,
                 odds: Any) -> tuple[Any, Any, Any]:
    """Breslow–Day statistic and Tarone's correction: each table's expected count in the first cell
    under the common OR (the root of a quadratic), compared with the observed one."""
    with np.errstate(invalid="ignore", divide="ignore"):
        one = odds == 1
        A = odds * (n1 + events) + (n2 - events)
        B = np.sqrt(A**2 - 4 * n1 * events * odds * (odds - 1))
        e11 = np.where(one, n1 / n * events, (A - B) / (2 * (odds - 1)))
        pos = (e11 > 0) & (events > 0) & (nonevents > 0)
        e12, e21 = n1 - e11, events - e11
        e22 = e11 - n1 - events + n
        inv = 1 / e11 + 1 / e12 + 1 / e21 + 1 / e22
        dev = np.where(pos, a - e11, 0.0)
        bd = _sum(np.where(pos, dev**2 * inv, 0.0))
        ta = bd - _sum(dev) ** 2 / _sum(np.where(pos, 1 / inv, 0.0))
        k_pos = _sum(pos)
        missing = np.isnan(odds)
        bd = np.where(missing, np.nan, np.maximum(bd, 0.0))
        ta = np.where(missing, np.nan, np.maximum(ta, 0.0))
    return bd, ta, np.where(missing, 0, k_pos)


def _risk_ratio(a: _Array, b: _Array, c: _Array, d: _Array) -> dict[str, Any]:
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(invalid="ignore", divide="ignore"):
        R, S = _sum(a * n2 / n), _sum(c * n1 / n)
        est = np.log(R / S)
        # Greenland & Robins (1985)
        var = _sum(n1 / n * (n2 / n) * (a + c) - a / n * c) / (R * S)
        bad = (_sum(a) == 0) | (_sum(c) == 0)
    return {"estimate": np.where(bad, np.nan, est), "var": np.where(bad, np.nan, var)}


def _risk_difference(a: _Array, b: _Array, c: _Array, d: _Array) -> dict[str, Any]:
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(invalid="ignore", divide="ignore"):
        w = _sum(n1 * (n2 / n))
        est = _sum(a * (n2 / n) - c * (n1 / n)) / w
        # Sato, Greenland & Robins (1989): consistent in both sparse-data and large-strata limits
        var = (est * _sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
               + _sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2) / w**2
    return {"estimate": est, "var": var}


def _rate_ratio(x1: _Array, t1: _Array, x2: _Array, t2: _Array, correct: bool) -> dict[str, Any]:
    t = t1 + t2
    with np.errstate(invalid="ignore", divide="ignore"):
        R, S = _sum(x1 * t2 / t), _sum(x2 * t1 / t)
        est = np.log(R / S)
        var = _sum(t1 / t * (t2 / t) * (x1 + x2)) / (R * S)
        bad = (_sum(x1) == 0) | (_sum(x2) == 0)
        events = x1 + x2
        dev = np.abs(_sum(x1 - events * t1 / t)) - (0.5 if correct else 0.0)
        cmh = np.where(_sum(events) == 0, np.nan, dev**2 / _sum(events * (t1 / t) * (t2 / t)))
    return {"estimate": np.where(bad, np.nan, est), "var": np.where(bad, np.nan, var), "cmh": cmh}


def _rate_difference(x1: _Array, t1: _Array, x2: _Array, t2: _Array) -> dict[str, Any]:
    t = t1 + t2
    w = t1 / t * t2
    with np.errstate(invalid="ignore", divide="ignore"):
        sw = _sum(w)
        est = _sum((x1 * t2 - x2 * t1) / t) / sw
        var = _sum(w**2 * (x1 / t1**2 + x2 / t2**2)) / sw**2
    return {"estimate": est, "var": var}


def _weights(measure: str, cells: _Cells) -> _Array:
    """Each table's weight in the MH estimate (metafor's `weights.rma.mh`), not yet normalised."""
    if measure in ("OR", "RR", "RD"):
        a, b, c, d = cells
        n = a + b + c + d
        return {"OR": b / n * c, "RR": c / n * (a + b), "RD": (a + b) / n * (c + d)}[measure]
    _, t1, x2, t2 = cells
    return x2 / (t1 + t2) * t1 if measure == "IRR" else t1 / (t1 + t2) * t2


def _pooled(measure: str, cells: _Cells, correct: bool) -> dict[str, Any]:
    if measure == "OR":
        return _odds_ratio(*cells, correct)
    if measure == "RR":
        return _risk_ratio(*cells)
    if measure == "RD":
        return _risk_difference(*cells)
    if measure == "IRR":
        return _rate_ratio(*cells, correct)
    return _rate_difference(*cells)


def _study_effects(measure: str, cells: _Cells) -> tuple[_Array, _Array]:
    """escalc's yi, vi with metafor's rma.mh settings (1/2 added to tables with a zero cell, tables
    without events in either arm left out): the effects of the heterogeneity test."""
    if measure in ("OR", "RR", "RD"):
        return counts.table_effects(measure, TwoByTwo(*cells), drop00=True)
    return counts.person_time_effects(measure, PersonTime(*cells), drop00=True)


def heterogeneity(yi: _Array, vi: _Array, estimate: Any) -> dict[str, Any]:
    """Cochran's Q of the effects around a common estimate with inverse-variance weights (studies with
    NaN left out), its p-value on k − 1 df, I² = 100 (Q − df)/Q and H² = Q/df (Higgins & Thompson,
    2002); Q = 0, p = 1, I² = 0, H² = 1 with fewer than two studies, as metafor."""
    used = np.isfinite(yi) & np.isfinite(vi)
    k_yi = _sum(used)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(used, yi - estimate, 0.0)
        Q = np.maximum(_sum(np.where(used, e * e / vi, 0.0)), 0.0)
        df = k_yi - 1
        several = df > 0
        Q = np.where(several, Q, 0.0)
        Q_p = np.where(several, special.chdtrc(np.maximum(df, 1), Q), 1.0)
        I2 = np.where(several & (Q > 0), np.maximum(0.0, 100 * (Q - df) / Q), 0.0)
        H2 = np.where(several, Q / np.maximum(df, 1), 1.0)
    return {"k_yi": k_yi, "Q": Q, "Q_df": np.maximum(df, 0), "Q_p": Q_p, "I2": I2, "H2": H2}


def _arrays(t: TwoByTwo | PersonTime) -> _Cells:
    return (t.ai, t.bi, t.ci, t.di) if isinstance(t, TwoByTwo) else (t.x1i, t.t1i, t.x2i, t.t2i)


def rma_mh(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    x1i: Any = None,
    t1i: Any = None,
    x2i: Any = None,
    t2i: Any = None,
    measure: str = "OR",
    correct: bool = True,
    level: float = 95.0,
    slab: Sequence[Any] | None = None,
) -> TablesResult:
    """Mantel–Haenszel common-effect meta-analysis of 2×2 tables (OR, RR, RD: ai, bi, ci, di or ai,
    n1i, ci, n2i) or person-time data (IRR, IRD: x1i, t1i, x2i, t2i), as metafor's `rma.mh`.

    Tables with a missing count are left out and counted (`k_omitted`); `correct` applies the
    continuity correction to the CMH test. An error names the row of a negative count, of more events
    than participants, or of a table with an empty arm; and says so when no table has the events an
    estimate needs.
    """
    key = _measure(measure)
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    table = counts.tables_of(key, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, x1i=x1i, t1i=t1i, x2i=x2i,
                             t2i=t2i, slab=slab)
    omitted = table.missing
    table = table.subset(~omitted)
    k = len(table)
    if k == 0:
        raise ValueError("no table without missing counts is left")
    cells = _arrays(table)
    stats = _pooled(key, cells, correct)
    estimate, var = float(stats["estimate"]), float(stats["var"])
    if not math.isfinite(estimate):
        raise ValueError(_no_estimate(key))
    yi, vi = _study_effects(key, cells)
    het = heterogeneity(yi, vi, estimate)
    se = math.sqrt(var)
    crit = critical_value(level, None)
    w = _weights(key, cells)
    labels = table.labels or tuple(f"Study {i + 1}" for i in np.flatnonzero(~omitted))
    z = estimate / se if se > 0 else math.nan
    tests: dict[str, Any] = {}
    for name in ("cmh", "cochran", "breslow_day", "tarone"):
        if name in stats:
            value = float(stats[name])
            df = 1 if name in ("cmh", "cochran") else int(stats["k_pos"]) - 1
            tests[name] = value
            tests[f"{name}_p"] = float(_chi2_p(value, df)) if df > 0 and math.isfinite(value) else math.nan
    return TablesResult(
        method="MH", measure=key, level=level, k=k, k_yi=int(het["k_yi"]), k_omitted=int(omitted.sum()),
        k_double_zero=int(counts.double_zero(table).sum()), estimate=estimate, se=se, z=z,
        p=math.erfc(abs(z) / math.sqrt(2)) if math.isfinite(z) else math.nan,
        ci_lb=estimate - crit * se, ci_ub=estimate + crit * se,
        Q=float(het["Q"]), Q_df=int(het["Q_df"]), Q_p=float(het["Q_p"]), I2=float(het["I2"]),
        H2=float(het["H2"]),
        yi=yi, vi=vi, weights=100 * w / w.sum(), slab=tuple(labels), tables=table, correct=correct,
        k_pos=int(stats["k_pos"]) if "k_pos" in stats else None, **tests,
    )


def _measure(measure: str) -> str:
    key = measure.upper()
    if key not in MEASURES:
        raise ValueError(f"measure {measure!r} is not supported by Mantel–Haenszel; "
                         f"allowed: {', '.join(MEASURES)}")
    return key


def _no_estimate(measure: str) -> str:
    if measure in ("OR", "RR"):
        return ("the Mantel–Haenszel estimate does not exist: no table has events in group 1, or none in "
                "group 2 (or, for the odds ratio, no non-events); the risk difference or a GLMM may apply")
    if measure == "IRR":
        return "the Mantel–Haenszel rate ratio does not exist: no events in group 1, or none in group 2"
    return "the Mantel–Haenszel estimate does not exist for these tables"


@dataclass(frozen=True, eq=False, repr=False)
class MHBatch(Presentable):
    """`rma_mh_batch` results, one entry per meta-analysis (arrays of shape (m,)); NaN where an
    analysis has no estimate (see `rma_mh`). Tests that do not exist for the measure are None."""

    measure: str
    level: float
    k: int
    estimate: _Array
    se: _Array
    z: _Array
    p: _Array
    ci_lb: _Array
    ci_ub: _Array
    k_yi: NDArray[np.int64]
    Q: _Array
    Q_p: _Array
    I2: _Array
    H2: _Array
    cmh: _Array | None
    cmh_p: _Array | None
    breslow_day: _Array | None
    breslow_day_p: _Array | None
    tarone: _Array | None
    tarone_p: _Array | None

    def __len__(self) -> int:
        return int(self.estimate.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per analysis: estimate, se, z, p, interval, Q, I², H² and the tests that exist."""
        from strigil.display import frame

        names = ("estimate", "se", "z", "p", "ci_lb", "ci_ub", "k_yi", "Q", "Q_p", "I2", "H2")
        cols: dict[str, Any] = {c: getattr(self, c) for c in names}
        for name in ("cmh", "cmh_p", "breslow_day", "breslow_day_p", "tarone", "tarone_p"):
            if getattr(self, name) is not None:
                cols[name] = getattr(self, name)
        return frame(cols)

    def summary(self) -> Summary:
        """The spread of the estimates, Q, I² and p-values over the analyses."""
        from strigil.meta.printing import mh_batch_summary

        return mh_batch_summary(self)



def _check_batch(measure: str, cells: _Cells) -> None:
    """The checks of `rma_mh`, naming the table (row) and the analysis (column)."""
    names = ("ai", "bi", "ci", "di") if measure in ("OR", "RR", "RD") else ("x1i", "t1i", "x2i", "t2i")
    problems = [(c < 0, f"{n} is negative") for n, c in zip(names, cells, strict=True)]
    if measure in ("OR", "RR", "RD"):
        a, b, c, d = cells
        problems += [(a + b == 0, "group 1 has no participants"), (c + d == 0, "group 2 has no participants")]
    else:
        problems += [(cells[1] == 0, "group 1 has no person-time"),
                     (cells[3] == 0, "group 2 has no person-time")]
    for bad, what in problems:
        if bad.any():
            i, j = (int(x[0]) for x in np.nonzero(bad))
            raise ValueError(f"table {i + 1} of analysis {j + 1}: {what}")


def rma_mh_batch(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    x1i: Any = None,
    t1i: Any = None,
    x2i: Any = None,
    t2i: Any = None,
    measure: str = "OR",
    correct: bool = True,
    level: float = 95.0,
) -> MHBatch:
    """Many Mantel–Haenszel meta-analyses at once: column j of the (k × m) count arrays is one
    analysis of k tables (cells ai, bi, ci, di, or x1i, t1i, x2i, t2i); every number equals what
    `rma_mh` gives for that column."""
    key = _measure(measure)
    names = ("ai", "bi", "ci", "di") if key in ("OR", "RR", "RD") else ("x1i", "t1i", "x2i", "t2i")
    given = (ai, bi, ci, di) if key in ("OR", "RR", "RD") else (x1i, t1i, x2i, t2i)
    if any(g is None for g in given):
        raise ValueError(f"measure {key} needs {', '.join(names)} as (k × m) arrays")
    m0, m1, m2, m3 = (_matrix(n, g) for n, g in zip(names, given, strict=True))
    cells: _Cells = (m0, m1, m2, m3)
    shape = cells[0].shape
    if any(c.shape != shape for c in cells):
        raise ValueError(f"{', '.join(names)} must have the same shape; got {[c.shape for c in cells]}")
    _check_batch(key, cells)
    stats = _pooled(key, cells, correct)
    est, var = stats["estimate"], stats["var"]
    yi, vi = _study_effects(key, cells)
    het = heterogeneity(yi, vi, est)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(var)
        z = est / se
        p = special.erfc(np.abs(z) / math.sqrt(2))
    crit = critical_value(level, None)
    tests: dict[str, Any] = {n: None for n in ("cmh", "cmh_p", "breslow_day", "breslow_day_p", "tarone",
                                               "tarone_p")}
    if "cmh" in stats:
        tests["cmh"], tests["cmh_p"] = stats["cmh"], _chi2_p(stats["cmh"], 1)
    if "breslow_day" in stats:
        df = np.where(stats["k_pos"] > 1, stats["k_pos"] - 1, np.nan)
        tests["breslow_day"], tests["tarone"] = stats["breslow_day"], stats["tarone"]
        tests["breslow_day_p"] = _chi2_p(stats["breslow_day"], df)
        tests["tarone_p"] = _chi2_p(stats["tarone"], df)
    return MHBatch(
        measure=key, level=level, k=shape[0], estimate=est, se=se, z=z, p=p, ci_lb=est - crit * se,
        ci_ub=est + crit * se, k_yi=het["k_yi"].astype(np.int64), Q=het["Q"], Q_p=het["Q_p"], I2=het["I2"],
        H2=het["H2"], **tests,
    )
