"""`strigil registry site-summary --exact` / `registry pool --exact`: the exact exchange as files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from clinic_network import NETWORK_FORMULA, all_rows, network_columns, network_levels, shareable_network_rows
from typer.testing import CliRunner

from strigil.cli import app
from strigil.registry.growth_model import fit_growth_model

runner = CliRunner()
PATIENT = "1 + session | patient"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["registry", *args])
    return result.exit_code, result.stdout, result.stderr


def test_files_exchanged_round_by_round_give_the_shareable_rows_fit(tmp_path: Path) -> None:
    clinics = network_columns()
    for name, cols in clinics.items():
        pacsv.write_csv(
            pa.table({k: pa.array(np.asarray(v)) for k, v in cols.items()}), tmp_path / f"{name}.csv"
        )
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"formula": NETWORK_FORMULA, "random": PATIENT, "levels": network_levels()}))
    state, out = tmp_path / "state.json", tmp_path / "exchange"
    expect = [a for name in clinics for a in ("--expect", name)]
    code, text, err = run(
        "pool", "--exact", "--model", str(model), "--state", str(state), "--out-dir", str(out), *expect
    )
    for _ in range(30):
        assert code == 0, err
        step = json.loads(text)
        if "request" not in step:
            break
        answers = []
        for name in clinics:
            code, text, err = run(
                "site-summary",
                str(tmp_path / f"{name}.csv"),
                "--exact",
                "--request",
                step["request"],
                "--out-dir",
                str(out),
            )
            assert code == 0, err
            answers.append(json.loads(text)["written"])
        code, text, err = run(
            "pool", "--exact", "--state", str(state), "--out-dir", str(out), "--json", *answers
        )
    result = json.loads(text)
    assert result["excluded"] == {"tiny": "fewer than 5 patients"}
    single = fit_growth_model(
        shareable_network_rows(clinics, ["north", "south", "west"]), NETWORK_FORMULA, [PATIENT]
    )
    assert np.allclose([result["fixed"][n] for n in single.fixed_names], single.beta, atol=1e-6)
    # The answers on disk hold no patient code and no outcome value of any row.
    text_on_disk = " ".join(p.read_text() for p in out.glob("answer-*.json"))
    assert "north-P" not in text_on_disk
    assert repr(float(clinics["north"]["pain"][0])) not in text_on_disk


def test_a_clinic_with_another_coding_gets_an_error_naming_it(tmp_path: Path) -> None:
    cols = network_columns()["south"]
    cols["phase"] = np.where(cols["phase"] == "acute", "ACUTE", "CHRONIC")
    pacsv.write_csv(pa.table({k: pa.array(np.asarray(v)) for k, v in cols.items()}), tmp_path / "south.csv")
    request = {
        "format": "strigil-exact-growth/1",
        "kind": "enrol",
        "model": {"formula": NETWORK_FORMULA, "random": PATIENT, "levels": network_levels()},
        "id": "abc",
    }
    (tmp_path / "req.json").write_text(json.dumps(request))
    code, _, err = run(
        "site-summary", str(tmp_path / "south.csv"), "--exact", "--request", str(tmp_path / "req.json")
    )
    assert code == 2
    assert err.startswith("error: clinic 'south': column 'phase' has level(s) ['ACUTE', 'CHRONIC']")


def test_a_clinic_whose_file_lacks_a_model_column_gets_an_error_naming_both(tmp_path: Path) -> None:
    cols = {k: v for k, v in network_columns()["south"].items() if k != "phase"}
    pacsv.write_csv(pa.table({k: pa.array(np.asarray(v)) for k, v in cols.items()}), tmp_path / "south.csv")
    request = {
        "format": "strigil-exact-growth/1",
        "kind": "enrol",
        "model": {"formula": NETWORK_FORMULA, "random": PATIENT, "levels": network_levels()},
        "id": "abc",
    }
    (tmp_path / "req.json").write_text(json.dumps(request))
    code, _, err = run(
        "site-summary", str(tmp_path / "south.csv"), "--exact", "--request", str(tmp_path / "req.json")
    )
    assert code == 2
    assert err.startswith("error: clinic 'south': its data have no column 'phase', which the network's model")


def test_report_shows_the_dose_term_per_clinic_and_pooled_and_what_a_registry_cannot_show(
    tmp_path: Path,
) -> None:
    cols = all_rows(network_columns(), ["north", "south", "west", "tiny"])
    csv = tmp_path / "network.csv"
    pacsv.write_csv(pa.table({k: pa.array(np.asarray(v)) for k, v in cols.items()}), csv)
    html = tmp_path / "report.html"
    code, _, err = run(
        "report",
        str(csv),
        "--formula",
        "pain ~ session + session:minutes + session:exercise + phase",
        "--random",
        PATIENT,
        "--out",
        str(html),
        "--mcid",
        "2",
        "--clinic",
        "clinic",
    )
    assert code == 0, err
    page = html.read_text()
    assert "Per clinic and pooled" in page and page.count("<svg") == 3
    for clinic in ("north", "south", "west", "pooled"):
        assert f"<td>{clinic}</td><td>session:minutes</td>" in page
    assert "<td>tiny</td><td>—</td><td>—</td><td>fewer than 5 patients</td>" in page
    assert "No control group" in page and "Confounding by indication" in page
    single = fit_growth_model(
        all_rows(network_columns(), ["north", "south", "west", "tiny"]),
        "pain ~ session + session:minutes + session:exercise + phase + clinic",
        [PATIENT],
    )
    pooled = float(single.beta[single.fixed_names.index("session:minutes")])
    assert f"<td>pooled</td><td>session:minutes</td><td>{pooled:.4g}</td>" in page
