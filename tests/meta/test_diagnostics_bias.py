"""Egger's regression test and Begg's rank test against metafor (tests/reference/metafor)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metafor_reference import assert_close, fit_case, load

from strigil.meta import rma
from strigil.meta.bias import _kendall_exact_p, ranktest, regtest

CASES = [c for c in load("diagnostics")["cases"] if not c.get("mods")]
IDS = [c["id"] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("model", ["rma", "lm"])
def test_regtest_matches_metafor(case, model):
    ref = case["regtest" if model == "rma" else "regtest_lm"]
    res = fit_case(case)
    if not ref["ok"]:  # metafor cannot fit it either (e.g. k = 2): a clear error, not a number
        with pytest.raises(ValueError):
            regtest(res, model=model)
        return
    got = regtest(res, model=model)
    assert_close(got.zval, ref["zval"], "zval")
    assert_close(got.pval, ref["pval"], "pval")
    assert (got.dfs is None) == (ref["dfs"] is None or ref["dfs"] == "NA")
    if got.dfs is not None:
        assert got.dfs == ref["dfs"]
    for name in ("est", "ci_lb", "ci_ub"):
        assert_close(getattr(got, name), ref[name], name)
    assert_close(got.b, ref["fit"]["b"], "coefficients")
    assert_close(got.se, ref["fit"]["se"], "standard errors")
    # JSON carries plain numbers, null where R has NaN (k = number of coefficients)
    assert got.to_json()["zval"] == (got.zval if math.isfinite(got.zval) else None)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ranktest_matches_metafor(case):
    ref = case["ranktest"]
    assert ref["ok"], ref
    got = ranktest(fit_case(case))
    assert_close(got.tau, ref["tau"], "Kendall's tau")
    assert_close(got.pval, ref["pval"], "p-value")


def test_kendall_exact_distribution_sums_to_one_and_is_symmetric():
    # n = 4: 24 orderings; P(T <= 0) = 1/24, two-sided 2/24
    assert _kendall_exact_p(0, 4) == pytest.approx(2 / 24)
    assert _kendall_exact_p(6, 4) == pytest.approx(2 / 24)
    assert _kendall_exact_p(3, 4) == 1.0


def test_regtest_rejects_unknown_options_by_name():
    res = rma([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.03, 0.04])
    with pytest.raises(ValueError, match="model 'glm'"):
        regtest(res, model="glm")
    with pytest.raises(ValueError, match="predictor 'ni'"):
        regtest(res, predictor="ni")


def test_regtest_needs_more_studies_than_coefficients():
    res = rma([0.1, 0.3], [0.01, 0.02])
    with pytest.raises(ValueError, match="more studies"):
        regtest(res)


def test_symmetric_funnel_gives_no_egger_signal():
    # mirror-image studies around 0.3 at each precision: the slope on the SE is exactly zero
    se = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    y = 0.3 + np.array([1, -1, 1, -1, 1, -1]) * se
    got = regtest(rma(y, se**2, method="EE"))
    assert abs(got.zval) < 1e-10
    assert math.isclose(got.pval, 1.0, rel_tol=1e-9)
