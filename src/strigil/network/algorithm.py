"""The vantage6 functions: thin shells over `strigil.registry`'s exact and two-stage pooling.

Federated functions answer one request of the analyst with aggregates only (see docs/federated.md for every
field); an error in a clinic's data comes back as that clinic's answer `{"error": ...}` naming the clinic,
and the central function raises it. Central functions ask all organisations of the collaboration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vantage6.algorithm.decorator import (
    algorithm_client,
    central,
    data_extraction,
    dataframe,
    federated,
    preprocessing,
)

from strigil.network.frames import columns_of, prepared_from_frame, prepared_to_frame

__all__ = [
    "exact_cox",
    "exact_growth_model",
    "growth_model_partial",
    "improvement_partial",
    "pooled_kaplan_meier",
    "prepare_growth_model",
    "read_registry",
    "two_stage_partial",
    "two_stage_pool",
]


@data_extraction
def read_registry(connection_details: dict[str, Any]) -> Any:
    """Read the clinic's analysis-ready long CSV (one row per measurement) into the session."""
    import pandas as pd

    return pd.read_csv(connection_details["uri"])


@preprocessing
@dataframe(1)
def prepare_growth_model(frame: Any, model: dict[str, Any], site: str | None = None) -> Any:
    """Check the clinic's rows against the agreed model; keep per-patient cross-products on the node."""
    from strigil.registry.exact_growth import GrowthModelSpec, prepare_clinic

    return prepared_to_frame(prepare_clinic(columns_of(frame), GrowthModelSpec.from_json(model), site))


def _error_answer(request: dict[str, Any], exc: Exception) -> dict[str, Any]:
    return {"format": request.get("format"), "kind": request.get("kind"), "error": str(exc)}


@federated
@dataframe(1)
def growth_model_partial(frame: Any, request: dict[str, Any]) -> dict[str, Any]:
    """This clinic's enrolment or deviance pieces at the requested θ (from the prepared session frame)."""
    from strigil.registry.exact_growth import ClinicDataError, answer_request

    try:
        return answer_request(prepared_from_frame(frame), request)
    except ClinicDataError as exc:
        return _error_answer(request, exc)


@federated
@dataframe(1)
def improvement_partial(frame: Any, request: dict[str, Any], site: str | None = None) -> dict[str, Any]:
    """This clinic's enrolment, Cox pieces at the requested β, or Kaplan–Meier band counts."""
    from strigil.registry.exact_growth import ClinicDataError
    from strigil.registry.exact_survival import answer_survival_request

    try:
        return answer_survival_request(columns_of(frame), request, site)
    except ClinicDataError as exc:
        return _error_answer(request, exc)


@federated
@dataframe(1)
def two_stage_partial(
    frame: Any, formula: str, random: list[str], site: str, count_columns: list[str] | None = None
) -> dict[str, Any]:
    """The clinic's own fit as a two-stage site summary (estimates and covariance; small cells withheld)."""
    from strigil.registry.federated import SiteTooSmall, fit_site_summary

    try:
        counts = count_columns or ()
        return fit_site_summary(columns_of(frame), formula, random, site=site, count_columns=counts)
    except SiteTooSmall as exc:
        return {"site": site, "excluded": str(exc)}


def _asker(client: Any, method: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    organizations = [int(o["id"]) for o in client.organization.list()]

    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        task = client.task.create(
            method=method,
            organizations=organizations,
            arguments={"request": request},
            name=f"strigil {request.get('kind')}",
            description="Strigil exact pooling: one round",
        )
        return list(client.wait_for_results(task_id=task["id"]))

    return ask


@central
@algorithm_client
def exact_growth_model(client: Any, model: dict[str, Any]) -> dict[str, Any]:
    """The growth model fitted exactly to every participating clinic's rows (see `strigil.registry`)."""
    from strigil.registry.exact_growth import GrowthModelSpec, fit_exact_growth

    ask = _asker(client, "growth_model_partial")
    return fit_exact_growth(GrowthModelSpec.from_json(model), ask).to_json()


@central
@algorithm_client
def exact_cox(client: Any, model: dict[str, Any]) -> dict[str, Any]:
    """Cox model of sessions to improvement, stratified by clinic, fitted exactly across clinics."""
    from strigil.registry.exact_survival import ImprovementSpec, fit_exact_cox

    return fit_exact_cox(ImprovementSpec.from_json(model), _asker(client, "improvement_partial")).to_json()


@central
@algorithm_client
def pooled_kaplan_meier(client: Any, model: dict[str, Any]) -> dict[str, Any]:
    """Pooled Kaplan–Meier share improved by session, from the clinics' band counts."""
    from strigil.registry.exact_survival import ImprovementSpec, pool_kaplan_meier

    ask = _asker(client, "improvement_partial")
    return pool_kaplan_meier(ImprovementSpec.from_json(model), ask).to_json()


@central
@algorithm_client
def two_stage_pool(client: Any, formula: str, random: list[str]) -> dict[str, Any]:
    """Two-stage pooling of the clinics' own fits (random effects per coefficient)."""
    from strigil.registry.federated import pool_sites

    organizations = [int(o["id"]) for o in client.organization.list()]
    summaries, excluded = [], {}
    for org in organizations:
        task = client.task.create(
            method="two_stage_partial",
            organizations=[org],
            arguments={"formula": formula, "random": random, "site": f"organization {org}"},
            name="strigil two-stage site summary",
            description="Strigil two-stage pooling: one clinic's own fit",
        )
        for answer in client.wait_for_results(task_id=task["id"]):
            if "excluded" in answer:
                excluded[answer["site"]] = answer["excluded"]
            else:
                summaries.append(answer)
    return {**pool_sites(summaries).to_json(), "excluded": excluded}
