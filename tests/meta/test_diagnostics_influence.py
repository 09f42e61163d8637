"""Leave-one-out, cumulative meta-analysis, influence diagnostics and Baujat data against metafor."""

from __future__ import annotations

import numpy as np
import pytest
from metafor_reference import assert_close, dataset, fit_case, load, numbers

from strigil.meta import rma
from strigil.meta.cumulative import cumul
from strigil.meta.influence import baujat, influence, leave1out

ALL = load("diagnostics")["cases"]
INT_ONLY = [c for c in load("diagnostics")["cases"] if not c.get("mods")]
ORDERED = [c for c in INT_ONLY if c.get("cumul_order_by")]
SEQ_FIELDS = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2")


def _check_sequence(got, ref, method):
    assert ref["ok"], ref
    for name in SEQ_FIELDS:
        if name == "tau2" and method in ("EE", "FE"):
            continue  # metafor drops the τ² column for equal-effects models
        assert_close(getattr(got, name), ref[name], name)


@pytest.mark.parametrize("case", INT_ONLY, ids=[c["id"] for c in INT_ONLY])
def test_leave1out_matches_metafor(case):
    _check_sequence(leave1out(fit_case(case)), case["leave1out"], case["method"])


@pytest.mark.parametrize("case", INT_ONLY, ids=[c["id"] for c in INT_ONLY])
def test_cumul_matches_metafor(case):
    _check_sequence(cumul(fit_case(case)), case["cumul"], case["method"])


@pytest.mark.parametrize("case", ALL, ids=[c["id"] for c in ALL])
def test_influence_matches_metafor(case):
    ref = case["influence"]
    assert ref["ok"], ref
    got = influence(fit_case(case))
    for name in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"):
        assert_close(getattr(got, name), ref[name], name)
    assert list(got.dfbs) == list(ref["dfbs"])
    for name, col in got.dfbs.items():
        assert_close(col, ref["dfbs"][name], f"dfbs {name}")
    assert list(got.inf) == ref["inf"]


@pytest.mark.parametrize("case", ALL, ids=[c["id"] for c in ALL])
def test_baujat_matches_metafor(case):
    ref = case["baujat"]
    got = baujat(fit_case(case))
    assert_close(got.x, ref["x"], "x (heterogeneity contribution)")
    assert_close(got.y, ref["y"], "y (influence)")


@pytest.mark.parametrize("case", ORDERED, ids=[c["id"] for c in ORDERED])
def test_cumul_in_a_given_order_matches_metafor(case):
    order = numbers(dataset(case["dataset"])["mods"][case["cumul_order_by"]])
    _check_sequence(cumul(fit_case(case), order=order.tolist()), case["cumul_ordered"], case["method"])


def test_cumul_follows_the_given_order_and_ends_at_the_full_fit():
    y = np.array([0.3, 0.1, 0.5, 0.2])
    v = np.array([0.02, 0.03, 0.01, 0.04])
    res = rma(y, v, method="DL", slab=["a", "b", "c", "d"])
    got = cumul(res, order=[2004, 2001, 2003, 2002])
    assert got.slab == ("b", "d", "c", "a")
    assert got.estimate[0] == pytest.approx(0.1)
    assert got.estimate[-1] == pytest.approx(res.beta[0].estimate, rel=1e-12)


def test_leave1out_of_two_studies_returns_each_study():
    res = rma([0.2, 0.6], [0.01, 0.04])
    got = leave1out(res)
    assert got.estimate.tolist() == pytest.approx([0.6, 0.2])
    assert got.to_json()["slab"] == ["Study 1", "Study 2"]


def test_influence_flags_the_outlier():
    y = np.array([0.21, 0.35, 0.12, 0.28, 0.40, 0.18, 0.25, 0.31, 8.0])
    v = np.full(9, 0.03)
    got = influence(rma(y, v))
    assert got.inf[-1] and not any(got.inf[:-1])
    assert np.argmax(got.rstudent) == 8


def test_diagnostics_refuse_what_they_cannot_do():
    y, v = [0.1, 0.4, 0.2, 0.6], [0.01, 0.02, 0.03, 0.04]
    with pytest.raises(ValueError, match="without moderators"):
        leave1out(rma(y, v, mods=[1.0, 2.0, 3.0, 5.0]))
    with pytest.raises(ValueError, match="order has 3 keys"):
        cumul(rma(y, v), order=[1, 2, 3])
    with pytest.raises(ValueError, match="at least 2 studies"):
        influence(rma([0.3], [0.01]))
