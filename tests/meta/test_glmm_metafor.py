"""The binomial-normal and Poisson-normal models (rma_glmm) against metafor's rma.glmm(model="UM.RS") fitted
with lme4 (metafor's default) and with glmmTMB (glmm.json): BCG (also with latitude as moderator),
Nielweise 2007 (a trial without events), Collins 1985a (missing counts), Yusuf 1985 table 6 (τ² at zero),
Nielweise 2008 (person-time) and seeded person-time data with zero counts.

Agreement: 1e-4 relative (the bar for GLMMs) for everything against glmmTMB, which maximises the same
Laplace approximation with exact derivatives; and for the estimates, τ², σ², the likelihood-ratio test
and log-likelihood against lme4. lme4's standard errors come from a finite-difference Hessian of an
objective it evaluates with the weights of the next-to-last PIRLS step (off by up to 1e-5 near the
optimum): they are compared at 1e-2, its Wald tests of heterogeneity (a Hessian over k + 2 parameters)
at 5e-2. The Laplace deviance itself is compared
at lme4's own parameters to 1e-7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, load, number, numbers

from strigil.meta import counts, glmm
from strigil.meta.glmm import rma_glmm

CASES = load("glmm")["cases"]
TABLES = load("binary")["tables"]
REL = 1e-4
CELLS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "t1i", "x2i", "t2i")


def _cells(name: str) -> dict[str, Any]:
    return {c: numbers(v) for c, v in TABLES[name]["columns"].items()}


def _fit(case: dict[str, Any]) -> glmm.GLMMResult:
    cols = _cells(case["table"])
    mods = {m: cols[m] for m in case["mods"] or []}
    cells = {c: v for c, v in cols.items() if c in CELLS}
    return rma_glmm(**cells, measure=case["measure"], mods=mods or None, slab=TABLES[case["table"]]["slab"])


@pytest.fixture(scope="module")
def fits() -> dict[str, glmm.GLMMResult]:
    out: dict[str, glmm.GLMMResult] = {}
    for c in CASES:
        key = f"{c['table']}/{c['measure']}/{c['mods']}"
        if key not in out:
            out[key] = _fit(c)
    return out


def _ours(case: dict[str, Any], fits: dict[str, glmm.GLMMResult]) -> glmm.GLMMResult:
    return fits[f"{case['table']}/{case['measure']}/{case['mods']}"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_glmm_matches_metafor(case, fits):
    assert case["ok"], case.get("error")
    res, fit, cid = _ours(case, fits), case["fit"], case["id"]
    exact = case["package"] == "glmmTMB"
    assert res.converged, res.notes
    assert res.k == fit["k"]
    assert_close([c.estimate for c in res.beta], fit["b"], f"{cid} b", rel=REL, abs_=1e-6)
    # τ² at the boundary: the optimisers stop near 0 (1e-16, 1e-21), so compare absolutely there
    assert_close(res.tau2, fit["tau2"], f"{cid} tau2", rel=REL, abs_=1e-8)
    assert_close(res.sigma2, fit["sigma2"], f"{cid} sigma2", rel=REL)
    assert_close(res.QE_LRT, fit["QE_LRT"], f"{cid} QE_LRT", rel=REL)
    assert_close(res.QE_LRT_p, fit["QEp_LRT"], f"{cid} QEp_LRT", rel=REL, abs_=1e-12)
    assert_close(res.logLik, fit["ll"], f"{cid} logLik", rel=1e-7)
    assert_close(res.I2, fit["I2"], f"{cid} I2", rel=REL, abs_=1e-6)
    assert_close(res.H2, fit["H2"], f"{cid} H2", rel=REL)
    se_rel = REL if exact else 1e-2
    assert_close([c.se for c in res.beta], fit["se"], f"{cid} se", rel=se_rel)
    # the bounds are b ± 1.96 se: near 0 their relative error is the standard error's, scaled up
    slack = 2 * se_rel * max(c.se for c in res.beta)
    assert_close([c.ci_lb for c in res.beta], fit["ci_lb"], f"{cid} ci_lb", rel=se_rel, abs_=slack)
    assert_close([c.ci_ub for c in res.beta], fit["ci_ub"], f"{cid} ci_ub", rel=se_rel, abs_=slack)
    assert_close(res.QM, fit["QM"], f"{cid} QM", rel=2 * se_rel)
    if res.QE_Wld is None:
        # no finite maximum of the saturated model (an arm without events): its Wald statistic depends on
        # where an optimiser stopped, and strigil reports none
        assert any("no finite maximum" in n for n in res.notes)
        assert np.isfinite(res.QE_LRT)
    else:
        # lme4's Wald statistic rests on its differenced Hessian of the saturated model (k + 2 parameters)
        assert_close(res.QE_Wld, fit["QE_Wld"], f"{cid} QE_Wld", rel=REL if exact else 5e-2)


@pytest.mark.parametrize("case", [c for c in CASES if c["package"] == "lme4" and not c["mods"]],
                         ids=[c["id"] for c in CASES if c["package"] == "lme4" and not c["mods"]])
def test_laplace_deviance_equals_lme4s_at_its_own_parameters(case):
    """The objective itself, free of any optimiser: our Laplace deviance at lme4's (θ, β) of each of the
    three models is lme4's −2 log L."""
    cols = _cells(case["table"])
    if case["measure"] == "OR":
        t = counts.two_by_two(cols["ai"], cols.get("bi"), cols["ci"], cols.get("di"), n1i=cols.get("n1i"),
                              n2i=cols.get("n2i"))
    else:
        t = counts.person_time(cols["x1i"], cols["t1i"], cols["x2i"], cols["t2i"])
    keep = ~t.missing & ~counts.double_zero(t)
    Xs = np.ones((int(keep.sum()), 1))
    t = t.subset(keep)
    poisson, y, n, offset, _, const = glmm._base(t, Xs)
    designs = {"FE": (glmm._design(Xs), np.ones((2, 1))),
               "QE": (glmm._design(Xs, glmm._saturated_columns(Xs)), np.ones((2, 1))),
               "ML": (glmm._design(Xs), np.array([[1.0, 0.5], [1.0, -0.5]]))}
    for name, (X, Z) in designs.items():
        ref = case["fit"]["lme4"][name]
        model = glmm._Model(poisson, y, n, offset, X, Z, const)
        dev = glmm._mode(model, numbers(ref["theta"]), numbers(ref["beta"])).deviance.sum()
        assert dev == pytest.approx(-2 * number(ref["logLik"]), rel=1e-7), f"{case['id']} {name}"


def test_gradient_is_the_derivative_of_the_deviance():
    t = counts.two_by_two(*(numbers(TABLES["bcg"]["columns"][c]) for c in ("ai", "bi", "ci", "di")))
    Xs = np.ones((len(t), 1))
    poisson, y, n, offset, _, const = glmm._base(t, Xs)
    model = glmm._Model(poisson, y, n, offset, glmm._design(Xs), np.array([[1.0, 0.5], [1.0, -0.5]]), const)
    obj = glmm._Objective(model)
    x = np.array([1.2, 0.4, -0.6, -4.0])
    _, grad = obj(x)
    h = 1e-6
    numeric = [(obj.deviance(x + e) - obj.deviance(x - e)) / (2 * h) for e in np.eye(4) * h]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_studies_without_events_are_dropped_and_counted(fits):
    res = _ours(next(c for c in CASES if c["table"] == "yusuf6"), fits)
    assert (res.k_omitted, res.k_double_zero, res.k) == (1, 3, 18)
    doc = res.to_json()
    assert doc["k_double_zero"] == 3 and doc["exp"]["estimate"] == pytest.approx(np.exp(res.beta[0].estimate))
    with pytest.raises(ValueError, match="no events in either arm"):
        rma_glmm(ai=[0, 0], n1i=[10, 12], ci=[0, 0], n2i=[11, 9])


def test_the_coefficient_table_carries_the_ratio_scale_like_the_tables_frame(fits):
    from strigil.meta import rma_mh

    case = next(c for c in CASES if c["table"] == "bcg" and c["measure"] == "OR" and not c["mods"])
    res = _ours(case, fits)
    table = res.to_frame()
    for column in ("estimate", "ci_lb", "ci_ub"):
        assert table[f"exp_{column}"].iloc[0] == pytest.approx(res.to_json()["exp"][column], rel=1e-12)
    assert_close(table["exp_estimate"].iloc[0], float(np.exp(case["fit"]["b"][0])), "exp b", rel=REL)
    mh = rma_mh(**{c: v for c, v in _cells("bcg").items() if c in CELLS}, measure="OR").to_frame()
    assert {"exp_estimate", "exp_ci_lb", "exp_ci_ub"} <= set(table.columns) & set(mh.columns)
