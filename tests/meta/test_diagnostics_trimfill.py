"""Trim-and-fill (L0, R0; sides) against metafor (tests/reference/metafor)."""

from __future__ import annotations

import numpy as np
import pytest
from metafor_reference import assert_close, fit_case, load, numbers

from strigil.meta import rma
from strigil.meta.trimfill import trimfill

CASES = [
    (c, t) for c in load("diagnostics")["cases"] if not c.get("mods") for t in c["trimfill"]
]
IDS = [f"{c['id']}/{t['estimator']}/{t.get('side_requested') or 'auto'}" for c, t in CASES]


@pytest.mark.parametrize(("case", "ref"), CASES, ids=IDS)
def test_trimfill_matches_metafor(case, ref):
    res = fit_case(case)
    if not ref["ok"]:  # metafor stops too (e.g. no Egger slope at k = 2): a clear error
        with pytest.raises(ValueError):
            trimfill(res, side=ref.get("side_requested"), estimator=ref["estimator"])
        return
    got = trimfill(res, side=ref.get("side_requested"), estimator=ref["estimator"])
    assert got.side == ref["side"]
    assert got.k0 == ref["k0"]
    assert_close(got.se_k0, ref["se_k0"], "se of k0")
    assert_close(np.nan if got.p_k0 is None else got.p_k0, ref["p_k0"], "p of k0")
    c = got.fit.beta[0]
    for name, value in (("b", c.estimate), ("se", c.se), ("zval", c.stat), ("pval", c.p),
                        ("ci_lb", c.ci_lb), ("ci_ub", c.ci_ub), ("tau2", got.fit.tau2)):
        assert_close(value, ref[name], name)
    fill_y = numbers(ref["fill_yi"]) if ref["fill_yi"] else np.array([])
    fill_v = numbers(ref["fill_vi"]) if ref["fill_vi"] else np.array([])
    assert_close(np.array(got.fill_yi), fill_y, "filled effects")
    assert_close(np.array(got.fill_vi), fill_v, "filled variances")
    doc = got.to_json()
    assert doc["k0"] == got.k0 and doc["k"] == got.fit.k


def test_filled_studies_mirror_the_trimmed_estimate():
    # five precise studies around 0 and three imprecise ones far right: mass is missing on the left
    y = np.array([0.0, 0.05, -0.05, 0.02, -0.02, 0.8, 1.0, 1.2])
    v = np.array([0.01, 0.01, 0.01, 0.01, 0.01, 0.2, 0.25, 0.3])
    got = trimfill(rma(y, v, method="EE"))
    assert got.side == "left"
    assert got.k0 > 0
    assert got.fit.k == len(y) + got.k0
    assert got.estimate < rma(y, v, method="EE").beta[0].estimate


def test_trimfill_refuses_meta_regression_and_bad_options():
    y, v = [0.1, 0.4, 0.2, 0.6], [0.01, 0.02, 0.03, 0.04]
    with pytest.raises(ValueError, match="without moderators"):
        trimfill(rma(y, v, mods=[1.0, 2.0, 3.0, 5.0]))
    with pytest.raises(ValueError, match="estimator 'Q9'"):
        trimfill(rma(y, v), estimator="Q9")
    with pytest.raises(ValueError, match="side 'up'"):
        trimfill(rma(y, v), side="up")
