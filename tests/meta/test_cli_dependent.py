"""`strigil meta fit --random/--struct/--V/--rho/--robust`: dependent effects from a CSV, with
metafor's and clubSandwich's numbers (the fixture cases) and one-line errors exiting 2."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, numbers
from mv_reference import cases, matrix, sampling_covariance
from typer.testing import CliRunner

from strigil.cli import app

runner = CliRunner()


def _case(name: str, case_id: str) -> dict[str, Any]:
    return next(c for c in cases(name) if c["id"] == case_id)


def _write(tmp_path: Path, case: dict[str, Any], extra: dict[str, list[Any]] | None = None) -> Path:
    path = tmp_path / "effects.csv"
    cols: dict[str, list[Any]] = {"yi": list(numbers(case["yi"]))}
    if case["vi"] is not None:
        cols["vi"] = list(numbers(case["vi"]))
    else:
        cols["vi"] = list(sampling_covariance(case).diagonal())
    cols.update(case["columns"])
    X = matrix(case["X"])
    names = case["fit"]["coef_names"][1:] if case["intercept"] else case["fit"]["coef_names"]
    if X.size and X.shape[1]:
        for j, n in enumerate(names):
            cols[n] = list(X[:, j])
    cols.update(extra or {})
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        w.writerows(zip(*cols.values(), strict=True))
    return path


def _run(*args: str) -> Any:
    return runner.invoke(app, ["meta", "fit", *args])


def test_three_level_model_with_robust_tests_matches_metafor_and_clubsandwich(tmp_path: Path) -> None:
    case = _case("rma_mv", "konst/reml/t/~1|district/school/year")
    path = _write(tmp_path, case)
    result = _run(str(path), "--random", "~ 1 | district/school", "--mods", "year_c", "--test", "t",
                  "--robust", "district", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    f = case["fit"]
    assert doc["model"] == "rma.mv" and doc["k"] == f["k"]
    assert_close([c["estimate"] for c in doc["sigma2"]], f["sigma2"], "sigma2")
    assert_close([b["estimate"] for b in doc["beta"]], f["b"], "b")
    assert_close([b["se"] for b in doc["beta"]], f["se"], "se")
    assert_close(doc["logLik"], f["fit_stats"]["REML"]["ll"], "logLik")
    assert_close(doc["AICc"], f["fit_stats"]["REML"]["AICc"], "AICc")
    want = _case("robust", "konst/year/district")["metafor_clubSandwich"]
    rob = doc["robust"]
    assert rob["cluster"] == "district" and rob["type"] == "CR2" and rob["clusters"] == 11
    assert_close([b["se"] for b in rob["beta"]], want["se"], "robust se")
    assert_close([b["df"] for b in rob["beta"]], want["dfs"], "Satterthwaite df")
    assert_close(rob["QM"]["p"], want["QMp"], "HTZ p")


def test_multivariate_model_with_a_covariance_file_and_struct(tmp_path: Path) -> None:
    case = _case("rma_mv", "berkey/reml/~outcome|trial/UN")
    path = _write(tmp_path, case)
    V = sampling_covariance(case).to_dense()
    vfile = tmp_path / "V.csv"
    np.savetxt(vfile, V, delimiter=",")
    result = _run(str(path), "--random", "~ outcome | trial", "--struct", "UN", "--V", str(vfile),
                  "--mods", "outcomePD", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["struct"] == "UN" and doc["sampling_covariance"] == "matrix"
    assert_close([c["estimate"] for c in doc["tau2"]], case["fit"]["tau2"], "tau2")
    assert_close([c["estimate"] for c in doc["rho"]], case["fit"]["rho"], "rho")


def test_rho_builds_the_covariance_as_vcalc_within_the_robust_clusters(tmp_path: Path) -> None:
    case = _case("rma_mv", "assink/reml/~1|study/esid/vcalc")
    path = _write(tmp_path, case)
    result = _run(str(path), "--random", "~ 1 | study/esid", "--rho", "0.6", "--robust", "study", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sampling_covariance"] == "rho=0.6 within study"
    assert_close([c["estimate"] for c in doc["sigma2"]], case["fit"]["sigma2"], "sigma2")
    want = _case("robust", "assink/study")["metafor_clubSandwich"]
    assert_close([b["se"] for b in doc["robust"]["beta"]], want["se"], "robust se")


def test_robust_alone_keeps_the_rma_model(tmp_path: Path) -> None:
    spec = _case("robust", "bcg_uni/ablat/trial")
    rows = {"yi": list(numbers(spec["model"]["yi"])), "vi": list(numbers(spec["model"]["vi"])),
            "ablat": list(matrix(spec["model"]["X"])[:, 0]), "trial": spec["cluster"]}
    path = tmp_path / "bcg.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(rows))
        w.writerows(zip(*rows.values(), strict=True))
    result = _run(str(path), "--mods", "ablat", "--robust", "trial", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "tau2_ci" in doc and doc["robust"]["type"] == "CR2"
    assert_close([b["p"] for b in doc["robust"]["beta"]], spec["metafor_clubSandwich"]["pval"], "robust p")


def test_text_output_names_the_components_and_the_robust_test(tmp_path: Path) -> None:
    case = _case("rma_mv", "konst/reml/~1|district/school")
    result = _run(str(_write(tmp_path, case)), "--random", "~ 1 | district/school", "--robust", "district")
    assert result.exit_code == 0, result.output
    # the results' own printouts (metafor's layout)
    assert re.search(r"sigma\^2\.1\s+0\.0651\s+0\.2551\s+11\s+no\s+district", result.stdout)
    assert "Number of clusters:    11" in result.stdout
    assert "Cluster-robust Wald test (HTZ)" in result.stdout and "F(df1 = 1, df2 = " in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--random", "~ 1 | hospital"], "--random 'hospital': no such column; columns are yi, vi, district"),
    (["--random", "~ 1 district"], "is not of the form"),
    (["--robust", "clinic"], "--robust 'clinic': no such column"),
    (["--rho", "0.5"], "rho needs the trials"),
    (["--random", "~ 1 | district/school", "--method", "DL"], "method 'DL' is not supported for rma_mv"),
    (["--random", "~ 1 | district/school", "--rho", "1.5"], r"rho must be a correlation in \[-1, 1\]"),
])
def test_bad_options_exit_2_with_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    case = _case("rma_mv", "konst/reml/~1|district/school")
    result = _run(str(_write(tmp_path, case)), *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0])


def test_a_covariance_file_that_is_not_positive_definite_is_refused(tmp_path: Path) -> None:
    case = _case("rma_mv", "konst/reml/~1|district/school")
    path = _write(tmp_path, case)
    k = len(case["yi"])
    V = np.diag(numbers(case["vi"]))
    V[0, 1] = V[1, 0] = 2 * np.sqrt(V[0, 0] * V[1, 1])
    vfile = tmp_path / "V.csv"
    np.savetxt(vfile, V, delimiter=",")
    result = _run(str(path), "--random", "~ 1 | district/school", "--V", str(vfile))
    assert result.exit_code == 2
    assert "V is not positive definite" in result.stderr
    small = tmp_path / "small.csv"
    np.savetxt(small, np.eye(k - 1), delimiter=",")
    result = _run(str(path), "--random", "~ 1 | district/school", "--V", str(small))
    assert result.exit_code == 2 and f"needs {k} rows of {k} numbers" in result.stderr
