"""FHIR Bulk Data: a clinic out as NDJSON (one file per type) and back in, whole; bad files change nothing."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_strategies import bundle_of, example_clinic
from sqlalchemy import func, select
from typer.testing import CliRunner

from strigil.cli import app
from strigil.clinical.public_ids import is_public_id
from strigil.interop.bulk import Sampler, patient_of
from strigil.interop.dossier import ClinicDossier
from strigil.interop.from_fhir import plan_import
from strigil.services.bulk_exchange import Batch, BatchesPartlyLanded, BulkRejected, export_bulk, import_bulk
from strigil.services.demo import write_bulk
from strigil.services.errors import Refused
from strigil.services.exchange import ImportReport, read_clinic, write_plan
from strigil.services.export import export_rows
from strigil.store.audit import AuditEvent
from strigil.store.database import Database, open_database
from strigil.store.record import ClinicRow, EpisodeRow, MeasurementRow, PatientRow, SessionRow

TABLES = (PatientRow, EpisodeRow, SessionRow, MeasurementRow)
DEMO_PATIENTS = 12


@pytest.fixture
def clinic(database: Database) -> Database:
    """A clinic on SQLite or PostgreSQL: the rich example (measured force, loose measurements, a closed
    episode, adverse responses) written through the services, and DEMO_PATIENTS bulk demo patients."""
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(example_clinic())))
    write_bulk(database, DEMO_PATIENTS, seed=11)
    return database


def _counts(database: Database) -> dict[str, int]:
    with database.unit_of_work() as db:
        return {t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


def _analysis(database: Database, code: str) -> list[dict[str, object]]:
    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == code))
        assert clinic_id is not None
        return list(export_rows(db, clinic_id, key=b"the clinic's pseudonym key"))


def _export(database: Database, code: str, folder: Path, **options: object) -> dict[str, int]:
    with database.unit_of_work() as db:
        manifest = export_bulk(db, code, folder, **options)  # type: ignore[arg-type]
    return manifest.counts


def _import(url: str, folder: Path, **options: object) -> None:
    target = open_database(url)
    try:
        with target.unit_of_work() as db:
            import_bulk(db, folder, **options)  # type: ignore[arg-type]
    finally:
        target.dispose()


def _without_database_ids(dossier: ClinicDossier) -> ClinicDossier:
    """The dossier with each session's database episode id set to 1 (ids differ between databases)."""
    return dataclasses.replace(
        dossier,
        patients=tuple(
            dataclasses.replace(
                p,
                episodes=tuple(
                    dataclasses.replace(
                        e,
                        sessions=tuple(
                            dataclasses.replace(s, record=s.record.model_copy(update={"episode_id": 1}))
                            for s in e.sessions
                        ),
                    )
                    for e in p.episodes
                ),
            )
            for p in dossier.patients
        ),
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_a_clinic_goes_out_and_back_whole(clinic: Database, tmp_path: Path) -> None:
    for code in ("north", "demo"):
        folder = tmp_path / code
        counts = _export(clinic, code, folder, validation="all")
        assert counts["Patient"] > 0 and counts["Procedure"] > 0
        for kind, count in counts.items():  # one file per type, one resource per line
            resources = _lines(folder / f"{kind}.ndjson")
            assert len(resources) == count and {r["resourceType"] for r in resources} == {kind}
        target_url = f"sqlite:///{tmp_path / (code + '-target.sqlite')}"
        _import(target_url, folder, validation="all")
        target = open_database(target_url)
        with clinic.unit_of_work() as a, target.unit_of_work() as b:
            # everything, public ids included, read back equal (database ids aside)
            assert _without_database_ids(read_clinic(b, code)) == _without_database_ids(read_clinic(a, code))
        # the analysis export, cell for cell
        assert _analysis(target, code) == _analysis(clinic, code)
        target.dispose()


def test_resource_ids_are_public_ids_never_database_integers(clinic: Database, tmp_path: Path) -> None:
    _export(clinic, "demo", tmp_path)
    with clinic.unit_of_work() as db:
        patient_ids = set(db.scalars(select(PatientRow.public_id)))
        session_ids = set(db.scalars(select(SessionRow.public_id)))
    patients = _lines(tmp_path / "Patient.ndjson")
    assert {p["id"] for p in patients} <= patient_ids
    assert {p["id"] for p in _lines(tmp_path / "Procedure.ndjson")} <= session_ids
    for kind in ("Patient", "EpisodeOfCare", "Procedure", "Observation", "AdverseEvent", "Condition"):
        for resource in _lines(tmp_path / f"{kind}.ndjson"):
            assert is_public_id(resource["id"]), resource["id"]
            assert patient_of(resource) in {p["id"] for p in patients}


def test_a_second_import_of_the_same_files_adds_nothing(clinic: Database, tmp_path: Path) -> None:
    _export(clinic, "demo", tmp_path / "out")
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    _import(url, tmp_path / "out")
    target = open_database(url)
    before = _counts(target)
    with pytest.raises(Refused, match="already in clinic 'demo'"):
        _import(url, tmp_path / "out")
    assert _counts(target) == before
    # the same resource ids under new patient codes: the ids collide, nothing is attached to anyone
    patients = tmp_path / "out" / "Patient.ndjson"
    renamed = [
        {**p, "identifier": [{**p["identifier"][0], "value": f"X{i}"}]}  # type: ignore[index]
        for i, p in enumerate(_lines(patients))
    ]
    patients.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in renamed))
    with pytest.raises(Refused, match="public id"):
        _import(url, tmp_path / "out")
    assert _counts(target) == before
    target.dispose()


def test_type_and_since_select_what_is_written(clinic: Database, tmp_path: Path) -> None:
    counts = _export(clinic, "demo", tmp_path / "types", types=["Patient", "Observation"])
    assert set(counts) == {"Patient", "Observation"}
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    nothing = _export(clinic, "demo", tmp_path / "future", since=future)
    assert "Patient" not in nothing
    past = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert _export(clinic, "demo", tmp_path / "past", since=past)["Patient"] == DEMO_PATIENTS


def test_sampled_validation_checks_every_type_and_can_fail_the_export(
    clinic: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = Sampler("sample", first=2, every=10)
    wanted = [sampler.wants("Observation") for _ in range(25)]
    assert wanted[:2] == [True, True] and sum(wanted) == 4  # 0, 1, 10, 20
    assert sampler.wants("Device")  # every type, however few
    import strigil.interop.to_fhir as to_fhir

    real = to_fhir.patient_resource

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        return {**real(*args, **kwargs), "gender": "robot"}  # type: ignore[arg-type]

    monkeypatch.setattr(to_fhir, "patient_resource", broken)
    with pytest.raises(BulkRejected, match="gender"):
        _export(clinic, "demo", tmp_path / "bad")
    assert not list((tmp_path / "bad").glob("*.ndjson"))  # no partial export left behind


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda lines: [b"\xff\xfe not utf-8", *lines[1:]], "not UTF-8"),
        (lambda lines: [b"[" * 5000 + b"]" * 5000, *lines[1:]], "nested too deep"),
        (lambda lines: [b"{not json", *lines[1:]], "not JSON"),
        (lambda lines: [lines[0], lines[0], *lines[1:]], "duplicate Patient id"),
        (lambda lines: [b'{"resourceType": "Goal", "id": "x"}', *lines], "a Goal in the file of Patient"),
        (lambda lines: [b"[1, 2]", *lines], "expected a FHIR resource"),
        (lambda lines: [*lines[1:], lines[0]], "in the order of Patient.ndjson"),
    ],
)
def test_bad_files_are_refused_whole_with_the_reason(
    clinic: Database, tmp_path: Path, damage: object, message: str
) -> None:
    folder = tmp_path / "out"
    _export(clinic, "demo", folder)
    patients = folder / "Patient.ndjson"
    lines = patients.read_bytes().splitlines()
    patients.write_bytes(b"\n".join(damage(lines)) + b"\n")  # type: ignore[operator]
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    with pytest.raises(BulkRejected, match=message):
        _import(url, folder, chunk=5)  # several chunks: the last patient's resources come too early
    target = open_database(url)
    assert set(_counts(target).values()) == {0}  # all or nothing
    target.dispose()


def test_ndjson_files_starting_with_a_byte_order_mark_are_read(clinic: Database, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    exported = _export(clinic, "demo", folder)
    for path in folder.glob("*.ndjson"):  # as an EMR writing "UTF-8 with BOM" would (RFC 8259 §8.1)
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    _import(url, folder)
    target = open_database(url)
    assert _counts(target)["patients"] == exported["Patient"] == DEMO_PATIENTS
    target.dispose()


def _break_last_observation(folder: Path) -> None:
    """Give the last Observation (of the last patient: the files follow Patient.ndjson) a measure the
    catalogue does not know, which the import refuses."""
    path = folder / "Observation.ndjson"
    lines = path.read_bytes().splitlines()
    last = orjson.loads(lines[-1])
    last["code"]["coding"][0]["code"] = "no-such-measure"
    path.write_bytes(b"\n".join([*lines[:-1], orjson.dumps(last)]) + b"\n")


def test_declared_batches_land_on_their_own_and_a_failure_names_them(
    clinic: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    _export(clinic, "demo", folder)
    _break_last_observation(folder)
    url = f"sqlite:///{tmp_path / 'whole.sqlite'}"
    with pytest.raises(BulkRejected, match="not in the catalogue") as whole:
        _import(url, folder, chunk=2)  # the default: one transaction for the run
    assert not isinstance(whole.value, BatchesPartlyLanded)
    target = open_database(url)
    assert set(_counts(target).values()) == {0}
    target.dispose()

    url = f"sqlite:///{tmp_path / 'batched.sqlite'}"
    target = open_database(url)
    landed: list[tuple[Batch, int]] = []
    with target.unit_of_work() as db:

        def committed(batch: Batch, part: ImportReport) -> None:
            db.commit()
            landed.append((batch, part.patients_created))

        with pytest.raises(BatchesPartlyLanded, match="not in the catalogue") as batched:
            import_bulk(db, folder, chunk=2, batch_size=5, committed=committed)
        db.rollback()
    # 12 patients: batches of 5, 5 and 2; the last patient's Observation fails batch 3
    assert [(b.number, b.patients, n) for b, n in landed] == [(1, 5, 5), (2, 5, 5)]
    assert batched.value.landed == [b for b, _ in landed] and batched.value.failed == 3
    assert "batches 1–2 landed (10 patients); batch 3 and every batch after it not imported" in str(
        batched.value
    )
    patients = [p["id"] for p in _lines(folder / "Patient.ndjson")]
    assert [(b.first, b.last) for b, _ in landed] == [(patients[0], patients[4]), (patients[5], patients[9])]
    with target.unit_of_work() as db:
        assert set(db.scalars(select(PatientRow.public_id))) == set(patients[:10])
    assert _counts(target)["measurements"] > 0
    target.dispose()


def test_the_cli_imports_in_declared_batches(clinic: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    source = clinic.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "bulk"
    result = runner.invoke(
        app, ["fhir", "export", "--bulk", str(out), "--clinic", "demo"], env={"STRIGIL_DATABASE_URL": source}
    )
    assert result.exit_code == 0, result.stderr
    good = f"sqlite:///{tmp_path / 'good.sqlite'}"
    result = runner.invoke(
        app, ["fhir", "import", str(out), "--batch-size", "5"], env={"STRIGIL_DATABASE_URL": good}
    )
    assert result.exit_code == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("landed")] == [
        "landed batch 1",
        "landed batch 2",
        "landed batch 3",
    ]
    written = open_database(good)
    with written.unit_of_work() as db:  # each batch has its run row and one row per patient it wrote
        rows = db.scalars(select(AuditEvent.patient_id).where(AuditEvent.resource == "fhir_bulk")).all()
    assert len([r for r in rows if r is None]) == 3 and len({r for r in rows if r}) == DEMO_PATIENTS
    written.dispose()

    _break_last_observation(out)
    bad = f"sqlite:///{tmp_path / 'bad.sqlite'}"
    result = runner.invoke(
        app, ["fhir", "import", str(out), "--batch-size", "5"], env={"STRIGIL_DATABASE_URL": bad}
    )
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "batches 1–2 landed (10 patients); batch 3 and every batch after it not imported" in result.stderr
    assert "landed: batch 2: 5 patients" in result.stderr and "not in the catalogue" in result.stderr
    written = open_database(bad)
    with written.unit_of_work() as db:
        rows = db.scalars(select(AuditEvent.patient_id).where(AuditEvent.resource == "fhir_bulk")).all()
        assert db.scalar(select(func.count()).select_from(PatientRow)) == 10
    assert len({r for r in rows if r}) == 10  # the landed batches are audited, the failed one is not there
    written.dispose()
    result = runner.invoke(  # a Bundle is imported whole
        app,
        ["fhir", "import", str(out / "Patient.ndjson"), "--batch-size", "5"],
        env={"STRIGIL_DATABASE_URL": bad},
    )
    assert result.exit_code == 2 and "--batch-size is for a folder" in result.stderr


def test_the_cli_exports_and_imports_a_folder_and_audits_each_patient(
    clinic: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    source = clinic.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "bulk"
    result = runner.invoke(
        app, ["fhir", "export", "--bulk", str(out), "--clinic", "demo"], env={"STRIGIL_DATABASE_URL": source}
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert {o["type"] for o in manifest["output"]} >= {"Patient", "Procedure", "Observation"}
    assert "sample" in manifest["extension"]["validation"]
    with clinic.unit_of_work() as db:
        audited = db.scalar(
            select(func.count()).where(AuditEvent.resource == "fhir_bulk", AuditEvent.patient_id.is_not(None))
        )
    assert audited == DEMO_PATIENTS
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    result = runner.invoke(app, ["fhir", "import", str(out), "--json"], env={"STRIGIL_DATABASE_URL": target})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["patients_created"] == DEMO_PATIENTS
    written = open_database(target)
    with written.unit_of_work() as db:  # one row for the run, one per patient it wrote
        rows = db.scalars(select(AuditEvent.patient_id).where(AuditEvent.resource == "fhir_bulk")).all()
    written.dispose()
    assert len(rows) == DEMO_PATIENTS + 1 and len({r for r in rows if r is not None}) == DEMO_PATIENTS
    (out / "Patient.ndjson").write_bytes(b"\xff\n")
    result = runner.invoke(app, ["fhir", "import", str(out)], env={"STRIGIL_DATABASE_URL": target})
    assert result.exit_code == 2 and "not UTF-8" in result.stderr and "Traceback" not in result.stderr


SCHEMA = Path(__file__).resolve().parents[1] / "reference" / "hl7-fhir" / "fhir.schema.json.gz"
SCHEMA_SHA256 = (
    "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"  # its README says where from
)


@pytest.fixture(scope="module")
def r4_schema() -> Any:
    """A validator for HL7's R4 JSON schema, from the copy shipped with the tests (checked by its hash)."""
    import jsonschema_rs

    raw = gzip.decompress(SCHEMA.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256
    schema = json.loads(raw)
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    return jsonschema_rs.validator_for(schema)


def test_every_exported_line_validates_against_hl7s_r4_json_schema(
    clinic: Database, tmp_path: Path, r4_schema: Any
) -> None:
    _export(clinic, "north", tmp_path / "north")
    _export(clinic, "demo", tmp_path / "demo")
    checked: dict[str, int] = {}
    for path in sorted(tmp_path.glob("*/*.ndjson")):
        for resource in _lines(path):
            errors = [str(e) for e in r4_schema.iter_errors(resource)]
            assert errors == [], f"{path.name} {resource['id']}: {errors[:3]}"
            checked[path.name] = checked.get(path.name, 0) + 1
    assert sum(checked.values()) > 500 and len(checked) >= 10, checked
    broken = {**_lines(tmp_path / "demo" / "Patient.ndjson")[0], "gender": 7}
    assert not r4_schema.is_valid(broken)  # the schema does check
    unknown = {**_lines(tmp_path / "demo" / "Procedure.ndjson")[0], "dose": "three strokes"}
    assert not r4_schema.is_valid(unknown)  # and refuses elements R4 does not define


def test_a_single_bundle_export_validates_against_hl7s_r4_json_schema(
    clinic: Database, tmp_path: Path, r4_schema: Any
) -> None:
    out = tmp_path / "demo.json"
    env = {"STRIGIL_DATABASE_URL": clinic.engine.url.render_as_string(hide_password=False)}
    result = CliRunner().invoke(app, ["fhir", "export", "--all", "--clinic", "demo", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.stderr
    bundle = json.loads(out.read_bytes())
    assert len(bundle["entry"]) > 20
    assert [str(e) for e in r4_schema.iter_errors(bundle)] == []
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["resourceType"] = "Treatment"
    assert not r4_schema.is_valid(broken)


def test_a_bundle_file_that_is_not_utf8_too_deep_or_too_large_gets_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import strigil.interop.bundle as bundle_module

    runner = CliRunner()
    env = {"STRIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'target.sqlite'}"}
    latin1 = '{"resourceType": "Bundle", "note": "caf\xe9"}'.encode("latin-1")
    cases = {
        "latin1.json": (latin1, "not UTF-8"),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        "big.json": (b'{"resourceType": "Bundle"}' + b" " * 300_000, "larger than a Bundle may be"),
    }
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 250_000)
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        result = runner.invoke(app, ["fhir", "import", str(tmp_path / name)], env=env)
        assert result.exit_code == 2, (name, result.stdout, result.exception)
        assert message in result.stderr and "Traceback" not in result.stderr, (name, result.stderr)


def test_repeated_records_built_once_give_the_same_plan_and_the_same_refusals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import strigil.interop.from_fhir as from_fhir

    bundle = bundle_of(example_clinic())
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    bad = json.loads(json.dumps(bundle))
    for entry in bad["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["valueQuantity"]["value"] = 99  # off every scale the example uses
    remembered = [plan_import(b, validate=False) for b in (bundle, bad)]
    # the same plans with every record built afresh (what the import did before)
    monkeypatch.setattr(
        from_fhir._Built,
        "__call__",
        lambda self, model, where, **fields: from_fhir._build(model, where, **fields),
    )
    afresh = [plan_import(b, validate=False) for b in (bundle, bad)]
    assert len(observations) >= 2 and not remembered[0].errors
    assert remembered[0] == afresh[0]
    assert remembered[1].errors and remembered[1].errors == afresh[1].errors  # refused alike, same place
    assert all("99" in p.message for p in remembered[1].errors)


def test_a_record_built_once_is_reused_only_for_the_same_input_and_a_failure_never() -> None:
    from strigil.clinical.session import Measurement
    from strigil.interop.from_fhir import _Built, _Reject

    built = _Built()
    first = built(Measurement, "Observation/a", measure="nprs", value=4.0, timing="pre")
    assert built(Measurement, "Observation/b", measure="nprs", value=4.0, timing="pre") is first
    # an equal key of another type is another input: built on its own (equal here, as pydantic makes 4 → 4.0)
    other = built(Measurement, "Observation/c", measure="nprs", value=4, timing="pre")
    assert other is not first and other == first
    for where in ("Observation/d", "Observation/e"):
        with pytest.raises(_Reject) as refused:
            built(Measurement, where, measure="nprs", value=99.0, timing="pre")
        assert refused.value.problem.where == where and "99" in refused.value.problem.message
    with pytest.raises(_Reject, match=r"timing"):  # a list among the fields: built every time
        built(Measurement, "Observation/f", measure="nprs", value=4.0, timing=["pre"])


def _renamed_patients(folder: Path) -> None:
    """Give the exported patients codes no other database holds (the records stay those of the file)."""
    for path in folder.glob("*.ndjson"):
        path.write_bytes(path.read_bytes().replace(b'"D0000', b'"X0000'))


def _other_demo_clinic(tmp_path: Path) -> tuple[str, str]:
    """A database whose own clinic 'demo' is another clinic than the fixture's (another public id)."""
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    other = open_database(url)
    write_bulk(other, 3, seed=5)
    with other.unit_of_work() as db:
        public_id = db.scalar(select(ClinicRow.public_id).where(ClinicRow.code == "demo"))
    other.dispose()
    assert public_id is not None
    return url, public_id


def test_a_folder_never_lands_in_another_clinic_that_shares_its_code(
    clinic: Database, tmp_path: Path
) -> None:
    """The review's case: clinic 'demo' of one server exported, imported where 'demo' is another clinic."""
    _export(clinic, "demo", tmp_path / "out")
    _renamed_patients(tmp_path / "out")
    url, here = _other_demo_clinic(tmp_path)
    with pytest.raises(
        Refused, match=rf"is not this server's clinic 'demo' \(public id {here}\).*--clinic demo"
    ):
        _import(url, tmp_path / "out")
    target = open_database(url)
    with target.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(PatientRow)) == 3  # nothing written
    target.dispose()
    _import(url, tmp_path / "out", clinic_code="demo")  # named by the person importing: added to it
    target = open_database(url)
    with target.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(PatientRow)) == 3 + DEMO_PATIENTS
        assert db.scalar(select(func.count()).select_from(ClinicRow)) == 1
    target.dispose()


def test_a_copy_of_a_clinic_keeps_its_public_id_and_is_recognised_again(
    clinic: Database, tmp_path: Path
) -> None:
    _export(clinic, "demo", tmp_path / "out")
    with clinic.unit_of_work() as db:
        source = db.scalar(select(ClinicRow.public_id).where(ClinicRow.code == "demo"))
    url = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    _import(url, tmp_path / "out")
    copy_db = open_database(url)
    with copy_db.unit_of_work() as db:
        assert db.scalar(select(ClinicRow.public_id).where(ClinicRow.code == "demo")) == source
    copy_db.dispose()
    # the same clinic's next export is taken for this clinic (no --clinic needed): what stops it is only that
    # its records are here already
    with pytest.raises(Refused, match=r"^bulk import takes new patients only; already in clinic 'demo'"):
        _import(url, tmp_path / "out")


def test_a_clinician_who_is_another_person_under_the_same_code_refuses_the_import(
    clinic: Database, tmp_path: Path
) -> None:
    """Sessions are never attributed to a different person who happens to have the file's clinician code."""
    _export(clinic, "demo", tmp_path / "out")
    _renamed_patients(tmp_path / "out")
    practitioners = tmp_path / "out" / "Practitioner.ndjson"
    changed = [{**p, "name": [{"text": "Someone Else"}]} for p in _lines(practitioners)]
    practitioners.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in changed))
    url, _ = _other_demo_clinic(tmp_path)
    with pytest.raises(Refused, match=r"the file has 'Someone Else'.*attributed to another person"):
        _import(url, tmp_path / "out", clinic_code="demo")


def test_one_patient_code_on_two_patient_lines_is_named(clinic: Database, tmp_path: Path) -> None:
    _export(clinic, "demo", tmp_path / "out")
    patients = tmp_path / "out" / "Patient.ndjson"
    first, second, *rest = _lines(patients)
    second = {**second, "identifier": first["identifier"]}  # another resource, the same patient code
    patients.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in [first, second, *rest]))
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    with pytest.raises(Refused, match=r"name two Patient resources in the files: one code, one person"):
        _import(url, tmp_path / "out")


def test_a_resource_in_another_types_file_is_refused(clinic: Database, tmp_path: Path) -> None:
    _export(clinic, "demo", tmp_path / "out")
    goal = _lines(tmp_path / "out" / "Goal.ndjson")[0]
    observations = tmp_path / "out" / "Observation.ndjson"
    observations.write_bytes(orjson.dumps({**goal, "id": "a-goal-filed-as-an-observation"}) + b"\n")
    with pytest.raises(BulkRejected) as refused:
        _import(f"sqlite:///{tmp_path / 'target.sqlite'}", tmp_path / "out")
    assert refused.value.problems == ["Observation.ndjson line 1: a Goal in the file of Observation"]


def test_a_missing_file_the_resources_refer_to_is_named_first(clinic: Database, tmp_path: Path) -> None:
    _export(clinic, "demo", tmp_path / "out")
    (tmp_path / "out" / "Organization.ndjson").unlink()
    with pytest.raises(BulkRejected) as refused:
        _import(f"sqlite:///{tmp_path / 'target.sqlite'}", tmp_path / "out")
    first = refused.value.problems[0]
    assert first == f"{tmp_path / 'out'}: no Organization.ndjson, though its resources refer to Organizations"
    # in declared batches too, where the first batch fails
    landed: list[Batch] = []
    with pytest.raises(BatchesPartlyLanded) as partly:
        _import(
            f"sqlite:///{tmp_path / 'batched.sqlite'}",
            tmp_path / "out",
            batch_size=5,
            committed=lambda batch, _: landed.append(batch),
        )
    assert partly.value.failed == 1 and landed == [] and partly.value.problems[0] == first
