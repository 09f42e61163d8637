"""Log-likelihoods, deviances, AIC/BIC/AICc, BLUPs and anova of rma fits against metafor
(tests/reference/metafor/rma_extras.json)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, numbers
from mv_reference import cases, fit_uni, matrix

from strigil.meta import anova, blup, fitstats

CASES = cases("rma_extras")
IDS = [c["id"] for c in CASES]
FITS = {c["id"]: c for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fit_statistics(case: dict[str, Any]) -> None:
    res = fit_uni(case)
    assert_close([c.estimate for c in res.beta], case["b"], "b (the same fit)")
    fs = case["fit_stats"]
    for method in ("ML", "REML"):
        got = fitstats(res, method)
        assert got.parms == fs["parms"]
        for key, value in (("ll", got.logLik), ("dev", got.deviance), ("AIC", got.AIC), ("BIC", got.BIC),
                           ("AICc", got.AICc)):
            assert_close(value, fs[method][key], f"{case['id']}: {method} {key}")
    default = "REML" if case["method"] == "REML" else "ML"
    assert res.fitstats() == fitstats(res, default)


BLUPS = [c for c in CASES if c.get("blup")]


@pytest.mark.parametrize("case", BLUPS, ids=[c["id"] for c in BLUPS])
def test_blup(case: dict[str, Any]) -> None:
    got = blup(fit_uni(case))
    for key in ("pred", "se", "pi_lb", "pi_ub"):
        assert_close(getattr(got, key), case["blup"][key], f"{case['id']}: blup {key}")


WALD = [(c, i) for c in CASES for i in range(len(c.get("wald") or []))]


@pytest.mark.parametrize(("case", "i"), WALD, ids=[f"{c['id']}#{i}" for c, i in WALD])
def test_wald(case: dict[str, Any], i: int) -> None:
    res = fit_uni(case)
    want = case["wald"][i]
    if "btt" in want:
        got = anova(res, btt=[int(b) - 1 for b in numbers(want["btt"])])
    else:
        got = anova(res, L=matrix(want["L"]))
        assert_close(got.estimate, want["Xb"], "Xb")
        assert_close(got.se, want["se"], "se")
        assert_close(got.p, want["pval"], "pval")
    assert_close(got.QM, want["QM"], "QM")
    assert_close(got.QM_p, want["QMp"], "QMp")


LRT = [(c, i) for c in CASES for i in range(len(c.get("lrt") or []))]


@pytest.mark.parametrize(("case", "i"), LRT, ids=[f"{c['id']}#{i}" for c, i in LRT])
def test_likelihood_ratio(case: dict[str, Any], i: int) -> None:
    want = case["lrt"][i]
    got = anova(fit_uni(case), fit_uni(FITS[want["reduced"]]))
    assert_close(got.LRT, want["LRT"], "LRT")
    assert_close(got.p, want["pval"], "p")
    assert (got.full.parms, got.reduced.parms) == (want["parms_f"], want["parms_r"])


def test_reml_comparison_of_different_fixed_effects_is_refused() -> None:
    full, reduced = fit_uni(FITS["bcg/REML/ablat"]), fit_uni(FITS["bcg/REML/int"])
    with pytest.raises(ValueError, match="refit both models with method='ML'"):
        anova(full, reduced)


def test_lrt_needs_the_same_effects() -> None:
    a = fit_uni(FITS["bcg/ML/int"])
    spec = dict(FITS["bcg/ML/ablat"])
    spec["yi"] = list(np.array(numbers(spec["yi"])) + 0.1)
    with pytest.raises(ValueError, match="same effects"):
        anova(fit_uni(spec), a)


def test_the_rma_json_carries_the_fit_statistics_of_its_method() -> None:
    case = FITS["bcg/REML/ablat"]
    doc = fit_uni(case).to_json()
    want = case["fit_stats"]["REML"]
    assert_close([doc["logLik"], doc["deviance"], doc["AIC"], doc["BIC"], doc["AICc"]],
                 [want["ll"], want["dev"], want["AIC"], want["BIC"], want["AICc"]], "to_json fit statistics")
