"""`strigil meta forest|funnel FILE.csv --out FILE.svg|FILE.png`."""

from __future__ import annotations

import csv

import pytest
from metafor_reference import dataset
from typer.testing import CliRunner

from strigil.cli import app

runner = CliRunner()


@pytest.fixture
def bcg_csv(tmp_path):
    d = dataset("bcg_rr")
    path = tmp_path / "bcg.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "yi", "vi", "alloc"])
        w.writerows(zip(d["slab"], d["yi"], d["vi"], d["groups"]["alloc"], strict=True))
    return path


@pytest.mark.parametrize("command", ["forest", "funnel"])
@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_plot_commands_write_the_format_the_extension_names(tmp_path, bcg_csv, command, suffix, magic):
    out = tmp_path / f"plot{suffix}"
    result = runner.invoke(app, ["meta", command, str(bcg_csv), "--out", str(out), "--method", "DL"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_forest_with_labels_and_subgroups(tmp_path, bcg_csv):
    out = tmp_path / "forest.svg"
    result = runner.invoke(app, ["meta", "forest", str(bcg_csv), "--out", str(out), "--slab", "study",
                                 "--subgroup", "alloc"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "TPT Madras 1980" in text and "systematic" in text


def test_bad_extension_and_bad_column_exit_2_naming_the_problem(tmp_path, bcg_csv):
    result = runner.invoke(app, ["meta", "funnel", str(bcg_csv), "--out", str(tmp_path / "x.gif")])
    assert result.exit_code == 2
    assert "--out" in result.output and ".svg" in result.output
    result = runner.invoke(app, ["meta", "forest", str(bcg_csv), "--out", str(tmp_path / "x.svg"),
                                 "--yi", "effect"])
    assert result.exit_code == 2
    assert "--yi 'effect'" in result.output
