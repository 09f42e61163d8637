"""GOSH: the model refitted to every subset of the studies (metafor's `gosh`), on the batch engine.

Olkin, Dahabreh & Trikalinos (2012, Res Synth Methods 3:214): plotting the pooled estimate against I²
over all 2^k − 1 subsets shows clusters that one or a few studies create. Subsets of equal size are
stacked into one (size × m) matrix and fitted in a single vectorised pass of `rma_batch`, so all
subsets of 16 studies (65,535 fits) take well under a second. Beyond `max_subsets` a random sample of
subsets (seeded) stands in, as in metafor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import InlineFigure, Presentable, Summary
from strigil.meta.batch import rma_batch
from strigil.meta.plots import _ACCENT, _save

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from strigil.meta.result import RMAResult

__all__ = ["Gosh", "GoshPlot", "gosh"]

_Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False, repr=False)
class Gosh(Presentable):
    """One row per subset: which studies it holds (`incl`, subsets × k) and its fit (estimate, Q, I², H²,
    τ²). `exhaustive` says whether every subset was fitted (else a random sample was)."""

    method: str
    k: int
    exhaustive: bool
    incl: NDArray[np.bool_]
    estimate: _Array
    Q: _Array
    I2: _Array
    H2: _Array
    tau2: _Array

    def __len__(self) -> int:
        return int(self.estimate.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per subset: estimate, Q, I², H², τ² and one boolean column per study (included)."""
        from strigil.display import frame

        cols: dict[str, Any] = {c: getattr(self, c) for c in ("estimate", "Q", "I2", "H2", "tau2")}
        cols.update({f"study_{j + 1}": self.incl[:, j] for j in range(self.k)})
        return frame(cols)

    def summary(self) -> Summary:
        """How many subsets were fitted and the spread of their estimates and I²."""
        from strigil.meta.printing import gosh_summary

        return gosh_summary(self)

    def plot(self, *, xlab: str = "Pooled estimate") -> GoshPlot:
        """Pooled estimate against I² for every subset, with both margins as histograms."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.0, 6.2))
        grid = fig.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), wspace=0.05, hspace=0.05)
        ax = fig.add_subplot(grid[1, 0])
        top = fig.add_subplot(grid[0, 0], sharex=ax)
        side = fig.add_subplot(grid[1, 1], sharey=ax)
        n = len(self)
        alpha = float(min(0.8, max(0.05, 300 / max(n, 1))))
        ax.scatter(self.estimate, self.I2, s=6, color=_ACCENT, alpha=alpha, linewidth=0)
        top.hist(self.estimate, bins=60, color="#8fb3d9")
        side.hist(self.I2, bins=60, orientation="horizontal", color="#8fb3d9")
        for a in (top, side):
            a.tick_params(labelbottom=False, labelleft=False)
        ax.set_xlabel(xlab)
        ax.set_ylabel("I² (%)")
        fig.suptitle(f"GOSH: {n:,} subsets of {self.k} studies ({self.method})"
                     + ("" if self.exhaustive else ", a random sample"), fontsize=10)
        return GoshPlot(self, fig)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: per subset the included studies (indices) and its fit."""
        def lst(x: _Array) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in x]

        return {"method": self.method, "k": self.k, "exhaustive": self.exhaustive,
                "incl": [np.flatnonzero(row).tolist() for row in self.incl], "estimate": lst(self.estimate),
                "Q": lst(self.Q), "I2": lst(self.I2), "H2": lst(self.H2), "tau2": lst(self.tau2)}


@dataclass(frozen=True, eq=False, repr=False)
class GoshPlot(InlineFigure):
    """The drawn GOSH plot and the subsets behind it."""

    gosh: Gosh
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)




def _subsets(k: int, max_subsets: int, seed: int) -> tuple[NDArray[np.bool_], bool]:
    """All non-empty subsets of k studies in metafor's order (by size, then colexicographic: [0, 1],
    [0, 2], [1, 2], [0, 3], ..., which is the order of the bit masks as numbers), or a random sample of
    `max_subsets` distinct ones in the same order."""
    bits = np.arange(k, dtype=np.int64)
    if 2**k - 1 <= max_subsets:
        masks = np.arange(1, 2**k, dtype=np.int64)
        exhaustive = True
    else:
        rng = np.random.default_rng(seed)
        chosen: set[int] = set()
        while len(chosen) < max_subsets:
            draw = rng.random((max_subsets, k)) < 0.5
            for m in (draw * (1 << bits)).sum(axis=1).tolist():
                if m:
                    chosen.add(int(m))
                    if len(chosen) == max_subsets:
                        break
        masks = np.array(sorted(chosen), dtype=np.int64)
        exhaustive = False
    incl = ((masks[:, None] >> bits[None, :]) & 1).astype(bool)
    order = np.lexsort((masks, incl.sum(axis=1)))
    return incl[order], exhaustive


def gosh(res: RMAResult, *, method: str | None = None, max_subsets: int = 1_000_000, seed: int = 1) -> Gosh:
    """Fit the model (its method, or `method`) to every subset of its studies, or to `max_subsets`
    random ones when there are more."""
    if res.moderators:
        raise ValueError("GOSH applies to models without moderators")
    if res.weights is not None:
        raise ValueError("GOSH refits with inverse-variance weights; the model has user weights")
    meth = (method or res.method).upper()
    k = res.k
    if k < 2:
        raise ValueError(f"GOSH needs at least 2 studies; got k={k}")
    incl, exhaustive = _subsets(k, max_subsets, seed)
    n = incl.shape[0]
    out = {name: np.full(n, math.nan) for name in ("estimate", "Q", "I2", "H2", "tau2")}
    sizes = incl.sum(axis=1)
    for size in np.unique(sizes):
        rows = np.flatnonzero(sizes == size)
        idx = np.nonzero(incl[rows])[1].reshape(rows.size, size).T  # (size, m) study indices per column
        y, v = res.yi[idx], res.vi[idx]
        if size == 1:
            out["estimate"][rows], out["Q"][rows] = y[0], 0.0
            out["I2"][rows], out["H2"][rows], out["tau2"][rows] = 0.0, 1.0, 0.0
            continue
        fit = rma_batch(y, v, method=meth)
        for name in out:
            out[name][rows] = getattr(fit, name)
        if meth == "DL":
            # as metafor's gosh (its DL shortcut): H² = Q/(k − 1) also when τ² = 0 (the model's H² is 1 there)
            out["H2"][rows] = fit.Q / (size - 1)
    return Gosh(meth, k, exhaustive, incl, **out)
