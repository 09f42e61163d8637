"""Cluster-robust (sandwich) inference for `rma` and `rma_mv` fits, as R's clubSandwich.

With clusters j (trials), working covariance Θⱼ (the model's marginal covariance), Wⱼ = Θⱼ⁻¹,
M = (Σ Xⱼ'WⱼXⱼ)⁻¹ and residuals eⱼ = yⱼ − Xⱼβ̂:

    V^CR = M [Σⱼ Xⱼ'WⱼAⱼ eⱼeⱼ' Aⱼ'WⱼXⱼ] M

with Aⱼ = I (CR0), √(J/(J−1)) I (CR1), √(J/(J−p)) I (CR1p; metafor's `robust()` default),
√(J(k−1)/((J−1)(k−p))) I (CR1S), or the bias-reduced linearisation Aⱼ = Dⱼ'Bⱼ^(−1/2)Dⱼ,
Bⱼ = Dⱼ(Θⱼ − XⱼMXⱼ')Dⱼ', Dⱼ'Dⱼ = Θⱼ (CR2; Bell & McCaffrey, 2002; Tipton, 2015; Pustejovsky &
Tipton, 2018). Single coefficients and contrasts c'β are tested with t statistics on Satterthwaite
degrees of freedom, 2E[c'V^CR c]²/Var[c'V^CR c] under the working model (Tipton, 2015); several at
once with the approximate Hotelling T² test 'HTZ' (Tipton & Pustejovsky, 2015; Pustejovsky &
Tipton, 2018). Every moment is written as per-cluster sums and p × p products, never as the J × J
matrices of pairwise cluster terms, so memory and time stay linear in the number of effects.

The clusters must nest the model's random effects and sampling covariances (as clubSandwich
requires): effects that covary in the model share a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta.blocks import BlockLayout
from strigil.meta.result import Coefficient, RMAResult, _num
from strigil.meta.result_mv import RMAMVResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COEF_TESTS", "VCOV_TYPES", "WALD_TESTS", "RobustResult", "RobustWald", "robust", "sandwich"]

_Array = NDArray[np.float64]
_Index = NDArray[np.intp]
_Model = RMAResult | RMAMVResult

VCOV_TYPES = ("CR0", "CR1", "CR1p", "CR1S", "CR2")
COEF_TESTS = ("z", "naive-t", "naive-tp", "Satterthwaite")
WALD_TESTS = ("chi-sq", "Naive-F", "Naive-Fp", "HTZ")


@dataclass(frozen=True, repr=False)
class RobustWald(Presentable):
    """A cluster-robust Wald test of q constraints: F = δ Q/q on (q, df_denom) degrees of freedom."""

    test: str
    Q: float
    Fstat: float
    delta: float
    df_num: int
    df_denom: float
    p: float

    def summary(self) -> Summary:
        """The test as metafor prints it."""
        from strigil.meta.printing import robust_wald_summary

        return robust_wald_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """One row: the test's statistic, degrees of freedom and p-value."""
        from strigil.display import frame

        return frame({k: [v] for k, v in self.to_json().items()})

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict (df_denom null when infinite, for the χ² test)."""
        return {"test": self.test, "Q": _num(self.Q), "Fstat": _num(self.Fstat), "delta": _num(self.delta),
                "df_num": self.df_num, "df_denom": _num(self.df_denom), "p": _num(self.p)}


@dataclass(frozen=True, eq=False)
class _Sandwich:
    """Per-cluster pieces of the sandwich, stacked by cluster size."""

    M: _Array  # (X'WX)⁻¹
    beta: _Array
    names: tuple[str, ...]
    J: int
    k: int
    F: list[_Array]  # M Xⱼ'WⱼAⱼ: (clusters, p, s)
    Theta: list[_Array]  # (clusters, s, s)
    K: list[_Array]  # M Xⱼ'WⱼAⱼXⱼ: (clusters, p, p)
    u: list[_Array]  # M Xⱼ'WⱼAⱼeⱼ: (clusters, p), the clusters' contributions to β̂ − β

    def vcov(self) -> _Array:
        """V^CR."""
        p = self.M.shape[0]
        out = np.zeros((p, p))
        for u in self.u:
            out += u.T @ u
        return out

    def moments(self, C: _Array) -> tuple[_Array, _Array, _Array, _Array]:
        """For contrasts C (q × p): per cluster D = C FΘF'C' (J, q, q), Z = C K (J, q, p), zMz = Z M Z'
        (J, q, q), and Ω = E[C V^CR C'] under the working model."""
        D = np.concatenate([np.einsum("ap,jps,jst,jbt->jab", C, F, T, np.einsum("bq,jqt->jbt", C, F))
                            for F, T in zip(self.F, self.Theta, strict=True)])
        Z = np.concatenate([np.einsum("ap,jpq->jaq", C, K) for K in self.K])
        zMz = np.einsum("jap,pq,jbq->jab", Z, self.M, Z)
        return D, Z, zMz, D.sum(axis=0) - zMz.sum(axis=0)

    def cross(self, D: _Array, Z: _Array, zMz: _Array, a: int, b: int, c: int, d: int) -> float:
        """Σᵢⱼ P[a,b,i,j] P[c,d,i,j] for P[a,b,i,j] = δᵢⱼ Dⱼ[a,b] − z_{a,i}'M z_{b,j}, without any
        J × J array."""
        T_bd = np.einsum("jp,jr->pr", Z[:, b, :], Z[:, d, :])
        T_ca = np.einsum("jp,jr->pr", Z[:, c, :], Z[:, a, :])
        return float(D[:, a, b] @ D[:, c, d] - D[:, a, b] @ zMz[:, c, d] - D[:, c, d] @ zMz[:, a, b]
                     + np.trace(self.M @ T_bd @ self.M @ T_ca))

    def satterthwaite(self, C: _Array) -> _Array:
        """Satterthwaite degrees of freedom of each row of C."""
        out = np.empty(C.shape[0])
        for r in range(C.shape[0]):
            D, Z, zMz, omega = self.moments(C[r : r + 1])
            var = 2.0 * self.cross(D, Z, zMz, 0, 0, 0, 0)
            out[r] = 2.0 * float(omega[0, 0]) ** 2 / var if var > 0 else math.nan
        return out

    def hotelling_df(self, C: _Array) -> float:
        """ν of the approximate Hotelling T² test 'HTZ' (Pustejovsky & Tipton, 2018, eq. 15)."""
        q = C.shape[0]
        _, _, _, omega = self.moments(C)
        w, Q = np.linalg.eigh(omega)
        inv_sqrt = Q @ np.diag(np.where(w > 1e-12, w, np.inf) ** -0.5) @ Q.T
        D, Z, zMz, _ = self.moments(inv_sqrt @ C)
        total = 0.0
        for s in range(q):
            for t in range(q):
                total += self.cross(D, Z, zMz, s, t, t, s) + self.cross(D, Z, zMz, s, s, t, t)
        return q * (q + 1) / total


@dataclass(frozen=True, eq=False, repr=False)
class RobustResult(Presentable):
    """Cluster-robust tests and intervals for a fitted model (metafor's `robust(..., clubSandwich=TRUE)`).

    `beta` holds the robust SEs, t statistics, degrees of freedom (`df`) and intervals per coefficient;
    `QM` the omnibus test of all coefficients but the intercept (of the intercept in an intercept-only model).
    """

    type: str
    test: str
    wald_test_name: str
    n_clusters: int
    level: float
    vcov: _Array
    beta: tuple[Coefficient, ...]
    df: tuple[float, ...]
    QM: RobustWald
    parts: _Sandwich = field(repr=False)
    model: Any = field(default=None, repr=False)  # the fitted model the inference is for

    @property
    def cluster_sizes(self) -> list[int]:
        """The number of estimates in each cluster."""
        return [int(t.shape[1]) for stack in self.parts.Theta for t in stack]

    def coef_test(self, test: str | None = None) -> tuple[tuple[Coefficient, float], ...]:
        """Each coefficient's robust test under `test` (z, naive-t, naive-tp, Satterthwaite), with its df."""
        t = test or self.test
        C = np.eye(len(self.beta))
        est, se, dfs = self._contrast(C, t)
        return tuple((_coefficient(n, e, s, d, self.level), d) for n, e, s, d in
                     zip(self.parts.names, est, se, dfs, strict=True))

    def linear_contrast(self, L: Any, test: str | None = None) -> tuple[Coefficient, ...]:
        """Robust estimates, SEs, tests and intervals of linear combinations Lβ (rows of L)."""
        C = self._matrix(L)
        est, se, dfs = self._contrast(C, test or self.test)
        return tuple(_coefficient(f"contrast {i + 1}", e, s, d, self.level)
                     for i, (e, s, d) in enumerate(zip(est, se, dfs, strict=True)))

    def wald_test(self, constraints: Any, test: str | None = None) -> RobustWald:
        """Robust Wald test of Cβ = 0: `constraints` a q × p matrix, or coefficient names or 0-based
        positions."""
        C = self._matrix(constraints)
        return _wald(self.parts, self.vcov, C, test or self.wald_test_name)

    def _matrix(self, spec: Any) -> _Array:
        p = len(self.parts.names)
        if (isinstance(spec, (list, tuple)) and spec
                and all(isinstance(s, (str, int, np.integer)) for s in spec)):
            names = list(self.parts.names)
            idx = [names.index(s) if isinstance(s, str) and s in names else s for s in spec]
            if any(isinstance(i, str) or not 0 <= int(i) < p for i in idx):
                raise ValueError(f"constraints name unknown coefficients {spec}; coefficients are "
                                 f"{', '.join(names)}")
            return np.eye(p)[[int(i) for i in idx]]
        C = np.atleast_2d(np.asarray(spec, dtype=float))
        if C.ndim != 2 or C.shape[1] != p:
            raise ValueError(f"constraints need {p} column(s), one per coefficient; got shape {C.shape}")
        return C

    def _contrast(self, C: _Array, test: str) -> tuple[_Array, _Array, _Array]:
        if test not in COEF_TESTS:
            raise ValueError(f"test {test!r} is not supported; allowed: {', '.join(COEF_TESTS)}")
        est = C @ self.parts.beta
        se = np.sqrt(np.einsum("ap,pq,aq->a", C, self.vcov, C))
        J, p = self.n_clusters, C.shape[1]
        df = {"z": np.full(C.shape[0], math.inf), "naive-t": np.full(C.shape[0], float(J - 1)),
              "naive-tp": np.full(C.shape[0], float(J - p))}.get(test)
        if df is None:
            df = self.parts.satterthwaite(C)
        return est, se, df

    def summary(self) -> Summary:
        """metafor's printout of `robust(res, cluster, clubSandwich = TRUE)`."""
        from strigil.meta.printing import robust_summary

        return robust_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, robust SE, t, Satterthwaite df, p and interval."""
        from strigil.meta.frames import coefficient_frame

        return coefficient_frame(self.beta).assign(df=list(self.df))

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "type": self.type, "test": self.test, "wald_test": self.wald_test_name,
            "clusters": self.n_clusters, "level": self.level,
            "beta": [{**c.to_json(), "df": _num(d)} for c, d in zip(self.beta, self.df, strict=True)],
            "QM": self.QM.to_json(),
            "vcov": [[_num(x) for x in row] for row in self.vcov],
        }

    def __repr__(self) -> str:
        first, df = self.beta[0], self.df[0]
        return (f"RobustResult({self.type}, {self.n_clusters} clusters, {self.test}: {first.name}="
                f"{first.estimate:.4g} (SE {first.se:.4g}, df {df:.3g}))")


def _coefficient(name: str, est: float, se: float, df: float, level: float) -> Coefficient:
    stat = est / se if se > 0 else math.nan
    if math.isinf(df):
        p = math.erfc(abs(stat) / math.sqrt(2))
        crit = float(special.ndtri(1 - (1 - level / 100) / 2))
    elif df > 0:
        p = float(2 * special.stdtr(df, -abs(stat)))
        crit = float(special.stdtrit(df, 1 - (1 - level / 100) / 2))
    else:
        p, crit = math.nan, math.nan
    return Coefficient(name, float(est), float(se), float(stat), p, est - crit * se, est + crit * se)


def _wald(parts: _Sandwich, vcov: _Array, C: _Array, test: str) -> RobustWald:
    if test not in WALD_TESTS:
        raise ValueError(f"Wald test {test!r} is not supported; allowed: {', '.join(WALD_TESTS)}")
    q, p = C.shape
    cb = C @ parts.beta
    Q = float(cb @ np.linalg.solve(C @ vcov @ C.T, cb))
    J = parts.J
    if test == "chi-sq":
        return RobustWald(test, Q, Q / q, 1.0, q, math.inf, float(special.chdtrc(q, Q)))
    if test in ("Naive-F", "Naive-Fp"):
        ddf = J - 1 if test == "Naive-F" else J - p
        pv = float(special.fdtrc(q, ddf, Q / q)) if ddf > 0 else math.nan
        return RobustWald(test, Q, Q / q, 1.0, q, float(ddf), pv)
    nu = parts.hotelling_df(C)
    delta = max((nu - q + 1) / nu, 0.0)
    ddf = nu - q + 1
    F = delta * Q / q
    return RobustWald(test, Q, F, delta, q, ddf, float(special.fdtrc(q, ddf, F)) if ddf > 0 else math.nan)


def _labels(cluster: Any, k: int) -> _Index:
    values = list(cluster)
    if len(values) != k:
        raise ValueError(f"cluster has {len(values)} labels for k={k} effects")
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and math.isnan(v))
               or str(v).strip() in ("", "NA")]
    if missing:
        raise ValueError(f"cluster has missing labels at rows {missing[:5]}")
    _, codes = np.unique([str(v) for v in values], return_inverse=True)
    return codes.astype(np.intp)


def _working_covariance(model: _Model) -> tuple[_Index, _Index, _Array, _Array, _Array, _Array]:
    """(rows, columns, values) of the model's marginal covariance, with X, y and β̂."""
    if isinstance(model, RMAMVResult):
        mm = model.model
        gm = mm.g_matrices(model.theta)
        stacks = mm.marginal(model.theta, None if gm is None else gm[0])
        ii, jj, vv = [], [], []
        for g, M in zip(mm.layout.groups, stacks, strict=True):
            ii.append(np.repeat(g.rows, g.size, axis=1).ravel())
            jj.append(np.tile(g.rows, (1, g.size)).ravel())
            vv.append(M.ravel())
        return (np.concatenate(ii), np.concatenate(jj), np.concatenate(vv), model.X, model.yi,
                model.coefficients)
    if model.weights is not None:
        raise ValueError("cluster-robust inference here needs inverse-variance weights (a model without "
                         "user weights)")
    tau2 = 0.0 if model.method in ("EE", "FE") else model.tau2
    idx = np.arange(model.k, dtype=np.intp)
    b = np.array([c.estimate for c in model.beta])
    return idx, idx.copy(), model.vi + tau2, model.X, model.yi, b


def sandwich(model: _Model, cluster: Any, type: str = "CR2") -> _Sandwich:
    """The per-cluster pieces of the robust covariance of `model`'s coefficients."""
    if type not in VCOV_TYPES:
        raise ValueError(f"type {type!r} is not supported; allowed: {', '.join(VCOV_TYPES)}")
    ti, tj, tv, X, y, beta = _working_covariance(model)
    k, p = X.shape
    codes = _labels(cluster, k)
    J = int(codes.max()) + 1
    if J < 2:
        raise ValueError("cluster-robust inference needs at least two clusters; all effects are in one")
    if p >= J:
        raise ValueError(f"the number of clusters ({J}) must exceed the number of coefficients ({p})")
    if np.any(codes[ti] != codes[tj]):
        raise ValueError("the clusters must nest the model: effects that covary (same trial, correlated "
                         "sampling errors) must be in the same cluster")
    layout = BlockLayout.from_labels(codes)
    Thetas = layout.scatter(ti, tj, tv)
    Fs, Ks, us, XWXs, pieces = [], [], [], np.zeros((p, p)), []
    for g, Th in zip(layout.groups, Thetas, strict=True):
        Xg = g.stack(X)
        W = np.linalg.inv(Th)
        XW = np.einsum("jsp,jst->jpt", Xg, W)
        XWXs += np.einsum("jpt,jtq->pq", XW, Xg)
        pieces.append((g, Th, W, Xg, XW))
    M = np.asarray(np.linalg.inv(XWXs), dtype=float)
    e = y - X @ beta
    for g, Th, _W, Xg, XW in pieces:
        if type == "CR2":
            L = np.linalg.cholesky(Th)  # Θ = L L'; clubSandwich's D = L'
            B = np.einsum("jts,jtu,juv->jsv", L, Th - np.einsum("jsp,pq,jtq->jst", Xg, M, Xg), L)
            w, Q = np.linalg.eigh(B)
            w_inv = np.where(w > 1e-12, np.abs(w) ** -0.5, 0.0)
            B_inv_sqrt = np.einsum("jab,jb,jcb->jac", Q, w_inv, Q)
            A = np.einsum("jst,jtu,jvu->jsv", L, B_inv_sqrt, L)
            E = np.einsum("jpt,jtu->jpu", XW, A)
        else:
            factor = {"CR0": 1.0, "CR1": J / (J - 1), "CR1p": J / (J - p),
                      "CR1S": J * (k - 1) / ((J - 1) * (k - p))}[type]
            E = math.sqrt(factor) * XW
        F = np.einsum("pq,jqs->jps", M, E)
        Fs.append(F)
        Ks.append(np.einsum("jps,jsq->jpq", F, Xg))
        us.append(np.einsum("jps,js->jp", F, g.stack(e)))
    names = tuple(c.name for c in model.beta)
    return _Sandwich(M, beta, names, J, k, Fs, Thetas, Ks, us)


def robust(model: _Model, cluster: Any, *, type: str = "CR2", test: str = "Satterthwaite",
           wald_test: str = "HTZ", level: float | None = None) -> RobustResult:
    """Cluster-robust variance, tests and intervals of a fitted `rma` or `rma_mv` model.

    Defaults as metafor's `robust(..., clubSandwich=TRUE)`: CR2 with Satterthwaite degrees of freedom
    and the HTZ test for the omnibus hypothesis. metafor's plain `robust()` is type='CR1p',
    test='naive-tp', wald_test='Naive-Fp'. Tipton (2015); Pustejovsky & Tipton (2018).
    """
    if test not in COEF_TESTS:
        raise ValueError(f"test {test!r} is not supported; allowed: {', '.join(COEF_TESTS)}")
    if wald_test not in WALD_TESTS:
        raise ValueError(f"Wald test {wald_test!r} is not supported; allowed: {', '.join(WALD_TESTS)}")
    lvl = model.level if level is None else level
    parts = sandwich(model, cluster, type)
    vcov = parts.vcov()
    p = len(parts.names)
    C = np.eye(p)
    est = C @ parts.beta
    se = np.sqrt(np.diag(vcov))
    J = parts.J
    df = {"z": np.full(p, math.inf), "naive-t": np.full(p, float(J - 1)),
          "naive-tp": np.full(p, float(J - p))}.get(test)
    if df is None:
        df = parts.satterthwaite(C)
    coefs = tuple(_coefficient(n, e, s, d, lvl) for n, e, s, d in zip(parts.names, est, se, df, strict=True))
    btt = _btt(model)
    QM = _wald(parts, vcov, C[btt], wald_test)
    return RobustResult(type, test, wald_test, J, lvl, vcov, coefs, tuple(float(d) for d in df), QM, parts,
                        model)


def _btt(model: _Model) -> Sequence[int]:
    """All coefficients but the intercept (the intercept alone in an intercept-only model, as metafor)."""
    p = len(model.beta)
    return list(range(1, p)) if (model.intercept and p > 1) else list(range(p))
