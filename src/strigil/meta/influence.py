"""Which studies drive the result: leave-one-out estimates, case-deletion influence diagnostics
and the Baujat plot data (metafor's `leave1out`, `influence` and `baujat`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta.residuals import _hat_matrix
from strigil.meta.rma import fit_design

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult

__all__ = ["Baujat", "Influence", "StudySequence", "baujat", "deletion_residuals", "influence", "leave1out",
           "study_sequence"]

_Array = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)


def _list(x: _Array) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(x, dtype=float)]


@dataclass(frozen=True, eq=False, repr=False)
class StudySequence(Presentable):
    """One pooled result per row: after omitting study i (leave-one-out) or after adding studies
    1…i (cumulative). Field names follow metafor (`zval` holds t statistics under t/knha tests)."""

    slab: tuple[str, ...]
    estimate: _Array
    se: _Array
    zval: _Array
    pval: _Array
    ci_lb: _Array
    ci_ub: _Array
    Q: _Array
    Qp: _Array
    tau2: _Array
    I2: _Array
    H2: _Array

    def to_frame(self) -> pd.DataFrame:
        """One row per study: the refitted estimate, its test and interval, Q, τ², I², H²."""
        from strigil.display import frame

        cols = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2")
        return frame({c: getattr(self, c) for c in cols}, self.slab, "study")

    def summary(self) -> Summary:
        """The table metafor prints for `leave1out` / `cumul`."""
        from strigil.meta.printing import table_summary

        return table_summary(f"Refitted models, one per row ({len(self.slab)})", self.to_frame())

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict of lists (null where a fit was impossible)."""
        out: dict[str, Any] = {"slab": list(self.slab)}
        for name in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2"):
            out[name] = _list(getattr(self, name))
        return out


def _labels(res: RMAResult) -> tuple[str, ...]:
    return res.slab if res.slab is not None else tuple(f"Study {i + 1}" for i in range(res.k))


def study_sequence(res: RMAResult, subsets: list[NDArray[np.intp]], slab: tuple[str, ...]) -> StudySequence:
    """Refit the model (same method, test, level) on each subset of studies; the shared engine of
    leave-one-out and cumulative meta-analysis."""
    n = len(subsets)
    cols = {name: np.full(n, math.nan) for name in
            ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2")}
    for i, idx in enumerate(subsets):
        # metafor falls back to the z test for a single study (no df left for t or knha)
        test = "z" if len(idx) == 1 else res.test
        fit = fit_design(res.yi[idx], res.vi[idx], None, ("intrcpt",), method=res.method, test=test,
                         level=res.level, weights=None if res.weights is None else res.weights[idx],
                         r2=False)
        c = fit.beta[0]
        for name, value in (("estimate", c.estimate), ("se", c.se), ("zval", c.stat), ("pval", c.p),
                            ("ci_lb", c.ci_lb), ("ci_ub", c.ci_ub), ("Q", fit.Q), ("Qp", fit.Q_p),
                            ("tau2", fit.tau2), ("I2", fit.I2), ("H2", fit.H2)):
            cols[name][i] = value
    return StudySequence(slab=slab, **cols)


def leave1out(res: RMAResult) -> StudySequence:
    """Leave-one-out sensitivity analysis: the model refitted k times, each time without one study
    (Viechtbauer & Cheung, 2010, Res Synth Methods 1:112)."""
    if res.moderators:
        raise ValueError("leave-one-out applies only to models without moderators")
    if res.k < 2:
        raise ValueError(f"leave-one-out needs at least 2 studies; got k={res.k}")
    everyone = np.arange(res.k)
    return study_sequence(res, [np.delete(everyone, i) for i in range(res.k)], _labels(res))


@dataclass(frozen=True, eq=False)
class _Deletion:
    """The model refitted without study i: what influence() and baujat() need from it."""

    ok: bool
    beta: _Array
    vb: _Array
    tau2: float
    QE: float
    s2w: float


def _deletions(res: RMAResult) -> list[_Deletion]:
    X = res.X
    names = tuple(c.name for c in res.beta)
    out = []
    for i in range(res.k):
        keep = np.arange(res.k) != i
        Xi = X[keep]
        if Xi.shape[0] < Xi.shape[1] or np.linalg.matrix_rank(Xi) < Xi.shape[1]:
            # a coefficient is not estimable without this study (metafor leaves the row NA)
            out.append(_Deletion(False, np.full(X.shape[1], math.nan), np.full((X.shape[1],) * 2, math.nan),
                                 math.nan, math.nan, math.nan))
            continue
        # metafor falls back to the z test when a single study remains
        test = "z" if Xi.shape[0] == 1 else res.test
        fit = fit_design(res.yi[keep], res.vi[keep], None if not res.moderators else Xi, names,
                         intercept=res.intercept, method=res.method, test=test, level=res.level,
                         weights=None if res.weights is None else res.weights[keep], r2=False)
        b = np.array([c.estimate for c in fit.beta])
        s2w = 1.0
        if test == "knha":
            # the Knapp-Hartung factor always uses the inverse-variance fit, also under user weights
            w = 1 / (res.vi[keep] + fit.tau2)
            bw = b if res.weights is None else np.linalg.solve(Xi.T @ (w[:, None] * Xi),
                                                               Xi.T @ (w * res.yi[keep]))
            r = res.yi[keep] - Xi @ bw
            rss = float(w @ (r * r))
            df = fit.k - fit.p
            s2w = 0.0 if rss <= _EPS else (rss / df if df > 0 else math.nan)
        out.append(_Deletion(True, b, fit.vb, fit.tau2, fit.Q, s2w))
    return out


def _ratio(num: float, den: float) -> float:
    """num/den with R's IEEE semantics (x/0 = ±Inf, 0/0 = NaN) instead of an exception or warning."""
    if den == 0 or not math.isfinite(den):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(num) / np.float64(den))
    return float(num) / den


def _model_weights(res: RMAResult) -> _Array:
    """The weights the model's estimate uses: 1/(vi + tau2), or the user's weights."""
    return 1 / (res.vi + res.tau2) if res.weights is None else res.weights


@dataclass(frozen=True, eq=False, repr=False)
class Influence(Presentable):
    """Case-deletion diagnostics per study (Viechtbauer & Cheung, 2010): externally standardized
    residuals, DFFITS, Cook's distance, covariance ratio, τ² and Q without the study, hat value,
    weight (%), DFBETAS per coefficient, and metafor's flag of influential studies."""

    slab: tuple[str, ...]
    rstudent: _Array
    dffits: _Array
    cook_d: _Array
    cov_r: _Array
    tau2_del: _Array
    QE_del: _Array
    hat: _Array
    weight: _Array
    dfbs: dict[str, _Array]
    inf: tuple[bool, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per study, metafor's columns (`cook.d` → `cook_d`), DFBETAS as `dfbs_<coefficient>`."""
        from strigil.display import frame

        cols = {c: getattr(self, c) for c in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del",
                                               "hat", "weight")}
        cols.update({f"dfbs_{name}": values for name, values in self.dfbs.items()})
        cols["inf"] = list(self.inf)
        return frame(cols, self.slab, "study")

    def summary(self) -> Summary:
        """The influence table (metafor's `print(influence(res))`); influential studies marked in `inf`."""
        from strigil.meta.printing import table_summary

        flagged = [s for s, f in zip(self.slab, self.inf, strict=True) if f]
        note = "Influential: " + (", ".join(flagged) if flagged else "none")
        title = f"Influence diagnostics ({len(self.slab)} studies)"
        return table_summary(title, self.to_frame(), notes=[note])

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict of lists, names as metafor (`cook.d` → `cook_d`)."""
        out: dict[str, Any] = {"slab": list(self.slab)}
        for name in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"):
            out[name] = _list(getattr(self, name))
        out["dfbs"] = {name: _list(col) for name, col in self.dfbs.items()}
        out["inf"] = list(self.inf)
        return out


def _require_two(res: RMAResult, what: str) -> None:
    if res.k < 2:
        raise ValueError(f"{what} needs at least 2 studies; got k={res.k}")


def deletion_residuals(res: RMAResult, deletions: list[_Deletion] | None = None) -> tuple[_Array, _Array]:
    """Each study's residual against the model fitted without it, yᵢ − xᵢ'β̂₋ᵢ, and its standard error
    √(s²ᵥ (vᵢ + τ²₋ᵢ) + xᵢ'Var(β̂₋ᵢ)xᵢ) (s²ᵥ the deleted fit's Knapp–Hartung factor, else 1); NaN where
    a coefficient is not estimable without the study (metafor's `rstudent.rma.uni`)."""
    resid, se = np.full(res.k, math.nan), np.full(res.k, math.nan)
    for i, d in enumerate(_deletions(res) if deletions is None else deletions):
        if not d.ok:
            continue
        xi = res.X[i]
        e = float(res.yi[i] - xi @ d.beta)
        resid[i] = 0.0 if abs(e) < 100 * _EPS else e
        se[i] = math.sqrt(res.vi[i] * d.s2w + float(xi @ d.vb @ xi) + d.tau2 * d.s2w)
    return resid, se


def influence(res: RMAResult) -> Influence:
    """Influence diagnostics of every study (Viechtbauer & Cheung, 2010, Res Synth Methods 1:112),
    computed as metafor's `influence.rma.uni` by refitting the model without each study."""
    _require_two(res, "influence()")
    k, p = res.X.shape
    X, v = res.X, res.vi
    b = np.array([c.estimate for c in res.beta])
    pred_full = X @ b
    H = _hat_matrix(res)
    hat = np.diag(H).copy()
    a = _model_weights(res)
    weight = 100 * a / a.sum()
    # (X'AX)⁻¹X'A: the estimate as a linear map of the effects, for the covariance at a deleted τ²
    proj = np.linalg.inv(X.T @ (a[:, None] * X)) @ (X.T * a[None, :])
    try:
        svb = np.linalg.inv(res.vb)
    except np.linalg.LinAlgError:
        raise ValueError("influence diagnostics are undefined: the covariance matrix of the coefficients is "
                         "singular (e.g. identical effects under the knha test)") from None
    det_full = float(np.linalg.det(res.vb))
    n = k
    rstudent, dffits, cook_d, cov_r, tau2_del, qe_del = (np.full(n, math.nan) for _ in range(6))
    dfbs = np.full((n, p), math.nan)
    deletions = _deletions(res)
    for i, d in enumerate(deletions):
        if not d.ok:
            continue
        xi = X[i]
        delpred = float(xi @ d.beta)
        tau2_del[i], qe_del[i] = d.tau2, d.QE
        # variance of the i-th fitted value and covariance of the full-data estimate, both at the
        # deleted τ²; with inverse-variance weights metafor uses the model-based forms, with user
        # weights the sandwich forms (H diag(v + τ²₋ᵢ) H')ᵢᵢ and P diag(v + τ²₋ᵢ) P'
        if res.weights is None:
            var_fit = hat[i] * (d.tau2 + v[i])
            vb_del = np.linalg.inv(X.T @ ((1 / (v + d.tau2))[:, None] * X))
        else:
            var_fit = float((H[i] ** 2) @ (v + d.tau2))
            vb_del = (proj * (v + d.tau2)[None, :]) @ proj.T
        dffits[i] = _ratio(pred_full[i] - delpred, math.sqrt(d.s2w * var_fit))
        dfb = b - d.beta
        with np.errstate(divide="ignore", invalid="ignore"):
            dfbs[i] = dfb / np.sqrt(d.s2w * np.diag(vb_del))
        cook_d[i] = float(dfb @ svb @ dfb)
        cov_r[i] = _ratio(float(np.linalg.det(d.vb)), det_full)
    resid, resid_se = deletion_residuals(res, deletions)
    for i in range(n):
        rstudent[i] = _ratio(resid[i], resid_se[i])
    with np.errstate(invalid="ignore"):
        flag = ((np.abs(dffits) > 3 * math.sqrt(p / (k - p)) if k > p else np.zeros(n, bool))
                | (special.chdtr(p, cook_d) > 0.5) | (hat > 3 * p / k) | np.any(np.abs(dfbs) > 1, axis=1))
    names = [c.name for c in res.beta]
    return Influence(_labels(res), rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight,
                     {name: dfbs[:, j] for j, name in enumerate(names)}, tuple(bool(f) for f in flag))


@dataclass(frozen=True, eq=False, repr=False)
class Baujat(Presentable):
    """Baujat plot data (Baujat et al., 2002, Stat Med 21:2641): each study's contribution to the
    heterogeneity (`x`, squared Pearson residual) and its influence on the pooled result (`y`)."""

    slab: tuple[str, ...]
    x: _Array
    y: _Array

    def to_frame(self) -> pd.DataFrame:
        """One row per study: x (contribution to Q) and y (influence on the estimate)."""
        from strigil.display import frame

        return frame({"x": self.x, "y": self.y}, self.slab, "study")

    def summary(self) -> Summary:
        """The Baujat coordinates, one line per study."""
        from strigil.meta.printing import table_summary

        return table_summary(f"Baujat plot coordinates ({len(self.slab)} studies)", self.to_frame())

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict of lists."""
        return {"slab": list(self.slab), "x": _list(self.x), "y": _list(self.y)}


def baujat(res: RMAResult) -> Baujat:
    """Baujat plot coordinates, as metafor's `baujat.rma`: x = (yᵢ − ŷᵢ)²/(vᵢ + τ²), y = squared
    change of the fitted value when study i is left out, over the variance of that change."""
    _require_two(res, "baujat()")
    b = np.array([c.estimate for c in res.beta])
    pred_full = res.X @ b
    x = (res.yi - pred_full) ** 2 / (res.tau2 + res.vi)
    yy = np.full(res.k, math.nan)
    for i, d in enumerate(_deletions(res)):
        if d.ok:
            xi = res.X[i]
            yy[i] = _ratio((float(xi @ d.beta) - pred_full[i]) ** 2, float(xi @ d.vb @ xi))
    return Baujat(_labels(res), x, yy)
