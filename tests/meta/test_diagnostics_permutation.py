"""Permutation tests against metafor: exact ones to the digit, Monte Carlo ones within their error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metafor_reference import assert_close, fit_case, load, numbers

from strigil.meta import rma
from strigil.meta.permutation import permutest

CASES = load("diagnostics")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_permutest_matches_metafor(case):
    ref = case["permutest"]
    assert ref["ok"], ref
    res = fit_case(case)
    if ref["exact"]:
        got = permutest(res)
        assert got.exact and got.iter == int(ref["exact_iter"])
        assert_close(got.pval, ref["pval"], "exact permutation p")
        assert_close(got.QMp, ref["QMp"], "exact permutation QMp")
        return
    # Monte Carlo: both metafor's and our p carry binomial error; allow 4 combined SDs
    iters = 1000
    got = permutest(res, iter=iters, seed=20261121)
    assert not got.exact and got.iter == iters
    for p_ours, p_ref in zip((*got.pval, got.QMp), (*numbers(ref["pval"]), float(ref["QMp"])), strict=True):
        p = max(p_ref, 2 / ref["iter"])
        sd = math.sqrt(p * (1 - p) / ref["iter"] + p * (1 - p) / iters)
        assert abs(p_ours - p_ref) <= 4 * sd + 1e-12, (p_ours, p_ref)


def test_monte_carlo_is_reproducible_with_a_seed():
    y = np.array([0.3, 0.1, 0.5, 0.2, 0.4, 0.6, 0.0, 0.35, 0.25, 0.45, 0.15])
    v = np.full(11, 0.02)
    res = rma(y, v)
    a = permutest(res, iter=300, seed=7)
    b = permutest(res, iter=300, seed=7)
    assert a == b
    assert not a.exact


def test_exact_sign_flip_p_is_a_multiple_of_one_over_two_to_the_k():
    res = rma([0.4, 0.5, 0.3, 0.6], [0.01, 0.02, 0.01, 0.02], method="DL")
    got = permutest(res)
    assert got.exact and got.iter == 16
    # all effects positive: only "all +" and "all −" are as extreme as the data
    assert got.pval[0] == pytest.approx(2 / 16)


def test_permutest_refuses_too_few_iterations():
    with pytest.raises(ValueError, match="iter must be at least 2"):
        permutest(rma([0.1, 0.2, 0.3], [0.01, 0.01, 0.01]), iter=1)
