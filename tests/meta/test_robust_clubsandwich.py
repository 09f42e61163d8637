"""Cluster-robust inference against R's clubSandwich (vcovCR, coef_test, conf_int, Wald_test) and
metafor's robust(), on every case of tests/reference/metafor/robust.json."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, number, numbers
from mv_reference import cases, fit_uni, matrix, mv_fit

from strigil.meta import robust
from strigil.meta.robust import VCOV_TYPES

CASES = cases("robust")
COMBOS = [(c, t) for c in CASES for t in VCOV_TYPES]


def _model(case: dict[str, Any]) -> Any:
    spec = case["model"]
    return mv_fit(spec["case"]) if spec["kind"] == "rma_mv" else fit_uni(spec)


@pytest.mark.parametrize(("case", "vtype"), COMBOS, ids=[f"{c['id']}/{t}" for c, t in COMBOS])
def test_vcov_coef_tests_and_intervals(case: dict[str, Any], vtype: str) -> None:
    model = _model(case)
    want = case["types"][vtype]
    res = robust(model, case["cluster"], type=vtype)
    what = f"{case['id']} {vtype}"
    assert_close(res.vcov, matrix(want["vcov"]), what + " vcov")
    assert_close([c.se for c in res.beta], want["SE"], what + " SE")
    assert_close([c.stat for c in res.beta], want["tstat"], what + " t")
    assert_close(res.df, want["df_Satt"], what + " Satterthwaite df")
    assert_close([c.p for c in res.beta], want["p_Satt"], what + " p (Satterthwaite)")
    assert_close([c.ci_lb for c in res.beta], want["CI_L"], what + " CI_L")
    assert_close([c.ci_ub for c in res.beta], want["CI_U"], what + " CI_U")
    for test, key in (("z", "p_z"), ("naive-t", "p_t"), ("naive-tp", "p_tp")):
        assert_close([c.p for c, _ in res.coef_test(test)], want[key], f"{what} p ({test})")
    assert_close([d for _, d in res.coef_test("naive-t")], want["df_t"], what + " df naive-t")
    assert_close([d for _, d in res.coef_test("naive-tp")], want["df_tp"], what + " df naive-tp")


WALDS = [(c, t, i) for c in CASES for t in VCOV_TYPES for i in range(len(c["constraints"]))]


@pytest.mark.parametrize(("case", "vtype", "i"), WALDS, ids=[f"{c['id']}/{t}#{i}" for c, t, i in WALDS])
def test_wald_tests_including_hotelling(case: dict[str, Any], vtype: str, i: int) -> None:
    model = _model(case)
    res = robust(model, case["cluster"], type=vtype)
    C = matrix(case["constraints"][i])
    for test, want in case["types"][vtype]["wald"][i].items():
        got = res.wald_test(C, test)
        what = f"{case['id']} {vtype} {test}"
        assert_close(got.Fstat, want["Fstat"], what + " F")
        assert_close(got.delta, want["delta"], what + " delta")
        assert got.df_num == int(number(want["df_num"]))
        assert_close(got.df_denom, want["df_denom"], what + " df_denom")
        assert_close(got.p, want["p_val"], what + " p")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_metafor_robust_default_is_cr1p_with_naive_tp(case: dict[str, Any]) -> None:
    model = _model(case)
    want = case["metafor"]
    res = robust(model, case["cluster"], type="CR1p", test="naive-tp", wald_test="Naive-Fp")
    assert_close(res.vcov, matrix(want["vb"]), "vb")
    for key, attr in (("se", "se"), ("zval", "stat"), ("pval", "p"), ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")):
        assert_close([getattr(c, attr) for c in res.beta], want[key], f"{case['id']}: {key}")
    assert_close(res.df, np.repeat(numbers(want["dfs"]), len(res.beta)), "dfs")
    assert_close(res.QM.Fstat, want["QM"], "QM")
    assert_close(res.QM.p, want["QMp"], "QMp")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_metafor_robust_with_clubsandwich_is_the_default(case: dict[str, Any]) -> None:
    model = _model(case)
    want = case["metafor_clubSandwich"]
    res = robust(model, case["cluster"])
    assert (res.type, res.test, res.wald_test_name) == ("CR2", "Satterthwaite", "HTZ")
    for key, attr in (("se", "se"), ("zval", "stat"), ("pval", "p"), ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")):
        assert_close([getattr(c, attr) for c in res.beta], want[key], f"{case['id']}: {key}")
    assert_close(res.df, want["dfs"], "dfs")
    assert_close(res.QM.Fstat, want["QM"], "QM")
    qmdf = numbers(want["QMdf"])
    assert res.QM.df_num == int(qmdf[0])
    assert_close(res.QM.df_denom, qmdf[1], "QM df_denom")
    assert_close(res.QM.p, want["QMp"], "QMp")
