"""Cases of the rma.mv, robust, vcalc and rma-extras fixtures (tests/reference/metafor, made by
make_rma_mv_fixtures.R) turned into strigil calls."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from metafor_reference import load, number, numbers

from strigil.meta import BlockCovariance, RMAMVResult, rma, rma_mv
from strigil.meta.result import RMAResult


def cases(name: str) -> list[dict[str, Any]]:
    """The cases of one fixture file."""
    return list(load(name)["cases"])


def case_ids(name: str) -> list[str]:
    """Readable pytest ids."""
    return [c["id"] for c in cases(name)]


def matrix(rows: Any) -> np.ndarray:
    """A fixture matrix (array of rows) as a float array."""
    return np.array([[number(x) for x in row] for row in rows], dtype=float)


def sampling_covariance(case: dict[str, Any]) -> Any:
    """The case's V: variances, or the block-diagonal matrix from its blocks."""
    if case["vi"] is not None:
        return numbers(case["vi"])
    k = len(case["yi"])
    blocks = case["V_blocks"]
    return BlockCovariance.from_blocks(k, [numbers(b["rows"]).astype(int) for b in blocks],
                                       [matrix(b["block"]) for b in blocks])


def fixed_components(case: dict[str, Any]) -> dict[str, list[float | None]]:
    """User-fixed components (metafor's NA = estimated -> None)."""
    out = {}
    for name, values in (case.get("fixed") or {}).items():
        vals = values if isinstance(values, list) else [values]
        out[name] = [None if np.isnan(number(v)) else number(v) for v in vals]
    return out


def fit_mv(case: dict[str, Any], **overrides: Any) -> RMAMVResult:
    """Fit the rma.mv model a case describes."""
    names = case["fit"]["coef_names"]
    X = matrix(case["X"])
    has_mods = X.shape[1] > 0 if X.ndim == 2 and X.size else False
    args: dict[str, Any] = dict(
        mods=X if has_mods else None,
        mod_names=(names[1:] if case["intercept"] else names) if has_mods else None,
        intercept=case["intercept"],
        random=case["random"],
        struct=case["struct"] or "CS",
        data=case["columns"],
        method=case["method"],
        test=case["test"],
        **fixed_components(case),
    )
    args.update(overrides)
    return rma_mv(numbers(case["yi"]), sampling_covariance(case), **args)


@cache
def mv_fit(case_id: str) -> RMAMVResult:
    """The fit of one rma_mv.json case (cached: several test modules use the same fits)."""
    case = next(c for c in cases("rma_mv") if c["id"] == case_id)
    return fit_mv(case)


def fit_uni(spec: dict[str, Any]) -> RMAResult:
    """An rma fit from a fixture's model description (yi, vi, X, mod_names, method, ...)."""
    mods = None
    if spec.get("X"):
        X = matrix(spec["X"])
        mods = {n: X[:, j] for j, n in enumerate(spec["mod_names"])}
    control = {"tau2": number(spec["tau2_fixed"])} if spec.get("tau2_fixed") is not None else None
    weights = numbers(spec["weights"]) if spec.get("weights") else None
    return rma(numbers(spec["yi"]), numbers(spec["vi"]), mods=mods, method=spec["method"],
               test=spec.get("test", "z"), control=control, weights=weights)
