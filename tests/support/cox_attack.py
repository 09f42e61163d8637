"""An analyst's attack on the exact Cox exchange, written independently of the clinic's code.

From what one ordinary analysis of time to improvement gives the analyst — a clinic's Kaplan–Meier band
counts and the loglik, gradient and Hessian of its Cox answers at each β of one Newton path — solve for the
clinic's table of patients per (improvement time × binary covariate): at every improvement time, how many
patients with the covariate are at risk, improve, and are censored before the next improvement time.

1. The band counts give the patients at risk and the improvements per session where no band was merged;
   merged bands are split every possible way and each split kept only if it reproduces loglik at β = 0
   (which depends on these counts alone: −Σ log(Rᵤ − l) over improvement times u and l < dᵤ).
2. With those counts, the gradient at β = 0 is a sum over improvement times v of known numbers times the
   integers (improved with the covariate at v, censored with the covariate after v): a meet-in-the-middle
   search over them, each candidate checked against every answer of the path (Efron's partial likelihood,
   recomputed here).

Also: the rule the clinics apply, written again here, to pick the patients a clinic may share.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CellTable", "recover_binary_cells", "shared_patients"]

# (Rᵤ, dᵤ) per improvement time; per improvement time the covariate's at-risk, improved, censored-after counts
Marginals = tuple[tuple[int, int], ...]
CellTable = dict[str, list[int]]
Point = tuple[np.ndarray, float, np.ndarray, np.ndarray]  # β, loglik, gradient, Hessian


def _efron(
    marg: Marginals, at_risk1: np.ndarray, improved1: np.ndarray, beta: float
) -> tuple[float, float, float]:
    """Loglik, gradient and Hessian of one binary covariate from the counts per improvement time."""
    w = math.exp(beta)
    ll = beta * float(improved1.sum())
    g = float(improved1.sum())
    h = 0.0
    for (r, d), r1, d1 in zip(marg, at_risk1, improved1, strict=True):
        for lv in range(d):
            a0 = (r - r1) - lv / d * (d - d1)
            a1 = (r1 - lv / d * d1) * w
            s = a0 + a1
            ll -= math.log(s)
            g -= a1 / s
            h -= a1 / s - (a1 / s) ** 2
    return ll, g, h


def _marginal_candidates(bands: Sequence[dict[str, Any]], last_session: int) -> list[Marginals]:
    """Every split of merged bands into whole sessions: (at risk, improvements) per improvement session."""
    per_band: list[list[list[tuple[int, int, int]]]] = []  # per band, options: per session (at risk, d, c)
    for j, b in enumerate(bands):
        start = int(b["start"])
        end = int(bands[j + 1]["start"]) if j + 1 < len(bands) else last_session + 1
        sessions = list(range(max(start, 1), max(end, 2)))
        options = []
        for ds in _compositions(int(b["events"]), len(sessions)):
            for cs in _compositions(int(b["censored"]), len(sessions)):
                n, rows = int(b["at_risk"]), []
                for d, c in zip(ds, cs, strict=True):
                    rows.append((n, d, c))
                    n -= d + c
                options.append(rows)
        per_band.append(options)
    out = []
    for choice in itertools.product(*per_band):
        out.append(tuple((n, d) for rows in choice for n, d, _ in rows if d > 0))
    return out


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    if parts == 1:
        return [(total,)]
    return [(k, *rest) for k in range(total + 1) for rest in _compositions(total - k, parts - 1)]


def _split(marg: Marginals, points: Sequence[Point]) -> list[CellTable]:
    r = np.array([x for x, _ in marg])
    d = np.array([x for _, x in marg])
    k = len(marg)
    gap = r - d - np.r_[r[1:], 0]  # censored after each improvement time, before the next
    alpha = np.array([1 + sum((lv / d[u]) / (r[u] - lv) for lv in range(d[u])) for u in range(k)])
    gam = np.cumsum([sum(1 / (r[u] - lv) for lv in range(d[u])) for u in range(k)])
    zero = next(p for p in points if not np.any(p[0]))
    target = float(zero[2][0])

    def half(us: range) -> tuple[np.ndarray, np.ndarray]:
        vals, keys = np.zeros(1), np.zeros((1, 0), dtype=int)
        for v in us:
            dd, cc = np.meshgrid(np.arange(d[v] + 1), np.arange(gap[v] + 1), indexing="ij")
            opt = ((alpha[v] - gam[v]) * dd - gam[v] * cc).ravel()
            vals = (vals[:, None] + opt[None, :]).ravel()
            pairs = np.column_stack([dd.ravel(), cc.ravel()])
            keys = np.hstack([np.repeat(keys, len(opt), axis=0), np.tile(pairs, (len(keys), 1))])
        return vals, keys

    left_v, left_k = half(range(k // 2))
    right_v, right_k = half(range(k // 2, k))
    order = np.argsort(right_v)
    right_v, right_k = right_v[order], right_k[order]
    need = target - left_v
    lo = np.searchsorted(right_v, need - 1e-9)
    hi = np.searchsorted(right_v, need + 1e-9)
    found = []
    for i in np.flatnonzero(hi > lo):
        for j in range(lo[i], hi[i]):
            pairs = np.concatenate([left_k[i], right_k[j]]).reshape(k, 2)
            d1, c1 = pairs[:, 0], pairs[:, 1]
            r1 = np.cumsum((d1 + c1)[::-1])[::-1]
            if np.any(r1 > r) or np.any(r - r1 < np.r_[r[1:] - r1[1:], 0] + (d - d1)):
                continue
            if all(
                np.allclose(_efron(marg, r1, d1, float(b[0])), (ll, g[0], h[0, 0]), rtol=1e-9, atol=1e-9)
                for b, ll, g, h in points
            ):
                found.append({"at_risk": r1.tolist(), "improved": d1.tolist(), "censored_after": c1.tolist()})
    return found


def recover_binary_cells(
    bands: Sequence[dict[str, Any]], points: Sequence[Point], last_session: int
) -> list[tuple[Marginals, CellTable]]:
    """Every (counts per improvement time, covariate's cell table) that reproduces all the answers exactly."""
    zero = next(p for p in points if not np.any(p[0]))
    out = []
    for marg in _marginal_candidates(bands, last_session):
        ll0 = -sum(math.log(n - lv) for n, d in marg for lv in range(d))
        if abs(ll0 - zero[1]) > 1e-9 * max(1.0, abs(zero[1])):
            continue
        out += [(marg, cells) for cells in _split(marg, points)]
    return out


def shared_patients(time: np.ndarray, event: np.ndarray, X: np.ndarray, min_patients: int = 5) -> np.ndarray:
    """The network's rule, on its own: a patient's cell is (the band between successive improvement times
    holding their time, improved or not, their covariate values); patients in cells of 1 to min − 1 are
    withheld, again until none is."""
    keep = [True] * len(time)
    while True:
        times = sorted({float(t) for t, e, k in zip(time, event, keep, strict=True) if e and k})
        cell = [
            (sum(1 for u in times if u <= t), bool(e), tuple(float(v) for v in x))
            for t, e, x in zip(time, event, X, strict=True)
        ]
        counts = Counter(c for c, k in zip(cell, keep, strict=True) if k)
        drop = [i for i, c in enumerate(cell) if keep[i] and counts[c] < min_patients]
        if not drop:
            return np.asarray(keep)
        for i in drop:
            keep[i] = False
