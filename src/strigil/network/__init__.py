"""strigil.network — Strigil's registry analytics as a vantage6 algorithm (needs the `vantage6` extra).

A vantage6 node imports this package (PKG_NAME=strigil.network) and calls its functions by name:

- data extraction: `read_registry` (a clinic's long CSV into the session);
- preprocessing: `prepare_growth_model` (per-patient cross-products, kept on the node);
- federated (run at each clinic, return aggregates only): `growth_model_partial`, `improvement_partial`,
  `two_stage_partial`;
- central (run for the researcher, ask the clinics): `exact_growth_model`, `exact_cox`,
  `pooled_kaplan_meier`, `two_stage_pool`.
"""

from strigil.network.algorithm import (
    exact_cox,
    exact_growth_model,
    growth_model_partial,
    improvement_partial,
    pooled_kaplan_meier,
    prepare_growth_model,
    read_registry,
    two_stage_partial,
    two_stage_pool,
)
from strigil.network.frames import columns_of, prepared_from_frame, prepared_to_frame

__all__ = [
    "columns_of",
    "exact_cox",
    "exact_growth_model",
    "growth_model_partial",
    "improvement_partial",
    "pooled_kaplan_meier",
    "prepare_growth_model",
    "prepared_from_frame",
    "prepared_to_frame",
    "read_registry",
    "two_stage_partial",
    "two_stage_pool",
]
