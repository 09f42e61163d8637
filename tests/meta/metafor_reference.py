"""Reader of the metafor reference fixtures (tests/reference/metafor, layout in its README.md).

Tests compare with `assert_close`: 1e-6 relative, or 1e-8 absolute near zero (the issue's bar).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from strigil.meta import rma
from strigil.meta.result import RMAResult

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "metafor"
REL, ABS = 1e-6, 1e-8


@cache
def load(name: str) -> dict[str, Any]:
    """One fixture file (e.g. "diagnostics") as parsed JSON."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def number(x: Any) -> float:
    """A fixture number: R's non-finite values are strings, absent ones null (both -> NaN here)."""
    if x is None or x == "NA":
        return math.nan
    return float(x)


def numbers(xs: Any) -> np.ndarray:
    """A fixture vector as a float array (a scalar becomes length 1)."""
    if not isinstance(xs, list):
        xs = [xs]
    return np.array([number(x) for x in xs], dtype=float)


def assert_close(actual: Any, expected: Any, what: str, rel: float = REL, abs_: float = ABS) -> None:
    """Element-wise agreement with the fixture; NaN must meet NaN."""
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = numbers(expected) if not isinstance(expected, np.ndarray) else np.atleast_1d(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != metafor's {e.shape}"
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert (nan_a == nan_e).all(), f"{what}: NaN pattern differs: {a} vs metafor {e}"
    ok = ~nan_e
    inf_e = np.isinf(e)
    assert (a[inf_e] == e[inf_e]).all(), f"{what}: {a} vs metafor {e}"
    fin = ok & ~inf_e
    diff = np.abs(a[fin] - e[fin])
    bad = diff > np.maximum(rel * np.abs(e[fin]), abs_)
    assert not bad.any(), f"{what}: {a[fin][bad]} vs metafor {e[fin][bad]} (max diff {diff.max():.3g})"


def dataset(name: str) -> dict[str, Any]:
    """A data set from datasets.json."""
    return dict(load("datasets")["datasets"][name])


def fit_case(case: dict[str, Any]) -> RMAResult:
    """Fit the model a fixture case describes (data set, method, test, moderators, user weights)."""
    d = dataset(case["dataset"])
    mods = case.get("mods")
    return rma(
        numbers(d["yi"]), numbers(d["vi"]),
        mods=None if not mods else {m: numbers(d["mods"][m]) for m in mods},
        method=case["method"], test=case["test"], slab=d["slab"],
        weights=numbers(case["weights"]) if case.get("weights") else None,
    )


# strigil follows metafor 5.0-1 where metafor changed a computation after 3.8 (the Debian version the
# fixtures other than escalc_current.json come from): ROM and ROMC are bias-corrected by default
# (correct=False is 3.8's plain log ratio), and SMDH and SMCRH lost the factor c(m)² on their variance
CHANGED_SINCE_3_8 = ("ROM", "ROMC", "SMDH", "SMCRH")


def escalc_as_metafor_3_8(measure: str, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """yi, vi as metafor 3.8 computes them, from strigil's escalc (which follows metafor 5.0-1)."""
    from scipy import special

    from strigil.meta import escalc

    es = escalc(measure, **inputs, **({"correct": False} if measure in ("ROM", "ROMC") else {}))
    if measure not in ("SMDH", "SMCRH"):
        return es.yi, es.vi
    m = inputs["n1i"] + inputs["n2i"] - 2 if measure == "SMDH" else inputs["ni"] - 1
    cm = np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
    return es.yi, cm**2 * es.vi
