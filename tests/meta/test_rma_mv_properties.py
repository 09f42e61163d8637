"""Properties of the multilevel engine that need no R: the block algebra equals the dense k × k
formulas, the analytic derivatives equal finite differences, special cases equal rma, the robust
moments equal their definitions, and bad input gets a clear error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strigil.meta import rma, rma_mv, robust, vcalc
from strigil.meta.blocks import BlockLayout
from strigil.meta.multilevel import evaluate

Data = tuple[np.ndarray, np.ndarray, dict[str, list[str]], np.ndarray]


def _three_level(seed: int, trials: int = 12) -> Data:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, trials)
    trial = np.repeat(np.arange(trials), sizes)
    k = trial.size
    effect = np.arange(k)
    u = rng.normal(0, 0.3, trials)[trial]
    vi = rng.uniform(0.01, 0.1, k)
    x = rng.normal(0, 1, k)
    yi = 0.2 + 0.1 * x + u + rng.normal(0, 0.15, k) + rng.normal(0, np.sqrt(vi))
    return yi, vi, {"trial": [f"t{t}" for t in trial], "effect": [str(e) for e in effect]}, x


def _dense_reml(yi: np.ndarray, X: np.ndarray, M: np.ndarray) -> float:
    k, p = X.shape
    W = np.linalg.inv(M)
    A = X.T @ W @ X
    b = np.linalg.solve(A, X.T @ W @ yi)
    r = yi - X @ b
    logdet = [np.linalg.slogdet(m)[1] for m in (X.T @ X, M, A)]
    return float(-0.5 * ((k - p) * math.log(2 * math.pi) - logdet[0] + logdet[1] + logdet[2] + r @ W @ r))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_block_likelihood_equals_the_dense_formula(seed: int) -> None:
    yi, vi, data, x = _three_level(seed)
    res = rma_mv(yi, vi, mods={"x": x}, random="~ 1 | trial/effect", data=data)
    s1, s2 = (c.estimate for c in res.sigma2)
    trial = np.array(data["trial"])
    M = np.diag(vi + s2) + s1 * (trial[:, None] == trial[None, :])
    X = np.column_stack([np.ones_like(x), x])
    assert res.fitstats("REML").logLik == pytest.approx(_dense_reml(yi, X, M), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("struct", ["CS", "HCS", "UN", "AR", "HAR", "DIAG"])
def test_analytic_gradient_and_hessian_equal_finite_differences(struct: str) -> None:
    rng = np.random.default_rng(7)
    trials, outcomes = 15, 3
    trial = np.repeat(np.arange(trials), outcomes)
    outcome = np.tile(np.arange(outcomes), trials)
    keep = rng.random(trial.size) > 0.15
    trial, outcome = trial[keep], outcome[keep]
    k = trial.size
    vi = rng.uniform(0.02, 0.08, k)
    yi = rng.normal(0.3, 0.4, k)
    data = {"trial": trial.tolist(), "outcome": outcome.tolist(), "study": trial.tolist()}
    res = rma_mv(yi, vi, random=["~ 1 | study", "~ outcome | trial"], struct=struct, data=data)
    # a point away from the optimum, where the gradient is not zero
    theta = res.theta.copy()
    kinds = res.model.kinds()
    for i, kind in enumerate(kinds):
        theta[i] = theta[i] * 0.8 + 0.01 if kind != "cor" else 0.6 * theta[i] + 0.1
    free = res.free
    ev = evaluate(res.model, theta, free, order=2)
    assert ev is not None and ev.grad is not None and ev.hess is not None
    h = 1e-6
    for a, i in enumerate(free):
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        e_up, e_down = evaluate(res.model, up, free, order=1), evaluate(res.model, down, free, order=1)
        assert e_up is not None and e_down is not None and e_up.grad is not None and e_down.grad is not None
        assert ev.grad[a] == pytest.approx((e_up.ll - e_down.ll) / (2 * h), rel=1e-5, abs=1e-6)
        column = (e_up.grad - e_down.grad) / (2 * h)
        assert ev.hess[:, a] == pytest.approx(column, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_one_effect_per_study_equals_rma(method: str) -> None:
    rng = np.random.default_rng(3)
    k = 20
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(0.4, np.sqrt(vi + 0.05))
    x = rng.normal(0, 1, k)
    uni = rma(yi, vi, mods={"x": x}, method=method)
    mv = rma_mv(yi, vi, mods={"x": x}, random="~ 1 | study", data={"study": list(range(k))}, method=method)
    assert mv.sigma2[0].estimate == pytest.approx(uni.tau2, rel=1e-8)
    for a, b in zip(mv.beta, uni.beta, strict=True):
        assert a.estimate == pytest.approx(b.estimate, rel=1e-8)
        assert a.se == pytest.approx(b.se, rel=1e-8)
    assert mv.logLik == pytest.approx(uni.fitstats().logLik, rel=1e-10)
    assert mv.AICc == pytest.approx(uni.fitstats().AICc, rel=1e-10)


def test_row_order_does_not_matter() -> None:
    yi, vi, data, x = _three_level(11)
    res = rma_mv(yi, vi, mods={"x": x}, random="~ 1 | trial/effect", data=data)
    perm = np.random.default_rng(1).permutation(yi.size)
    shuffled = rma_mv(yi[perm], vi[perm], mods={"x": x[perm]}, random="~ 1 | trial/effect",
                      data={key: [v[i] for i in perm] for key, v in data.items()})
    assert [c.estimate for c in shuffled.sigma2] == pytest.approx([c.estimate for c in res.sigma2], rel=1e-9)
    assert shuffled.coefficients == pytest.approx(res.coefficients, rel=1e-9)


def test_blocks_are_the_connected_groups_of_effects() -> None:
    # rows 0-1 share a trial, rows 1-2 an outcome that crosses trials, row 3 is alone
    trial = np.array([0, 0, 1, 2], dtype=np.intp)
    lab = np.array([0, 1, 1, 2], dtype=np.intp)
    none = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp))
    layout = BlockLayout.connect(4, none, [trial, lab])
    assert layout.n_blocks == 2
    assert sorted(g.size for g in layout.groups) == [1, 3]
    assert layout.block_of_row.tolist() == [0, 0, 0, 1]


def test_satterthwaite_and_hotelling_moments_equal_their_definitions() -> None:
    # small enough to build the J × J matrices of pairwise cluster terms directly
    yi, vi, data, x = _three_level(5, trials=9)
    res = rma_mv(yi, vi, mods={"x": x}, random="~ 1 | trial/effect", data=data)
    rob = robust(res, data["trial"])
    parts = rob.parts
    M = parts.M
    # clubSandwich's G_j = M E_j D_j' with D_j'D_j = Θ_j, so G_j G_j' = F_j Θ_j F_j'
    G = [np.einsum("jps,jst->jpt", F, np.linalg.cholesky(T))
         for F, T in zip(parts.F, parts.Theta, strict=True)]
    Gs = np.concatenate([np.einsum("jps,jqs->jpq", g, g) for g in G])
    L = np.linalg.cholesky(M)
    Hs = np.concatenate([np.einsum("jpq,qr->jpr", K, L) for K in parts.K])  # (J, p, p)
    for c in np.eye(2):
        P = -np.einsum("p,ipr,jqr,q->ij", c, Hs, Hs, c) + np.diag(np.einsum("p,jpq,q->j", c, Gs, c))
        df = 2 * np.trace(P) ** 2 / (2 * np.sum(P * P))
        assert parts.satterthwaite(c[None])[0] == pytest.approx(df, rel=1e-10)
    # HTZ for both coefficients: ν = q(q + 1) / Σₛₜ Var(dₛₜ) of the Ω^(−1/2)-normalised matrix
    C = np.eye(2)
    P4 = (np.einsum("jab,ij->abij", np.einsum("ap,jpq,bq->jab", C, Gs, C), np.eye(Gs.shape[0]))
          - np.einsum("ap,ipr,jqr,bq->abij", C, Hs, Hs, C))
    omega = np.einsum("abjj->ab", P4)
    w, Q = np.linalg.eigh(omega)
    root = Q @ np.diag(w ** -0.5) @ Q.T
    B = np.einsum("as,stij,tb->abij", root, P4, root)
    var = sum(np.sum(B[s, t] * B[t, s]) + np.sum(B[s, s] * B[t, t]) for s in range(2) for t in range(2))
    assert parts.hotelling_df(C) == pytest.approx(6 / var, rel=1e-10)


def test_an_intercept_only_hotelling_test_is_the_squared_t_test() -> None:
    yi, vi, data, _ = _three_level(8)
    res = rma_mv(yi, vi, random="~ 1 | trial/effect", data=data)
    rob = robust(res, data["trial"])
    assert rob.QM.Fstat == pytest.approx(rob.beta[0].stat ** 2, rel=1e-12)
    assert rob.QM.df_denom == pytest.approx(rob.df[0], rel=1e-10)


# ---- bad input -----------------------------------------------------------------------------------


def test_a_covariance_matrix_that_is_not_positive_definite_is_refused() -> None:
    V = np.array([[0.04, 0.05, 0.0], [0.05, 0.04, 0.0], [0.0, 0.0, 0.03]])  # |r| = 1.25
    with pytest.raises(ValueError, match=r"V is not positive definite: .* at rows \[0, 1\]"):
        rma_mv([0.1, 0.2, 0.3], V)


def test_one_trial_is_refused() -> None:
    with pytest.raises(ValueError, match="needs at least two levels; all 4 effects share the level 'A'"):
        rma_mv([0.1, 0.2, 0.3, 0.4], [0.01] * 4, random="~ 1 | trial", data={"trial": ["A"] * 4})


def test_a_random_term_naming_a_missing_column_is_refused() -> None:
    with pytest.raises(ValueError, match=r"column 'study', which is not in the data \(columns: trial\)"):
        rma_mv([0.1, 0.2, 0.3], [0.01] * 3, random="~ 1 | study", data={"trial": [1, 2, 3]})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"random": "~ 1 trial"}, "is not of the form"),
    ({"random": "~ outcome | trial", "struct": "GEN"}, "struct 'GEN' is not supported"),
    ({"method": "DL"}, "method 'DL' is not supported for rma_mv"),
    ({"test": "knha"}, r"knha is for rma"),
    ({"random": "~ 1 | trial", "sigma2": -1}, "must be >= 0"),
    ({"random": "~ 1 | trial", "sigma2": [0.1, 0.2]}, "has 2 values but the model has 1"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    data = {"trial": [1, 1, 2, 2, 3, 3], "outcome": ["a", "b"] * 3}
    with pytest.raises(ValueError, match=message):
        rma_mv([0.1, 0.2, 0.3, 0.4, 0.2, 0.1], [0.01] * 6, data=data, **kwargs)


def test_robust_needs_clusters_that_nest_the_model() -> None:
    yi, vi, data, _ = _three_level(2)
    res = rma_mv(yi, vi, random="~ 1 | trial/effect", data=data)
    with pytest.raises(ValueError, match="clusters must nest the model"):
        robust(res, data["effect"])
    with pytest.raises(ValueError, match="at least two clusters"):
        robust(res, ["all"] * yi.size)


def test_vcalc_output_is_a_sampling_covariance_for_rma_mv() -> None:
    yi, vi, data, _ = _three_level(4)
    V = vcalc(vi, data["trial"], obs=data["effect"], rho=0.5)
    res = rma_mv(yi, V, random="~ 1 | trial/effect", data=data)
    assert res.converged and res.k == yi.size
    dense = rma_mv(yi, V.to_dense(), random="~ 1 | trial/effect", data=data)
    assert dense.coefficients == pytest.approx(res.coefficients, rel=1e-10)


def test_missing_values_are_refused_naming_the_rows() -> None:
    data = {"trial": [1, 1, 2, 2]}
    with pytest.raises(ValueError, match=r"yi has missing or non-finite values at rows \[2\]"):
        rma_mv([0.1, 0.2, math.nan, 0.3], [0.01] * 4, random="~ 1 | trial", data=data)
    with pytest.raises(ValueError, match=r"mods has missing or non-finite values at rows \[1\]"):
        rma_mv([0.1, 0.2, 0.4, 0.3], [0.01] * 4, mods={"x": [1, math.nan, 2, 3]}, random="~ 1 | trial",
               data=data)
