"""rma_mv against R's metafor on every case of tests/reference/metafor/rma_mv.json: estimates,
standard errors, tests, variance components, fit statistics, profile-likelihood intervals,
predictions, BLUPs, Wald and likelihood-ratio tests.

Agreement: 1e-6 relative or 1e-8 absolute (metafor's variance components were polished to its
likelihood's optimum by the fixture script, so both sides sit at the same maximum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, number, numbers
from mv_reference import case_ids, cases, matrix, mv_fit

from strigil.meta import anova, fitstats

CASES = cases("rma_mv")
IDS = case_ids("rma_mv")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_coefficients_and_tests(case: dict[str, Any]) -> None:
    res = mv_fit(case["id"])
    f = case["fit"]
    assert [c.name for c in res.beta] == f["coef_names"]
    assert (res.k, res.p) == (f["k"], f["p"])
    assert res.converged
    for key, values in {
        "b": [c.estimate for c in res.beta], "se": [c.se for c in res.beta],
        "zval": [c.stat for c in res.beta], "pval": [c.p for c in res.beta],
        "ci_lb": [c.ci_lb for c in res.beta], "ci_ub": [c.ci_ub for c in res.beta],
    }.items():
        assert_close(values, f[key], f"{case['id']}: {key}")
    assert_close(res.vb, matrix(f["vb"]), f"{case['id']}: vb")
    if f.get("ddf") is not None:
        assert res.df == int(numbers(f["ddf"])[0])
    assert_close(res.QE, f["QE"], "QE")
    assert_close(res.QE_p, f["QEp"], "QEp")
    assert res.QE_df == f["QE_df"]
    assert_close(res.QM, f["QM"], "QM")
    assert_close(res.QM_p, f["QMp"], "QMp")
    assert [b + 1 for b in res.btt] == numbers(f["btt"]).astype(int).tolist()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_variance_components(case: dict[str, Any]) -> None:
    res = mv_fit(case["id"])
    f = case["fit"]
    if f.get("sigma2") is not None:
        assert_close([c.estimate for c in res.sigma2], f["sigma2"], "sigma2")
        assert [c.nlevels for c in res.sigma2] == numbers(f["s_nlevels"]).astype(int).tolist()
        assert [c.name for c in res.sigma2] == f["s_names"]
        assert [c.fixed for c in res.sigma2] == f["sigma2_fixed"]
    else:
        assert res.sigma2 == ()
    if f.get("tau2") is not None:
        assert res.struct == f["struct"]
        assert_close([c.estimate for c in res.tau2], f["tau2"], "tau2")
        assert_close([c.estimate for c in res.rho], f["rho"], "rho")
        assert res.G is not None
        assert_close(res.G, matrix(f["G"]), "G")
        assert list(res.inner_levels) == f["g_levels"]
        assert [c.fixed for c in res.tau2] == f["tau2_fixed"]
        assert [c.fixed for c in res.rho] == f["rho_fixed"]
    else:
        assert res.tau2 == () and res.G is None


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fit_statistics_under_ml_and_reml(case: dict[str, Any]) -> None:
    res = mv_fit(case["id"])
    fs = case["fit"]["fit_stats"]
    assert res.parms == fs["parms"]
    for method in ("ML", "REML"):
        got = res.fitstats(method)
        for key in ("ll", "dev", "AIC", "BIC", "AICc"):
            value = {"ll": got.logLik, "dev": got.deviance, "AIC": got.AIC, "BIC": got.BIC,
                     "AICc": got.AICc}[key]
            assert_close(value, fs[method][key], f"{case['id']}: {method} {key}")
        assert fitstats(res, method) == got  # the module function, as for rma fits
    assert res.logLik == res.fitstats(case["method"]).logLik
    assert fitstats(res) == res.fitstats()


PROFILED = [c for c in CASES if c.get("confint")]


@pytest.mark.parametrize("case", PROFILED, ids=[c["id"] for c in PROFILED])
def test_profile_likelihood_intervals(case: dict[str, Any]) -> None:
    res = mv_fit(case["id"])
    got = res.confint()
    want = case["confint"]
    assert [(g.component, g.position) for g in got] == [(w["comp"], w["pos"]) for w in want]
    for g, w in zip(got, want, strict=True):
        what = f"{case['id']}: {w['comp']}.{w['pos']}"
        assert_close(g.estimate, w["estimate"], what + " estimate")
        # limits on a search bound are that bound; interior limits are roots found to ~1e-10
        assert_close([g.ci_lb, g.ci_ub], [w["ci_lb"], w["ci_ub"]], what + " interval", rel=1e-6, abs_=1e-8)


PREDICTED = [(c, i) for c in CASES for i in range(len(c["predict"]))]


@pytest.mark.parametrize(("case", "i"), PREDICTED, ids=[f"{c['id']}#{i}" for c, i in PREDICTED])
def test_predict(case: dict[str, Any], i: int) -> None:
    res = mv_fit(case["id"])
    want = case["predict"][i]
    newmods = None if want["newmods"] is None else matrix(want["newmods"])
    if newmods is not None and res.p - res.intercept == 1:
        newmods = newmods.reshape(-1, 1)  # R: a vector of values of the one moderator
    levels = want["tau2_levels"]
    pred = res.predict(newmods, tau2_levels=levels)
    for key in ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        assert_close(getattr(pred, key), want[key], f"{case['id']}: predict {key}")


RANEF = [c for c in CASES if c.get("ranef")]


@pytest.mark.parametrize("case", RANEF, ids=[c["id"] for c in RANEF])
def test_ranef_blups(case: dict[str, Any]) -> None:
    res = mv_fit(case["id"])
    got = res.ranef()
    want = case["ranef"]
    assert len(got) == len(want)
    for (name, re), (wname, w) in zip(got.items(), want.items(), strict=True):
        assert name.replace(" ", "") == wname.replace(" ", "")
        assert list(re.levels) == w["levels"]
        for key in ("pred", "se", "pi_lb", "pi_ub"):
            assert_close(getattr(re, key), w[key], f"{case['id']}: ranef {name} {key}")


WALD = [(c, i) for c in CASES for i in range(len(c["wald"]))]


@pytest.mark.parametrize(("case", "i"), WALD, ids=[f"{c['id']}#{i}" for c, i in WALD])
def test_wald_tests(case: dict[str, Any], i: int) -> None:
    res = mv_fit(case["id"])
    want = case["wald"][i]
    if "btt" in want:
        got = anova(res, btt=[int(b) - 1 for b in numbers(want["btt"])])
    else:
        got = anova(res, L=matrix(want["L"]))
        for key, attr in (("Xb", "estimate"), ("se", "se"), ("zval", "stat"), ("pval", "p")):
            assert_close(getattr(got, attr), want[key], f"{case['id']}: {key}")
    assert_close(got.QM, want["QM"], "QM")
    assert_close(got.QM_p, want["QMp"], "QMp")
    qmdf = numbers(want["QMdf"])
    assert got.QM_df == int(qmdf[0])
    assert (got.QM_ddf is None) == np.isnan(qmdf[1])


LRT = [(c, i) for c in CASES for i in range(len(c["lrt"]))]


@pytest.mark.parametrize(("case", "i"), LRT, ids=[f"{c['id']}#{i}" for c, i in LRT])
def test_likelihood_ratio_tests(case: dict[str, Any], i: int) -> None:
    want = case["lrt"][i]
    full, reduced = mv_fit(case["id"]), mv_fit(want["reduced"])
    got = anova(full, reduced)
    assert_close(got.LRT, want["LRT"], "LRT")
    assert_close(got.p, want["pval"], "LRT p")
    assert (got.full.parms, got.reduced.parms) == (want["parms_f"], want["parms_r"])
    # the order of the two models does not matter
    assert anova(reduced, full).LRT == got.LRT


def test_the_cs_form_of_the_three_level_model_is_the_same_model() -> None:
    # Konstantopoulos: ~ 1 | district/school equals ~ school | district with CS (tau2 = sum, rho = share)
    nested = mv_fit("konst/reml/~1|district/school")
    cs = mv_fit("konst/reml/~school|district/CS")
    s1, s2 = (c.estimate for c in nested.sigma2)
    assert cs.tau2[0].estimate == pytest.approx(s1 + s2, rel=1e-8)
    assert cs.rho[0].estimate == pytest.approx(s1 / (s1 + s2), rel=1e-8)
    assert cs.logLik == pytest.approx(nested.logLik, rel=1e-12)
    assert number(cs.beta[0].estimate) == pytest.approx(nested.beta[0].estimate, rel=1e-8)


def test_refit_with_a_component_fixed_equals_metafors_fit_with_it_fixed() -> None:
    case = next(c for c in CASES if c["id"] == "konst/reml/~1|district/school/sigma2_2_fixed")
    refitted = mv_fit("konst/reml/~1|district/school").refit(sigma2=[None, 0.03])
    assert_close([c.estimate for c in refitted.sigma2], case["fit"]["sigma2"], "sigma2")
    assert [c.fixed for c in refitted.sigma2] == [False, True]
    assert_close(refitted.logLik, case["fit"]["fit_stats"]["REML"]["ll"], "logLik")
    as_ml = mv_fit("konst/reml/~1|district/school").refit(method="ML")
    want = next(c for c in CASES if c["id"] == "konst/ml/~1|district/school")["fit"]
    assert_close([c.estimate for c in as_ml.sigma2], want["sigma2"], "ML sigma2")


def test_results_print_short_and_serialise_to_plain_json() -> None:
    import json

    res = mv_fit("berkey/reml/~outcome|trial/UN")
    text = repr(res)
    assert text.startswith("RMAMVResult(k=10, p=2, method=REML, UN: tau2=(") and "\n" not in text
    doc = json.loads(json.dumps(res.to_json(), allow_nan=False))
    assert doc["model"] == "rma.mv" and [c["name"] for c in doc["tau2"]] == ["AL", "PD"]
    assert doc["rho"][0]["name"] == "PD,AL"
    rob = res.robust([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    assert repr(rob).startswith("RobustResult(CR2, 5 clusters, Satterthwaite: outcomeAL=")
    assert json.loads(json.dumps(rob.to_json(), allow_nan=False))["clusters"] == 5


def test_a_data_frame_and_column_names_fit_the_same_model() -> None:
    import pandas as pd

    from strigil.meta import rma_mv

    case = next(c for c in CASES if c["id"] == "konst/reml/~1|district/school")
    frame = pd.DataFrame({"yi": numbers(case["yi"]), "vi": numbers(case["vi"]), **case["columns"]})
    f = case["fit"]
    by_name = rma_mv("yi", "vi", random="~ 1 | district/school", data=frame)
    by_series = rma_mv(frame.yi, frame.vi, random="~ 1 | district/school", data=frame)
    for res in (by_name, by_series):
        assert_close([c.estimate for c in res.beta], f["b"], "b")
        assert_close([c.se for c in res.beta], f["se"], "se")
        assert_close([c.estimate for c in res.sigma2], f["sigma2"], "sigma2")
        assert_close(fitstats(res).logLik, f["fit_stats"]["REML"]["ll"], "logLik")
    labelled = rma_mv("yi", "vi", random="~ 1 | district", data=frame.assign(study=frame.school.astype(str)),
                      slab="study")
    assert labelled.slab is not None and labelled.slab[:2] == ("1", "2")
    with pytest.raises(ValueError, match="'effect' is not a column of the data"):
        rma_mv("effect", "vi", random="~ 1 | district", data=frame)


def test_moderators_as_a_formula_on_the_data_as_in_rma() -> None:
    import pandas as pd
    from mv_reference import sampling_covariance

    from strigil.meta import rma_mv

    case = next(c for c in CASES if c["id"] == "berkey/reml/~outcome|trial/UN")
    frame = pd.DataFrame(case["columns"])
    res = rma_mv(numbers(case["yi"]), sampling_covariance(case), mods="~ 0 + outcome",
                 random="~ outcome | trial", struct="UN", data=frame)  # fmt: skip
    f = case["fit"]
    assert [c.name for c in res.beta] == f["coef_names"] == ["outcomeAL", "outcomePD"]
    assert_close([c.estimate for c in res.beta], f["b"], "b")
    assert_close([c.se for c in res.beta], f["se"], "se")
