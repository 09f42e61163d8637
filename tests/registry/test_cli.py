"""The `strigil registry` commands: fit contract, generate, site-summary → pool, report, error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from strigil.cli import app
from strigil.registry.design import Coded

from .conftest import REFERENCE, load_fixture

runner = CliRunner()
FORMULA = "pain ~ session + session:minutes + session:exercise + phase"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["registry", *args])
    return result.exit_code, result.stdout, result.stderr


def test_fit_json_contract_and_lme4_numbers() -> None:
    code, out, _ = run(
        "fit",
        str(REFERENCE / "registry_t.csv"),
        "--formula",
        FORMULA,
        "--random",
        "1 + session | patient",
        "--ml",
        "--json",
    )
    assert code == 0
    res = json.loads(out)
    assert set(res) >= {
        "fixed",
        "se",
        "random_sd",
        "random_corr",
        "sigma",
        "objective",
        "n_obs",
        "n_groups",
        "converged",
    }
    ref = load_fixture("registry_t_ml.json")
    assert res["objective"] == pytest.approx(ref["objective"], rel=1e-9)
    assert res["random_corr"]["patient"]["Intercept:session"] == pytest.approx(
        ref["random_corr"]["patient"]["Intercept:session"], rel=1e-5
    )
    assert res["n_groups"] == {"patient": 320}


def test_fit_errors_name_field_value_and_choices(tmp_path: Path) -> None:
    code, _, err = run(
        "fit", str(REFERENCE / "registry_t.csv"), "--formula", "pain ~ dose", "--random", "1 | patient"
    )
    assert code == 2 and "error:" in err and "dose" in err
    code, _, err = run("fit", str(tmp_path / "none.csv"), "--formula", FORMULA, "--random", "1 | patient")
    assert code == 2 and "no such file" in err


def test_generate_site_summary_and_pool(tmp_path: Path) -> None:
    csv = tmp_path / "reg.csv"
    code, out, _ = run("generate", str(csv), "--clinics", "4", "--patients-per-clinic", "40", "--seed", "3")
    assert code == 0 and json.loads(out)["rows"] > 400
    code, out, _ = run(
        "site-summary",
        str(csv),
        "--formula",
        FORMULA,
        "--random",
        "1 + session | patient",
        "--clinic",
        "clinic",
        "--out-dir",
        str(tmp_path / "sites"),
        "--count",
        "minutes",
    )
    assert code == 0
    written = json.loads(out)["written"]
    assert len(written) == 4
    text = "".join(Path(f).read_text() for f in written)
    assert "P000001" not in text and "P000" not in text
    code, out, _ = run("pool", *written, "--json")
    assert code == 0
    pooled = json.loads(out)
    assert pooled["n_sites"] == 4
    assert pooled["random_effects"]["session:minutes"]["k"] == 4


def test_report_has_plots_numbers_and_limitations(tmp_path: Path) -> None:
    csv = tmp_path / "reg.csv"
    run("generate", str(csv), "--clinics", "3", "--patients-per-clinic", "40", "--seed", "4")
    html = tmp_path / "report.html"
    code, _, err = run(
        "report",
        str(csv),
        "--formula",
        FORMULA,
        "--random",
        "1 + session | patient",
        "--out",
        str(html),
        "--measure",
        "nprs",
        "--condition",
        "chronic_low_back_pain",
        "--cox",
        "minutes",
        "--cox",
        "technique",
    )
    assert code == 0, err
    page = html.read_text()
    assert page.count("<svg") == 2
    assert "confounding by indication" in page.lower()
    assert "exercise" in page and "not effects shown by a randomised trial" in page
    assert "Ostelo" in page and "larger of the MDC and the MCID" in page
    assert "session:minutes" in page


def test_a_model_without_the_dose_gives_a_report_without_curves_saying_why(tmp_path: Path) -> None:
    csv = tmp_path / "reg.csv"
    run("generate", str(csv), "--clinics", "2", "--patients-per-clinic", "30", "--seed", "4")
    html = tmp_path / "report.html"
    code, out, err = run(
        "report", str(csv), "--formula", "pain ~ session + phase", "--random", "1 + session | patient",
        "--out", str(html), "--measure", "nprs",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["converged"] is True
    page = html.read_text()
    assert page.count("<svg") == 1  # time to improvement only
    assert "No dose–response curves: the model formula does not use the dose column &#x27;minutes" in page
    assert "The curves show the model" not in page


def test_report_needs_an_mcid(tmp_path: Path) -> None:
    code, _, err = run(
        "report",
        str(REFERENCE / "registry_t.csv"),
        "--formula",
        FORMULA,
        "--random",
        "1 + session | patient",
        "--out",
        str(tmp_path / "r.html"),
    )
    assert code == 2 and "--mcid" in err


def test_rows_with_missing_values_are_left_out(tmp_path: Path) -> None:
    src = (REFERENCE / "registry_t.csv").read_text().splitlines()
    header, rows = src[0].split(","), [r.split(",") for r in src[1:]]
    pain, phase = header.index("pain"), header.index("phase")
    rows[3][pain] = ""
    rows[10][phase] = ""
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n")
    code, out, _ = run("fit", str(path), "--formula", FORMULA, "--random", "1 + session | patient", "--json")
    assert code == 0
    assert json.loads(out)["n_obs"] == len(rows) - 2


def test_csv_types_guessed_from_the_head_fall_back_when_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import strigil.cli.registry as cli_registry

    path = tmp_path / "late_text.csv"
    lines = ["patient,session,pain,grade"] + [f"P{i},{i % 3},{5 - i % 3}.5,{i % 2}" for i in range(40)]
    lines.append("P99,1,4.0,high")  # 'grade' looks numeric in the head, is text further down
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(cli_registry, "SNIFF_BYTES", 200)
    cols = cli_registry.read_columns(path)
    assert isinstance(cols["grade"], Coded)
    assert cols["grade"].level_texts()[-1] == "high"
    np.testing.assert_array_equal(cols["pain"][:3], [5.5, 4.5, 3.5])
    assert isinstance(cols["patient"], Coded) and len(cols["patient"]) == 41


def test_fit_takes_the_whole_model_in_lme4_syntax() -> None:
    path = str(REFERENCE / "registry_t.csv")
    code, by_option, _ = run("fit", path, "--formula", FORMULA, "--random", "1 + session | patient",
                             "--random", "1 | clinic", "--json")
    assert code == 0
    code, by_formula, _ = run("fit", path, "--formula", f"{FORMULA} + (1 + session | patient) + (1 | clinic)",
                              "--json")
    assert code == 0
    assert json.loads(by_formula) == json.loads(by_option)
    code, _, err = run("fit", path, "--formula", f"{FORMULA} + (1 | patient)", "--random", "1 | patient")
    assert code == 2 and "leave out --random" in err
    code, _, err = run("fit", path, "--formula", f"{FORMULA} + (1 + session || patient)")
    assert code == 2 and "uncorrelated" in err
    code, _, err = run("fit", path, "--formula", FORMULA)
    assert code == 2 and "--random" in err


def test_fit_prints_the_results_own_summary() -> None:
    import pandas as pd

    from strigil.registry.lmer import lmer

    path = REFERENCE / "registry_t.csv"
    code, out, _ = run("fit", str(path), "--formula", f"{FORMULA} + (1 + session | patient)")
    assert code == 0
    fit = lmer(f"{FORMULA} + (1 + session | patient)", pd.read_csv(path))
    # the same numbers as the Python result prints (read through the CLI's own CSV reader)
    assert out.splitlines()[0] == "Linear mixed model fit by REML"
    assert f"REML criterion at convergence: {fit.objective:.1f}" in out
    assert "Random effects:" in out and "Fixed effects:" in out and "session:minutes" in out
