"""A voided session or episode (entered by mistake) travels as FHIR `entered-in-error` and comes back void."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_strategies import bundle_of, example_clinic
from sqlalchemy import select
from test_fhir_bulk import r4_schema  # noqa: F401  (the fixture: HL7's R4 JSON schema, shipped with the tests)

from strigil.interop.bundle import make_bundle
from strigil.interop.definitions import ENTERED_IN_ERROR
from strigil.interop.dossier import ClinicDossier, SessionEntry
from strigil.interop.from_fhir import plan_import
from strigil.interop.r4 import resource_problems
from strigil.interop.to_fhir import stream_resources
from strigil.services.audit import Actor
from strigil.services.bulk_exchange import export_bulk, import_bulk
from strigil.services.exchange import clinic_header, clinic_scope, patient_dossiers, read_clinic, write_plan
from strigil.services.export import export_rows
from strigil.services.void import void_episode, void_session
from strigil.store.database import Database, open_database
from strigil.store.record import ClinicRow, EpisodeRow, SessionRow

SESSION_REASON = "recorded for the wrong patient by mistake"
EPISODE_REASON = "opened twice by mistake, duplicate episode"


def _two_episodes() -> ClinicDossier:
    """The example clinic with a second session in its episode and a second episode (a knee)."""
    clinic = example_clinic()
    patient = clinic.patients[0]
    first = patient.episodes[0]
    entry = first.sessions[0]
    later = entry.record.model_copy(
        update={"date": entry.record.date + dt.timedelta(days=4), "adverse_responses": []}
    )
    first = dataclasses.replace(first, sessions=(entry, SessionEntry(2, later)))
    knee_plan = first.plan.model_copy(
        update={"condition": "patellar_tendinopathy", "region": "knee", "side": "left", "goals": ["squat"]}
    )
    knee_session = entry.record.model_copy(
        update={
            "steps": [s.model_copy(update={"region": "knee", "side": "left"}) for s in entry.record.steps]
        }
    )
    knee = dataclasses.replace(first, key="2", plan=knee_plan, sessions=(SessionEntry(1, knee_session),))
    return dataclasses.replace(clinic, patients=(dataclasses.replace(patient, episodes=(first, knee)),))


@pytest.fixture
def voided(database: Database) -> Database:
    """A clinic whose first session of the elbow episode and whose whole knee episode are void."""
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(_two_episodes())))
    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == "north"))
        assert clinic_id is not None
        actor = Actor(account_id=None, username="ana", role="clinician", clinic_id=clinic_id, channel="cli")
        elbow, knee = db.scalars(select(EpisodeRow).order_by(EpisodeRow.id)).all()
        first = db.scalar(select(SessionRow).where(SessionRow.episode_id == elbow.id, SessionRow.number == 1))
        assert first is not None
        void_session(db, clinic_id, first.id, reason=SESSION_REASON, actor=actor)
        void_episode(db, clinic_id, knee.id, reason=EPISODE_REASON, actor=actor)
    return database


def _bundle(database: Database) -> dict[str, Any]:
    with database.unit_of_work() as db:
        clinic_id, clinic, clinicians = clinic_header(db, "north")
        resources = list(
            stream_resources(
                clinic, clinicians, patient_dossiers(db, clinic_id), scope=clinic_scope(db, clinic_id)
            )
        )
    return json.loads(json.dumps(make_bundle(resources)))


def _status(resource: dict[str, Any]) -> Any:
    kind = resource["resourceType"]
    if kind == "Condition":
        return [c["code"] for c in resource.get("verificationStatus", {}).get("coding", [])]
    if kind == "Goal":
        return resource["lifecycleStatus"]
    if kind == "AdverseEvent":
        return [e["url"] for e in resource.get("modifierExtension", [])]
    return resource.get("status")


def test_void_records_export_as_entered_in_error_and_validate(
    voided: Database,
    r4_schema: Any,  # noqa: F811  (pytest passes the imported fixture)
) -> None:
    bundle = _bundle(voided)
    assert [str(e) for e in r4_schema.iter_errors(bundle)] == []  # HL7's R4 JSON schema
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        assert resource_problems(resource) == [], resource["resourceType"]  # the R4 models and value sets
    knee = next(
        r for r in resources if r["resourceType"] == "EpisodeOfCare" and r["status"] == "entered-in-error"
    )
    elbow = next(r for r in resources if r["resourceType"] == "EpisodeOfCare" and r["id"] != knee["id"])
    assert elbow["status"] == "active"

    def linked(episode: dict[str, Any]) -> list[dict[str, Any]]:
        ref = f"EpisodeOfCare/{episode['id']}"
        found = [
            r
            for r in resources
            if any(e.get("valueReference", {}).get("reference") == ref for e in r.get("extension", []))
        ]
        goals = [r for r in resources if r["resourceType"] == "Goal" and r["id"].startswith(episode["id"])]
        return found + goals

    error = ["entered-in-error"]
    for resource in linked(knee):  # the void episode: every resource of it says so
        expected = {
            "Condition": error,
            "AdverseEvent": [ENTERED_IN_ERROR.url],
        }.get(resource["resourceType"], "entered-in-error")
        assert _status(resource) == expected, resource["resourceType"]
    condition = next(r for r in linked(knee) if r["resourceType"] == "Condition")
    assert "clinicalStatus" not in condition and "abatementDateTime" not in condition  # R4 con-5
    context = {p["url"]: p for p in knee["extension"][0]["extension"]}
    assert context["voidReason"]["valueString"] == EPISODE_REASON
    elbow_resources = linked(elbow)
    procedures = sorted(
        (r for r in elbow_resources if r["resourceType"] == "Procedure"),
        key=lambda r: next(p for p in r["extension"][1]["extension"] if p["url"] == "number")["valueInteger"],
    )
    assert [p["status"] for p in procedures] == ["entered-in-error", "completed"]
    void_ref, kept_ref = (f"Procedure/{p['id']}" for p in procedures)
    for resource in elbow_resources:
        if resource["resourceType"] == "Observation":
            part_of = [p["reference"] for p in resource.get("partOf", [])]
            assert resource["status"] == ("entered-in-error" if void_ref in part_of else "final")
        if resource["resourceType"] == "AdverseEvent":
            suspects = [s["instance"]["reference"] for s in resource["suspectEntity"]]
            assert bool(resource.get("modifierExtension")) == (void_ref in suspects)
            assert void_ref in suspects or kept_ref in suspects
    assert _status(next(r for r in elbow_resources if r["resourceType"] == "Condition")) == []


def test_a_bundle_round_trip_keeps_the_voids(voided: Database, tmp_path: Path) -> None:
    target = open_database(f"sqlite:///{tmp_path / 'target.sqlite'}")
    try:
        with target.unit_of_work() as db:
            write_plan(db, plan_import(_bundle(voided)))
        with voided.unit_of_work() as a, target.unit_of_work() as b:
            rows_a = a.execute(
                select(SessionRow.number, SessionRow.void_reason).order_by(SessionRow.id)
            ).all()
            rows_b = b.execute(
                select(SessionRow.number, SessionRow.void_reason).order_by(SessionRow.id)
            ).all()
            assert rows_b == rows_a and SESSION_REASON in [r.void_reason for r in rows_b]
            episodes = b.execute(
                select(EpisodeRow.condition, EpisodeRow.void_reason).order_by(EpisodeRow.id)
            ).all()
            assert [tuple(e) for e in episodes] == [
                ("lateral_elbow_tendinopathy", None),
                ("patellar_tendinopathy", EPISODE_REASON),
            ]
            # the research exports still leave the voids out, on both sides alike
            key = b"the clinic's pseudonym key"
            id_a = a.scalar(select(ClinicRow.id).where(ClinicRow.code == "north"))
            id_b = b.scalar(select(ClinicRow.id).where(ClinicRow.code == "north"))
            analysis = list(export_rows(b, id_b, key=key))
            # (the services path gives the patient a new public id, hence a new pseudonym)
            assert [{**r, "patient": ""} for r in analysis] == [
                {**r, "patient": ""} for r in export_rows(a, id_a, key=key)
            ]
            assert {r["condition"] for r in analysis} == {"lateral_elbow_tendinopathy"}
    finally:
        target.dispose()


def test_a_bulk_round_trip_keeps_the_voids(voided: Database, tmp_path: Path) -> None:
    with voided.unit_of_work() as db:
        export_bulk(db, "north", tmp_path / "out", validation="all")
    episodes = [
        orjson.loads(line) for line in (tmp_path / "out" / "EpisodeOfCare.ndjson").read_bytes().splitlines()
    ]
    assert sorted(e["status"] for e in episodes) == ["active", "entered-in-error"]
    target = open_database(f"sqlite:///{tmp_path / 'target.sqlite'}")
    try:
        with target.unit_of_work() as db:
            import_bulk(db, tmp_path / "out", validation="all")
        with voided.unit_of_work() as a, target.unit_of_work() as b:
            before, after = read_clinic(a, "north"), read_clinic(b, "north")
            voids = [(e.void, [s.void for s in e.sessions]) for p in after.patients for e in p.episodes]
            assert voids == [
                (e.void, [s.void for s in e.sessions]) for p in before.patients for e in p.episodes
            ]
            assert (
                voids[0][0] is None and voids[0][1][0] is not None and voids[0][1][0].reason == SESSION_REASON
            )
            assert voids[1][0] is not None and voids[1][0].reason == EPISODE_REASON
    finally:
        target.dispose()


def test_a_record_that_contradicts_its_void_is_refused(voided: Database) -> None:
    bundle = _bundle(voided)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["status"] == "entered-in-error":
            resource["status"] = "final"  # a result of a void session claimed as valid
            break
    plan = plan_import(bundle)
    assert any("must carry status 'entered-in-error'" in p.message for p in plan.errors)


def test_an_import_does_not_void_the_record_it_finds(voided: Database) -> None:
    """A void episode arriving for an episode this clinic has, standing, is reported, never applied."""
    bundle = _bundle(voided)  # the knee episode void
    with voided.unit_of_work() as db:
        db.execute(EpisodeRow.__table__.update().values(voided_at=None, voided_by=None, void_reason=None))
    with voided.unit_of_work() as db:
        report = write_plan(db, plan_import(bundle))
        assert any("arrives entered-in-error" in line for line in report.already_present)
        assert report.episodes_created == 0
        assert db.scalars(select(EpisodeRow.voided_at)).all() == [None, None]


def test_an_export_since_a_time_includes_a_patient_whose_record_was_voided_after_it(
    database: Database, tmp_path: Path
) -> None:
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(_two_episodes())))
    since = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    with database.unit_of_work() as db:
        assert "Patient" not in export_bulk(db, "north", tmp_path / "before", since=since).counts
    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == "north"))
        knee = db.scalars(select(EpisodeRow).order_by(EpisodeRow.id)).all()[1]
        actor = Actor(account_id=None, username="ana", role="clinician", clinic_id=clinic_id, channel="cli")
        db.execute(  # the void happens after `since` (the clock of the row, not of this test's machine)
            EpisodeRow.__table__.update()
            .where(EpisodeRow.id == knee.id)
            .values(
                voided_at=since + dt.timedelta(minutes=1),
                voided_by=actor.username,
                void_reason=EPISODE_REASON,
            )
        )
    with database.unit_of_work() as db:
        counts = export_bulk(db, "north", tmp_path / "after", since=since).counts
    assert counts["Patient"] == 1 and counts["EpisodeOfCare"] == 2
