"""The vantage6 algorithm on vantage6-algorithm-tools' MockAlgorithmClient with simulated clinics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from clinic_network import NETWORK_FORMULA, network_columns, network_levels, shareable_network_rows
from vantage6.algorithm.decorator import algorithm_client  # noqa: F401  (imported first: vantage6's import order)
from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

from strigil.network import columns_of, prepare_growth_model, prepared_from_frame
from strigil.registry.design import values_of
from strigil.registry.growth_model import fit_growth_model

ROOT = Path(__file__).parents[2]
PATIENT = "1 + session | patient"
MODEL = {"formula": NETWORK_FORMULA, "random": PATIENT, "levels": network_levels()}


@pytest.fixture(autouse=True)
def node_actions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A node starts each container with the action of the function it runs; the mock does not, so here
    every call sets FUNCTION_ACTION from the called function's vantage6 step type, as a node would."""
    import vantage6.algorithm.decorator.action as action

    steps = {
        "data_extraction": "data_extraction",
        "preprocessing": "preprocessing",
        "federated": "federated_compute",
        "central": "central_compute",
    }
    original = MockAlgorithmClient.Task.create

    def create(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        import importlib

        fn = getattr(importlib.import_module(self.parent.module_name), method)
        before = os.environ.get("FUNCTION_ACTION")
        os.environ["FUNCTION_ACTION"] = steps[fn.vantage6_decorator_step_type.value]
        try:
            return original(self, method, *args, **kwargs)
        finally:
            os.environ["FUNCTION_ACTION"] = before or ""

    monkeypatch.setattr(MockAlgorithmClient.Task, "create", create)
    assert action  # the module whose check reads FUNCTION_ACTION
    yield


def _frames() -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(cols) for name, cols in network_columns().items()}


def _run_central(datasets: list[pd.DataFrame], method: str, arguments: dict[str, Any]) -> Any:
    client = MockAlgorithmClient(datasets=[[{"database": d}] for d in datasets], module="strigil.network")
    task = client.task.create(method=method, organizations=[0], arguments=arguments)
    return client.result.from_task(task["id"])[0]


def _prepared(frames: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    os.environ["FUNCTION_ACTION"] = "preprocessing"
    try:
        return [prepare_growth_model(mock_data=[f], model=MODEL).to_pandas() for f in frames.values()]
    finally:
        os.environ["FUNCTION_ACTION"] = ""


def test_exact_growth_model_on_four_simulated_clinics_equals_the_shareable_rows_fit() -> None:
    frames = _frames()
    prepared = _prepared(frames)
    assert prepared_from_frame(prepared[0]).site == "north"
    out = _run_central(prepared, "exact_growth_model", {"model": MODEL})
    assert out["excluded"] == {"tiny": "fewer than 5 patients"}
    clinics = network_columns()
    single = fit_growth_model(
        shareable_network_rows(clinics, ["north", "south", "west"]), NETWORK_FORMULA, [PATIENT]
    )
    b = single.to_json()
    for name, value in b["fixed"].items():
        assert out["fixed"][name] == pytest.approx(value, abs=1e-6, rel=1e-6)
    assert out["sigma"] == pytest.approx(b["sigma"], abs=1e-6)


def test_cox_km_and_two_stage_on_the_mock_network() -> None:
    frames = list(_frames().values())
    model = {
        "outcome": "pain",
        "mcid": 2.0,
        # Two binary covariates: 4 covariate patterns, so most patients fall in cells of at least 5.
        "covariates": ["exercise", "phase"],
        "levels": {"phase": ["acute", "chronic"]},
        "times": [1, 2, 3, 4, 5, 6],
    }
    cox = _run_central(frames, "exact_cox", {"model": model})
    assert cox["converged"] and set(cox["sites"]) == {"north", "south", "west"}
    assert [t["name"] for t in cox["terms"]] == ["exercise", "phase[T.chronic]"]
    assert cox["withheld"] == ["north", "south", "west"]
    km = _run_central(frames, "pooled_kaplan_meier", {"model": model})
    assert km["note"] and len(km["improved"]) == len(km["times"])
    pooled = _run_central(
        frames, "two_stage_pool", {"formula": "pain ~ session + session:minutes", "random": [PATIENT]}
    )
    assert pooled["n_sites"] == 3 and "organization 3" in pooled["excluded"]


def test_bad_coding_at_one_clinic_is_reported_with_its_name() -> None:
    frames = _frames()
    frames["south"]["phase"] = frames["south"]["phase"].str.upper()
    out_of_code = columns_of(frames["south"])
    assert set(values_of(out_of_code["phase"]).tolist()) == {"ACUTE", "CHRONIC"}
    with pytest.raises(Exception, match="clinic 'south': column 'phase' has level"):
        _prepared(frames)


def test_dockerfile_entry_point_imports() -> None:
    text = (ROOT / "deploy" / "vantage6" / "Dockerfile").read_text()
    pkg = re.search(r"^ENV PKG_NAME=(\S+)", text, re.M)
    cmd = re.search(r'^CMD \["python", "-c", "(.+)"\]', text, re.M)
    assert pkg and cmd
    probe = f"import importlib; importlib.import_module({pkg.group(1)!r}); " + cmd.group(1).split(";")[0]
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    import strigil.network as network

    for name in ("exact_growth_model", "growth_model_partial", "prepare_growth_model", "read_registry"):
        assert getattr(getattr(network, name), "vantage6_decorator_step_type", None) is not None, name
