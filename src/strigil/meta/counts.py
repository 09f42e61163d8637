"""Count data: checked 2×2 and person-time tables, and the effect sizes computed from them.

Two-group tables are events and non-events per arm (`ai`, `bi` in group 1; `ci`, `di` in group 2;
metafor's names) or events and person-time (`x1i`, `t1i`, `x2i`, `t2i`); single groups are events
out of a sample (`xi`, `ni`) or events in person-time (`xi`, `ti`). Missing values stay NaN (the
caller drops those studies and counts them); anything else impossible — a negative count, more events
than participants, an arm without participants or person-time — is a ValueError naming the row.

Effect sizes follow metafor's `escalc()` (checked against metafor; see tests/reference/metafor):
log odds and risk ratios and the risk difference (Borenstein et al., 2009, ch. 5), Peto's log odds
ratio (Yusuf et al., 1985, Prog Cardiovasc Dis 27:335), incidence-rate ratios and differences
(Rothman, Greenland & Lash, 2008, ch. 15), and single proportions and rates: raw, logit, arcsine
(Anscombe, 1948) and Freeman–Tukey double arcsine (Freeman & Tukey, 1950) proportions; raw and log
rates. A table with a zero cell gets `add` (1/2) in every cell (`to="only0"`), as metafor's default;
`drop00` leaves out tables without events (or without non-events) in both arms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ADD_TO",
    "PersonTime",
    "Proportions",
    "Rates",
    "TwoByTwo",
    "double_zero",
    "person_time",
    "person_time_effects",
    "proportion_effects",
    "proportions",
    "rate_effects",
    "rates",
    "table_effects",
    "tables_of",
    "two_by_two",
]

_FloatArray = NDArray[np.float64]
ADD_TO = ("only0", "all", "if0all", "none")


def _vector(name: str, values: Any, k: int | None) -> _FloatArray:
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; got {values!r}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if k is not None and arr.shape[0] != k:
        raise ValueError(f"{name} has {arr.shape[0]} values; the other columns have {k}")
    return arr.copy()


def _row(i: int, labels: Sequence[str] | None) -> str:
    """How an error names a row: 1-based, with the study's label when there is one."""
    return f"row {i + 1}" if labels is None else f"row {i + 1} ({labels[i]})"


def _refuse(bad: NDArray[np.bool_], labels: Sequence[str] | None, what: str, **values: Any) -> None:
    """A ValueError naming the first row where `bad` holds; `what` says what is wrong with it, formatted
    with `values` (arrays are taken at that row)."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        more = int(bad.sum()) - 1
        tail = f" (and {more} more row{'s' if more > 1 else ''})" if more else ""
        at = {name: v[i] if isinstance(v, np.ndarray) else v for name, v in values.items()}
        raise ValueError(f"{_row(i, labels)}: {what.format(**at)}{tail}")


_PERSON_TIME = ("t1i", "t2i", "ti")  # person-time columns (time at risk), not counts


def _counts(names: Sequence[str], arrays: Sequence[_FloatArray], labels: Sequence[str] | None) -> None:
    for name, arr in zip(names, arrays, strict=True):
        kind = "person-time" if name in _PERSON_TIME else "a count of people or events"
        with np.errstate(invalid="ignore"):
            _refuse(arr < 0, labels, "{n} is negative ({a:g}); {kind} cannot be negative", n=name, a=arr,
                    kind=kind)  # fmt: skip
            _refuse(np.isinf(arr), labels, "{n} is infinite", n=name)


def _labels(labels: Sequence[Any] | None, k: int) -> tuple[str, ...] | None:
    if labels is None:
        return None
    out = tuple(str(s) for s in labels)
    if len(out) != k:
        raise ValueError(f"{len(out)} study labels for {k} tables")
    return out


# ------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TwoByTwo:
    """2×2 tables, one per study: events `ai`/`ci` and non-events `bi`/`di` in groups 1/2 (NaN = missing)."""

    ai: _FloatArray
    bi: _FloatArray
    ci: _FloatArray
    di: _FloatArray
    labels: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return int(self.ai.shape[0])

    @property
    def missing(self) -> NDArray[np.bool_]:
        """Tables with a missing cell."""
        return np.isnan(self.ai) | np.isnan(self.bi) | np.isnan(self.ci) | np.isnan(self.di)

    def subset(self, keep: Any) -> TwoByTwo:
        """The tables at `keep` (mask or indices)."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        lab = None if self.labels is None else tuple(self.labels[i] for i in idx)
        return TwoByTwo(self.ai[idx], self.bi[idx], self.ci[idx], self.di[idx], lab)


def two_by_two(ai: Any, bi: Any = None, ci: Any = None, di: Any = None, *, n1i: Any = None, n2i: Any = None,
               labels: Sequence[Any] | None = None) -> TwoByTwo:
    """Check 2×2 tables given as cells (ai, bi, ci, di) or as events and arm sizes (ai, n1i, ci, n2i)."""
    a = _vector("ai", ai, None)
    k = a.shape[0]
    if ci is None:
        raise ValueError("2×2 tables need ci (events in group 2)")
    c = _vector("ci", ci, k)
    lab = _labels(labels, k)
    arms = []
    for cell, size, events, cname, sname in ((bi, n1i, a, "bi", "n1i"), (di, n2i, c, "di", "n2i")):
        if cell is not None:
            arms.append(_vector(cname, cell, k))
            continue
        if size is None:
            raise ValueError(f"2×2 tables need {cname} (non-events) or {sname} (arm size)")
        n = _vector(sname, size, k)
        _counts((sname,), (n,), lab)
        with np.errstate(invalid="ignore"):
            ename = "ai" if cname == "bi" else "ci"
            _refuse(events > n, lab, "{e} (events) is larger than {s} (participants): {x:g} of {m:g}",
                    e=ename, s=sname, x=events, m=n)
        arms.append(n - events)
    b, d = arms
    _counts(("ai", "bi", "ci", "di"), (a, b, c, d), lab)
    with np.errstate(invalid="ignore"):
        for group, cells, size in (("1", "ai + bi", a + b), ("2", "ci + di", c + d)):
            _refuse(size == 0, lab, "group {g} has no participants ({n} = 0); a table needs both arms",
                    g=group, n=cells)
    return TwoByTwo(a, b, c, d, lab)


@dataclass(frozen=True)
class PersonTime:
    """Events `x1i`/`x2i` in person-time `t1i`/`t2i` of groups 1/2, one row per study (NaN = missing)."""

    x1i: _FloatArray
    t1i: _FloatArray
    x2i: _FloatArray
    t2i: _FloatArray
    labels: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return int(self.x1i.shape[0])

    @property
    def missing(self) -> NDArray[np.bool_]:
        """Rows with a missing value."""
        return np.isnan(self.x1i) | np.isnan(self.t1i) | np.isnan(self.x2i) | np.isnan(self.t2i)

    def subset(self, keep: Any) -> PersonTime:
        """The rows at `keep` (mask or indices)."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        lab = None if self.labels is None else tuple(self.labels[i] for i in idx)
        return PersonTime(self.x1i[idx], self.t1i[idx], self.x2i[idx], self.t2i[idx], lab)


def person_time(x1i: Any, t1i: Any, x2i: Any, t2i: Any, *, labels: Sequence[Any] | None = None) -> PersonTime:
    """Check two-group person-time data: counts >= 0, person-time > 0 in both arms."""
    x1 = _vector("x1i", x1i, None)
    k = x1.shape[0]
    t1, x2, t2 = _vector("t1i", t1i, k), _vector("x2i", x2i, k), _vector("t2i", t2i, k)
    lab = _labels(labels, k)
    _counts(("x1i", "x2i", "t1i", "t2i"), (x1, x2, t1, t2), lab)
    with np.errstate(invalid="ignore"):
        _refuse(t1 == 0, lab, "group 1 has no person-time (t1i = 0); a table needs both arms")
        _refuse(t2 == 0, lab, "group 2 has no person-time (t2i = 0); a table needs both arms")
    return PersonTime(x1, t1, x2, t2, lab)


@dataclass(frozen=True)
class Proportions:
    """Events `xi` out of `ni` participants, one group per study."""

    xi: _FloatArray
    ni: _FloatArray
    labels: tuple[str, ...] | None = None


def proportions(xi: Any, ni: Any = None, *, mi: Any = None,
                labels: Sequence[Any] | None = None) -> Proportions:
    """Check single-group proportions: events and sample size (xi, ni) or events and non-events (xi, mi)."""
    x = _vector("xi", xi, None)
    k = x.shape[0]
    lab = _labels(labels, k)
    if ni is None and mi is None:
        raise ValueError("proportions need ni (sample size) or mi (non-events)")
    n = _vector("ni", ni, k) if ni is not None else x + _vector("mi", mi, k)
    _counts(("xi", "ni"), (x, n), lab)
    with np.errstate(invalid="ignore"):
        _refuse(x > n, lab, "xi (events) is larger than ni (participants): {x:g} of {n:g}", x=x, n=n)
        _refuse(n == 0, lab, "ni is 0: a group without participants")
    return Proportions(x, n, lab)


@dataclass(frozen=True)
class Rates:
    """Events `xi` in person-time `ti`, one group per study."""

    xi: _FloatArray
    ti: _FloatArray
    labels: tuple[str, ...] | None = None


def rates(xi: Any, ti: Any, *, labels: Sequence[Any] | None = None) -> Rates:
    """Check single-group rates: counts >= 0, person-time > 0."""
    x = _vector("xi", xi, None)
    t = _vector("ti", ti, x.shape[0])
    lab = _labels(labels, x.shape[0])
    _counts(("xi", "ti"), (x, t), lab)
    with np.errstate(invalid="ignore"):
        _refuse(t == 0, lab, "ti is 0: no person-time")
    return Rates(x, t, lab)


def tables_of(measure: str, *, ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
              n1i: Any = None, n2i: Any = None, x1i: Any = None, t1i: Any = None, x2i: Any = None,
              t2i: Any = None, slab: Sequence[Any] | None = None) -> TwoByTwo | PersonTime:
    """The checked tables a pooling method needs: 2×2 for OR, RR, RD; person-time for IRR, IRD."""
    if measure in ("OR", "RR", "RD"):
        if ai is None or ci is None:
            raise ValueError(f"measure {measure} needs ai and ci with bi and di (or n1i and n2i)")
        return two_by_two(ai, bi, ci, di, n1i=n1i, n2i=n2i, labels=slab)
    if x1i is None or t1i is None or x2i is None or t2i is None:
        raise ValueError(f"measure {measure} needs x1i, t1i, x2i and t2i")
    return person_time(x1i, t1i, x2i, t2i, labels=slab)


# ---------------------------------------------------------------------------------- effect sizes


def double_zero(t: TwoByTwo | PersonTime) -> NDArray[np.bool_]:
    """Studies without events in either arm (or, for 2×2 tables, without non-events in either arm):
    they carry no information on a ratio (metafor's `drop00`)."""
    with np.errstate(invalid="ignore"):
        if isinstance(t, TwoByTwo):
            return ((t.ai == 0) & (t.ci == 0)) | ((t.bi == 0) & (t.di == 0))
        return (t.x1i == 0) & (t.x2i == 0)


def _added(cells: list[_FloatArray], add: float, to: str) -> list[_FloatArray]:
    """metafor's continuity correction: `add` to every cell of the tables `to` names."""
    if to not in ADD_TO:
        raise ValueError(f"to={to!r} is not supported; allowed: {', '.join(ADD_TO)}")
    if to == "none" or add == 0:
        return cells
    with np.errstate(invalid="ignore"):
        zero = np.zeros(cells[0].shape, dtype=bool)
        for c in cells:
            zero |= c == 0
    if to == "all" or (to == "if0all" and zero.any()):
        return [c + add for c in cells]
    if to == "only0":
        return [np.where(zero, c + add, c) for c in cells]
    return cells


def table_effects(measure: str, t: TwoByTwo, *, add: float = 0.5, to: str = "only0",
                  drop00: bool = False) -> tuple[_FloatArray, _FloatArray]:
    """yi, vi of RR (log risk ratio), OR (log odds ratio), RD (risk difference) or PETO (Peto's log
    odds ratio, (O − E)/V with variance 1/V) for each 2×2 table; NaN for missing or dropped tables."""
    cells = [t.ai.copy(), t.bi.copy(), t.ci.copy(), t.di.copy()]
    if drop00:
        gone = double_zero(t)
        for c in cells:
            c[gone] = np.nan
    a, b, c, d = _added(cells, add, to)
    n1, n2 = a + b, c + d
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "RR":
            yi, vi = np.log(a / n1) - np.log(c / n2), 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "OR":
            yi, vi = np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RD":
            p1, p2 = a / n1, c / n2
            yi, vi = p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        elif measure == "PETO":
            n = n1 + n2
            events, nonevents = a + c, b + d
            expected = events * n1 / n
            var = events * nonevents * (n1 / n) * (n2 / n) / (n - 1)  # hypergeometric variance
            yi, vi = (a - expected) / var, 1 / var
        else:
            raise ValueError(f"measure {measure!r} is not a 2×2 table measure")
    return _finite(yi), _finite(vi)


def person_time_effects(measure: str, t: PersonTime, *, add: float = 0.5, to: str = "only0",
                        drop00: bool = False) -> tuple[_FloatArray, _FloatArray]:
    """yi, vi of IRR (log incidence-rate ratio) or IRD (incidence-rate difference)."""
    x1, x2 = t.x1i.copy(), t.x2i.copy()
    if drop00:
        gone = double_zero(t)
        x1[gone] = x2[gone] = np.nan
    x1, x2 = _added([x1, x2], add, to)
    r1, r2 = x1 / t.t1i, x2 / t.t2i
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "IRR":
            yi, vi = np.log(r1) - np.log(r2), 1 / x1 + 1 / x2
        elif measure == "IRD":
            yi, vi = r1 - r2, r1 / t.t1i + r2 / t.t2i
        else:
            raise ValueError(f"measure {measure!r} is not a person-time measure")
    return _finite(yi), _finite(vi)


def proportion_effects(measure: str, p: Proportions, *, add: float | None = None, to: str = "only0",
                       vtype: str = "LS") -> tuple[_FloatArray, _FloatArray]:
    """yi, vi of PR (raw proportion), PLO (log odds), PAS (arcsine square root) or PFT (Freeman–Tukey
    double arcsine). `add` defaults to 1/2 for PR and PLO and to 0 for PAS and PFT (as metafor);
    `vtype="UB"` gives PR the unbiased variance p(1 − p)/(n − 1)."""
    if add is None:
        add = 0.0 if measure in ("PAS", "PFT") else 0.5
    x, m = _added([p.xi.copy(), p.ni - p.xi], add, to)
    n = x + m
    pr = x / n
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "PR":
            if vtype not in ("LS", "UB"):
                raise ValueError(f"vtype {vtype!r} is not supported for PR; allowed: LS, UB")
            yi, vi = pr, pr * (1 - pr) / (n - (1 if vtype == "UB" else 0))
        elif measure == "PLO":
            yi, vi = np.log(pr / (1 - pr)), 1 / x + 1 / m
        elif measure == "PAS":
            yi, vi = np.arcsin(np.sqrt(pr)), 1 / (4 * n)
        elif measure == "PFT":
            yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
            vi = 1 / (4 * n + 2)
        else:
            raise ValueError(f"measure {measure!r} is not a proportion measure")
    return _finite(yi), _finite(vi)


def rate_effects(measure: str, r: Rates, *, add: float = 0.5,
                 to: str = "only0") -> tuple[_FloatArray, _FloatArray]:
    """yi, vi of IR (raw incidence rate) or IRLN (log incidence rate)."""
    (x,) = _added([r.xi.copy()], add, to)
    rate = x / r.ti
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "IR":
            yi, vi = rate, rate / r.ti
        elif measure == "IRLN":
            yi, vi = np.log(rate), 1 / x
        else:
            raise ValueError(f"measure {measure!r} is not a rate measure")
    return _finite(yi), _finite(vi)


def _finite(x: _FloatArray) -> _FloatArray:
    """±inf (a log of 0, a division by 0) becomes NaN, as metafor recodes it to NA."""
    out = np.asarray(x, dtype=float).copy()
    out[np.isinf(out)] = np.nan
    return out
