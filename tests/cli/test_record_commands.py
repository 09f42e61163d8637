"""The record's commands work end to end (happy paths)."""

from __future__ import annotations

import csv
import io
import json
import re

from record_cli import Clinic, session_doc


def test_record_show_and_amend_a_session(clinic: Clinic) -> None:
    out = clinic.ok("session", "record", clinic.write_json("s.json", session_doc()), "--by", "ana").output
    # the CLI prints public ids (the database's integers never leave the server)
    assert f"session {clinic.id('session', 1)} recorded (episode {clinic.id('episode', 1)}, session 1)" in out
    shown = json.loads(clinic.ok("episode", "show", clinic.id("episode", 1), "--json").output)
    assert shown["sessions"][0]["steps"][0]["instrument"] == "astym"
    assert shown["phase"] == "subacute"
    amended = session_doc(steps=[{**session_doc()["steps"][0], "duration_s": 120}])
    out = clinic.ok(
        "session",
        "amend",
        clinic.id("session", 1),
        clinic.write_json("a.json", amended),
        "--by",
        "ana",
        "--reason",
        "duration mistyped",
    ).output
    assert "now version 2" in out
    shown = json.loads(clinic.ok("episode", "show", clinic.id("episode", 1), "--json").output)
    assert shown["sessions"][0]["steps"][0]["duration_s"] == 120


def test_patient_list_and_show(clinic: Clinic) -> None:
    assert "P001\t1980\tfemale" in clinic.ok("patient", "list").output
    out = clinic.ok("patient", "show", "P001").output
    assert (
        f"episode {clinic.id('episode', 1)}: lateral_elbow_tendinopathy, elbow right" in out and "open" in out
    )


def test_measure_adverse_close_and_tidier(clinic: Clinic) -> None:
    clinic.ok("session", "record", clinic.write_json("s.json", session_doc()))
    clinic.ok(
        "measure",
        "add",
        "--episode",
        clinic.id("episode", 1),
        "--measure",
        "prtee",
        "--value",
        "52",
        "--on",
        "2026-03-09",
    )
    out = clinic.ok(
        "adverse",
        "add",
        "--episode",
        clinic.id("episode", 1),
        "--kind",
        "petechiae",
        "--severity",
        "mild",
        "--onset",
        "2026-03-02",
        "--session",
        "1",
    ).output
    assert "petechiae (mild)" in out
    clinic.ok("adverse", "resolve", clinic.id("adverse", 1), "--on", "2026-03-05", "--by", "ana")
    tidier = clinic.ok("episode", "tidier", clinic.id("episode", 1)).output
    numbers = [int(m.group(1)) for m in re.finditer(r"^(\d+)\. ", tidier, flags=re.MULTILINE)]
    assert numbers == list(range(1, 13))
    assert "ASTYM" in tidier and "athletic_trainer, 6 years" in tidier and "Test clinic" in tidier
    assert "petechiae (mild)" in tidier
    clinic.ok("episode", "close", clinic.id("episode", 1), "--on", "2026-04-01", "--reason", "discharged")
    assert "closed 2026-04-01" in clinic.ok("patient", "show", "P001").output


def test_export_csv_is_one_long_table(clinic: Clinic) -> None:
    clinic.ok("session", "record", clinic.write_json("s.json", session_doc()))
    clinic.ok(
        "measure",
        "add",
        "--episode",
        clinic.id("episode", 1),
        "--measure",
        "prtee",
        "--value",
        "52",
        "--on",
        "2026-03-09",
    )
    rows = list(csv.DictReader(io.StringIO(clinic.ok("export", "csv").stdout)))
    assert [(r["measure"], r["timing"], r["value"]) for r in rows] == [
        ("nprs", "pre", "6.0"),
        ("nprs", "post", "4.0"),
        ("prtee", "between", "52.0"),
    ]
    assert rows[0]["session"] == "1" and rows[0]["minutes"] == "1.5"
    # a keyed pseudonym made for this export, never the clinic's own code; dates as days in the episode
    assert rows[0]["patient"] != "P001" and rows[0]["patient"].startswith("s") and rows[0]["opened_on"] == "0"
    assert rows[2]["session"] == "" and rows[2]["days_since_onset"] == "58"


def test_backup_and_restore(clinic: Clinic) -> None:
    clinic.ok("session", "record", clinic.write_json("s.json", session_doc()))
    target = clinic.home / "backups" / "b1.sqlite"
    clinic.ok("backup", str(target))
    before = clinic.fingerprint()
    clinic.ok("patient", "add", "P002", "--birth-year", "1990", "--sex", "male")
    assert clinic.fingerprint() != before
    refused = clinic.run("restore", str(target))
    assert refused.exit_code == 2 and "--replace" in refused.stderr
    clinic.ok("restore", str(target), "--replace")
    assert clinic.fingerprint() == before


def test_schema_session_is_published(clinic: Clinic) -> None:
    schema = json.loads(clinic.ok("schema", "session").output)
    assert schema["title"] == "strigil session record"
    assert {"episode_id", "clinician", "date", "steps"} <= set(schema["properties"])
