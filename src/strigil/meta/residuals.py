"""Residuals and hat values of a fitted model (metafor's `residuals`, `rstandard`, `rstudent` and
`hatvalues` for `rma.uni`).

Standardized residuals divide the raw residual yᵢ − xᵢ'β̂ by its marginal standard error, the root of
the i-th diagonal element of (I − H) M (I − H)' with M = diag(vᵢ + τ²) and H the hat matrix;
studentized (deletion) residuals compare each study with the model fitted without it (Viechtbauer &
Cheung, 2010, Res Synth Methods 1:112; Viechtbauer, 2010, J Stat Softw 36(3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult

__all__ = ["RESIDUAL_TYPES", "Residuals", "hatvalues", "residuals", "rstandard", "rstudent"]

_Array = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)
RESIDUAL_TYPES = ("response", "pearson", "rstandard", "rstudent")


@dataclass(frozen=True, eq=False, repr=False)
class Residuals(Presentable):
    """Residuals `resid` with their standard errors `se` and `z` = resid / se, one per study."""

    slab: tuple[str, ...]
    resid: _Array
    se: _Array
    z: _Array

    def to_frame(self) -> pd.DataFrame:
        """One row per study: resid, se, z."""
        from strigil.display import frame

        return frame({"resid": self.resid, "se": self.se, "z": self.z}, self.slab, "study")

    def summary(self) -> Summary:
        """The residuals as metafor's `print(rstandard(res))` lists them."""
        from strigil.meta.printing import table_summary

        return table_summary(f"Residuals ({len(self.slab)} studies)", self.to_frame())

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict of lists (null where a value does not exist)."""
        def lst(x: _Array) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in x]

        return {"slab": list(self.slab), "resid": lst(self.resid), "se": lst(self.se), "z": lst(self.z)}


def _labels(res: RMAResult) -> tuple[str, ...]:
    return res.slab if res.slab is not None else tuple(f"Study {i + 1}" for i in range(res.k))


def _raw(res: RMAResult) -> _Array:
    b = np.array([c.estimate for c in res.beta])
    e = res.yi - res.X @ b
    e[np.abs(e) < 100 * _EPS] = 0.0  # as metafor: a residual at rounding level is 0
    return np.asarray(e)


def _hat_matrix(res: RMAResult) -> _Array:
    """H = X (X'AX)⁻¹ X'A, A the model's weights: 1/(vᵢ + τ²) or the user's (metafor's hatvalues)."""
    a = 1.0 / (res.vi + res.tau2) if res.weights is None else res.weights
    X = res.X
    return np.asarray((X @ np.linalg.inv(X.T @ (a[:, None] * X)) @ X.T) * a[None, :])


def hatvalues(res: RMAResult) -> _Array:
    """Leverage of each study: the diagonal of the hat matrix (values within 10 ε of 1 are 1, as
    `lm.influence`)."""
    h = np.diag(_hat_matrix(res)).copy()
    h[h > 1 - 10 * _EPS] = 1.0
    return h


def residuals(res: RMAResult, type: str = "response") -> _Array:
    """Residuals of `type`: "response" (yᵢ − xᵢ'β̂), "pearson" (divided by √(vᵢ + τ²)), "rstandard"
    or "rstudent" (the z values of `rstandard`/`rstudent`)."""
    if type not in RESIDUAL_TYPES:
        raise ValueError(f"type {type!r} is not supported; allowed: {', '.join(RESIDUAL_TYPES)}")
    if type == "rstandard":
        return rstandard(res).z
    if type == "rstudent":
        return rstudent(res).z
    e = _raw(res)
    return e if type == "response" else np.asarray(e / np.sqrt(res.vi + res.tau2))


def rstandard(res: RMAResult) -> Residuals:
    """Internally standardized residuals: (yᵢ − xᵢ'β̂) over the root of [(I − H) M (I − H)']ᵢᵢ."""
    H = _hat_matrix(res)
    imh = np.eye(res.k) - H
    var = np.einsum("ij,j,ij->i", imh, res.vi + res.tau2, imh)
    e = _raw(res)
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = e / se
    return Residuals(_labels(res), e, se, z)


def rstudent(res: RMAResult) -> Residuals:
    """Externally standardized (deletion) residuals: each study against the model refitted without it,
    over the standard error of that difference (with the deleted fit's τ² and, under the Knapp–Hartung
    test, its scaling factor), as metafor's `rstudent.rma.uni`."""
    from strigil.meta.influence import deletion_residuals

    if res.k < 2:
        raise ValueError(f"studentized residuals need at least 2 studies; got k={res.k}")
    resid, se = deletion_residuals(res)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = resid / se
    return Residuals(_labels(res), resid, se, z)
