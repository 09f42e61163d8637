"""`strigil evidence ...`: the JSON contract, errors on stderr with exit 2, and the import store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strigil.cli import app
from strigil.evidence.library import read_data_text

HEADER = (
    "id,citation,source,design,condition,population,outcome,higher_is_better,n_t,mean_t,sd_t,n_c,mean_c,sd_c"
)
ROW = "new2024,New 2024,https://doi.org/10.5555/synthetic-a,rct,chronic_low_back_pain,CLBP,pain,false,20,30,10,20,40,12"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path / "home"))
    return CliRunner()


def test_list_json_holds_every_study_with_the_contract_keys(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evidence", "list", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) >= 51
    assert all({"id", "citation", "condition", "design", "source"} <= set(i) for i in items)


def test_summary_json_and_html(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evidence", "summary", "--condition", "chronic_low_back_pain", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["condition"] == "chronic_low_back_pain" and data["outcomes"]
    html = runner.invoke(app, ["evidence", "summary", "--condition", "neck_pain", "--html"])
    assert html.exit_code == 0 and html.stdout.startswith("<!DOCTYPE html>")


def test_unknown_condition_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evidence", "summary", "--condition", "neck_pian", "--json"])
    assert result.exit_code == 2
    assert "error: --condition: unknown conditions code 'neck_pian'" in result.stderr
    assert "neck_pain" in result.stderr


def test_show_prints_flags_and_unknown_ids_fail(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evidence", "show", "markovic2015"])
    assert result.exit_code == 0 and "cannot contain" in result.stdout
    missing = runner.invoke(app, ["evidence", "show", "nobody2020"])
    assert missing.exit_code == 2 and "is not in the library" in missing.stderr


def test_import_writes_the_store_and_the_summary_uses_it(runner: CliRunner, tmp_path: Path) -> None:
    shipped_before = read_data_text("studies.toml")
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n{ROW}\n")
    result = runner.invoke(app, ["evidence", "import", str(good)])
    assert result.exit_code == 0, result.output
    store = tmp_path / "home" / "evidence" / "user_studies.csv"
    assert store.exists() and "new2024" in store.read_text()
    summary = json.loads(
        runner.invoke(app, ["evidence", "summary", "--condition", "chronic_low_back_pain", "--json"]).stdout
    )
    pain = next(o for o in summary["outcomes"] if o["outcome"] == "pain")
    assert pain["k"] == 2 and sorted(pain["studies"]) == ["lee2016", "new2024"]
    without = json.loads(
        runner.invoke(
            app, ["evidence", "summary", "--condition", "chronic_low_back_pain", "--json", "--no-user"]
        ).stdout
    )
    assert next(o for o in without["outcomes"] if o["outcome"] == "pain")["k"] == 1
    assert read_data_text("studies.toml") == shipped_before
    # importing the same id again is refused and leaves the store as it was
    before = store.read_bytes()
    again = runner.invoke(app, ["evidence", "import", str(good)])
    assert again.exit_code == 2 and "already in" in again.stderr and store.read_bytes() == before


def test_a_malformed_file_changes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    store = tmp_path / "custom.csv"
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n{ROW}\n")
    assert runner.invoke(app, ["evidence", "import", str(good), "--store", str(store)]).exit_code == 0
    before = store.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{HEADER}\n"
        + ROW.replace("new2024", "other2024")
        .replace("chronic_low_back_pain", "backache")
        .replace(",20,30,10,", ",x,30,10,")
        + "\n"
    )
    result = runner.invoke(app, ["evidence", "import", str(bad), "--store", str(store)])
    assert result.exit_code == 2
    assert "row 2, column condition: value 'backache'" in result.stderr
    assert "row 2, column n_t: value 'x'" in result.stderr
    assert "nothing imported (2 problem(s))" in result.stderr
    assert store.read_bytes() == before
    assert not (tmp_path / "home").exists()  # the default store was never touched


def test_dry_run_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n{ROW}\n")
    result = runner.invoke(app, ["evidence", "import", str(good), "--dry-run"])
    assert result.exit_code == 0 and "valid: 1 study" in result.stdout
    assert not (tmp_path / "home").exists()


def test_seffrin_command_lists_every_row(runner: CliRunner) -> None:
    rows = json.loads(runner.invoke(app, ["evidence", "seffrin", "--json"]).stdout)
    assert len(rows) == 50 and {r["status"] for r in rows} == {"tested", "inferred_size", "printed_error"}


def test_the_import_row_schema_is_published(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema", "evidence-import"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert (
        schema["required"][:3] == ["id", "citation", "source"]
        and "rct" in schema["properties"]["design"]["enum"]
    )


def test_effects_command_and_show_json_carry_the_effect_sizes(runner: CliRunner) -> None:
    rows = json.loads(runner.invoke(app, ["evidence", "effects", "--json"]).stdout)
    lee = next(r for r in rows if r["study"] == "lee2016" and r["outcome"] == "pain")
    assert lee["MD"] == -19.1 and lee["usable"] and lee["MD_ci"][1] < 0
    assert any(not r["usable"] and "truncated" in r["reason"] for r in rows)
    text = runner.invoke(app, ["evidence", "effects"])
    assert text.exit_code == 0 and "not usable" in text.stdout
    shown = json.loads(runner.invoke(app, ["evidence", "show", "kivlan2015", "--json"]).stdout)
    assert [e["MD"] for e in shown["effects"]] == [21.0, 16.0]


def test_summary_text_keeps_the_numbers_in_a_block_for_clinicians(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evidence", "summary", "--condition", "chronic_low_back_pain"])
    assert result.exit_code == 0, result.output
    patient, _, clinician = result.stdout.partition("FOR CLINICIANS: THE NUMBERS BEHIND THIS SUMMARY")
    assert clinician, "the numbers have a labelled block"
    assert "MD -19.10" in clinician and "k=1 n=30" in clinician
    assert not re.search(r"\bMD\b|\bSMD\b|k=\d|n=\d", patient)
    for line in result.stdout.splitlines():  # a source without an address has no dangling dash
        assert not line.rstrip().endswith("—"), line
