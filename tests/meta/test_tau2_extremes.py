"""Extreme but finite data: finite estimates or a clear ValueError, never a crash, inf or NaN.

Effects near ±1e123 with variances near 1 used to end in ZeroDivisionError (ML, REML, EB, PM: Σwᵢ²
underflows to 0) or in overflow warnings and NaN standard errors (DL, HS, HE, SJ: τ² squared).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strigil.meta import rma, rma_batch
from strigil.meta.tau2 import ESTIMATORS, estimate_tau2, q_profile_ci

TOO_EXTREME = "too extreme for double-precision arithmetic"
T = TypeVar("T")
HUGE = [1e123, -1e123, 5e122, 0.0, 2e122]


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("mods", [None, [1.0, 2.0, 3.0, 4.0, 5.0]])
def test_effects_near_1e123_are_a_clear_error(method: str, mods: list[float] | None) -> None:
    if method in ("EE", "FE"):
        # no τ² to square: the equal-effects model is still finite
        res = rma(HUGE, [1.0] * 5, method=method, mods=mods)
        assert math.isfinite(res.beta[0].estimate) and math.isfinite(res.Q)
        return
    with pytest.raises(ValueError, match=TOO_EXTREME):
        rma(HUGE, [1.0] * 5, method=method, mods=mods)


@pytest.mark.parametrize("method", [m for m in ESTIMATORS if m not in ("EE", "FE")])
def test_the_estimator_function_itself_gives_the_clear_error(method: str) -> None:
    y = np.array(HUGE)
    with pytest.raises(ValueError, match=TOO_EXTREME):
        estimate_tau2(method, y - y.mean(), np.ones(5))


@pytest.mark.parametrize(
    ("yi", "vi"),
    [
        ([1.0, 2.0, 3.0], [1e-300, 1e-300, 1e-300]),  # weights cubed overflow
        ([1.0, 2.0, 3.0], [1e300, 1e300, 1e300]),  # weights squared underflow to 0
        ([1e300, -1e300, 0.0], [1.0, 1.0, 1.0]),  # Q itself overflows
    ],
)
def test_other_extremes_are_clear_errors(yi: list[float], vi: list[float]) -> None:
    with pytest.raises(ValueError, match=TOO_EXTREME):
        rma(yi, vi, method="REML")


def test_a_batch_with_an_extreme_column_is_a_clear_error() -> None:
    y = np.column_stack([[0.1, 0.3, -0.2, 0.5, 0.0], HUGE])
    with pytest.raises(ValueError, match=TOO_EXTREME):
        rma_batch(y, np.ones_like(y), method="DL")


def test_the_q_profile_interval_gives_the_clear_error() -> None:
    y = np.array(HUGE)
    with pytest.raises(ValueError, match=TOO_EXTREME):
        q_profile_ci(y, np.ones(5), None, 95.0)


def test_large_but_representable_data_still_fit() -> None:
    # effects in the millions with variances near 1: extreme heterogeneity, well inside double precision
    res = rma([1e6, -1e6, 5e5, 0.0, 2e5], [1.0] * 5, method="REML")
    assert res.converged and 1e11 < res.tau2 < 1e13
    assert math.isfinite(res.tau2_se) and all(math.isfinite(x) for x in res.tau2_ci)


def test_the_tau2_interval_survives_a_large_common_offset() -> None:
    # Q(τ²) is computed on centred effects: an offset shared by every study used to swamp it
    assert rma([3e16, 3e16], [10.0, 1.0], method="SJ").tau2_ci == (0.0, 0.0)
    # effects exactly representable after the offset, so only the arithmetic can differ
    yi, vi = np.array([0.125, 0.5, -0.25, 0.875, 0.375]), np.array([0.05, 0.1, 0.02, 0.2, 0.08])
    offset = 2.0**40
    assert np.array_equal(yi + offset - offset, yi)
    lo, hi = rma(yi, vi).tau2_ci
    shifted = rma(yi + offset, vi).tau2_ci
    assert shifted == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))


# Explored with 5000 examples per estimator when written; a few dozen keep the suite fast.
EXAMPLES = 40
# magnitudes anywhere in double precision's range, signs mixed, a few studies
magnitude = st.floats(min_value=-300, max_value=300)
effects = st.lists(
    st.tuples(st.floats(min_value=-9.99, max_value=9.99), magnitude).map(lambda t: t[0] * 10 ** t[1]),
    min_size=2,
    max_size=6,
)


@st.composite
def studies(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    y = draw(effects)
    v = [draw(st.floats(min_value=1.0, max_value=9.99)) * 10 ** draw(magnitude) for _ in y]
    return y, v


@pytest.mark.parametrize("method", ESTIMATORS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=studies())
def test_any_finite_data_give_finite_estimates_or_the_clear_error(
    method: str, data: tuple[list[float], list[float]]
) -> None:
    yi, vi = data
    try:
        res = rma(yi, vi, method=method)
    except ValueError as exc:
        assert TOO_EXTREME in str(exc)
        return
    estimates = [res.tau2, res.Q, res.I2, res.H2, res.beta[0].estimate, res.beta[0].se]
    assert all(math.isfinite(x) for x in estimates), estimates
    assert res.tau2 >= 0
    if method not in ("EE", "FE"):
        assert math.isfinite(res.tau2_se)
        try:
            lo, hi = res.tau2_ci
        except ValueError as exc:
            assert TOO_EXTREME in str(exc)
        else:
            assert 0 <= lo <= hi and math.isfinite(hi)


def _finite_or_clear(fit: Callable[[], T]) -> T | None:
    """Run a fit: its result, or None after checking that the ValueError is the clear one."""
    try:
        return fit()
    except ValueError as exc:
        assert TOO_EXTREME in str(exc)
        return None


@pytest.mark.parametrize("method", ["DL", "SJ", "REML", "PM"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=studies().filter(lambda d: len(d[0]) >= 3),
    slope=st.floats(min_value=-5, max_value=5),
    test=st.sampled_from(["z", "t", "knha"]),
)
def test_a_meta_regression_on_any_finite_data_is_finite_or_the_clear_error(
    method: str, data: tuple[list[float], list[float]], slope: float, test: str
) -> None:
    yi, vi = data
    mods = [slope * i + i * i for i in range(len(yi))]  # a parabola: never constant, so never collinear
    res = _finite_or_clear(lambda: rma(yi, vi, mods=mods, method=method, test=test))
    if res is None:
        return
    values = [res.tau2, res.tau2_se, res.Q] + [x for c in res.beta for x in (c.estimate, c.se)]
    assert all(math.isfinite(x) for x in values), values


@pytest.mark.parametrize("method", ["DL", "HS", "SJ", "ML", "EB"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns=st.lists(studies().filter(lambda d: len(d[0]) >= 3), min_size=1, max_size=3))
def test_a_batch_on_any_finite_data_is_finite_or_the_clear_error(
    method: str, columns: list[tuple[list[float], list[float]]]
) -> None:
    k = min(len(y) for y, _ in columns)
    y = np.array([c[0][:k] for c in columns]).T
    v = np.array([c[1][:k] for c in columns]).T
    res = _finite_or_clear(lambda: rma_batch(y, v, method=method))
    if res is None:
        return
    for values in (res.tau2, res.tau2_se, res.estimate, res.se, res.Q):
        assert np.all(np.isfinite(values)), values
