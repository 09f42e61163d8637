"""Effect sizes and their sampling variances, in metafor's vocabulary (`escalc`).

Every formula follows metafor 5.0-1's `escalc()` with its defaults (large-sample variances,
`vtype="LS"`; 1/2 added to every cell of a 2×2 table that has a zero cell, `add=1/2, to="only0"`).
Two computations changed after metafor 3.8 and follow the newer metafor: the SMDH, SMD1H and SMCRH
sampling variances (metafor 4.6-0: no squared bias-correction factor on SMDH/SMCRH, n − 1 in SMD1H)
and the second-order bias correction of ROM and ROMC, the default since metafor 5.0-1
(`correct=False` gives the plain log ratio of older versions).
References: Hedges (1981) for the exact small-sample correction of the SMD; Bonett (2008, Psychol
Methods 13:99) for SMDH, SMD1H and SMCRH; Hedges, Gurevitch & Curtis (1999) for ROM and Lajeunesse
(2015, Ecology 96:2056) for its bias correction; Lajeunesse (2011) and Senior et al. (2020) for ROMC;
Becker (1988) and Morris (2008) for the pre–post measures; Borenstein et al. (2009, ch. 5–6) for RR,
OR and RD; Fisher (1921) for ZCOR. Counts (2×2 tables, person-time, proportions, rates, Peto's odds
ratio) are computed in `strigil.meta.counts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta import counts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MEASURES", "EffectSizes", "escalc"]

_FloatArray = NDArray[np.float64]

# measure -> the metafor columns it needs (in the order a reader expects them)
MEASURES: dict[str, tuple[str, ...]] = {
    "MD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "SMD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "SMDH": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    # standardised by the SD of group 2 (the control), heteroscedastic variance (Bonett, 2008)
    "SMD1H": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "ROM": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "MC": ("m1i", "m2i", "sd1i", "sd2i", "ri", "ni"),
    "SMCC": ("m1i", "m2i", "sd1i", "sd2i", "ri", "ni"),
    "SMCR": ("m1i", "m2i", "sd1i", "ri", "ni"),
    # raw-score standardised change with heteroscedastic variance (Bonett, 2008)
    "SMCRH": ("m1i", "m2i", "sd1i", "sd2i", "ri", "ni"),
    # log ratio of two correlated means (pre–post)
    "ROMC": ("m1i", "m2i", "sd1i", "sd2i", "ri", "ni"),
    # a single group's mean
    "MN": ("mi", "sdi", "ni"),
    "RR": ("ai", "bi", "ci", "di"),
    "OR": ("ai", "bi", "ci", "di"),
    "RD": ("ai", "bi", "ci", "di"),
    "PETO": ("ai", "bi", "ci", "di"),
    # two-group person-time: incidence-rate ratio and difference
    "IRR": ("x1i", "t1i", "x2i", "t2i"),
    "IRD": ("x1i", "t1i", "x2i", "t2i"),
    # a single group's proportion (raw, logit, arcsine, Freeman–Tukey) and rate (raw, log)
    "PR": ("xi", "ni"),
    "PLO": ("xi", "ni"),
    "PAS": ("xi", "ni"),
    "PFT": ("xi", "ni"),
    "IR": ("xi", "ti"),
    "IRLN": ("xi", "ti"),
    "ZCOR": ("ri", "ni"),
    "COR": ("ri", "ni"),
    # a reported estimate with its standard error or confidence interval (metafor's "GEN")
    "GEN": ("yi",),
}


@dataclass(frozen=True, repr=False)
class EffectSizes(Presentable):
    """Effect sizes `yi` with sampling variances `vi`, plus the input rows they came from."""

    measure: str
    yi: _FloatArray
    vi: _FloatArray
    rows: dict[str, list[Any]] = field(default_factory=dict)
    slab: tuple[str, ...] | None = None  # study labels (metafor's slab): the rows' names, passed on to rma

    def __len__(self) -> int:
        return int(self.yi.shape[0])

    @property
    def sei(self) -> _FloatArray:
        """Standard errors, sqrt(vi)."""
        return np.sqrt(self.vi)

    def to_frame(self) -> pd.DataFrame:
        """The input rows with `yi` and `vi` appended (metafor's escalc data frame)."""
        from strigil.display import frame

        cols: dict[str, Any] = {n: v for n, v in self.rows.items() if n not in ("yi", "vi")}
        cols.update(yi=self.yi, vi=self.vi)
        return frame(cols, index=self.slab, index_name="study" if self.slab is not None else None)

    def summary(self) -> Summary:
        """The effect sizes as metafor prints an escalc data frame."""
        from strigil.meta.printing import table_summary

        return table_summary(f"Effect sizes ({self.measure}; {len(self)} rows)", self.to_frame())

    def to_rows(self) -> list[dict[str, Any]]:
        """The input rows with `yi` and `vi` appended (NaN where a value cannot be computed)."""
        names = list(self.rows)
        out = []
        for i in range(len(self)):
            row = {name: self.rows[name][i] for name in names}
            row["yi"] = float(self.yi[i])
            row["vi"] = float(self.vi[i])
            out.append(row)
        return out


def _hedges_correction(m: _FloatArray, correct: bool = True) -> _FloatArray:
    """Exact small-sample bias correction c(m) = Γ(m/2) / (sqrt(m/2) Γ((m-1)/2)) (Hedges, 1981);
    1 when `correct` is False (metafor's `correct=FALSE`)."""
    if not correct:
        return np.ones_like(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
    return np.where(m > 1, c, np.nan)


def _column(name: str, value: Any, data: Any, k: int | None) -> _FloatArray:
    if isinstance(value, str):
        if data is None:
            raise ValueError(f"column {name}={value!r} names a column, but no data were given")
        try:
            value = data[value]
        except (KeyError, IndexError) as exc:
            raise ValueError(f"column {name}={value!r} is not in the data") from exc
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name} must be numeric; got {value!r}") from exc
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise ValueError(f"column {name} must be one-dimensional; got shape {arr.shape}")
    if k is not None and arr.shape[0] != k:
        raise ValueError(f"column {name} has {arr.shape[0]} values; the other columns have {k}")
    return arr


def _rows_of(data: Any) -> dict[str, list[Any]]:
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return {str(key): list(np.asarray(val).tolist()) for key, val in data.items()}
    if hasattr(data, "columns"):  # a data frame
        return {str(c): list(data[c]) for c in data.columns}
    raise ValueError("data must be a mapping of column name to values or a data frame")


def _require_nonnegative(name: str, arr: _FloatArray) -> None:
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"column {name} must be >= 0; row {i} has {arr[i]!r}")


def _require_positive(name: str, arr: _FloatArray) -> None:
    if np.any(arr <= 0):
        i = int(np.flatnonzero(arr <= 0)[0])
        raise ValueError(f"column {name} must be > 0; row {i} has {arr[i]!r}")


def _require_correlation(arr: _FloatArray) -> None:
    if np.any(np.abs(arr) > 1):
        i = int(np.flatnonzero(np.abs(arr) > 1)[0])
        raise ValueError(f"column ri must lie in [-1, 1]; row {i} has {arr[i]!r}")


def _two_groups(measure: str, c: dict[str, _FloatArray], correct: bool) -> tuple[_FloatArray, _FloatArray]:
    m1, sd1, n1, m2, sd2, n2 = (c[n] for n in MEASURES[measure])
    _require_nonnegative("sd1i", sd1)
    _require_nonnegative("sd2i", sd2)
    _require_positive("n1i", n1)
    _require_positive("n2i", n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "MD":
            return m1 - m2, sd1**2 / n1 + sd2**2 / n2
        if measure == "ROM":
            cv1, cv2 = sd1**2 / (n1 * m1**2), sd2**2 / (n2 * m2**2)
            yi = np.log(m1 / m2)
            if correct:  # second-order bias correction (Lajeunesse, 2015, eq. 8)
                yi = yi + 0.5 * (cv1 - cv2)
            return yi, cv1 + cv2
        if measure == "SMD1H":
            # standardised by group 2's SD; variance of Bonett (2008, eq. 12), as metafor >= 4.6-0
            yi = _hedges_correction(n2 - 1, correct) * (m1 - m2) / sd2
            return yi, (sd1**2 / sd2**2) / (n1 - 1) + 1 / (n2 - 1) + yi**2 / (2 * (n2 - 1))
        mi = n1 + n2 - 2
        cm = _hedges_correction(mi, correct)
        if measure == "SMD":
            sdp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / mi)
            yi = cm * (m1 - m2) / sdp
            return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
        # SMDH: standardised by the root mean of the two variances (Bonett, 2008, eq. 8); metafor
        # >= 4.6-0 plugs the corrected estimate into the variance and no longer multiplies it by c(m)²
        s2 = (sd1**2 + sd2**2) / 2
        yi = cm * (m1 - m2) / np.sqrt(s2)
        vi = yi**2 * (sd1**4 / (n1 - 1) + sd2**4 / (n2 - 1)) / (8 * s2**2) + (
            sd1**2 / (n1 - 1) + sd2**2 / (n2 - 1)
        ) / s2
        return yi, vi


def _pre_post(measure: str, c: dict[str, _FloatArray], correct: bool) -> tuple[_FloatArray, _FloatArray]:
    m1, m2, sd1, ri, ni = c["m1i"], c["m2i"], c["sd1i"], c["ri"], c["ni"]
    _require_nonnegative("sd1i", sd1)
    _require_correlation(ri)
    _require_positive("ni", ni)
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "SMCR":
            yi = _hedges_correction(ni - 1, correct) * (m1 - m2) / sd1
            return yi, 2 * (1 - ri) / ni + yi**2 / (2 * ni)
        sd2 = c["sd2i"]
        _require_nonnegative("sd2i", sd2)
        var_diff = sd1**2 + sd2**2 - 2 * ri * sd1 * sd2
        if measure == "MC":
            return m1 - m2, var_diff / ni
        if measure == "SMCRH":
            # Bonett (2008, eq. 13) with the corrected estimate plugged in, as metafor >= 4.6-0
            yi = _hedges_correction(ni - 1, correct) * (m1 - m2) / sd1
            return yi, var_diff / (sd1**2 * (ni - 1)) + yi**2 / (2 * (ni - 1))
        if measure == "ROMC":
            cv1, cv2 = sd1**2 / (ni * m1**2), sd2**2 / (ni * m2**2)
            yi = np.log(m1 / m2)
            if correct:  # second-order bias correction (Senior et al., 2020, eq. 7)
                yi = yi + 0.5 * (cv1 - cv2)
            return yi, cv1 + cv2 - 2 * ri * sd1 * sd2 / (m1 * m2 * ni)
        yi = _hedges_correction(ni - 1, correct) * (m1 - m2) / np.sqrt(var_diff)
        return yi, 1 / ni + yi**2 / (2 * ni)


def _single_mean(c: dict[str, _FloatArray]) -> tuple[_FloatArray, _FloatArray]:
    mi, sdi, ni = c["mi"], c["sdi"], c["ni"]
    _require_nonnegative("sdi", sdi)
    _require_positive("ni", ni)
    return mi.copy(), sdi**2 / ni


def _count_measure(key: str, c: dict[str, _FloatArray], add: float | None, to: str, drop00: bool,
                   vtype: str) -> tuple[_FloatArray, _FloatArray]:
    """The count measures, computed by strigil.meta.counts on checked tables."""
    plus = 0.5 if add is None else add
    if key in ("RR", "OR", "RD", "PETO"):
        table = counts.two_by_two(c["ai"], c.get("bi"), c["ci"], c.get("di"),
                                  n1i=c.get("n1i"), n2i=c.get("n2i"))
        return counts.table_effects(key, table, add=plus, to=to, drop00=drop00)
    if key in ("IRR", "IRD"):
        pt = counts.person_time(c["x1i"], c["t1i"], c["x2i"], c["t2i"])
        return counts.person_time_effects(key, pt, add=plus, to=to, drop00=drop00)
    if key in ("IR", "IRLN"):
        return counts.rate_effects(key, counts.rates(c["xi"], c["ti"]), add=plus, to=to)
    props = counts.proportions(c["xi"], c.get("ni"), mi=c.get("mi"))
    return counts.proportion_effects(key, props, add=add, to=to, vtype=vtype)


def _correlation(measure: str, c: dict[str, _FloatArray]) -> tuple[_FloatArray, _FloatArray]:
    ri, ni = c["ri"], c["ni"]
    _require_correlation(ri)
    _require_positive("ni", ni)
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "ZCOR":
            yi, vi = np.arctanh(ri), 1 / (ni - 3)
            return yi, np.where(ni > 3, vi, np.nan)
        return ri.copy(), np.where(ni > 1, (1 - ri**2) ** 2 / (ni - 1), np.nan)


def _reported(c: dict[str, _FloatArray], level: float) -> tuple[_FloatArray, _FloatArray]:
    yi = c["yi"]
    if "vi" in c:
        vi = c["vi"]
    elif "sei" in c:
        _require_nonnegative("sei", c["sei"])
        vi = c["sei"] ** 2
    elif "ci_lb" in c and "ci_ub" in c:
        # a symmetric (1 - alpha) Wald interval: se = (ub - lb) / (2 z_{1-alpha/2})
        lb, ub = c["ci_lb"], c["ci_ub"]
        if np.any(ub < lb):
            i = int(np.flatnonzero(ub < lb)[0])
            raise ValueError(f"ci_ub must be >= ci_lb; row {i} has ci_lb={lb[i]!r}, ci_ub={ub[i]!r}")
        z = float(special.ndtri(0.5 + level / 200))
        vi = ((ub - lb) / (2 * z)) ** 2
    else:
        raise ValueError("measure GEN needs yi and one of vi, sei or ci_lb and ci_ub")
    return yi.copy(), np.asarray(vi, dtype=float).copy()


_COLUMNS = frozenset({"n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i", "ai", "bi", "ci", "di", "ri", "ni", "yi",
                      "vi", "sei", "ci_lb", "ci_ub", "xi", "mi", "ti", "sdi", "x1i", "x2i", "t1i", "t2i"})
# measure -> (column that may be left out, the column that stands in for it)
_STAND_INS: dict[str, tuple[tuple[str, str], ...]] = {
    **{m: (("bi", "n1i"), ("di", "n2i")) for m in ("RR", "OR", "RD", "PETO")},
    **{m: (("ni", "mi"),) for m in ("PR", "PLO", "PAS", "PFT")},
}
_COUNTS = frozenset({"RR", "OR", "RD", "PETO", "IRR", "IRD", "PR", "PLO", "PAS", "PFT", "IR", "IRLN"})


def escalc(
    measure: str,
    data: Any = None,
    *,
    level: float = 95.0,
    log_scale: bool = False,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
    vtype: str = "LS",
    correct: bool = True,
    slab: Any = None,
    **columns: Any,
) -> EffectSizes:
    """Compute effect sizes `yi` and sampling variances `vi` as metafor's `escalc()` does.

    `columns` maps metafor's argument names (n1i, m1i, sd1i, n2i, m2i, sd2i, ai, bi, ci, di, ri, ni,
    xi, mi, ti, sdi, x1i, t1i, x2i, t2i, yi, vi, sei, ci_lb, ci_ub) to arrays, or to column names of
    `data` (a mapping or data frame). Names left out default to the column of the same name in `data`.
    For measure "GEN" an estimate with a `level`% confidence interval is converted with
    se = (ub − lb) / (2 z); `log_scale=True` first takes logarithms of yi, ci_lb and ci_ub (for a
    reported ratio such as an OR or RR). Count measures take metafor's `add` (default 1/2; 0 for PAS
    and PFT), `to` ("only0", "all", "if0all", "none") and `drop00`; `vtype="UB"` gives PR its unbiased
    variance; `correct=False` leaves out the small-sample (SMD family) and second-order (ROM, ROMC)
    bias corrections. `slab`: study labels (a sequence, or a column name of `data`), kept on the result
    as the rows' names and used by `rma(escalc(...))`.
    """
    key = measure.upper()
    if key not in MEASURES:
        allowed = ", ".join(MEASURES)
        raise ValueError(f"measure {measure!r} is not supported; allowed: {allowed}")
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    needed = list(MEASURES[key])
    # as metafor: group sizes may stand in for non-event counts (bi = n1i − ai) and non-events for
    # sample sizes (ni = xi + mi)
    for cell, stand_in in _STAND_INS.get(key, ()):
        if cell not in columns and not _has(data, cell) and (stand_in in columns or _has(data, stand_in)):
            needed[needed.index(cell)] = stand_in
    if key == "GEN":
        needed += [n for n in ("vi", "sei", "ci_lb", "ci_ub") if n in columns or _has(data, n)]
    cols: dict[str, _FloatArray] = {}
    k: int | None = None
    for name in needed:
        source = columns.get(name, name)
        if source is None or (isinstance(source, str) and data is None and name not in columns):
            raise ValueError(f"measure {key} needs column {name}")
        arr = _column(name, source, data, k)
        k = arr.shape[0]
        cols[name] = arr
    unknown = set(columns) - _COLUMNS
    if unknown:
        raise ValueError(f"unknown column argument(s) {sorted(unknown)}; use metafor's names")
    if key == "GEN" and log_scale:
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in ("yi", "ci_lb", "ci_ub"):
                if name in cols:
                    _require_positive(name, cols[name])
                    cols[name] = np.log(cols[name])
    if key in ("MD", "SMD", "SMDH", "SMD1H", "ROM"):
        yi, vi = _two_groups(key, cols, correct)
    elif key in ("MC", "SMCC", "SMCR", "SMCRH", "ROMC"):
        yi, vi = _pre_post(key, cols, correct)
    elif key == "MN":
        yi, vi = _single_mean(cols)
    elif key in _COUNTS:
        yi, vi = _count_measure(key, cols, add, to, drop00, vtype)
    elif key in ("ZCOR", "COR"):
        yi, vi = _correlation(key, cols)
    else:
        yi, vi = _reported(cols, level)
    rows = _rows_of(data) if data is not None else {n: cols[n].tolist() for n in cols}
    if rows and any(len(v) != len(yi) for v in rows.values()):
        rows = {n: cols[n].tolist() for n in cols}
    labels = _labels(slab, data, len(yi))
    return EffectSizes(
        measure=key, yi=np.asarray(yi, dtype=float), vi=np.asarray(vi, dtype=float), rows=rows, slab=labels
    )


def _labels(slab: Any, data: Any, k: int) -> tuple[str, ...] | None:
    """Study labels from a sequence or a column of `data`, one per row."""
    if slab is None:
        return None
    if isinstance(slab, str):
        if not _has(data, slab):
            raise ValueError(f"slab {slab!r} names a column, but data has no such column")
        slab = data[slab]
    labels = tuple(str(s) for s in slab)
    if len(labels) != k:
        raise ValueError(f"slab has {len(labels)} labels for {k} rows")
    return labels


def _has(data: Any, name: str) -> bool:
    if data is None:
        return False
    if isinstance(data, Mapping):
        return name in data
    return hasattr(data, "columns") and name in data.columns
