"""Mantel–Haenszel and Peto pooling against metafor's rma.mh and rma.peto (binary.json): BCG, Yusuf 1985
(tables 6 and 9, with trials without events), Collins 1985a/b (missing counts, trials without deaths),
Nielweise 2007/2008 and seeded person-time data with zero counts.

Agreement: 1e-6 relative or 1e-8 absolute; NaN (R's NA) must meet NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, load, number, numbers

from strigil.meta import rma_mh, rma_peto
from strigil.meta.tables_result import TablesResult

BINARY = load("binary")
MH = BINARY["mh"]
PETO = BINARY["peto"]


def _table(name: str) -> dict[str, Any]:
    t = BINARY["tables"][name]
    return {"columns": {c: numbers(v) for c, v in t["columns"].items()}, "slab": t["slab"]}


def _cells(name: str) -> dict[str, np.ndarray]:
    cols = _table(name)["columns"]
    keys = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "t1i", "x2i", "t2i")
    return {k: v for k, v in cols.items() if k in keys}


def _check_common(ours: TablesResult, fit: dict[str, Any], case_id: str) -> None:
    for name, value in (("b", ours.estimate), ("se", ours.se), ("zval", ours.z), ("pval", ours.p),
                        ("ci_lb", ours.ci_lb), ("ci_ub", ours.ci_ub), ("QE", ours.Q), ("QEp", ours.Q_p),
                        ("I2", ours.I2), ("H2", ours.H2)):
        assert_close(value, fit[name], f"{case_id} {name}")
    assert (ours.k, ours.k_yi) == (fit["k"], fit["k_yi"]), case_id
    finite = np.isfinite(ours.yi)
    assert_close(ours.yi[finite], fit["yi"], f"{case_id} yi")
    assert_close(ours.vi[finite], fit["vi"], f"{case_id} vi")
    assert_close(ours.weights, fit["weights"], f"{case_id} weights")
    std = ours.rstandard()
    for name in ("resid", "se", "z"):
        assert_close(getattr(std, name), fit["rstandard"][name], f"{case_id} rstandard {name}")


@pytest.mark.parametrize("case", MH, ids=[c["id"] for c in MH])
def test_mantel_haenszel_matches_metafor(case):
    assert case["ok"], case.get("error")
    fit = case["fit"]
    res = rma_mh(**_cells(case["table"]), measure=case["measure"], correct=case["correct"],
                 slab=_table(case["table"])["slab"])
    _check_common(res, fit, case["id"])
    tests = {"MH": (res.cmh, res.cmh_p), "CO": (res.cochran, res.cochran_p),
             "BD": (res.breslow_day, res.breslow_day_p), "TA": (res.tarone, res.tarone_p)}
    for name, (stat, p) in tests.items():
        if name not in fit:
            assert stat is None, f"{case['id']}: {name} exists only for the odds ratio / rate ratio"
            continue
        assert_close(np.nan if stat is None else stat, fit[name], f"{case['id']} {name}")
        assert_close(np.nan if p is None else p, fit[f"{name}p"], f"{case['id']} {name}p")
    if res.measure == "OR":
        assert res.k_pos == int(number(fit["k_pos"]))


@pytest.mark.parametrize("case", PETO, ids=[c["id"] for c in PETO])
def test_peto_matches_metafor(case):
    assert case["ok"], case.get("error")
    res = rma_peto(**_cells(case["table"]), slab=_table(case["table"])["slab"])
    _check_common(res, case["fit"], case["id"])


def test_missing_and_double_zero_tables_are_dropped_and_counted():
    # Yusuf 1985 table 9: two trials with missing counts, six without events in either arm
    res = rma_mh(**_cells("yusuf9"), measure="OR")
    assert (res.k_omitted, res.k, res.k_double_zero, res.k_yi) == (2, 26, 6, 20)
    doc = res.to_json()
    assert (doc["k_omitted"], doc["k_double_zero"], doc["k_yi"]) == (2, 6, 20)
    assert doc["exp"]["estimate"] == pytest.approx(np.exp(res.estimate))
    peto = rma_peto(**_cells("yusuf9"))
    assert (peto.k_omitted, peto.k_double_zero, peto.k_yi) == (2, 6, 20)


def test_no_events_anywhere_is_an_error_not_a_number():
    zero = {"ai": [0, 0], "n1i": [10, 12], "ci": [0, 0], "n2i": [11, 9]}
    with pytest.raises(ValueError, match="estimate does not exist"):
        rma_mh(**zero, measure="OR")
    with pytest.raises(ValueError, match="needs both outcomes"):
        rma_peto(**zero)
    # the risk difference exists (0) and no table enters the heterogeneity test
    rd = rma_mh(**zero, measure="RD")
    assert rd.estimate == 0 and rd.k_yi == 0 and rd.Q == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ai": [3, -1], "n1i": [10, 10], "ci": [2, 2], "n2i": [10, 10]}, r"row 2 \(B\): ai is negative"),
        ({"ai": [3, 12], "n1i": [10, 10], "ci": [2, 2], "n2i": [10, 10]},
         r"row 2 \(B\): ai \(events\) is larger than n1i \(participants\): 12 of 10"),
        ({"ai": [3, 0], "bi": [7, 0], "ci": [2, 2], "di": [8, 8]},
         r"row 2 \(B\): group 1 has no participants"),
        ({"x1i": [1, 2], "t1i": [10.0, 12.0], "x2i": [1, 1], "t2i": [9.0, 0.0], "measure": "IRR"},
         r"row 2 \(B\): group 2 has no person-time"),
        ({"x1i": [1, 2], "t1i": [10.0, -12.0], "x2i": [1, 1], "t2i": [9.0, 8.0], "measure": "IRR"},
         r"row 2 \(B\): t1i is negative \(-12\); person-time cannot be negative$"),
        ({"ai": [3, -1], "n1i": [10, 10], "ci": [2, 2], "n2i": [10, 10]},
         r"ai is negative \(-1\); a count of people or events cannot be negative$"),
    ],
)
def test_bad_tables_name_the_row(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rma_mh(**kwargs, slab=["A", "B"])
