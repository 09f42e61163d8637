"""Closing the loops from the command line, on SQLite and PostgreSQL: read a note, sign, amend, add to,
resolve, discharge with its summary, reopen, void; refusals exit 2 and write nothing; every action lands in
the audit trail (channel cli)."""

from __future__ import annotations

import json
from pathlib import Path

from record_cli import Clinic, make_clinic, session_doc
from sqlalchemy import create_engine, select

from strigil.store.audit import AuditEvent

REASON = "recorded against the wrong patient by mistake"


def _clinic(tmp_path: Path, database_url: str) -> Clinic:
    return make_clinic(tmp_path, "" if database_url.startswith("sqlite") else database_url)


def _audit(c: Clinic) -> list[tuple[str, str, str, str]]:
    engine = create_engine(c.url or f"sqlite:///{c.db_path}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(AuditEvent.username, AuditEvent.resource, AuditEvent.detail, AuditEvent.channel)
                .where(AuditEvent.action == "update")
                .order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_note_sign_amend_addendum_resolve_and_void(tmp_path: Path, database_url: str) -> None:
    c = _clinic(tmp_path, database_url)
    doc = session_doc(
        emollient="cream",
        notes="grip work shown",
        decision_reason="pain eased",
        clinician_decision="continue",
        adverse_responses=[{"kind": "petechiae", "severity": "mild", "onset_on": "2026-03-02"}],
    )
    doc["steps"][0].update(patient_position="seated, forearm on table", stroke_count=25)
    c.ok("session", "record", c.write_json("s.json", doc), "--by", "ana")
    note = c.ok("session", "note", c.id("session", 1)).stdout
    for shown in (
        "Test clinic",
        "patient P001",
        "emollient: cream",
        "position: seated, forearm on table",
        "25 strokes",
        "nprs pre 6",
        "petechiae",
        "clinician decided: continue — pain eased",
        "notes: grip work shown",
        "not signed",
    ):
        assert shown in note, shown
    before = c.fingerprint()
    wrong = c.run("session", "sign", c.id("session", 1), "--by", "bob")
    assert wrong.exit_code == 2 and "signed by its clinician (ana)" in wrong.stderr
    assert c.fingerprint() == before
    assert "signed by ana" in c.ok("session", "sign", c.id("session", 1), "--by", "ana").stdout
    corrected = {**doc, "notes": "grip and wrist work shown"}
    out = c.ok(
        "session",
        "amend",
        c.id("session", 1),
        c.write_json("a.json", corrected),
        "--by",
        "ana",
        "--reason",
        "wrist work left out",
    ).stdout
    assert "now version 2" in out and "changed: notes" in out
    c.ok(
        "session",
        "addendum",
        c.id("session", 1),
        "--text",
        "patient phoned: dots fading",
        "--by",
        "ana",
        "--on",
        "2026-03-04",
    )
    # a correction records the session's parts again: the response's id is the note's
    (adverse,) = json.loads(c.ok("session", "note", c.id("session", 1), "--json").stdout)["session"][
        "adverse_responses"
    ]
    resolve = ("adverse", "resolve", str(adverse["id"]), "--on", "2026-03-05", "--by", "ana")
    c.ok(*resolve, "--where", "reported by phone")
    plain = json.loads(c.ok("session", "note", c.id("session", 1), "--json").stdout)
    assert plain["session"]["signed_by"] == "ana"
    assert plain["amendments"][0]["changes"] == [
        {"field": "notes", "before": "grip work shown", "after": "grip and wrist work shown"}
    ]
    assert [a["text"] for a in plain["session"]["addenda"]] == [
        "patient phoned: dots fading",
        "petechiae (onset 2026-03-02) resolved on 2026-03-05 — reported by phone",
    ]
    assert plain["session"]["adverse_responses"][0]["resolved_where"] == "reported by phone"
    short = c.run("session", "void", c.id("session", 1), "--reason", "oops", "--by", "ana")
    assert short.exit_code == 2 and "reason" in short.stderr
    c.ok("session", "void", c.id("session", 1), "--reason", REASON, "--by", "ana")
    assert "[VOID: " + REASON in c.ok("session", "note", c.id("session", 1)).stdout
    exported = c.ok("export", "csv").stdout
    assert exported.strip().count("\n") == 0  # the header only: the void session's measures are left out
    assert _audit(c) == [
        ("ana", "session", "note signed", "cli"),
        ("ana", "session", "note amended: wrist work left out", "cli"),
        ("ana", "session", "addendum added", "cli"),
        ("ana", "adverse_response", "resolved", "cli"),
        ("ana", "session", f"void: {REASON}", "cli"),
    ]


def test_discharge_summary_reopen_and_void_episode(tmp_path: Path, database_url: str) -> None:
    c = _clinic(tmp_path, database_url)
    c.ok("session", "record", c.write_json("s.json", session_doc()), "--by", "ana")
    second = session_doc(
        date="2026-03-09",
        follow_up={"asked": True},
        measurements=[
            {"measure": "nprs", "value": 3, "timing": "pre"},
            {"measure": "nprs", "value": 2, "timing": "post"},
        ],
    )
    c.ok("session", "record", c.write_json("s2.json", second), "--by", "ana")
    refused = c.run(
        "episode", "discharge", c.id("episode", 1), "--on", "2026-03-20", "--reason", "other", "--by", "ana"
    )
    assert refused.exit_code == 2 and "other: with text" in refused.stderr
    summary = json.loads(
        c.ok(
            "episode",
            "discharge",
            c.id("episode", 1),
            "--on",
            "2026-03-20",
            "--reason",
            "goals_met",
            "--by",
            "ana",
            "--referrer",
            "Dr Rivera",
            "--json",
        ).stdout
    )
    assert (
        summary["reason"] == "goals_met" and summary["sessions"] == 2 and summary["referrer"] == "Dr Rivera"
    )
    assert summary["dose"] == [
        {
            "region": "elbow",
            "region_name": summary["dose"][0]["region_name"],
            "side": "right",
            "sessions": 2,
            "steps": 2,
            "seconds": 180,
            "strokes": None,
            "minutes": 3.0,
        }
    ]
    (nprs,) = summary["changes"]
    assert (nprs["first"], nprs["last"], nprs["change"], nprs["verdict"]) == (6, 3, 3, "improved")
    text = c.ok("episode", "summary", c.id("episode", 1)).stdout
    assert "discharged 2026-03-20: goals_met" in text and "nprs" in text.lower() and "improved" in text
    assert c.run("session", "record", c.write_json("s3.json", session_doc(date="2026-03-21"))).exit_code == 2
    short = c.run("episode", "reopen", c.id("episode", 1), "--reason", "back", "--by", "ana")
    assert short.exit_code == 2
    c.ok(
        "episode",
        "reopen",
        c.id("episode", 1),
        "--reason",
        "pain came back after a tournament",
        "--by",
        "ana",
    )
    c.ok(
        "episode", "void", c.id("episode", 1), "--reason", "opened for the wrong patient code", "--by", "ana"
    )
    shown = json.loads(c.ok("episode", "show", c.id("episode", 1), "--json").stdout)
    assert shown["void_reason"] == "opened for the wrong patient code" and shown["closed_on"] is None
    assert "VOID (opened for the wrong patient code)" in c.ok("patient", "show", "P001").stdout
    assert c.run("session", "record", c.write_json("s4.json", session_doc(date="2026-03-22"))).exit_code == 2
    assert [d for _, r, d, _ in _audit(c) if r == "episode"] == [
        "discharged: goals_met",
        "reopened: pain came back after a tournament",
        "void: opened for the wrong patient code",
    ]
