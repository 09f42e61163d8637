"""DLIT, SJIT, PMM and GENQ by their defining equations (the metafor comparison is in
test_everyday_metafor.py), and the formula moderators' errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from strigil.meta import rma
from strigil.meta.tau2 import generalized_q


def test_dlit_cycling_case_gets_the_fixed_point():
    # two studies with equal variances: τ² ↦ 49 − τ² cycles between 0 and 49 (metafor stops with an error);
    # the fixed point of the DL map is 24.5
    res = rma([0.0, 10.0], [1.0, 1.0], method="DLIT")
    assert res.tau2 == pytest.approx(24.5, rel=1e-12)


def test_sjit_and_pmm_solve_their_q_equations():
    rng = np.random.default_rng(8)
    v = rng.uniform(0.02, 0.3, 12)
    y = rng.normal(0.2, np.sqrt(v + 0.1))
    pm, sjit, pmm = (rma(y, v, method=m) for m in ("PM", "SJIT", "PMM"))
    assert sjit.tau2 == pytest.approx(pm.tau2, rel=1e-10)  # the iterated SJ fixed point is the PM root
    q = float(generalized_q(y - y.mean(), v, None, pmm.tau2))
    assert q == pytest.approx(special.chdtri(11, 0.5), rel=1e-9)  # Q(τ²) = the χ²₁₁ median
    assert pmm.tau2 > pm.tau2  # the median of χ²₁₁ is below its mean 11


def test_genq_with_inverse_variance_weights_is_dersimonian_laird():
    rng = np.random.default_rng(9)
    v = rng.uniform(0.02, 0.3, 10)
    y = rng.normal(0.2, np.sqrt(v + 0.05))
    genq = rma(y, v, method="GENQ", weights=1 / v)
    assert genq.tau2 == pytest.approx(rma(y, v, method="DL").tau2, rel=1e-12)
    assert genq.tau2_ci is None and genq.to_json()["tau2_ci"] is None
    with pytest.raises(ValueError, match="GENQ needs weights"):
        rma(y, v, method="GENQ")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("dose + technique", "starts with '~'"),
        ("~ dose + nope", "uses nope, which the data do not have"),
        ("~ dose +", "cannot read the formula"),
    ],
)
def test_formula_errors_say_what_is_wrong(formula, message):
    data = {"yi": [0.1, 0.3, 0.2, 0.4], "vi": [0.1] * 4, "dose": [1, 2, 3, 4], "technique": list("abab")}
    with pytest.raises(ValueError, match=message):
        rma("yi", "vi", mods=formula, data=data)


def test_formula_leaves_out_rows_with_a_missing_category():
    data = {"yi": [0.1, 0.3, 0.2, 0.4, 0.5, 0.25], "vi": [0.1] * 6,
            "technique": ["a", "b", None, "b", "a", "b"]}
    res = rma("yi", "vi", mods="~ technique", data=data, method="DL")
    assert res.omitted == (2,) and [c.name for c in res.beta] == ["intrcpt", "techniqueb"]
    with pytest.raises(ValueError, match="needs data"):
        rma([0.1, 0.2], [0.1, 0.1], mods="~ x")
