"""Properties of the diagnostics that hold for any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from strigil.meta import rma
from strigil.meta.bias import ranktest, regtest
from strigil.meta.influence import influence, leave1out
from strigil.meta.trimfill import trimfill

METHODS = st.sampled_from(["EE", "DL", "REML", "PM"])


@st.composite
def meta_data(draw, min_k=4, max_k=10):
    k = draw(st.integers(min_value=min_k, max_value=max_k))
    yi = draw(arrays(np.float64, k, elements=st.floats(-3, 3, allow_nan=False), unique=True))
    vi = draw(arrays(np.float64, k, elements=st.floats(0.01, 2, allow_nan=False), unique=True))
    return yi, vi


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(data=meta_data(), method=METHODS, seed=st.integers(0, 2**32 - 1))
def test_leave1out_and_influence_follow_the_studies_when_reordered(data, method, seed):
    yi, vi = data
    perm = np.random.default_rng(seed).permutation(len(yi))
    a, b = rma(yi, vi, method=method), rma(yi[perm], vi[perm], method=method)
    _close(leave1out(a).estimate[perm], leave1out(b).estimate)
    ia, ib = influence(a), influence(b)
    for name in ("rstudent", "cook_d", "hat", "tau2_del"):
        _close(getattr(ia, name)[perm], getattr(ib, name))


@settings(max_examples=25, deadline=None)
@given(data=meta_data(), method=METHODS, seed=st.integers(0, 2**32 - 1))
def test_bias_tests_ignore_study_order(data, method, seed):
    yi, vi = data
    perm = np.random.default_rng(seed).permutation(len(yi))
    a, b = rma(yi, vi, method=method), rma(yi[perm], vi[perm], method=method)
    _close(regtest(a).zval, regtest(b).zval)
    _close(ranktest(a).pval, ranktest(b).pval)
    assert trimfill(a, side="left").k0 == trimfill(b, side="left").k0


@settings(max_examples=25, deadline=None)
@given(data=meta_data(), shift=st.floats(-5, 5), scale=st.floats(0.2, 5))
def test_egger_slope_test_is_unchanged_by_shifting_and_rescaling(data, shift, scale):
    # yi -> a yi + c, vi -> a² vi: the SE scales by a, so the slope on the SE is unchanged
    yi, vi = data
    base = regtest(rma(yi, vi, method="EE"), model="lm")
    moved = regtest(rma(scale * yi + shift, scale**2 * vi, method="EE"), model="lm")
    assert moved.zval == pytest.approx(base.zval, rel=1e-6, abs=1e-8)


@settings(max_examples=25, deadline=None)
@given(data=meta_data(), method=METHODS)
def test_mirroring_the_effects_mirrors_trim_and_fill(data, method):
    yi, vi = data
    left = trimfill(rma(yi, vi, method=method), side="left")
    right = trimfill(rma(-yi, vi, method=method), side="right")
    assume(left.k0 < len(yi))
    assert right.k0 == left.k0
    _close(np.sort(right.fill_yi), np.sort(-np.array(left.fill_yi)))
    assert right.estimate == pytest.approx(-left.estimate, rel=1e-6, abs=1e-8)
