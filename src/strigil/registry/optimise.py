"""Minimisers for the profiled deviance: θ has only 3–4 entries, and the deviance is smooth.

`quasi_newton_minimise` uses the exact gradient (BFGS, started from a finite-difference Hessian of that
gradient); `newton_minimise` needs only deviance values (Newton's method with central finite differences).
Both take a Newton-like step with the Hessian made positive definite (absolute eigenvalues) and backtrack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["DECREMENT_TOL", "STEP_TOL", "Optimum", "newton_minimise", "quasi_newton_minimise"]

# Stop when the predicted decrease of the deviance (the Newton decrement) is below this, relative to the
# deviance, or when no entry of θ would move by more than STEP_TOL.
DECREMENT_TOL = 1e-15
STEP_TOL = 1e-10


def _fd_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, list[float]]:
    """Central-difference gradient; also returns f at x ± hᵢeᵢ (reused for the Hessian's diagonal)."""
    k = len(x)
    g = np.empty(k)
    values: list[float] = []
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        fp, fm = f(x + e), f(x - e)
        values += [fp, fm]
        g[i] = (fp - fm) / (2.0 * h[i])
    return g, values


def _fd_hessian(
    f: Callable[[np.ndarray], float], x: np.ndarray, fx: float, h: np.ndarray, values: list[float]
) -> np.ndarray:
    """Central-difference Hessian (the profiled deviance is smooth in θ, also across θᵢᵢ = 0)."""
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        H[i, i] = (values[2 * i] - 2.0 * fx + values[2 * i + 1]) / h[i] ** 2
        for j in range(i):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h[i] * h[j]
            )
    return H


@dataclass(frozen=True)
class Optimum:
    x: np.ndarray
    fun: float
    converged: bool
    n_evaluations: int
    hessian: np.ndarray


def newton_minimise(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    hessian_guess: np.ndarray | None = None,
    max_iter: int = 60,
) -> Optimum:
    """Newton's method with central finite differences, a positive-definite Hessian and backtracking.

    `lower` bounds are kept by projection (the mixed model passes −∞: its deviance is even in each column of
    T, so no bound is needed). With `hessian_guess` (e.g. from a fit on a subset of patients, scaled), the
    Hessian is updated by BFGS instead of recomputed, which needs only the gradient's 2k evaluations per step.
    """
    count = [0]

    def fc(x: np.ndarray) -> float:
        count[0] += 1
        return f(x)

    x = np.maximum(np.asarray(x0, dtype=float), lower)
    fx = fc(x)
    H = hessian_guess
    g_prev: np.ndarray | None = None
    s_prev: np.ndarray | None = None
    converged = False
    for _ in range(max_iter):
        h = 1e-4 * np.maximum(np.abs(x), 0.1)
        g, values = _fd_gradient(fc, x, h)
        if hessian_guess is None:
            H = _fd_hessian(fc, x, fx, h, values)
        elif g_prev is not None and s_prev is not None and H is not None:
            yk = g - g_prev
            sy = float(s_prev @ yk)
            if sy > 1e-12 * float(np.linalg.norm(s_prev) * np.linalg.norm(yk)):
                Hs = H @ s_prev
                H = H - np.outer(Hs, Hs) / float(s_prev @ Hs) + np.outer(yk, yk) / sy
        assert H is not None
        # Variables held at their bound by a gradient pointing outward stay there.
        free = ~((x <= lower) & (g > 0))
        step = np.zeros_like(x)
        if free.any():
            w, U = np.linalg.eigh(H[np.ix_(free, free)])
            w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
            step[free] = -(U @ ((U.T @ g[free]) / w))
        decrement = float(-(g @ step))
        if decrement < DECREMENT_TOL * max(1.0, abs(fx)) or np.all(np.abs(step) < STEP_TOL):
            converged = True
            break
        t = 1.0
        while True:
            x_new = np.maximum(x + t * step, lower)
            f_new = fc(x_new)
            if f_new <= fx + 1e-4 * float(g @ (x_new - x)) or t < 1e-8:
                break
            t *= 0.25
        if f_new > fx:
            # No decrease along a Newton direction: at the optimum up to rounding of the deviance.
            converged = decrement < 1e-8 * max(1.0, abs(fx))
            break
        g_prev, s_prev = g, x_new - x
        improvement = fx - f_new
        x, fx = x_new, f_new
        if improvement < 1e-12 * max(1.0, abs(fx)) and t == 1.0:
            converged = True
            break
    assert H is not None
    return Optimum(x=x, fun=fx, converged=converged, n_evaluations=count[0], hessian=H)


def quasi_newton_minimise(
    fg: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    hessian_guess: np.ndarray | None = None,
    max_iter: int = 100,
) -> Optimum:
    """BFGS with an exact gradient, started from a finite-difference Hessian of that gradient (or a guess)."""
    count = [0]

    def fgc(x: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        return fg(x)

    x = np.asarray(x0, dtype=float)
    fx, g = fgc(x)
    k = len(x)
    if hessian_guess is None:
        h = 1e-5 * np.maximum(np.abs(x), 0.1)
        H = np.empty((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            H[i] = (fgc(x + e)[1] - g) / h[i]
        H = 0.5 * (H + H.T)
    else:
        H = hessian_guess
    converged = False
    for _ in range(max_iter):
        w, U = np.linalg.eigh(H)
        w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
        step = -(U @ ((U.T @ g) / w))
        decrement = float(-(g @ step))
        if decrement < DECREMENT_TOL * max(1.0, abs(fx)) or np.all(np.abs(step) < STEP_TOL):
            converged = True
            break
        t = 1.0
        while True:
            x_new = x + t * step
            f_new, g_new = fgc(x_new)
            if f_new <= fx - 1e-4 * t * decrement or t < 1e-8:
                break
            t *= 0.25
        if f_new > fx:
            # No decrease along a Newton-like direction: at the optimum up to rounding of the deviance.
            converged = decrement < 1e-8 * max(1.0, abs(fx))
            break
        s_k, y_k = x_new - x, g_new - g
        sy = float(s_k @ y_k)
        if sy > 1e-12 * float(np.linalg.norm(s_k) * np.linalg.norm(y_k)):
            Hs = H @ s_k
            H = H - np.outer(Hs, Hs) / float(s_k @ Hs) + np.outer(y_k, y_k) / sy
        x, fx, g = x_new, f_new, g_new
    assert H is not None
    return Optimum(x=x, fun=fx, converged=converged, n_evaluations=count[0], hessian=H)
