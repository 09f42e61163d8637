"""Synthetic registries with known truth, so that tests can check the models recover it.

The generator is pure and seeded: the same `RegistryTruth` and seed give the same rows. The outcome is a
continuous pain-like score (NPRS-like scale, not clipped to 0–10, because clipping would bias the truth that
the recovery tests check). Noise is deliberately not normal (scaled Student t, or a centred skewed gamma),
visits are missing at random, and the dose (`minutes` of IASTM per session) varies between patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PHASES",
    "TECHNIQUES",
    "TRUE_FORMULA",
    "RegistryTruth",
    "SyntheticRegistry",
    "generate_registry",
]

# Stroke names from the domain reference (section 1.4: sweep, J-stroke, strum, scoop); used only as labels.
TECHNIQUES = ("sweep", "strum", "scoop")
PHASES = ("acute", "chronic")


@dataclass(frozen=True)
class RegistryTruth:
    """The chosen true values of a synthetic registry (every effect per session unless named otherwise)."""

    n_clinics: int = 10
    patients_per_clinic: int = 100
    max_sessions: int = 6
    intercept: float = 6.0
    session: float = -0.30
    session_minutes: float = -0.05
    session_exercise: float = -0.20
    baseline_chronic: float = 0.5
    patient_intercept_sd: float = 1.0
    patient_slope_sd: float = 0.15
    patient_corr: float = -0.3
    clinic_intercept_sd: float = 0.5
    residual_sd: float = 0.8
    noise: str = "t"  # "t" (scaled Student t, 5 df), "skewed" (centred gamma) or "normal"
    missing_visit_prob: float = 0.15
    minutes_choices: tuple[int, ...] = (1, 2, 3, 4, 5)
    fixed_names: tuple[str, ...] = field(
        default=("Intercept", "session", "session:minutes", "session:exercise", "phase[T.chronic]")
    )

    def fixed_effects(self) -> dict[str, float]:
        """The true fixed effects, named as formulaic names the columns of the matching formula."""
        values = (
            self.intercept,
            self.session,
            self.session_minutes,
            self.session_exercise,
            self.baseline_chronic,
        )
        return dict(zip(self.fixed_names, values, strict=True))


# The formula whose coefficients are the truth above.
TRUE_FORMULA = "pain ~ session + session:minutes + session:exercise + phase"


@dataclass(frozen=True)
class SyntheticRegistry:
    """Generated long table (one row per measurement) and the truth it came from."""

    columns: dict[str, np.ndarray]
    truth: RegistryTruth
    formula: str = TRUE_FORMULA

    @property
    def n_rows(self) -> int:
        """Number of measurement rows."""
        return len(self.columns["pain"])

    def to_frame(self) -> Any:
        """The long table as a pandas DataFrame (one row per measurement)."""
        import pandas as pd

        return pd.DataFrame(self.columns)


def _noise(rng: np.random.Generator, kind: str, sd: float, size: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, sd, size)
    if kind == "t":
        df = 5.0
        # Var(t_df) = df / (df - 2); rescale so the residual SD is the chosen one.
        return rng.standard_t(df, size) * sd / np.sqrt(df / (df - 2.0))
    if kind == "skewed":
        shape = 2.0  # gamma(2) has skewness sqrt(2); centre and scale to mean 0, SD sd
        return (rng.gamma(shape, 1.0, size) - shape) * sd / np.sqrt(shape)
    raise ValueError(f"noise={kind!r} is not known; allowed: 'normal', 't', 'skewed'")


def generate_registry(truth: RegistryTruth | None = None, seed: int = 0) -> SyntheticRegistry:
    """Generate a registry from `truth` with a seeded random generator (pure: no I/O)."""
    t = truth or RegistryTruth()
    rng = np.random.default_rng(seed)
    n_pat = t.n_clinics * t.patients_per_clinic
    n_ses = t.max_sessions
    clinic_of = np.repeat(np.arange(t.n_clinics), t.patients_per_clinic)
    clinic_effect = rng.normal(0.0, t.clinic_intercept_sd, t.n_clinics)
    cov = np.array(
        [
            [t.patient_intercept_sd**2, t.patient_corr * t.patient_intercept_sd * t.patient_slope_sd],
            [t.patient_corr * t.patient_intercept_sd * t.patient_slope_sd, t.patient_slope_sd**2],
        ]
    )
    b = rng.multivariate_normal(np.zeros(2), cov, n_pat)
    minutes = rng.choice(np.asarray(t.minutes_choices), n_pat)
    exercise = rng.integers(0, 2, n_pat)
    chronic = rng.integers(0, 2, n_pat)
    technique = rng.integers(0, len(TECHNIQUES), n_pat)

    pat = np.repeat(np.arange(n_pat), n_ses)
    session = np.tile(np.arange(n_ses), n_pat).astype(float)
    # Missing visits at random; the baseline visit (session 0) is always recorded.
    keep = (session == 0) | (rng.random(n_pat * n_ses) >= t.missing_visit_prob)
    pat, session = pat[keep], session[keep]
    days = session * 3.5 + rng.integers(0, 3, len(session)) * (session > 0)
    mu = (
        t.intercept
        + t.session * session
        + t.session_minutes * session * minutes[pat]
        + t.session_exercise * session * exercise[pat]
        + t.baseline_chronic * chronic[pat]
        + b[pat, 0]
        + b[pat, 1] * session
        + clinic_effect[clinic_of[pat]]
    )
    pain = mu + _noise(rng, t.noise, t.residual_sd, len(mu))
    columns = {
        "patient": np.char.add("P", np.char.zfill(pat.astype(str), 6)),
        "clinic": np.char.add("C", np.char.zfill(clinic_of[pat].astype(str), 3)),
        "session": session,
        "days": days,
        "minutes": minutes[pat].astype(float),
        "exercise": exercise[pat].astype(float),
        "phase": np.asarray(PHASES)[chronic[pat]],
        "technique": np.asarray(TECHNIQUES)[technique[pat]],
        "pain": pain,
    }
    return SyntheticRegistry(columns=columns, truth=t)
