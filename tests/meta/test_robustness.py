"""Awkward data give a clear error or a documented value — never a crash, a hang or a wrong number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strigil.meta import rma
from strigil.meta.tau2 import ESTIMATORS


def test_k_equal_one_is_the_study_itself_with_tau2_zero():
    res = rma([0.4], [0.04])
    b = res.beta[0]
    assert (b.estimate, b.se, res.tau2) == (0.4, pytest.approx(0.2), 0.0)
    assert math.isnan(res.tau2_se)  # documented: no standard error without heterogeneity information
    assert (res.Q, res.Q_p, res.I2, res.H2) == (0.0, 1.0, 0.0, 1.0)
    t = rma([0.4], [0.04], test="t")
    assert math.isnan(t.beta[0].p) and math.isnan(t.beta[0].ci_lb)  # zero df: documented NaN
    assert t.to_json()["beta"][0]["p"] is None


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([math.nan, math.nan], [0.1, 0.1], "no study is left: all 2 have a missing"),
        ([0.1, 0.2, 0.3], [0.1, -0.1, 0.1], r"vi must be > 0 .* rows \[1\]"),
        ([0.1, 0.2, 0.3], [0.1, 0.0, 0.1], r"vi must be > 0"),
        ([0.1, 0.2], [0.1, 0.1, 0.1], "yi has 2 values but vi has 3"),
        ([], [], "no studies"),
    ],
)
def test_bad_data_is_a_clear_error(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        rma(yi, vi)


@pytest.mark.parametrize(
    ("yi", "vi"),
    [([0.1, math.nan, 0.3, 0.5], [0.1, 0.1, 0.1, 0.2]), ([0.1, 0.2, 0.3, 0.5], [0.1, math.inf, 0.1, 0.2])],
)
def test_studies_with_missing_values_are_left_out_and_counted(yi, vi):
    """As metafor (na.omit): a study with a missing (or infinite) effect or variance is left out."""
    res = rma(yi, vi)
    ref = rma([0.1, 0.3, 0.5], [0.1, 0.1, 0.2])
    assert res.omitted == (1,) and res.k == 3 and res.to_json()["k_omitted"] == 1
    assert res.beta[0].estimate == ref.beta[0].estimate and res.tau2 == ref.tau2


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="method 'XX' is not supported"):
        rma([0.1, 0.2], [0.1, 0.1], method="XX")
    with pytest.raises(ValueError, match="test 'w' is not supported"):
        rma([0.1, 0.2], [0.1, 0.1], test="w")
    with pytest.raises(ValueError, match="collinear"):
        rma([0.1, 0.2, 0.3, 0.5], [0.1] * 4, mods={"a": [1, 2, 3, 4], "b": [2, 4, 6, 8]})
    with pytest.raises(ValueError, match="needs k > p"):
        rma([0.1, 0.2], [0.1, 0.1], mods={"a": [1, 2]})


@pytest.mark.parametrize("method", ESTIMATORS)
def test_identical_effects_give_tau2_zero_and_no_heterogeneity(method):
    res = rma([0.3] * 6, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], method=method)
    assert res.tau2 == 0.0
    assert pytest.approx(0.0, abs=1e-20) == res.Q
    # metafor's definitions: H² = Q/(k-1) = 0 for an equal-effects model, τ²/ṽ + 1 = 1 otherwise
    assert res.I2 == 0.0 and pytest.approx(0.0 if method in ("EE", "FE") else 1.0) == res.H2
    assert res.beta[0].estimate == pytest.approx(0.3, rel=1e-14)
    if method not in ("EE", "FE"):
        assert res.tau2_ci == (0.0, 0.0)


@pytest.mark.parametrize("method", ["ML", "REML", "EB", "PM"])
def test_iterative_estimators_converge_on_extreme_heterogeneity(method):
    rng = np.random.default_rng(1)
    vi = rng.uniform(1e-4, 1e-3, size=10)
    yi = rng.normal(0, 100, size=10)  # τ² ≈ 10⁴, far above the sampling variances
    res = rma(yi, vi, method=method)
    assert res.converged
    assert 1e3 < res.tau2 < 1e5
    lo, hi = res.tau2_ci
    assert lo < res.tau2 < hi


def test_reml_is_a_maximum_of_the_restricted_likelihood():
    rng = np.random.default_rng(7)
    vi = rng.uniform(0.01, 2.0, size=15)
    yi = rng.normal(0, np.sqrt(vi + 0.3))
    res = rma(yi, vi)

    def ll(t):
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / np.sum(w)
        return -0.5 * (np.sum(np.log(vi + t)) + math.log(np.sum(w)) + np.sum(w * (yi - mu) ** 2))

    grid = np.linspace(0, 3 * max(res.tau2, 0.1), 2001)
    assert ll(res.tau2) >= max(ll(t) for t in grid) - 1e-12


def test_widely_spread_variances_still_converge():
    vi = np.array([1e-8, 1e-4, 1.0, 1e4, 1e2, 1e-6])
    yi = np.array([0.0, 0.5, -1.0, 30.0, 5.0, 0.01])
    for method in ("ML", "REML", "EB", "PM"):
        res = rma(yi, vi, method=method)
        assert res.converged and math.isfinite(res.tau2) and res.tau2 >= 0


def test_knha_with_identical_effects_follows_metafor():
    # metafor sets the scaling factor to 0 when the weighted RSS vanishes: SE 0, interval a point
    res = rma([0.2, 0.2, 0.2], [0.1, 0.2, 0.3], test="knha")
    assert res.beta[0].se == 0.0
    assert res.beta[0].ci_lb == res.beta[0].ci_ub == pytest.approx(0.2)
    assert res.to_json()["beta"][0]["stat"] is None  # infinite statistic → null in JSON
