"""rma against closed forms computed here and against metafor's published BCG example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strigil.meta import rma


def _dl_by_hand(yi, vi):
    w = 1 / vi
    mu_fe = np.sum(w * yi) / np.sum(w)
    Q = np.sum(w * (yi - mu_fe) ** 2)
    k = len(yi)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (Q - (k - 1)) / c)
    ws = 1 / (vi + tau2)
    mu = np.sum(ws * yi) / np.sum(ws)
    se = math.sqrt(1 / np.sum(ws))
    return Q, tau2, mu, se, c


def test_dersimonian_laird_equals_its_closed_form(bcg):
    yi, vi, _ = bcg
    Q, tau2, mu, se, _c = _dl_by_hand(yi, vi)
    res = rma(yi, vi, method="DL")
    assert pytest.approx(Q, rel=1e-12) == res.Q
    assert res.tau2 == pytest.approx(tau2, rel=1e-12)
    b = res.beta[0]
    assert b.name == "intrcpt"
    assert b.estimate == pytest.approx(mu, rel=1e-12)
    assert b.se == pytest.approx(se, rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert (b.ci_lb, b.ci_ub) == pytest.approx((mu - z * se, mu + z * se), rel=1e-12)
    assert b.p == pytest.approx(2 * stats.norm.sf(abs(mu / se)), rel=1e-10)
    # I² of the RE model with the "typical" variance (k-1)/c equals Higgins' (Q - df)/Q for DL
    assert pytest.approx(100 * (Q - 12) / Q, rel=1e-12) == res.I2
    assert res.pi_lb == pytest.approx(mu - z * math.sqrt(se**2 + tau2), rel=1e-12)
    assert res.Q_p == pytest.approx(stats.chi2.sf(Q, 12), rel=1e-10)


def test_equal_effects_model_is_the_inverse_variance_mean(bcg):
    yi, vi, _ = bcg
    res = rma(yi, vi, method="EE")
    w = 1 / vi
    assert res.beta[0].estimate == pytest.approx(np.sum(w * yi) / np.sum(w), rel=1e-13)
    assert res.tau2 == 0.0
    assert res.tau2_ci is None
    assert res.to_json()["tau2_ci"] is None


def test_bcg_reml_matches_metafor_documentation(bcg):
    # metafor's rma(yi, vi, data=dat.bcg) output (Viechtbauer, 2010, J Stat Softw 36(3)), 4 decimals
    yi, vi, _ = bcg
    res = rma(yi, vi)
    b = res.beta[0]
    assert res.tau2 == pytest.approx(0.3132, abs=5e-5)
    assert res.tau2_se == pytest.approx(0.1664, abs=5e-5)
    assert b.estimate == pytest.approx(-0.7145, abs=5e-5)
    assert b.se == pytest.approx(0.1798, abs=5e-5)
    assert pytest.approx(92.22, abs=5e-3) == res.I2
    assert pytest.approx(12.86, abs=5e-3) == res.H2
    assert res.tau2_ci == pytest.approx((0.1197, 1.1115), abs=5e-5)


def test_knha_scales_the_variance_and_uses_t_with_k_minus_p_df(bcg):
    yi, vi, _ = bcg
    z = rma(yi, vi, method="REML")
    kh = rma(yi, vi, method="REML", test="knha")
    w = 1 / (vi + z.tau2)
    mu = z.beta[0].estimate
    s2 = np.sum(w * (yi - mu) ** 2) / 12
    assert kh.beta[0].se == pytest.approx(z.beta[0].se * math.sqrt(s2), rel=1e-12)
    assert kh.dist == "t" and kh.df == 12
    crit = stats.t.ppf(0.975, 12)
    assert kh.beta[0].ci_ub - kh.beta[0].estimate == pytest.approx(crit * kh.beta[0].se, rel=1e-12)
    assert kh.pi_ub == pytest.approx(mu + crit * math.sqrt(kh.beta[0].se ** 2 + kh.tau2), rel=1e-12)
    t = rma(yi, vi, test="t")
    assert t.beta[0].se == pytest.approx(z.beta[0].se, rel=1e-12)
    assert t.beta[0].p == pytest.approx(2 * stats.t.sf(abs(t.beta[0].stat), 12), rel=1e-10)


def test_meta_regression_on_latitude(bcg):
    # metafor: rma(yi, vi, mods = ~ ablat, data = dat.bcg) -> 0.2515, -0.0291, tau2 0.0763, R2 75.63%
    yi, vi, ablat = bcg
    res = rma(yi, vi, mods={"ablat": ablat})
    assert [c.name for c in res.beta] == ["intrcpt", "ablat"]
    assert res.beta[0].estimate == pytest.approx(0.2515, abs=5e-5)
    assert res.beta[1].estimate == pytest.approx(-0.0291, abs=5e-5)
    assert res.tau2 == pytest.approx(0.0763, abs=5e-5)
    assert pytest.approx(75.63, abs=5e-3) == res.R2
    assert pytest.approx((res.beta[1].estimate / res.beta[1].se) ** 2, rel=1e-12) == res.QM
    assert res.pi_lb is None and res.QM_df == 1 and res.QM_ddf is None
    kh = rma(yi, vi, mods={"ablat": ablat}, test="knha")
    assert kh.QM_ddf == 11
    assert kh.QM_p == pytest.approx(stats.f.sf(kh.QM, 1, 11), rel=1e-10)


def test_subgroups_fit_separately_and_compare_with_a_fixed_effect_q(bcg):
    yi, vi, ablat = bcg
    group = np.where(ablat > 30, "far", "near")
    res = rma(yi, vi, subgroup=group)
    assert [s.name for s in res.subgroups] == ["far", "near"]  # sorted, as R factor levels
    for s in res.subgroups:
        alone = rma(yi[group == s.name], vi[group == s.name])
        assert s.estimate == pytest.approx(alone.beta[0].estimate, rel=1e-13)
        assert s.tau2 == pytest.approx(alone.tau2, rel=1e-13, abs=1e-15)
    est = np.array([s.estimate for s in res.subgroups])
    w = 1 / np.array([s.se for s in res.subgroups]) ** 2
    qb = np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2)
    assert res.Q_between == pytest.approx(qb, rel=1e-12)
    assert res.Q_between_df == 1
    doc = res.to_json()
    assert {"name", "k", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2"} <= set(doc["subgroups"][0])


def test_predict_and_confint(bcg):
    yi, vi, ablat = bcg
    res = rma(yi, vi, mods={"ablat": ablat})
    pred = res.predict([10.0, 50.0])
    b0, b1 = res.beta[0].estimate, res.beta[1].estimate
    np.testing.assert_allclose(pred.pred, [b0 + 10 * b1, b0 + 50 * b1], rtol=1e-12)
    assert np.all(pred.pi_lb < pred.ci_lb)
    ci = rma(yi, vi).confint()
    assert ci.tau2[1] < ci.tau2[0] < ci.tau2[2]
    assert ci.I2[1] < ci.I2[0] < ci.I2[2]


def test_fixed_tau2_and_refit(bcg):
    yi, vi, _ = bcg
    res = rma(yi, vi)
    fixed = rma(yi, vi, control={"tau2": 0.5})
    w = 1 / (vi + 0.5)
    assert fixed.tau2 == 0.5
    assert fixed.beta[0].estimate == pytest.approx(np.sum(w * yi) / np.sum(w), rel=1e-13)
    sub = res.refit(np.arange(1, 13))
    assert sub.beta[0].estimate == pytest.approx(rma(yi[1:], vi[1:]).beta[0].estimate, rel=1e-13)
    assert res.refit(tau2=0.5).beta[0].estimate == pytest.approx(fixed.beta[0].estimate, rel=1e-13)


def test_user_weights_give_the_weighted_mean_with_a_sandwich_variance(bcg):
    yi, vi, _ = bcg
    a = np.arange(1.0, 14.0)
    res = rma(yi, vi, weights=a, method="DL")
    tau2 = rma(yi, vi, method="DL").tau2  # τ² does not depend on the user weights
    assert res.tau2 == pytest.approx(tau2, rel=1e-13)
    assert res.beta[0].estimate == pytest.approx(np.sum(a * yi) / np.sum(a), rel=1e-13)
    assert res.beta[0].se == pytest.approx(math.sqrt(np.sum(a**2 * (vi + tau2))) / np.sum(a), rel=1e-12)
    np.testing.assert_allclose(res.weight_percent, 100 * a / a.sum(), rtol=1e-14)


def test_level_sets_every_interval(bcg):
    yi, vi, _ = bcg
    r90 = rma(yi, vi, level=90)
    b = r90.beta[0]
    assert b.ci_ub - b.estimate == pytest.approx(stats.norm.ppf(0.95) * b.se, rel=1e-12)
    lo95, hi95 = rma(yi, vi).tau2_ci
    lo90, hi90 = r90.tau2_ci
    assert lo95 < lo90 < r90.tau2 < hi90 < hi95
