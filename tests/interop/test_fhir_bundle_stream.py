"""A Bundle import streams: read entry by entry, planned and written a part at a time, with the result,
the problems and the all-or-nothing of a bundle read whole, and memory that does not grow with the bundle."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_strategies import bundle_of, example_clinic
from foreign_visits import another_visit, elbow_visit
from sqlalchemy import func, select

from strigil.interop import bundle_stream
from strigil.interop.bundle import UnreadableJson, make_bundle, read_bundle
from strigil.interop.bundle_stream import spool_bundle
from strigil.interop.from_fhir import plan_import
from strigil.interop.to_fhir import clinic_resources
from strigil.services.bundle_import import BundleRejected, import_bundle
from strigil.services.demo import CLINIC_CODE, CLINIC_NAME, write_bulk
from strigil.services.exchange import read_clinic, write_plan
from strigil.services.export import export_rows
from strigil.store.database import Database, open_database
from strigil.store.record import ClinicRow, EpisodeRow, MeasurementRow, PatientRow, SessionRow

TABLES = (PatientRow, EpisodeRow, SessionRow, MeasurementRow)
KEY = b"the clinic's pseudonym key"
BACKSLASH = b"\\"
LONE_HIGH, LONE_LOW = BACKSLASH + b"ud800", BACKSLASH + b"udc00"  # as JSON text writes them


def _demo_bundle(tmp_path: Path, patients: int, name: str = "source") -> bytes:
    """A Strigil clinic as one Bundle: the rich example clinic's patient (measured force, a closed episode,
    adverse responses) and `patients` bulk demo patients."""
    source = open_database(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    try:
        example = example_clinic()
        with source.unit_of_work() as db:
            demo = example.clinic.model_copy(update={"code": CLINIC_CODE, "name": CLINIC_NAME})
            write_plan(db, plan_import(bundle_of(dataclasses.replace(example, clinic=demo))))
        write_bulk(source, patients, seed=5)
        with source.unit_of_work() as db:
            return orjson.dumps(make_bundle(clinic_resources(read_clinic(db, CLINIC_CODE))))
    finally:
        source.dispose()


def _empty(tmp_path: Path, name: str) -> Database:
    return open_database(f"sqlite:///{tmp_path / f'{name}.sqlite'}")


def _counts(database: Database) -> dict[str, int]:
    with database.unit_of_work() as db:
        return {t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


def _analysis(database: Database) -> tuple[list[dict[str, object]], int]:
    """The analysis export's rows without the patient and episode columns, in any order, and the number of
    episodes they show. A Bundle import through the services gives each patient a new public id (so a new
    pseudonym), and episodes are numbered in the order they were written."""
    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == CLINIC_CODE))
        assert clinic_id is not None
        rows = list(export_rows(db, clinic_id, key=KEY))
    episodes = len({(row["patient"], row["episode"]) for row in rows})
    rows = [{k: v for k, v in row.items() if k not in ("patient", "episode")} for row in rows]
    return sorted(rows, key=repr), episodes


def _parts(raw: bytes, part_bytes: int) -> list[bundle_stream.BundlePart]:
    with io.BytesIO() as spool:
        read = spool_bundle(io.BytesIO(raw), spool)
        assert read.problems == []
        return list(read.parts(part_bytes))


def test_a_bundle_in_parts_lands_as_the_same_bundle_read_in_one_part(
    database: Database, tmp_path: Path
) -> None:
    raw = _demo_bundle(tmp_path, 8)
    whole, parted = _empty(tmp_path, "whole"), database
    try:
        with whole.unit_of_work() as db:
            one = import_bundle(db, io.BytesIO(raw), validate=False)
        with parted.unit_of_work() as db:
            many = import_bundle(db, io.BytesIO(raw), validate=False, part_bytes=1)
        assert one.parts == 1 and many.parts == 9  # a part per patient
        assert one.report.to_json() == many.report.to_json()
        assert one.report.outcomes == many.report.outcomes and one.names == many.names
        assert one.not_understood == many.not_understood == []
        assert _counts(whole) == _counts(parted) and _counts(parted)["patients"] == 9
        written = many.report  # the counts an import reports are the rows it wrote
        counts = _counts(parted)
        assert (written.patients_created, written.sessions_created) == (
            counts["patients"],
            counts["treatment_sessions"],
        )
        assert written.measurements_created == counts["measurements"]
        assert _analysis(whole) == _analysis(parted)
        # and again, part by part: nothing more
        with parted.unit_of_work() as db:
            again = import_bundle(db, io.BytesIO(raw), validate=False, part_bytes=1)
        assert again.report.patients_created == again.report.sessions_created == 0
        assert _counts(whole) == _counts(parted)
    finally:
        whole.dispose()


def test_each_part_holds_whole_groups_in_bundle_order_with_the_clinic_it_needs(tmp_path: Path) -> None:
    raw = _demo_bundle(tmp_path, 5)
    entries = orjson.loads(raw)["entry"]
    parts = _parts(raw, 1)
    assert len(parts) > 5
    seen: list[int] = []
    for number, part in enumerate(parts):
        assert part.positions == sorted(part.positions)
        assert part.document["entry"] == [entries[i] for i in part.positions]
        # every reference of the part resolves inside it: nothing it needs is in another part
        assert read_bundle(part.document, positions=part.positions).problems == []
        kinds = [entries[i]["resource"]["resourceType"] for i in part.positions]
        assert "Organization" in kinds
        if number == 0:  # the first part brings every clinician and instrument
            assert kinds.count("Practitioner") == sum(
                e["resource"]["resourceType"] == "Practitioner" for e in entries
            )
        seen.extend(
            i for i in part.positions if kinds[part.positions.index(i)] not in bundle_stream.CLINIC_TYPES
        )
        assert sum(k == "Patient" for k in kinds) >= 1
    patient_level = [
        i for i, e in enumerate(entries) if e["resource"]["resourceType"] not in bundle_stream.CLINIC_TYPES
    ]
    assert sorted(seen) == patient_level  # every patient's entry in exactly one part


def test_a_clinic_level_resource_that_names_a_patient_travels_with_that_patient() -> None:
    def entry(kind: str, rid: str, **refs: str) -> dict[str, Any]:
        return {
            "resource": {"resourceType": kind, "id": rid, **{k: {"reference": v} for k, v in refs.items()}}
        }

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            entry("Organization", "org"),
            entry("Practitioner", "pr"),
            entry("Patient", "a"),
            entry("Patient", "b"),
            entry("Device", "d", patient="Patient/a"),  # a patient's own device: not the clinic's
            entry("Observation", "oa", subject="Patient/a", device="Device/d"),
            entry("Observation", "ob", subject="Patient/b", performer="Practitioner/pr"),
        ],
    }
    parts = [[e["resource"]["id"] for e in p.document["entry"]] for p in _parts(orjson.dumps(bundle), 1)]
    assert parts == [["org", "pr", "a", "d", "oa"], ["org", "pr", "b", "ob"]]


def _faulty(raw: bytes) -> dict[str, Any]:
    """The bundle with a problem of every kind, in different patients' entries."""
    bundle = orjson.loads(raw)
    entries = bundle["entry"]
    observations = [i for i, e in enumerate(entries) if e["resource"]["resourceType"] == "Observation"]
    entries[observations[0]]["resource"]["subject"] = {"reference": "Patient/nobody"}  # dangling
    entries[observations[-1]]["resource"]["status"] = "bogus"  # not R4
    entries.append(copy.deepcopy(entries[observations[len(observations) // 2]]))  # a duplicate
    entries.append({"request": {"method": "DELETE", "url": "Patient/x"}})  # not an add
    entries.append({"fullUrl": "urn:uuid:0"})  # no resource
    return bundle


def test_problems_are_named_as_in_the_whole_bundle_and_nothing_is_kept(tmp_path: Path) -> None:
    raw = orjson.dumps(_faulty(_demo_bundle(tmp_path, 6)))
    expected = [(p.where, p.message) for p in plan_import(orjson.loads(raw)).errors]
    assert len(expected) >= 5
    target = _empty(tmp_path, "target")
    try:
        for part_bytes in (None, 1):
            with pytest.raises(BundleRejected) as refused, target.unit_of_work() as db:
                import_bundle(db, io.BytesIO(raw), part_bytes=part_bytes)
            assert sorted(refused.value.issues) == sorted(expected)
            assert all(n == 0 for n in _counts(target).values())  # parts written before the fault rolled back
    finally:
        target.dispose()


def test_a_transaction_in_parts_is_all_or_nothing(tmp_path: Path) -> None:
    raw = _demo_bundle(tmp_path, 4)
    bundle = orjson.loads(raw)
    bundle["type"] = "transaction"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    # another system's Procedure, about the last patient: it cannot be stored, so nothing is
    last = next(e for e in reversed(bundle["entry"]) if e["resource"]["resourceType"] == "Patient")
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Procedure",
                "id": "theirs",
                "status": "completed",
                "code": {"text": "Soft tissue mobilisation"},
                "subject": {"reference": f"Patient/{last['resource']['id']}"},
            },
            "request": {"method": "PUT", "url": "Procedure/theirs"},
        }
    )
    target = _empty(tmp_path, "target")
    try:
        with pytest.raises(BundleRejected) as refused, target.unit_of_work() as db:
            import_bundle(db, io.BytesIO(orjson.dumps(bundle)), part_bytes=1)
        assert [where for where, _ in refused.value.issues] == ["Procedure/theirs"]
        assert refused.value.rule is not None and "all or nothing" in refused.value.rule
        assert all(n == 0 for n in _counts(target).values())
    finally:
        target.dispose()


def test_memory_follows_the_part_not_the_bundle(tmp_path: Path) -> None:
    """Peak Python allocation of an import in parts: well below the same bundle planned in one part (the
    parsed JSON alone is about seven times the file), and growing far less than the bundle (only the index
    of names and references grows with it)."""
    peaks: dict[tuple[int, int], int] = {}
    sizes = {}
    for patients in (10, 40):
        path = tmp_path / f"bundle{patients}.json"
        path.write_bytes(_demo_bundle(tmp_path, patients, name=f"source{patients}"))
        sizes[patients] = path.stat().st_size
        for part_bytes in (256 * 1024, 2**40):
            target = _empty(tmp_path, f"target{patients}-{part_bytes}")
            try:
                with target.unit_of_work() as db, path.open("rb") as source:
                    tracemalloc.start()
                    done = import_bundle(db, source, validate=False, bulk=True, part_bytes=part_bytes)
                    peaks[patients, part_bytes] = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                assert done.report.patients_created == patients + 1
            finally:
                target.dispose()
    assert sizes[40] > 3.5 * sizes[10]
    parted = {n: peaks[n, 256 * 1024] for n in sizes}
    assert parted[40] < 0.4 * peaks[40, 2**40], peaks
    assert parted[40] < 2 * parted[10], peaks


def test_utf8_is_checked_as_it_passes_and_a_fault_is_named_by_its_byte() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    head = orjson.dumps(bundle)[:-2]  # up to the entry list's "["
    note = '{"resource": {"resourceType": "Patient", "id": "p", "name": [{"text": "' + "é" * 50_000 + '"}]}}'
    good = head + note.encode() + b"]}"
    with io.BytesIO() as spool:
        read = spool_bundle(io.BytesIO(b"\xef\xbb\xbf" + good), spool)  # é across every 64 KiB read
        assert read.problems == [] and read.names == ["Patient/p"]
    at = good.index("é".encode(), 100_000)  # the first byte of a character, in the second read
    bad = good[:at] + b"\xff" + good[at + 1 :]
    with io.BytesIO() as spool, pytest.raises(UnreadableJson, match=rf"not UTF-8 text \(byte {at}\)"):
        spool_bundle(io.BytesIO(bad), spool)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 5_000 + b"]" * 5_000, "nested too deep"),
        (b"[1, 2", "not JSON"),
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}] trailing',
            "not JSON",
        ),
        # deeper than a whole-document reader reads, wherever it is
        (
            b'{"resourceType": "Bundle", "entry": [], "meta": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            "too deep",
        ),
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"n": 123456789012345678901234567890}}]}',
            "64 bits",
        ),
        # half a UTF-16 surrogate pair: yajl would keep "?" (or fail); a whole-document reader refuses it
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"note": "ab' + LONE_HIGH + b'c"}}]}',
            "byte 62: a",
        ),
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"note": "ab' + LONE_LOW + b'c"}}]}',
            "byte 62: a",
        ),
    ],
)
def test_text_that_is_not_a_bundles_json_gets_a_sentence(raw: bytes, words: str) -> None:
    with io.BytesIO() as spool, pytest.raises(UnreadableJson, match=words) as error:
        spool_bundle(io.BytesIO(raw), spool)
    assert "\n" not in str(error.value)  # the parser's quote of the text (a patient's, maybe) is not repeated


def test_an_envelope_that_is_not_a_bundles_is_named_and_nothing_is_read() -> None:
    for raw, where, words in [
        (b'"text"', "bundle", "expected a JSON object, got str"),
        (
            b'{"resourceType": "Patient", "entry": []}',
            "bundle.resourceType",
            "expected 'Bundle', got 'Patient'",
        ),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": {}}',
            "bundle.entry",
            "a list of entries",
        ),
        (
            b'{"entry": [], "type": "document", "resourceType": "Bundle"}',
            "bundle.type",
            "'document' is not accepted",
        ),
        (b'{"resourceType": "Bundle", "type": ["batch"], "entry": []}', "bundle.type", "a JSON array is not"),
        # a key twice: a reader could take either (a batch read as a transaction, or the other way round)
        (
            b'{"resourceType": "Bundle", "type": "batch", "entry": [], "type": "transaction"}',
            "bundle.type",
            "once",
        ),
    ]:
        with io.BytesIO() as spool:
            read = spool_bundle(io.BytesIO(raw), spool)
        assert [(p.where, words in p.message) for p in read.problems] == [(where, True)], read.problems


def _visits_then_the_clinic(kind: str, visits: list[dict[str, Any]]) -> bytes:
    """Other systems' visits first, then the Strigil clinic their measurements belong to (P-0001's open
    right-elbow episode): placing them needs records that only later parts write."""
    entries = [e for visit in visits for e in visit["entry"]] + bundle_of(example_clinic())["entry"]
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


def test_other_systems_measurements_are_placed_after_every_parts_own_records(tmp_path: Path) -> None:
    first = elbow_visit()
    first["entry"] = [e for e in first["entry"] if e["resource"]["resourceType"] != "Procedure"]
    raw = _visits_then_the_clinic("batch", [first])
    reports = {}
    for part_bytes in (None, 1):  # one part; a part per group, the visit's before the clinic's
        target = _empty(tmp_path, f"target-{part_bytes}")
        try:
            with target.unit_of_work() as db:
                done = import_bundle(db, io.BytesIO(raw), patient_code="P-0001", part_bytes=part_bytes)
            reports[part_bytes] = (done.report.to_json(), [o.status for o in done.report.outcomes.values()])
            assert done.report.placed.keys() == {"Observation/pain-77"}
        finally:
            target.dispose()
    placed = {k: v for k, v in reports[1][0].items() if k != "placed"}
    assert placed == {k: v for k, v in reports[None][0].items() if k != "placed"}


def test_a_transaction_in_parts_names_every_entry_it_cannot_store(tmp_path: Path) -> None:
    raw = _visits_then_the_clinic("transaction", [another_visit(elbow_visit(), n) for n in (1, 2, 3)])
    for part_bytes in (None, 1):
        target = _empty(tmp_path, f"target-{part_bytes}")
        try:
            with pytest.raises(BundleRejected) as refused, target.unit_of_work() as db:
                import_bundle(db, io.BytesIO(raw), patient_code="P-0001", part_bytes=part_bytes)
            assert [where for where, _ in refused.value.issues] == [
                f"Procedure/proc-{100 + n}" for n in (1, 2, 3)
            ]
            assert all(n == 0 for n in _counts(target).values())
        finally:
            target.dispose()


def _escaped(text: str) -> bytes:
    """`text` as JSON text, every character beyond ASCII a \\u escape (an emoji: a surrogate pair)."""
    return json.dumps({"a": text}, ensure_ascii=True).encode()


@pytest.mark.parametrize(
    ("raw", "lone_at"),
    [
        (_escaped("x\U0001f600y\U0001f600"), None),  # two whole pairs
        (b'{"a": "x' + BACKSLASH * 2 + b'ud800y"}', None),  # an escaped backslash, then the letters ud800
        (b'{"a": "' + BACKSLASH * 6 + _escaped("\U0001f600")[7:], None),  # three escaped backslashes, a pair
        (b'{"a": "x' + LONE_HIGH + b'y"}', 8),
        (b'{"a": "x' + LONE_HIGH + b'"}', 8),
        (b'{"a": "x' + LONE_LOW + b'y"}', 8),
        (b'{"a": "' + LONE_HIGH + BACKSLASH + b'n"}', 7),
        (b'{"a": "' + LONE_HIGH + _escaped("\U0001f600")[7:], 7),  # a high, then a whole pair
    ],
)
def test_every_escape_is_a_whole_character_however_the_reads_cut_the_text(
    raw: bytes, lone_at: int | None
) -> None:
    for size in [*range(1, 15), 1 << 16]:  # every place a read can end, and the parser's own reads
        checked = bundle_stream._CheckedText(io.BytesIO(raw), surrogates=True)
        if lone_at is None:
            while checked.read(size):
                pass
            continue
        with pytest.raises(
            UnreadableJson, match=f"byte {lone_at}: a .u escape of half a UTF-16 surrogate pair"
        ):
            while checked.read(size):
                pass
