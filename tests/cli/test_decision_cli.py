"""The decision-support CLI contract: `strigil screen|respond FILE.json --json`,
`strigil schema screen|respond`, and bad input → `error: ...` on stderr, exit 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from vignettes import load

from strigil.cli import app
from strigil.clinical.response import RespondOutput

runner = CliRunner()


def _invoke(tmp_path: Path, command: str, doc: Any, *extra: str) -> Any:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    before = path.read_bytes()
    result = runner.invoke(app, [command, str(path), *extra])
    assert path.read_bytes() == before, "the input file must never be changed"
    return result


CLI_CASES = [v for v in load() if v["kind"] in ("screen", "respond")]


@pytest.mark.parametrize("v", CLI_CASES, ids=[v["id"] for v in CLI_CASES])
def test_every_screen_and_respond_vignette_through_the_cli(v: dict[str, Any], tmp_path: Path) -> None:
    result = _invoke(tmp_path, v["kind"], v["input"], "--json")
    if v["expect"].get("error"):
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith("error: ")
        for word in v["expect"].get("error_mentions", []):
            assert word in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    if v["kind"] == "screen":
        assert out["verdict"] == v["expect"]["verdict"]
        for reason in out["reasons"]:
            assert set(reason) >= {"code", "kind", "scope", "advice", "source"}
        assert isinstance(out["alternatives"], list)
    else:
        assert out["recommendation"] == v["expect"]["recommendation"]
        assert set(out) >= {"recommendation", "reasons", "measures", "heuristics"}
        for m in out["measures"]:
            keys = {
                "measure",
                "within_change",
                "between_change",
                "mcid",
                "meaningful_within",
                "meaningful_between",
            }
            assert set(m) >= keys
            assert m["mcid"] is None or isinstance(m["mcid"], int | float)
            assert m["mcid"] is None or m["mcid"] == m["bar"]["value"], "mcid is the number used as the bar"
        # the published output (`strigil schema respond`, $defs.RespondOutput) describes what was printed
        RespondOutput.model_validate(out)


@pytest.mark.parametrize(
    ("name", "props"),
    [
        ("screen", ["region", "findings", "prior_adverse_responses", "intolerance"]),
        ("respond", ["measures", "goal", "adverse_responses", "settings"]),
    ],
)
def test_schema_publishes_the_input_properties(name: str, props: list[str]) -> None:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(props) <= set(schema["properties"])
    required = set(schema.get("required", []))
    assert required == ({"region", "findings"} if name == "screen" else {"measures"})


GOOD_RESPOND = {
    "measures": [
        {"measure": "nprs", "session": 1, "timing": "pre", "value": 6},
        {"measure": "nprs", "session": 1, "timing": "post", "value": 3},
    ]
}

BAD_INPUT = [
    (
        "screen",
        {"region": "knee", "findings": [], "settings": {"adverse_windows_days": {"bruise": 3}}},
        "bruising",
    ),
    ("screen", {"region": "knee", "findings": [], "settings": {"windows": {}}}, "adverse_windows_days"),
    ("screen", "{not json", "not valid JSON"),
    ("screen", "[1, 2]", "one JSON object"),
    ("screen", {"findings": []}, "region"),
    ("screen", {"region": "knee"}, "findings"),
    ("screen", {"region": "knee", "findings": [], "colour": "red"}, "colour"),
    ("screen", {"region": "knee", "findings": "open_wound"}, "findings"),
    ("screen", {"region": "knee", "findings": [], "intolerance": "maybe"}, "intolerance"),
    ("screen", {"region": "knee", "findings": [{"code": "open_wound", "region": "kne"}]}, "'knee'"),
    (
        "screen",
        {"region": "knee", "findings": [], "prior_adverse_responses": [{"type": "bruising"}]},
        "severity",
    ),
    ("respond", {"measures": [{"measure": "nprs", "session": 0, "timing": "pre", "value": 5}]}, "session"),
    ("respond", {"measures": [{"measure": "nprs", "session": 1, "timing": "during", "value": 5}]}, "timing"),
    ("respond", {"measures": [{"measure": "nprs", "session": 1, "timing": "pre", "value": -1}]}, "-1"),
    ("respond", {"measures": [{"measure": "lefs", "session": 1, "timing": "pre", "value": 81}]}, "0 to 80"),
    ("respond", {**GOOD_RESPOND, "goal": {"measure": "nprs", "target": 12}}, "goal.target"),
    ("respond", {**GOOD_RESPOND, "settings": {"switch_after": 2}}, "switch_after_sessions"),
    ("respond", {**GOOD_RESPOND, "settings": {"switch_after_sessions": 0}}, "switch_after_sessions"),
    ("respond", {**GOOD_RESPOND, "settings": {"thresholds": {"nprs": -2}}}, "thresholds"),
    ("respond", {**GOOD_RESPOND, "settings": {"thresholds": {"npr": 2}}}, "'nprs'"),
    ("respond", {**GOOD_RESPOND, "sessions": [{"session": 1, "date": "2026-02-30"}]}, "date"),
    (
        "respond",
        {
            **GOOD_RESPOND,
            "sessions": [{"session": 1, "date": "2026-03-01"}, {"session": 1, "date": "2026-03-02"}],
        },
        "two dates",
    ),
    (
        "respond",
        {
            **GOOD_RESPOND,
            "adverse_responses": [
                {"session": 1, "type": "bruising", "severity": "mild", "resolved_days": -3}
            ],
        },
        "resolved_days",
    ),
    (
        "respond",
        {"measures": [{"measure": "grip_kg", "session": 1, "timing": "pre", "value": 30}]},
        "thresholds",
    ),
    ("respond", {**GOOD_RESPOND, "red_flags": ["  "]}, "red_flags"),
]


@pytest.mark.parametrize(("command", "doc", "mention"), BAD_INPUT, ids=[f"{c}-{m}" for c, _, m in BAD_INPUT])
def test_bad_input_gets_a_clear_error_and_exit_2(
    command: str, doc: Any, mention: str, tmp_path: Path
) -> None:
    result = _invoke(tmp_path, command, doc, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert mention in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.json"], "nothing else is written"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", str(tmp_path / "nope.json"), "--json"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_human_readable_output_names_the_verdict_and_sources(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "screen", {"region": "knee", "findings": ["open_wound", "diabetes"]})
    assert result.exit_code == 0
    assert "verdict: contraindicated" in result.stdout
    assert "source:" in result.stdout and "instead:" in result.stdout
    result = _invoke(tmp_path, "respond", GOOD_RESPOND)
    assert result.exit_code == 0
    assert "recommendation: continue" in result.stdout
    assert "configurable heuristic" in result.stdout
    assert "plan: Continue IASTM only as an adjunct to the exercise programme" in result.stdout


def test_respond_text_names_the_bar_its_population_and_source_and_the_questions(tmp_path: Path) -> None:
    doc = {
        **GOOD_RESPOND,
        "condition": "lateral_elbow_tendinopathy",
        "adverse_responses": [{"session": 1, "type": "petechiae", "severity": "mild", "resolved_days": None}],
    }
    result = _invoke(tmp_path, "respond", doc)
    assert result.exit_code == 0, result.stderr
    assert "bar 2.3 points (MCID, lateral elbow tendinopathy" in result.stdout
    assert "MDC90 1.4 points" in result.stdout
    assert "ask at the start of session 2:" in result.stdout
    assert "? Small red dots (petechiae) noted after session 1: has it resolved? If so, on which date?" in (
        result.stdout
    )


def test_schema_publishes_the_condition_and_the_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "respond"])
    schema = json.loads(result.stdout)
    assert "condition" in schema["properties"] and "condition" not in schema.get("required", [])
    output = schema["$defs"]["RespondOutput"]
    assert {"advice", "condition", "plateau_sessions"} <= set(output["properties"])
    assert {"bar", "mcid", "population", "source"} <= set(schema["$defs"]["MeasureOut"]["properties"])


def test_installed_command_end_to_end(tmp_path: Path) -> None:
    """The real `strigil` process: JSON on stdout, exit 0; no files written to the data home."""
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "respond.json"
    path.write_text(json.dumps(GOOD_RESPOND), encoding="utf-8")
    env = {**os.environ, "STRIGIL_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", "from strigil.cli import main; main()", "respond", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["recommendation"] == "continue"
    assert list(home.iterdir()) == []


def test_python_dash_m_strigil_is_the_same_command_line() -> None:
    """`python -m strigil` runs the CLI, with the installed script's exit codes."""
    ok = subprocess.run(
        [sys.executable, "-m", "strigil", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "fhir" in ok.stdout and "demo" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "strigil", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_respond_text_says_when_the_rom_bar_is_a_fallback(tmp_path: Path) -> None:
    doc = {
        "measures": [
            {"measure": "rom_deg", "session": s, "timing": "pre", "value": v}
            for s, v in ((1, 100), (2, 110), (3, 125))
        ]
    }
    text = _invoke(tmp_path, "respond", doc)
    assert text.exit_code == 0, text.output
    (line,) = [line for line in text.stdout.splitlines() if line.strip().startswith("rom_deg:")]
    assert "fallback: no joint or motion recorded with the measurement" in line
    assert "within not measured, between 25;" in line  # no 'None' printed
    note = json.loads(_invoke(tmp_path, "respond", doc, "--json").stdout)["measures"][0]["note"]
    assert note.startswith("fallback:")  # the JSON said so already; the text now agrees
