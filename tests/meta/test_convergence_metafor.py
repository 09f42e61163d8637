"""Data sets where metafor's default REML Fisher scoring fails (tests/reference/metafor/convergence.json).

strigil's bracketed search must converge on every one and land where metafor lands with damped
steps and tight settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from strigil.meta import rma, rma_batch

CASES = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "metafor" / "convergence.json").read_text()
)["cases"]


def test_the_fixture_holds_failures_of_metafors_default():
    assert len(CASES) >= 10
    assert all("did not converge" in c["default_error"] for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reml_converges_where_metafor_fails_and_agrees_with_its_damped_solution(case):
    res = rma(np.array(case["yi"]), np.array(case["vi"]), method="REML")
    assert res.converged
    assert res.tau2 == pytest.approx(case["tau2"][0], rel=1e-6, abs=1e-8)
    assert res.tau2_se == pytest.approx(case["se_tau2"][0], rel=1e-6, abs=1e-8)
    assert res.beta[0].estimate == pytest.approx(case["b"][0], rel=1e-6, abs=1e-8)
    assert res.beta[0].se == pytest.approx(case["se"][0], rel=1e-6, abs=1e-8)


def test_the_batch_solver_converges_on_all_of_them_at_once():
    Y = np.array([c["yi"] for c in CASES]).T
    V = np.array([c["vi"] for c in CASES]).T
    batch = rma_batch(Y, V, method="REML")
    assert batch.converged.all()
    np.testing.assert_allclose(batch.tau2, [c["tau2"][0] for c in CASES], rtol=1e-6, atol=1e-8)


BIMODAL = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "metafor" / "convergence.json").read_text()
)["bimodal"]


def test_the_fixture_holds_bimodal_profiles():
    assert len(BIMODAL) >= 2
    assert all(c["score_at_0"][0] <= 0 and c["ll"][0] > c["ll_0"][0] for c in BIMODAL)


@pytest.mark.parametrize("case", BIMODAL, ids=[c["id"] for c in BIMODAL])
def test_reml_finds_the_interior_maximum_when_zero_is_only_a_local_one(case):
    res = rma(np.array(case["yi"]), np.array(case["vi"]), method="REML")
    assert res.tau2 == pytest.approx(case["tau2"][0], rel=1e-6, abs=1e-8)
    assert res.beta[0].estimate == pytest.approx(case["b"][0], rel=1e-6, abs=1e-8)


def test_batch_finds_the_interior_maxima_too():
    Y = np.array([c["yi"] for c in BIMODAL]).T
    V = np.array([c["vi"] for c in BIMODAL]).T
    batch = rma_batch(Y, V, method="REML")
    np.testing.assert_allclose(batch.tau2, [c["tau2"][0] for c in BIMODAL], rtol=1e-6, atol=1e-8)
