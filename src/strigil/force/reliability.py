"""Reliability of repeated force measurements: intraclass correlations, SEM and Bland–Altman agreement.

The analyses of the published force-consistency studies (domain reference §1.2): scores arranged as
subjects × sessions (e.g. clinicians × days, each cell a clinician's average peak force that day).

- ICC(1,1), ICC(2,1), ICC(3,1) and their averages over k sessions, with F tests and confidence intervals:
  Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol Bull
  1979;86(2):420–428; the ICC(2,1) interval of McGraw KO, Wong SP. Forming inferences about some intraclass
  correlation coefficients. Psychol Methods 1996;1(1):30–46. The numbers equal R's psych::ICC (two-way
  ANOVA, `lmer = FALSE`), checked on fixtures in tests/reference/psych/.
- SEM as the square root of the error mean square, and the smallest real difference (MDC) from it:
  Weir JP. Quantifying test-retest reliability using the intraclass correlation coefficient and the SEM.
  J Strength Cond Res 2005;19(1):231–240.
- Bland–Altman bias and 95 % limits of agreement with their confidence intervals: Bland JM, Altman DG.
  Statistical methods for assessing agreement between two methods of clinical measurement. Lancet
  1986;1(8476):307–310.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["BlandAltman", "Icc", "Reliability", "ReliabilityError", "bland_altman", "icc", "reliability"]

_Array = NDArray[np.float64]


class ReliabilityError(ValueError):
    """Scores that cannot give a reliability estimate (too few subjects or sessions, missing values)."""


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _shown(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "undefined"


@dataclass(frozen=True)
class Icc:
    """One intraclass correlation with its F test and confidence interval (psych::ICC's row)."""

    kind: str  # "ICC(2,1)" etc.
    psych_name: str  # "ICC2" etc.
    meaning: str
    value: float
    f: float
    df1: float
    df2: float
    p: float
    lower: float
    upper: float

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict (null for a quantity that does not exist)."""
        return {
            "kind": self.kind,
            "psych_name": self.psych_name,
            "meaning": self.meaning,
            "value": _num(self.value),
            "F": _num(self.f),
            "df1": _num(self.df1),
            "df2": _num(self.df2),
            "p": _num(self.p),
            "lower": _num(self.lower),
            "upper": _num(self.upper),
        }


@dataclass(frozen=True)
class BlandAltman:
    """Agreement of two sessions: mean difference (second − first), its SD and the limits of agreement.

    `bias_ci`, `lower_loa_ci` and `upper_loa_ci` are t-based intervals; the limits' standard error is
    s·√(3/n) (Bland & Altman 1986).
    """

    n: int
    level: float
    bias: float
    sd: float
    lower_loa: float
    upper_loa: float
    bias_ci: tuple[float, float]
    lower_loa_ci: tuple[float, float]
    upper_loa_ci: tuple[float, float]
    means: _Array
    differences: _Array

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with the pairs' means and differences."""
        return {
            "n": self.n,
            "level": self.level,
            "bias": _num(self.bias),
            "sd": _num(self.sd),
            "lower_loa": _num(self.lower_loa),
            "upper_loa": _num(self.upper_loa),
            "bias_ci": [_num(v) for v in self.bias_ci],
            "lower_loa_ci": [_num(v) for v in self.lower_loa_ci],
            "upper_loa_ci": [_num(v) for v in self.upper_loa_ci],
            "means": [float(v) for v in self.means],
            "differences": [float(v) for v in self.differences],
        }


@dataclass(frozen=True)
class Reliability:
    """ICCs, SEM and Bland–Altman for an n subjects × k sessions table of scores."""

    n_subjects: int
    k_sessions: int
    sessions: tuple[str, ...]
    mean_squares: dict[str, float]
    iccs: tuple[Icc, ...]
    sem: float
    mdc: float
    level: float
    bland_altman: tuple[tuple[str, str, BlandAltman], ...]
    notes: tuple[str, ...] = ()  # why an ICC, F test or interval is undefined for this table

    def get(self, kind: str) -> Icc:
        """The ICC named `kind` ('ICC(2,1)', 'ICC(3,1)', ... or psych's 'ICC2', 'ICC3', ...)."""
        for estimate in self.iccs:
            if kind in (estimate.kind, estimate.psych_name):
                return estimate
        raise KeyError(kind)

    def summary(self) -> str:
        """Plain lines: ICC(2,1) and ICC(3,1) with intervals, SEM and the Bland–Altman limits."""
        pct = f"{100 * self.level:g} %"
        lines = [f"{self.n_subjects} subjects × {self.k_sessions} sessions"]
        for kind in ("ICC(2,1)", "ICC(3,1)"):
            e = self.get(kind)
            value = _shown(e.value)
            interval = (
                f"{pct} CI {_shown(e.lower)} to {_shown(e.upper)}"
                if math.isfinite(e.lower) and math.isfinite(e.upper)
                else f"{pct} CI undefined"
            )
            lines.append(f"{kind} = {value} ({interval}); {e.meaning}")
        lines.append(
            f"SEM = {self.sem:.3g} (same unit as the scores); smallest real difference {self.mdc:.3g}"
        )
        for first, second, ba in self.bland_altman:
            lines.append(
                f"Bland–Altman {second} − {first}: bias {ba.bias:.3g}, limits of agreement "
                f"{ba.lower_loa:.3g} to {ba.upper_loa:.3g}"
            )
        lines.extend(f"Note: {note}." for note in self.notes)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict: ICCs (psych names alongside), mean squares, SEM, MDC, Bland–Altman per pair."""
        return {
            "n_subjects": self.n_subjects,
            "k_sessions": self.k_sessions,
            "sessions": list(self.sessions),
            "level": self.level,
            "mean_squares": {k: _num(v) for k, v in self.mean_squares.items()},
            "icc": [e.to_json() for e in self.iccs],
            "sem": _num(self.sem),
            "mdc": _num(self.mdc),
            "bland_altman": [{"first": a, "second": b, **ba.to_json()} for a, b, ba in self.bland_altman],
            "notes": list(self.notes),
        }


def _scores(values: Any) -> _Array:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 2:
        raise ReliabilityError(f"scores: expected a table of subjects × sessions, got shape {y.shape}")
    n, k = y.shape
    if n < 2 or k < 2:
        raise ReliabilityError(f"scores: need at least 2 subjects and 2 sessions, got {n} × {k}")
    if not np.isfinite(y).all():
        row, col = (int(v[0]) for v in np.nonzero(~np.isfinite(y)))
        raise ReliabilityError(
            f"scores: missing value for subject row {row + 1}, session column {col + 1}; every subject needs "
            "a score in every session (leave out incomplete subjects)"
        )
    return y


def _degenerate(mean_squares: dict[str, float]) -> tuple[str, ...]:
    """Why some ICCs, F tests or intervals do not exist for this table (empty when all do)."""
    if all(mean_squares[name] == 0.0 for name in ("MSB", "MSJ", "MSE")):
        return ("every score in the table is the same: there is no variation, so no ICC is defined",)
    notes = []
    if mean_squares["MSB"] == 0.0:
        notes.append(
            "no variation between subjects (every subject has the same average score): an ICC is the share "
            "of variation that lies between subjects, so the ICCs that divide by it are undefined"
        )
    if mean_squares["MSE"] == 0.0:
        notes.append(
            "no residual variation (each subject's scores change by exactly the same amount from session to "
            "session): the F statistics are infinite and the intervals that need the residual are undefined"
        )
    return tuple(notes)


def icc(scores: Any, level: float = 0.95) -> tuple[tuple[Icc, ...], dict[str, float]]:
    """The six Shrout–Fleiss ICCs of an n × k table with F tests and `level` intervals; the mean squares.

    Degenerate tables (no variation between subjects, no residual variation, all scores equal) give what
    psych::ICC gives: IEEE arithmetic, so an ICC, F or bound that divides by zero is infinite or NaN
    (`_degenerate` says why; `reliability` reports those as undefined, never raises).
    """
    y = _scores(scores)
    n, k = y.shape
    grand = y.mean()
    ss_rows = k * float(((y.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((y.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((y - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    # Sums of squares that are zero in exact arithmetic come out as rounding residue (even slightly
    # negative); below this share of the total they are zero.
    tiny = 1e-12 * ss_total
    ss_rows, ss_error = (0.0 if v <= tiny else v for v in (ss_rows, ss_error))
    df_rows, df_cols, df_error = n - 1, k - 1, (n - 1) * (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _icc_rows(n, k, ss_rows, ss_cols, ss_error, df_rows, df_cols, df_error, level)


def _icc_rows(
    n: int, k: int, ss_rows: float, ss_cols: float, ss_error: float,
    df_rows: int, df_cols: int, df_error: int, level: float,
) -> tuple[tuple[Icc, ...], dict[str, float]]:  # fmt: skip
    f64 = np.float64
    msb, msj, mse = f64(ss_rows) / df_rows, f64(ss_cols) / df_cols, f64(ss_error) / df_error
    msw = (f64(ss_cols) + ss_error) / (df_cols + df_error)
    q = 1.0 - (1.0 - level) / 2.0

    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    f1, d1n, d1d = msb / msw, n - 1, n * (k - 1)
    f3, d3n, d3d = msb / mse, n - 1, (n - 1) * (k - 1)
    p1, p3 = float(special.fdtrc(d1n, d1d, f1)), float(special.fdtrc(d3n, d3d, f3))

    f1l, f1u = f1 / special.fdtri(d1n, d1d, q), f1 * special.fdtri(d1d, d1n, q)
    f3l, f3u = f3 / special.fdtri(d3n, d3d, q), f3 * special.fdtri(d3d, d3n, q)
    # ICC(2,1): the interval with Satterthwaite's degrees of freedom (McGraw & Wong 1996, Table 7).
    fj = msj / mse
    a = n * (1 + (k - 1) * icc2) - k * icc2
    v = (k - 1) * (n - 1) * (k * icc2 * fj + a) ** 2 / ((n - 1) * k**2 * icc2**2 * fj**2 + a**2)
    fu, fl = special.fdtri(n - 1, v, q), special.fdtri(v, n - 1, q)
    l2 = n * (msb - fu * mse) / (fu * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (fl * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fl * msb)

    def single(fx: float) -> float:
        return float((fx - 1) / (fx + k - 1))

    rows = (
        ("ICC(1,1)", "ICC1", "one rater, raters random and nested (one-way)", icc1, f1, d1n, d1d, p1,
         single(f1l), single(f1u)),
        ("ICC(2,1)", "ICC2", "one session, absolute agreement, sessions random", icc2, f3, d3n, d3d, p3,
         l2, u2),
        ("ICC(3,1)", "ICC3", "one session, consistency, sessions fixed", icc3, f3, d3n, d3d, p3,
         single(f3l), single(f3u)),
        ("ICC(1,k)", "ICC1k", "mean of k raters, one-way", (msb - msw) / msb, f1, d1n, d1d, p1,
         1 - 1 / f1l, 1 - 1 / f1u),
        ("ICC(2,k)", "ICC2k", "mean of k sessions, absolute agreement", (msb - mse) / (msb + (msj - mse) / n),
         f3, d3n, d3d, p3, l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
        ("ICC(3,k)", "ICC3k", "mean of k sessions, consistency", (msb - mse) / msb, f3, d3n, d3d, p3,
         1 - 1 / f3l, 1 - 1 / f3u),
    )  # fmt: skip
    estimates = tuple(
        Icc(kind, name, meaning, float(val), float(f), float(df1), float(df2), p, float(lo), float(hi))
        for kind, name, meaning, val, f, df1, df2, p, lo, hi in rows
    )
    return estimates, {"MSB": float(msb), "MSJ": float(msj), "MSE": float(mse), "MSW": float(msw)}


def bland_altman(first: Any, second: Any, level: float = 0.95) -> BlandAltman:
    """Bias (second − first) and limits of agreement of paired measurements (Bland & Altman 1986)."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ReliabilityError("bland_altman: first and second must be two lists of the same length")
    if len(a) < 3:
        raise ReliabilityError(f"bland_altman: need at least 3 pairs, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ReliabilityError("bland_altman: every pair needs two values (no missing values)")
    n = len(a)
    d = b - a
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    z = float(special.ndtri(0.5 + level / 2))
    t = float(special.stdtrit(n - 1, 0.5 + level / 2))
    se_bias = sd / math.sqrt(n)
    se_loa = sd * math.sqrt(3.0 / n)
    lower, upper = bias - z * sd, bias + z * sd
    return BlandAltman(
        n=n,
        level=level,
        bias=bias,
        sd=sd,
        lower_loa=lower,
        upper_loa=upper,
        bias_ci=(bias - t * se_bias, bias + t * se_bias),
        lower_loa_ci=(lower - t * se_loa, lower + t * se_loa),
        upper_loa_ci=(upper - t * se_loa, upper + t * se_loa),
        means=(a + b) / 2,
        differences=d,
    )


def reliability(scores: Any, sessions: list[str] | None = None, level: float = 0.95) -> Reliability:
    """ICCs, SEM (√MSE), the smallest real difference and Bland–Altman of consecutive sessions."""
    y = _scores(scores)
    n, k = y.shape
    names = tuple(sessions) if sessions is not None else tuple(f"session {j + 1}" for j in range(k))
    if len(names) != k:
        raise ReliabilityError(f"sessions: {len(names)} names for {k} columns")
    estimates, mean_squares = icc(y, level)
    sem = math.sqrt(mean_squares["MSE"])
    # Smallest real difference between two measurements of one subject: z · √2 · SEM (Weir 2005).
    mdc = float(special.ndtri(0.5 + level / 2)) * math.sqrt(2.0) * sem
    pairs = tuple(
        (names[j], names[j + 1], bland_altman(y[:, j], y[:, j + 1], level)) for j in range(k - 1) if n >= 3
    )
    return Reliability(
        n_subjects=n,
        k_sessions=k,
        sessions=names,
        mean_squares=mean_squares,
        iccs=estimates,
        sem=sem,
        mdc=mdc,
        level=level,
        bland_altman=pairs,
        notes=_degenerate(mean_squares),
    )
