"""Everyday analysis against metafor (everyday.json): the DLIT, SJIT, PMM and GENQ estimators of τ²,
moderators given as a formula with a categorical moderator, studies with missing values left out and
counted, and residuals and hat values.

Agreement: 1e-6 relative or 1e-8 absolute; NaN (R's NA) must meet NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, load, numbers

from strigil.meta import rma
from strigil.meta.residuals import hatvalues, residuals, rstandard, rstudent

EVERYDAY = load("everyday")


def _data(name: str) -> dict[str, Any]:
    return {k: v if k == "alloc" else numbers(v) for k, v in EVERYDAY["data"][name].items()}


def _check_fit(res: Any, fit: dict[str, Any], cid: str) -> None:
    for name, ours in (("b", [c.estimate for c in res.beta]), ("se", [c.se for c in res.beta]),
                       ("zval", [c.stat for c in res.beta]), ("pval", [c.p for c in res.beta]),
                       ("ci_lb", [c.ci_lb for c in res.beta]), ("ci_ub", [c.ci_ub for c in res.beta]),
                       ("tau2", res.tau2), ("se_tau2", res.tau2_se), ("QE", res.Q), ("QEp", res.Q_p),
                       ("I2", res.I2), ("H2", res.H2)):
        assert_close(ours, fit[name], f"{cid} {name}")
    assert [c.name for c in res.beta] == list(fit["coef_names"]), cid
    assert res.k == fit["k"]
    if res.moderators:
        assert_close(res.QM, fit["QM"], f"{cid} QM")
        assert_close(res.QM_p, fit["QMp"], f"{cid} QMp")
        assert_close(np.nan if res.R2 is None else res.R2, fit["R2"], f"{cid} R2")


TAU2 = EVERYDAY["tau2"]


@pytest.mark.parametrize("case", TAU2, ids=[c["id"] for c in TAU2])
def test_more_tau2_estimators_match_metafor(case):
    assert case["ok"], case.get("error")
    d = _data(case["data"])
    res = rma(d["yi"], d["vi"], method=case["method"], mods={"mods": d["ablat"]} if case["mods"] else None,
              weights=d[case["weights"]] if case["weights"] else None)
    fit = case["fit"]
    _check_fit(res, {**fit, "coef_names": ["intrcpt", "mods"] if case["mods"] else ["intrcpt"]}, case["id"])
    if "tau2_ci" in fit:
        assert res.tau2_ci is not None
        assert_close(list(res.tau2_ci), fit["tau2_ci"], f"{case['id']} tau2_ci")
    elif case["method"] == "GENQ":
        assert res.tau2_ci is None  # the generalized Q-profile interval is not implemented (documented)


FORMULAS = EVERYDAY["formula"]


@pytest.mark.parametrize("case", FORMULAS, ids=[f"{c['formula']}/{c['method']}" for c in FORMULAS])
def test_formula_moderators_with_categorical_coding_match_metafor(case):
    d = _data("bcg_rr")
    res = rma("yi", "vi", mods=case["formula"], data=d, method=case["method"])
    _check_fit(res, case["fit"], case["formula"])


@pytest.mark.parametrize("case", EVERYDAY["missing"], ids=lambda c: str(c["formula"]))
def test_studies_with_missing_values_are_left_out_as_metafor_does(case):
    d = {k: v if k == "alloc" else numbers(v) for k, v in EVERYDAY["na_data"].items()}
    res = rma("yi", "vi", mods=case["formula"], data=d, method="REML")
    kept = np.array(case["not_na"], dtype=bool)
    assert res.omitted == tuple(np.flatnonzero(~kept).tolist())
    assert res.k == case["k"] and res.k + len(res.omitted) == case["k_all"]
    _check_fit(res, case["fit"], str(case["formula"]))
    if case["formula"] is None:
        assert_close(list(res.tau2_ci or ()), case["fit"]["tau2_ci"], "tau2_ci")


RESID = EVERYDAY["residuals"]


@pytest.mark.parametrize("case", RESID, ids=[f"{c['method']}/{c['mods']}/{c['test']}" for c in RESID])
def test_residuals_and_hat_values_match_metafor(case):
    d = _data("bcg_rr")
    res = rma(d["yi"], d["vi"], method=case["method"], test=case["test"],
              mods={"ablat": d["ablat"]} if case["mods"] else None)
    assert_close(residuals(res), case["residuals"], "residuals")
    assert_close(residuals(res, "pearson"), case["pearson"], "pearson")
    for name, ours in (("rstandard", rstandard(res)), ("rstudent", rstudent(res))):
        for part in ("resid", "se", "z"):
            assert_close(getattr(ours, part), case[name][part], f"{name} {part}")
    assert_close(hatvalues(res), case["hat"], "hat")
    assert_close(residuals(res, "rstandard"), case["rstandard"]["z"], "residuals(type=rstandard)")
