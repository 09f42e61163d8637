"""Sampling covariance matrices of dependent effects from assumed correlations (metafor's `vcalc`).

Effects of the same cluster (trial) covary when they share participants. For effects i, j of one
cluster, with sampling variances vᵢ, vⱼ, Cov = r_ij √(vᵢvⱼ), where r_ij is

- 1 for the same outcome (`obs`) of the same construct (`type`), `rho` (or `rho[0]` when both `obs`
  and `type` are given) for different outcomes of the same construct, and `rho[1]` for outcomes of
  different constructs (with `type` alone: 1 within a construct, `rho` between);
- times the correlation that shared groups and repeated measurements induce (Gleser & Olkin, 2009):
  for contrasts of group `grp1` at time `time1` against group `grp2` at time `time2`, with group
  sizes (weights) `w1`, `w2`, and measurements φ^|Δt| correlated over time,

      ( [g1ᵢ=g1ⱼ] φ^|t1ᵢ−t1ⱼ|/√(w1ᵢw1ⱼ) − [g1ᵢ=g2ⱼ] φ^|t1ᵢ−t2ⱼ|/√(w1ᵢw2ⱼ)
        − [g2ᵢ=g1ⱼ] φ^|t2ᵢ−t1ⱼ|/√(w2ᵢw1ⱼ) + [g2ᵢ=g2ⱼ] φ^|t2ᵢ−t2ⱼ|/√(w2ᵢw2ⱼ) ) / (sᵢ sⱼ),
      sᵢ² = 1/w1ᵢ + 1/w2ᵢ − 2 [g1ᵢ=g2ᵢ] φ^|t1ᵢ−t2ᵢ|/√(w1ᵢw2ᵢ),

  which is 1 when no groups, times or weights are given. Several treatment groups against one
  control group (grp1 = treatment, grp2 = control, w = group sizes) thus correlate through the
  shared control group; effects at several time points through φ.

A block of a cluster that is not positive definite is an error naming the cluster (the assumed
correlations are impossible together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strigil.meta.blocks import BlockCovariance, not_positive_definite

__all__ = ["vcalc"]

_Array = NDArray[np.float64]


def _labels(name: str, values: Any, k: int) -> list[str]:
    vals = list(values)
    if len(vals) != k:
        raise ValueError(f"{name} has {len(vals)} values for {k} effects")
    bad = [i for i, v in enumerate(vals) if v is None or (isinstance(v, float) and math.isnan(v))]
    if bad:
        raise ValueError(f"{name} has missing values at rows {bad[:5]}")
    return [str(v) for v in vals]


def _numbers(name: str, values: Any, k: int) -> _Array:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (k,):
        raise ValueError(f"{name} must have one number per effect ({k}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        rows = np.flatnonzero(~np.isfinite(arr))[:5].tolist()
        raise ValueError(f"{name} has missing or non-finite values at rows {rows}")
    return arr


def _correlation(name: str, value: Any) -> float:
    r = float(value)
    if not (math.isfinite(r) and -1 <= r <= 1):
        raise ValueError(f"{name} must be a correlation in [-1, 1]; got {value!r}")
    return r


def vcalc(
    vi: Any,
    cluster: Sequence[Any],
    *,
    obs: Sequence[Any] | None = None,
    type: Sequence[Any] | None = None,
    time1: Any = None,
    time2: Any = None,
    grp1: Sequence[Any] | None = None,
    grp2: Sequence[Any] | None = None,
    w1: Any = None,
    w2: Any = None,
    rho: float | tuple[float, float] | None = None,
    phi: float | None = None,
    subgroup: Sequence[Any] | None = None,
) -> BlockCovariance:
    """The sampling covariance matrix V of dependent effects, block by cluster (metafor's `vcalc`).

    `rho`: correlation of different outcomes (`obs`) within a cluster, or with `obs` and `type`
    both given a pair (within-construct, between-construct). `phi`: autocorrelation per unit of
    `time1`/`time2`. Gleser & Olkin (2009); Viechtbauer's metafor documentation of `vcalc`.
    """
    v = np.atleast_1d(np.asarray(vi, dtype=float))
    k = v.shape[0]
    if k < 2:
        raise ValueError(f"vcalc needs at least 2 effects; got k={k}")
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("vi must hold positive sampling variances")
    cl = _labels("cluster", cluster, k)
    if subgroup is not None:
        cl = [f"{c}.{s}" for c, s in zip(cl, _labels("subgroup", subgroup, k), strict=True)]
    if (obs is not None or type is not None) and rho is None:
        raise ValueError("rho is needed when obs or type is given (the correlation of different outcomes)")
    r_obs, r_type = 0.0, 0.0
    if obs is not None and type is not None:
        if np.isscalar(rho) or rho is None or len(rho) != 2:  # type: ignore[arg-type]
            raise ValueError("with obs and type both given, rho is a pair (within-construct, "
                             "between-construct)")
        r_obs, r_type = _correlation("rho[0]", rho[0]), _correlation("rho[1]", rho[1])  # type: ignore[index]
    elif obs is not None:
        r_obs = _correlation("rho", rho)
    elif type is not None:
        r_type = _correlation("rho", rho)
    ob = _labels("obs", obs, k) if obs is not None else ["1"] * k
    ty = _labels("type", type, k) if type is not None else ["1"] * k
    if time2 is not None and time1 is None:
        raise ValueError("time2 needs time1")
    if grp2 is not None and grp1 is None:
        raise ValueError("grp2 needs grp1")
    t1 = _numbers("time1", time1, k) if time1 is not None else np.ones(k)
    t2 = _numbers("time2", time2, k) if time2 is not None else t1
    if time1 is not None and phi is None:
        raise ValueError("phi is needed when time1 or time2 is given (the autocorrelation per unit of time)")
    ph = _correlation("phi", phi) if phi is not None else 1.0
    g1 = _labels("grp1", grp1, k) if grp1 is not None else ["1"] * k
    g2 = _labels("grp2", grp2, k) if grp2 is not None else ["2"] * k
    a1 = _numbers("w1", w1, k) if w1 is not None else np.ones(k)
    a2 = _numbers("w2", w2, k) if w2 is not None else a1
    if np.any(a1 <= 0) or np.any(a2 <= 0):
        raise ValueError("w1 and w2 (group sizes) must be positive")

    order: dict[str, list[int]] = {}
    for i, c in enumerate(cl):
        order.setdefault(c, []).append(i)
    rows, blocks = [], []
    for c, members in order.items():
        idx = np.array(members, dtype=np.intp)
        R = _block(idx, ob, ty, r_obs, r_type, t1, t2, g1, g2, a1, a2, ph)
        s = np.sqrt(v[idx])
        block = R * np.outer(s, s)
        if not_positive_definite(block[None]).size:
            raise ValueError(f"the assumed correlations make V not positive definite in cluster {c!r} "
                             f"(rows {idx.tolist()[:10]}); check rho, phi and duplicate outcomes")
        rows.append(idx)
        blocks.append(block)
    return BlockCovariance(k, tuple(rows), tuple(blocks))


def _block(idx: NDArray[np.intp], ob: list[str], ty: list[str], r_obs: float, r_type: float, t1: _Array,
           t2: _Array, g1: list[str], g2: list[str], a1: _Array, a2: _Array, phi: float) -> _Array:
    """The correlation matrix of one cluster's effects."""
    o = np.array([ob[i] for i in idx])
    t = np.array([ty[i] for i in idx])
    same_type = t[:, None] == t[None, :]
    same_obs = o[:, None] == o[None, :]
    base = np.where(same_type, np.where(same_obs, 1.0, r_obs), r_type)
    x1, x2 = t1[idx], t2[idx]
    h1 = np.array([g1[i] for i in idx])
    h2 = np.array([g2[i] for i in idx])
    w1, w2 = a1[idx], a2[idx]

    def term(ga: NDArray[Any], gb: NDArray[Any], ta: _Array, tb: _Array, wa: _Array, wb: _Array) -> _Array:
        lag = np.abs(ta[:, None] - tb[None, :])
        auto = np.where(lag == 0, 1.0, phi ** lag)
        return (ga[:, None] == gb[None, :]) * auto / np.sqrt(np.outer(wa, wb))

    num = term(h1, h1, x1, x1, w1, w1) - term(h1, h2, x1, x2, w1, w2) - term(h2, h1, x2, x1, w2, w1) \
        + term(h2, h2, x2, x2, w2, w2)
    own = 1 / w1 + 1 / w2 - 2 * np.diag(term(h1, h2, x1, x2, w1, w2))
    return base * num / np.sqrt(np.outer(own, own))
