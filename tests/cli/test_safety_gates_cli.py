"""The safety gates from the command line, on SQLite and PostgreSQL: `strigil screen --episode` stores the
screening, `strigil session record` refuses over it without an override reason (exit 2, `error:` lines,
nothing written), `session prepare` and `episode show` print what the clinician needs to see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from record_cli import Clinic, make_clinic, session_doc

REASON = "wound dressed and well away from the forearm strokes"


def _clinic(tmp_path: Path, database_url: str) -> Clinic:
    # SQLite: the clinic's own file in STRIGIL_HOME; PostgreSQL: the fresh database of `database_url`.
    return make_clinic(tmp_path, "" if database_url.startswith("sqlite") else database_url)


def _screen(c: Clinic, findings: list[Any], *extra: str) -> dict[str, Any]:
    doc = c.write_json("screen.json", {"region": "elbow", "findings": findings})
    return dict(
        json.loads(
            c.ok("screen", doc, "--episode", c.id("episode", 1), "--by", "ana", "--json", *extra).stdout
        )
    )


def test_a_session_over_a_stored_contraindication_is_refused_and_writes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    c = _clinic(tmp_path, database_url)
    stored = _screen(c, ["open_wound"])
    assert (
        stored["verdict"] == "contraindicated"
        and stored["screening_id"]
        and stored["episode_id"] == c.id("episode", 1)
    )
    before = c.fingerprint()
    refused = c.run("session", "record", c.write_json("s.json", session_doc()), "--by", "ana")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: override_reason: IASTM over a contraindicated screening at")
    assert "open_wound" in refused.stderr and "gate.contraindicated" in refused.stderr
    assert c.fingerprint() == before
    short = c.run("session", "record", c.write_json("s.json", session_doc(override_reason="x")))
    assert short.exit_code == 2 and "given: 'x'" in short.stderr
    assert c.fingerprint() == before
    overridden = c.write_json("s.json", session_doc(override_reason=REASON))
    saved = c.ok("session", "record", overridden, "--by", "ana")
    assert "screening: contraindicated (the episode's latest screening" in saved.stdout
    assert f"override: a contraindicated screening at elbow (open_wound) — reason: {REASON}" in saved.stdout
    assert "ask at the start of session 2:" in saved.stdout
    shown = c.ok("episode", "show", c.id("episode", 1)).stdout
    assert "Latest screening" in shown and "contraindicated" in shown and "override" in shown
    # while the contraindication stands, the decision aid says refer, naming it (text and JSON)
    assert "Decision aid now: refer" in shown and "Open wound" in shown
    as_json = json.loads(c.ok("episode", "show", c.id("episode", 1), "--json").stdout)
    assert as_json["recommendation"]["recommendation"] == "refer"


def test_screen_without_episode_stores_nothing_and_publishes_its_new_fields(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    before = c.fingerprint()
    doc = c.write_json("dvt.json", {"region": "knee", "findings": ["suspected_dvt"]})
    out = json.loads(c.ok("screen", doc, "--json").stdout)
    assert out["verdict"] == "contraindicated" and out["referral"] == "urgent"
    assert c.fingerprint() == before
    schema = json.loads(c.ok("schema", "screen").stdout)
    assert {"episode_id", "regions"} <= set(schema["properties"])
    assert "neighbour" in schema["$defs"]["FindingEntry"]["properties"]["region"]["description"]
    assert "region" in schema["$defs"]["PriorAdverseEntry"]["properties"]
    text = c.ok("screen", doc).stdout
    assert "referral: urgent" in text


def test_prepare_asks_the_follow_up_questions_and_shows_the_screening(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    assert "screening: none recorded" in c.ok("session", "prepare", c.id("episode", 1)).stdout
    first = session_doc(
        adverse_responses=[{"kind": "pain_flare", "severity": "moderate", "onset_on": "2026-03-02"}],
        screening={"findings": []},
    )
    c.ok("session", "record", c.write_json("s1.json", first), "--by", "ana")
    out = c.ok("session", "prepare", c.id("episode", 1)).stdout
    assert f"session 2 of episode {c.id('episode', 1)}" in out
    assert "screening of 2026-03-02: clear (no findings)" in out
    asked = "? Flare-up of pain noted after session 1: has it resolved? If so, on which date?"
    assert f"{asked}  [adverse_id {c.id('adverse', 1)}]" in out
    assert "The a " not in out
    answers = {
        "asked": True,
        "reactions": [
            {
                "session": 1,
                "kind": "bruising",
                "severity": "mild",
                "onset_on": "2026-03-03",
                "resolved_on": "2026-03-05",  # still there, it would block treatment over it today
            }
        ],
        "resolved": [{"adverse_id": 1, "resolved_on": "2026-03-04"}],
    }
    second = session_doc(date="2026-03-06", follow_up=answers, screening={"no_change": True})
    c.ok("session", "record", c.write_json("s2.json", second), "--by", "ana")
    shown = c.ok("episode", "show", c.id("episode", 1)).stdout
    assert (
        "bruising" in shown
        and c.id("adverse", 1)[:8] in shown  # the table shows a prefix the CLI takes
        and "Ask at the start of session 3:" in shown
    )


def test_adverse_add_takes_the_session_number(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    c.ok("session", "record", c.write_json("s1.json", session_doc(adverse_responses=[])))
    c.ok("session", "record", c.write_json("s2.json", session_doc(date="2026-03-05", adverse_responses=[])))
    c.ok(
        "adverse",
        "add",
        "--episode",
        c.id("episode", 1),
        "--kind",
        "soreness",
        "--severity",
        "mild",
        "--onset",
        "2026-03-03",
        "--resolved",
        "2026-03-04",
        "--session",
        "1",
    )
    missing = c.run(
        "adverse",
        "add",
        "--episode",
        c.id("episode", 1),
        "--kind",
        "soreness",
        "--severity",
        "mild",
        "--onset",
        "2026-03-06",
        "--session",
        "7",
    )
    assert missing.exit_code == 2 and "its sessions (by number): 1, 2" in missing.stderr


def test_an_episode_without_iastm_shows_so_and_amends_its_plan_with_a_reason(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    c.ok(
        "episode",
        "open",
        "--patient",
        "P001",
        "--condition",
        "neck_pain",
        "--region",
        "neck",
        "--side",
        "midline",
        "--tissue",
        "muscle",
        "--onset",
        "2026-01-01",
        "--opened",
        "2026-03-01",
        "--care",
        "strengthening",
        "--no-iastm",
    )
    shown = c.ok("episode", "show", c.id("episode", 2)).stdout
    assert "Planned care: no IASTM; strengthening" in shown and "IASTM with" not in shown
    neck = session_doc(
        episode_id=2, steps=[{**session_doc()["steps"][0], "region": "neck", "side": "midline"}]
    )
    refused = c.run("session", "record", c.write_json("n.json", neck))
    assert refused.exit_code == 2 and "gate.plan_without_iastm" in refused.stderr
    bad = c.run("episode", "amend-plan", c.id("episode", 2), "--iastm", "--reason", "x", "--by", "ana")
    assert bad.exit_code == 2 and "not a reason" in bad.stderr
    c.ok(
        "episode",
        "amend-plan",
        c.id("episode", 2),
        "--iastm",
        "--reason",
        "patient now tolerates manual therapy",
        "--by",
        "ana",
        "--consent-date",
        "2026-03-04",
        "--explained",
        "soreness",
        "--explained",
        "alternatives",
        "--explained",
        "exercise_programme",
    )
    assert "Planned care: IASTM with strengthening" in c.ok("episode", "show", c.id("episode", 2)).stdout
    c.ok("session", "record", c.write_json("n.json", neck))


def test_consent_in_free_text_is_refused_at_opening(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    before = c.fingerprint()
    refused = c.run(
        "episode",
        "open",
        "--patient",
        "P001",
        "--condition",
        "neck_pain",
        "--region",
        "neck",
        "--side",
        "midline",
        "--tissue",
        "muscle",
        "--onset",
        "2026-01-01",
        "--opened",
        "2026-03-01",
        "--care",
        "strengthening",
        "--consent-date",
        "2026-03-01",
        "--explained",
        "x",
    )
    assert refused.exit_code == 2 and "'x' is not a choice" in refused.stderr
    assert c.fingerprint() == before
