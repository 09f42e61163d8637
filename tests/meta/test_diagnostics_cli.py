"""`strigil meta diagnose FILE.csv --json`: every diagnostic in one JSON object, numbers as metafor."""

from __future__ import annotations

import csv
import json

import pytest
from metafor_reference import assert_close, dataset, load
from typer.testing import CliRunner

from strigil.cli import app

runner = CliRunner()


def _write(tmp_path, name, rows):
    path = tmp_path / name
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "yi", "vi"])
        w.writerows(rows)
    return path


@pytest.fixture
def bcg_csv(tmp_path):
    d = dataset("bcg_rr")
    return _write(tmp_path, "bcg.csv", zip(d["slab"], d["yi"], d["vi"], strict=True))


def test_diagnose_json_carries_every_diagnostic_with_metafors_numbers(bcg_csv):
    result = runner.invoke(app, ["meta", "diagnose", str(bcg_csv), "--json", "--slab", "study"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"model", "egger", "begg", "trimfill", "leave1out", "cumul", "influence", "baujat"}
    ref = next(c for c in load("diagnostics")["cases"] if c["id"] == "bcg_rr/REML/z/int")
    assert_close(doc["egger"]["zval"], ref["regtest"]["zval"], "Egger z")
    assert_close(doc["begg"]["pval"], ref["ranktest"]["pval"], "Begg p")
    auto_l0 = next(t for t in ref["trimfill"] if t["estimator"] == "L0" and t.get("side_requested") is None)
    assert doc["trimfill"]["k0"] == auto_l0["k0"]
    assert_close(doc["leave1out"]["estimate"], ref["leave1out"]["estimate"], "leave-one-out")
    assert_close(doc["influence"]["cook_d"], ref["influence"]["cook_d"], "Cook's distance")
    assert_close(doc["baujat"]["y"], ref["baujat"]["y"], "Baujat y")
    assert doc["leave1out"]["slab"][0] == "Aronson 1948"


def test_diagnose_reports_what_cannot_run_instead_of_crashing(tmp_path):
    path = _write(tmp_path, "two.csv", [("a", 0.1, 0.01), ("b", 0.5, 0.02)])
    result = runner.invoke(app, ["meta", "diagnose", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "error" in doc["egger"]
    assert doc["leave1out"]["estimate"] == pytest.approx([0.5, 0.1])


def test_diagnose_text_summary(bcg_csv):
    result = runner.invoke(app, ["meta", "diagnose", str(bcg_csv)])
    assert result.exit_code == 0, result.output
    assert "Egger: z = " in result.stdout and "Trim-and-fill:" in result.stdout
