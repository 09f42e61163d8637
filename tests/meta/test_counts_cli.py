"""`strigil meta counts|bubble|radial|gosh|residuals` and `meta fit --formula`: CSV in, numbers, plots,
errors naming the line (exit 2)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from metafor_reference import load, numbers
from typer.testing import CliRunner

from strigil.cli import app
from strigil.meta import rma, rma_mh
from strigil.meta.glmm import rma_glmm

runner = CliRunner()
NIELWEISE = load("binary")["tables"]["nielweise2007"]


@pytest.fixture
def tables_csv(tmp_path):
    cols = {k: numbers(v) for k, v in NIELWEISE["columns"].items()}
    path = tmp_path / "crbsi.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "ai", "n1i", "ci", "n2i", "year", "design"])
        for i, s in enumerate(NIELWEISE["slab"]):
            w.writerow([s, *(f"{cols[c][i]:g}" for c in ("ai", "n1i", "ci", "n2i")), 1996 + i % 10,
                        "a" if i % 3 else "b"])
    return path


def _cells():
    return {k: numbers(v) for k, v in NIELWEISE["columns"].items()}


def test_counts_mantel_haenszel_json_matches_the_engine(tables_csv, tmp_path):
    forest, labbe = tmp_path / "forest.svg", tmp_path / "labbe.png"
    args = ["meta", "counts", str(tables_csv), "--model", "MH", "--measure", "OR", "--json",
            "--forest", str(forest), "--labbe", str(labbe), "--subgroup", "design"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.splitlines()[-1])
    ref = rma_mh(**_cells(), measure="OR")
    assert doc["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert (doc["k"], doc["k_double_zero"], doc["k_yi"]) == (18, 1, 17)
    assert doc["tests"]["cmh"]["stat"] == pytest.approx(ref.cmh)
    svg = forest.read_text()
    assert "Subtotal" in svg and "Test for subgroup differences" in svg and "Yucel" in svg
    assert labbe.stat().st_size > 1000


def test_counts_glmm_text_report(tables_csv):
    result = runner.invoke(app, ["meta", "counts", str(tables_csv), "--model", "GLMM"])
    assert result.exit_code == 0, result.output
    ref = rma_glmm(**_cells())
    assert f"{ref.beta[0].estimate:.4f}" in result.stdout and "tau^2" in result.stdout
    assert "1 table(s) without events in either arm left out of the model" in result.stdout
    assert result.stdout.strip() == str(ref.summary()).strip()


def test_counts_name_the_bad_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("study,ai,n1i,ci,n2i\nA,2,10,3,10\nB,12,10,1,10\n")
    result = runner.invoke(app, ["meta", "counts", str(path)])
    assert result.exit_code == 2
    assert "error: row 2 (B): ai (events) is larger than n1i (participants): 12 of 10" in result.stderr
    result = runner.invoke(app, ["meta", "counts", str(path), "--model", "PETO", "--measure", "RR"])
    assert result.exit_code == 2 and "PETO pools OR" in result.stderr


def test_fit_with_a_formula_codes_text_columns_as_r_does(tmp_path):
    path = tmp_path / "es.csv"
    rng = np.random.default_rng(4)
    k = 12
    vi = rng.uniform(0.02, 0.2, k)
    technique = ["graston", "manual", "other"] * 4
    dose = rng.integers(1, 8, k)
    yi = 0.2 + 0.05 * dose + rng.normal(0, np.sqrt(vi))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "yi", "vi", "dose", "technique"])
        for i in range(k):
            w.writerow([f"S{i}", yi[i], vi[i], dose[i] if i != 3 else "NA", technique[i]])
    result = runner.invoke(app, ["meta", "fit", str(path), "--formula", "~ dose + technique", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [b["name"] for b in doc["beta"]] == ["intrcpt", "dose", "techniquemanual", "techniqueother"]
    keep = np.arange(k) != 3
    ref = rma(yi[keep], vi[keep], mods={"dose": dose[keep].astype(float),
                                       "manual": [float(t == "manual") for t in np.array(technique)[keep]],
                                       "other": [float(t == "other") for t in np.array(technique)[keep]]})
    assert doc["k"] == 11 and doc["beta"][1]["estimate"] == pytest.approx(ref.beta[1].estimate, rel=1e-10)
    assert "1 row(s) with missing values left out (lines [5])" in result.stderr


def test_bubble_radial_gosh_and_residuals(tmp_path):
    from strigil.meta import escalc

    es = escalc("OR", **_cells())
    path = tmp_path / "es.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "yi", "vi", "year"])
        for i, s in enumerate(NIELWEISE["slab"]):
            w.writerow([s, es.yi[i], es.vi[i], 1996 + i % 10])
    plots = (("bubble", ["--mods", "year"]), ("radial", []), ("gosh", ["--max-subsets", "300"]))
    for command, extra in plots:
        out = tmp_path / f"{command}.svg"
        result = runner.invoke(app, ["meta", command, str(path), "-o", str(out), *extra])
        assert result.exit_code == 0, (command, result.output)
        assert out.read_text().startswith("<?xml")
    result = runner.invoke(app, ["meta", "residuals", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["hat"]) == len(doc["rstandard"]["z"]) == len(doc["rstudent"]["z"]) == 18
    bad = ["meta", "bubble", str(path), "-o", str(tmp_path / "b.svg"), "--mods", "nope"]
    result = runner.invoke(app, bad)
    assert result.exit_code == 2 and "nope" in result.stderr
