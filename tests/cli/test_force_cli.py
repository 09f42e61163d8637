"""`strigil force …`: analyse, reliability, simulate, settings, ranges; bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strigil.cli import app

RUNNER = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, ["force", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "rec.csv"
    code, out, _ = _run(
        "simulate", str(path), "--strokes", "10", "--seed", "4", "--truth", str(tmp_path / "t.json")
    )
    assert code == 0 and "noise SD 0.1 N" in out and "drift 0.5 N/min" in out
    return path


def test_analyse_prints_the_dose_and_the_feedback(recording: Path, tmp_path: Path) -> None:
    trace, chart, strokes = tmp_path / "trace.svg", tmp_path / "chart.svg", tmp_path / "strokes.csv"
    code, out, _ = _run(
        "analyse", str(recording), "--target", "7:9", "--plot", str(trace), "--chart", str(chart),
        "--strokes", str(strokes),
    )  # fmt: skip
    assert code == 0
    assert out.startswith("10 strokes in 1 set(s)")
    assert "of 10 strokes above your target (peak force 7.0–9.0 N)" in out
    assert "for context only (not a target)" in out and "J Athl Train 2023;58(1):60" in out
    assert "skin simulant" in out
    assert "For the record (a dose step's measured_force, beside force_n):" in out
    assert "10 strokes detected" in trace.read_text()
    assert len(strokes.read_text().splitlines()) == 11
    truth = json.loads((tmp_path / "t.json").read_text())
    assert len(truth["strokes"]) == 10


def test_analyse_json_and_a_target_from_earlier_sessions(recording: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier.csv"
    assert _run("simulate", str(earlier), "--strokes", "8", "--seed", "9")[0] == 0
    code, out, _ = _run("analyse", str(recording), "--earlier", str(earlier), "--metric", "mean", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["session"]["n_strokes"] == 10
    assert doc["feedback"]["target"]["metric"] == "mean"
    assert doc["feedback"]["target"]["basis"].startswith("your earlier sessions: average mean force")
    assert {s["name"] for s in doc["settings"]} >= {"onset_n", "offset_n", "lowpass_hz", "split_valley_ratio"}
    # The summary a dose step of the record carries beside force_n.
    summary = doc["measured_force"]
    assert summary["stroke_count"] == 10 and summary["recording"] == "rec.csv"
    assert summary["mean_n"] == round(doc["session"]["mean_n"], 3)


def _csv(times: list[int], force: list[str]) -> str:
    return "time [s],Fz [N]\n" + "".join(f"{t / 1000},{f}\n" for t, f in zip(times, force, strict=True))


RISING = list(range(20))
COUNTS = [str(i % 3) for i in RISING]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("when,normal [N]\n0,1\n", (), "error: no time column"),
        (_csv([0, 1, 2, 1, *range(3, 19)], COUNTS), (),
         "error: column 'time [s]': does not increase at data row 4"),
        (_csv(RISING, ["" if i == 5 else c for i, c in enumerate(COUNTS)]), (),
         "error: column 'Fz [N]': 1 missing or non-numeric values"),
        (_csv(RISING, ["2.5"] * 20), (), "error: column 'Fz [N]': the force is constant"),
        ("time,Fz\n" + "".join(f"{i / 1000},{i % 3}\n" for i in range(20)), ("--time-unit", "s"),
         "error: column 'Fz': no unit in the file and no --unit"),
        (_csv(RISING, COUNTS), ("--set", "onset_n=0.1"),
         "error: settings: offset_n (0.5 N) must be below onset_n"),
        (_csv(RISING, COUNTS), ("--target", "9"), "error: --target '9': write LOW:HIGH"),
    ],
)  # fmt: skip
def test_bad_files_and_options_exit_2_with_one_clear_line(
    tmp_path: Path, content: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = _run("analyse", str(path), *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_outputs_are_never_overwritten(recording: Path) -> None:
    code, _, err = _run("analyse", str(recording), "--plot", str(recording))
    assert code == 2 and "already exists" in err


def test_reliability_command(tmp_path: Path) -> None:
    path = tmp_path / "days.csv"
    path.write_text("who,day 1,day 2\nA,8.1,8.4\nB,6.0,6.3\nC,10.2,9.8\nD,7.5,7.9\nE,9.0,9.4\n")
    code, out, _ = _run("reliability", str(path), "--id", "who")
    assert code == 0 and "ICC(2,1) =" in out and "Bland–Altman day 2 − day 1" in out
    code, out, _ = _run("reliability", str(path), "--id", "who", "--json")
    assert json.loads(out)["icc"][2]["kind"] == "ICC(3,1)"
    path.write_text("who,day 1,day 2\nA,8.1,\nB,6.0,6.3\n")
    code, _, err = _run("reliability", str(path), "--id", "who")
    assert code == 2 and err.startswith("error: scores: missing value for subject row 1, session column 2")


@pytest.mark.parametrize(
    ("rows", "undefined", "reason"),
    [
        ("1,5,5\n2,6,6\n3,7,7\n", "(95 % CI undefined)", "no residual variation"),
        ("5,6\n5,6\n5,6\n", "ICC(3,1) = undefined", "no variation between subjects"),
        ("5,6\n6,5\n5,6\n", "ICC(2,1) = -2.000 (95 % CI undefined)", "no variation between subjects"),
    ],
    ids=["perfect-consistency", "constant-session-shift", "no-between-subject-variance"],
)
def test_reliability_of_degenerate_tables_reports_undefined_iccs(
    tmp_path: Path, rows: str, undefined: str, reason: str
) -> None:
    path = tmp_path / "days.csv"
    path.write_text(("a,b,c\n" if rows.count(",") == 6 else "a,b\n") + rows)
    code, out, err = _run("reliability", str(path))
    assert (code, err) == (0, "")
    assert undefined in out and f"Note: {reason}" in out
    code, out, _ = _run("reliability", str(path), "--json")
    doc = json.loads(out)  # strict JSON: no NaN or Infinity
    assert code == 0 and any(reason in note for note in doc["notes"])
    assert "NaN" not in out and "Infinity" not in out


def test_simulate_help_shows_the_units_of_the_columns() -> None:
    result = RUNNER.invoke(app, ["force", "simulate", "--help"], env={"COLUMNS": "200"})
    assert "'time [s]', 'normal [N]'" in result.stdout


def test_settings_and_ranges_say_what_they_are() -> None:
    code, out, _ = _run("settings")
    assert code == 0 and "onset_n = 1 N" in out and "configurable heuristic" in out
    code, out, _ = _run("ranges", "--json")
    doc = json.loads(out)
    assert "not a correct or recommended dose" in doc["warning"]
    assert any(s["url"] == "https://doi.org/10.1123/jsr.2021-0216" for s in doc["studies"])
