"""Properties that hold for any data: permutation invariance, scale equivariance, batch = one by one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from strigil.meta import rma, rma_batch
from strigil.meta.tau2 import ESTIMATORS

K = st.integers(min_value=3, max_value=12)


@st.composite
def meta_data(draw, k=None):
    k = draw(K) if k is None else k
    yi = draw(arrays(np.float64, k, elements=st.floats(-5, 5, allow_nan=False)))
    vi = draw(arrays(np.float64, k, elements=st.floats(0.01, 4, allow_nan=False)))
    return yi, vi


def _close(a, b, rel=1e-7, abs_=1e-9):
    assert a == pytest.approx(b, rel=rel, abs=abs_, nan_ok=True)  # documented NaN must meet NaN


@settings(max_examples=40, deadline=None)
@given(data=meta_data(), method=st.sampled_from(ESTIMATORS), seed=st.integers(0, 2**32 - 1))
def test_permuting_studies_changes_nothing(data, method, seed):
    yi, vi = data
    perm = np.random.default_rng(seed).permutation(len(yi))
    a, b = rma(yi, vi, method=method), rma(yi[perm], vi[perm], method=method)
    _close(a.tau2, b.tau2)
    _close(a.beta[0].estimate, b.beta[0].estimate)
    _close(a.beta[0].se, b.beta[0].se)
    _close(a.Q, b.Q)
    _close(a.I2, b.I2)


@settings(max_examples=40, deadline=None)
@given(data=meta_data(), method=st.sampled_from(ESTIMATORS), c=st.floats(0.01, 100),
       test=st.sampled_from(["z", "t", "knha"]))
def test_rescaling_scales_estimates_ses_and_tau2(data, method, c, test):
    # yi → c·yi, vi → c²·vi: β̂ and SE scale by c, τ² by c², while Q, I², H² and p-values stay
    yi, vi = data
    a = rma(yi, vi, method=method, test=test)
    b = rma(c * yi, c * c * vi, method=method, test=test)
    _close(b.tau2, c * c * a.tau2, abs_=1e-9 * c * c)
    _close(b.beta[0].estimate, c * a.beta[0].estimate, abs_=1e-9 * c)
    _close(b.beta[0].se, c * a.beta[0].se, abs_=1e-9 * c)
    _close(b.Q, a.Q)
    _close(b.I2, a.I2, abs_=1e-6)
    _close(b.beta[0].p, a.beta[0].p, abs_=1e-9)


@settings(max_examples=25, deadline=None)
@given(k=K, m=st.integers(1, 6), method=st.sampled_from(ESTIMATORS), test=st.sampled_from(["z", "t", "knha"]),
       seed=st.integers(0, 2**32 - 1))
def test_batch_equals_one_by_one(k, m, method, test, seed):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 1.0, size=(k, m))
    yi = rng.normal(0, np.sqrt(vi + rng.uniform(0, 0.5, size=m)))
    batch = rma_batch(yi, vi, method=method, test=test)
    for j in range(m):
        one = rma(yi[:, j], vi[:, j], method=method, test=test)
        b = one.beta[0]
        _close(batch.tau2[j], one.tau2)
        _close(batch.estimate[j], b.estimate)
        _close(batch.se[j], b.se)
        _close(batch.p[j], b.p)
        _close(batch.ci_lb[j], b.ci_lb)
        _close(batch.pi_ub[j], one.pi_ub)
        _close(batch.Q[j], one.Q)
        _close(batch.I2[j], one.I2, abs_=1e-6)
        _close(batch.H2[j], one.H2)
        if method not in ("EE", "FE"):
            _close(batch.tau2_se[j], one.tau2_se)


@settings(max_examples=25, deadline=None)
@given(data=meta_data(), method=st.sampled_from(ESTIMATORS))
def test_moderator_path_with_intercept_only_design_equals_the_fast_path(data, method):
    # a design matrix holding only the intercept, fitted by the general (matrix) code, must agree
    from strigil.meta.rma import fit_design

    yi, vi = data
    fast = rma(yi, vi, method=method)
    general = fit_design(yi, vi, np.ones((len(yi), 1)), ("intrcpt",), method=method)
    _close(general.tau2, fast.tau2)
    if method not in ("EE", "FE"):
        _close(general.tau2_se, fast.tau2_se)
    _close(general.beta[0].se, fast.beta[0].se)
    _close(general.I2, fast.I2, abs_=1e-6)
