"""Newton's method in rounds: every round asks for a whole batch of points at once.

In a clinic network each request for the deviance at some θ is a round trip to every clinic (a vantage6
task, or files by e-mail). The number of rounds, not the number of points, is what costs, so each round
asks for the point to try, its finite-difference neighbours (for the Hessian of the exact gradient) and a
shorter step as a fallback, and a Newton step is taken per round. The stopping rules are those of
`strigil.registry.optimise` (the single-database solver), so both stop at the same optimum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from strigil.registry.optimise import DECREMENT_TOL, STEP_TOL, Optimum

__all__ = ["BACKTRACK", "Evaluate", "newton_in_rounds"]

# Step lengths tried in the same round: the Newton step and, should it not decrease enough, a quarter of it.
BACKTRACK = (1.0, 0.25)

# One round: the points to evaluate -> (value, gradient) at each of them.
Evaluate = Callable[[Sequence[np.ndarray]], Sequence[tuple[float, np.ndarray]]]


def _neighbours(x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    h = 1e-5 * np.maximum(np.abs(x), 0.1)
    return [x + h[i] * np.eye(len(x))[i] for i in range(len(x))], h


def _hessian(g: np.ndarray, neighbour_grads: Sequence[np.ndarray], h: np.ndarray) -> np.ndarray:
    H = np.stack([(gn - g) / h[i] for i, gn in enumerate(neighbour_grads)])
    return np.asarray(0.5 * (H + H.T))


def newton_in_rounds(evaluate: Evaluate, x0: np.ndarray, max_rounds: int = 60) -> Optimum:
    """Minimise a smooth function of a few variables whose exact gradient comes with each value.

    Each round evaluates, for every step length in `BACKTRACK`, the trial point and its k neighbours
    (k + 1 points each). `n_evaluations` in the result counts rounds.
    """
    x = np.asarray(x0, dtype=float)
    k = len(x)
    near, h = _neighbours(x)
    first = evaluate([x, *near])
    fx, g = first[0][0], np.asarray(first[0][1])
    H = _hessian(g, [np.asarray(r[1]) for r in first[1:]], h)
    rounds = 1
    converged = False
    while rounds < max_rounds:
        w, U = np.linalg.eigh(H)
        w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
        step = -(U @ ((U.T @ g) / w))
        decrement = float(-(g @ step))
        if decrement < DECREMENT_TOL * max(1.0, abs(fx)) or np.all(np.abs(step) < STEP_TOL):
            converged = True
            break
        batch: list[np.ndarray] = []
        trials = []
        for t in BACKTRACK:
            xt = x + t * step
            near, ht = _neighbours(xt)
            trials.append((t, xt, ht))
            batch += [xt, *near]
        results = evaluate(batch)
        rounds += 1
        accepted = False
        for n, (t, xt, ht) in enumerate(trials):
            part = results[n * (k + 1) : (n + 1) * (k + 1)]
            ft = part[0][0]
            if ft <= fx - 1e-4 * t * decrement:
                gt = np.asarray(part[0][1])
                improvement = fx - ft
                x, fx, g = xt, ft, gt
                H = _hessian(g, [np.asarray(r[1]) for r in part[1:]], ht)
                accepted = True
                if improvement < 1e-12 * max(1.0, abs(fx)) and t == 1.0:
                    converged = True
                break
        if converged:
            break
        if not accepted:
            # No decrease along a Newton direction: at the optimum up to rounding of the function.
            converged = decrement < 1e-8 * max(1.0, abs(fx))
            break
    return Optimum(x=x, fun=fx, converged=converged, n_evaluations=rounds, hessian=H)
