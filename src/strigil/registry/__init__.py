"""strigil.registry — practice-based evidence from the clinic registry.

- `lmer` (lmer): the same models written as in lme4, `lmer("pain ~ dose * session + (1 + session | patient)",
  data)`, with `summary()`, `fixef`, `ranef()`, `predict()`, `confint()`, `logLik`/`AIC`/`BIC` and `anova()`.
- `fit_growth_model` (growth_model): linear mixed-effects growth models, Strigil's own solver
  (`mixed_model`, validated against lme4), random intercept and slope per patient, optionally a random
  intercept per clinic (nested or crossed).
- `sessions_to_improvement`, `kaplan_meier`, `cox_model` (time_to_improvement): sessions until the MCID.
- `fit_site_summary`, `pool_sites` (federated): two-stage pooling across clinics without moving patient rows.
- `fit_exact_growth` (exact_growth), `fit_exact_cox`, `pool_kaplan_meier` (exact_survival): exact pooling from
  per-clinic aggregates, equal to the fit of all participating clinics' rows (docs/federated.md).
- `generate_registry` (generator): synthetic registries with known truth.
- `strigil.registry.report.render_report` with `plots`: the HTML report (import it from there: it loads
  matplotlib, which the rest of the package does not need).
"""

from strigil.registry.disclosure import MIN_PATIENTS
from strigil.registry.exact_growth import GrowthModelSpec, fit_exact_growth
from strigil.registry.exact_survival import ImprovementSpec, fit_exact_cox, pool_kaplan_meier
from strigil.registry.federated import PooledResult, SiteTooSmall, fit_site_summary, pool_sites
from strigil.registry.generator import RegistryTruth, SyntheticRegistry, generate_registry
from strigil.registry.growth_model import fit_growth_model, growth_design
from strigil.registry.likelihood import LikelihoodRatioTests
from strigil.registry.lmer import lmer
from strigil.registry.mixed_model import MixedModelFit, fit_mixed_model
from strigil.registry.profile import Intervals
from strigil.registry.random_effects import RandomEffects
from strigil.registry.time_to_improvement import (
    Mcid,
    catalogue_mcid,
    cox_model,
    kaplan_meier,
    sessions_to_improvement,
)

__all__ = [
    "MIN_PATIENTS",
    "GrowthModelSpec",
    "ImprovementSpec",
    "Intervals",
    "LikelihoodRatioTests",
    "Mcid",
    "MixedModelFit",
    "PooledResult",
    "RandomEffects",
    "RegistryTruth",
    "SiteTooSmall",
    "SyntheticRegistry",
    "catalogue_mcid",
    "cox_model",
    "fit_exact_cox",
    "fit_exact_growth",
    "fit_growth_model",
    "fit_mixed_model",
    "fit_site_summary",
    "generate_registry",
    "growth_design",
    "kaplan_meier",
    "lmer",
    "pool_kaplan_meier",
    "pool_sites",
    "sessions_to_improvement",
]
