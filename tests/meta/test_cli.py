"""`strigil meta escalc|fit`: the CLI contract (CSV in, CSV or JSON out, errors exit 2)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from strigil.cli import app
from strigil.meta import rma

runner = CliRunner()


@pytest.fixture
def bcg_csv(tmp_path, bcg_counts):
    path = tmp_path / "bcg.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "tpos", "tneg", "cpos", "cneg", "ablat", "zone"])
        for i in range(13):
            zone = "far" if bcg_counts["ablat"][i] > 30 else "near"
            counts = [bcg_counts[n][i] for n in ("tpos", "tneg", "cpos", "cneg", "ablat")]
            w.writerow([f"S{i + 1}", *counts, zone])
    return path


def _escalc(bcg_csv, tmp_path):
    out = tmp_path / "es.csv"
    cells = ["--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"]
    result = runner.invoke(app, ["meta", "escalc", str(bcg_csv), "--measure", "RR", *cells, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_escalc_appends_yi_and_vi_to_every_row(bcg_csv, tmp_path, bcg):
    out = _escalc(bcg_csv, tmp_path)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["study", "tpos", "tneg", "cpos", "cneg", "ablat", "zone", "yi", "vi"]
    np.testing.assert_allclose([float(r["yi"]) for r in rows], bcg[0], rtol=1e-15)
    np.testing.assert_allclose([float(r["vi"]) for r in rows], bcg[1], rtol=1e-15)


def test_escalc_writes_to_stdout_without_output_file(bcg_csv):
    cells = ["--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"]
    result = runner.invoke(app, ["meta", "escalc", str(bcg_csv), "--measure", "OR", *cells])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 13 and "yi" in rows[0]


def test_fit_json_has_the_contract_fields_and_metafor_numbers(bcg_csv, tmp_path, bcg):
    out = _escalc(bcg_csv, tmp_path)
    result = runner.invoke(app, ["meta", "fit", str(out), "--method", "REML", "--test", "z", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    contract = ("k", "method", "test", "dist", "df", "tau2", "tau2_se", "tau2_ci", "I2", "H2", "Q", "Q_df",
                "Q_p", "beta", "pi_lb", "pi_ub")
    for key in contract:
        assert key in doc
    assert doc["k"] == 13 and doc["dist"] == "z" and doc["df"] is None
    expected = rma(bcg[0], bcg[1]).to_json()
    assert doc["tau2"] == pytest.approx(expected["tau2"], rel=1e-12)
    assert doc["tau2_ci"] == pytest.approx(expected["tau2_ci"], rel=1e-12)
    assert doc["beta"][0]["name"] == "intrcpt"


def test_fit_with_moderators_subgroups_and_knha(bcg_csv, tmp_path):
    out = _escalc(bcg_csv, tmp_path)
    result = runner.invoke(app, ["meta", "fit", str(out), "--test", "knha", "--mods", "ablat", "--json"])
    doc = json.loads(result.stdout)
    assert [b["name"] for b in doc["beta"]] == ["intrcpt", "ablat"]
    assert doc["QM_ddf"] == 11 and doc["dist"] == "t" and doc["pi_lb"] is None
    assert doc["R2"] == pytest.approx(75.63, abs=5e-3)
    result = runner.invoke(app, ["meta", "fit", str(out), "--subgroup", "zone", "--json"])
    doc = json.loads(result.stdout)
    assert [s["name"] for s in doc["subgroups"]] == ["far", "near"]
    assert doc["Q_between_df"] == 1 and doc["Q_between"] > 0


def test_fit_dummy_codes_a_text_moderator_like_r(bcg_csv, tmp_path):
    out = _escalc(bcg_csv, tmp_path)
    doc = json.loads(runner.invoke(app, ["meta", "fit", str(out), "--mods", "zone", "--json"]).stdout)
    assert [b["name"] for b in doc["beta"]] == ["intrcpt", "zonenear"]


def test_fit_prints_a_readable_summary_without_json(bcg_csv, tmp_path):
    out = _escalc(bcg_csv, tmp_path)
    result = runner.invoke(app, ["meta", "fit", str(out)])
    assert result.exit_code == 0
    # the printout of the result itself (metafor's layout), not a copy in the command line
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    fitted = rma([float(r["yi"]) for r in rows], [float(r["vi"]) for r in rows])
    assert result.stdout.strip() == str(fitted.summary()).strip()
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in result.stdout


def test_fit_leaves_out_rows_with_missing_values_and_says_so(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("yi,vi\n0.1,0.02\n,0.03\n0.3,0.04\n0.5,0.01\n")
    result = runner.invoke(app, ["meta", "fit", str(path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["k"] == 3
    assert "left out" in result.stderr and "lines [3]" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--yi", "effect"], "--yi 'effect': no such column"),
        (["--method", "XX"], "method 'XX' is not supported"),
        (["--test", "w"], "test 'w' is not supported"),
        (["--mods", "nope"], "--mods 'nope': no such column"),
    ],
)
def test_fit_errors_name_the_field_and_exit_2(tmp_path, args, message):
    path = tmp_path / "m.csv"
    path.write_text("yi,vi\n0.1,0.02\n0.2,0.03\n")
    result = runner.invoke(app, ["meta", "fit", str(path), *args, "--json"])
    assert result.exit_code == 2
    assert message in result.stderr


def test_non_numeric_values_are_reported_with_their_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("yi,vi\n0.1,0.02\nabc,0.03\n")
    result = runner.invoke(app, ["meta", "fit", str(path), "--json"])
    assert result.exit_code == 2
    assert "line 3 has 'abc'" in result.stderr
