"""Another EMR's measurement placed by an ICD-10-CM coded Condition, through the shipped map
(`strigil/interop/data/icd10cm-conditions.toml`): into the episode of that condition and, where the code names
one, that side; an unmapped code or the wrong side is refused with the reason."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir_strategies import bundle_of, example_clinic
from sqlalchemy import select

from strigil.catalog import load_catalog
from strigil.interop.from_fhir import plan_import
from strigil.interop.icd10 import ICD10_CM, icd10cm_map, map_file_entries
from strigil.services.exchange import ImportReport, write_plan
from strigil.store.database import Database
from strigil.store.record import EpisodeRow, MeasurementRow, PatientRow

BUNDLE = Path(__file__).parent / "bundles" / "other_ehr_icd10_elbow.json"


def test_every_map_entry_has_its_code_official_title_and_source() -> None:
    system, entries = map_file_entries()
    assert system == ICD10_CM == "http://hl7.org/fhir/sid/icd-10-cm"
    catalog = load_catalog()
    codes = [str(e["code"]) for e in entries]
    assert entries and len(codes) == len(set(codes))
    for entry in entries:
        assert set(entry) <= {"code", "title", "condition", "side", "source"}, entry
        assert re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?", str(entry["code"])), entry
        assert str(entry["title"]).strip(), entry
        assert str(entry["source"]).startswith("https://"), entry
        assert entry["condition"] in catalog.conditions, entry
        side = entry.get("side")
        assert side in (None, "left", "right", "bilateral"), entry
        # the side is the one the title names: "right" in the title, right side; "unspecified", none
        title = str(entry["title"]).lower()
        named = [s for s in ("left", "right", "bilateral") if re.search(rf"\b{s}\b", title)]
        assert named == ([side] if side else []), entry
    assert icd10cm_map()["M77.11"][0].side == "right"


@pytest.fixture
def clinic(db: Database) -> Database:
    """Clinic "north": P-0001 with a right lateral-elbow episode open from 2025-03-01."""
    with db.unit_of_work() as s:
        write_plan(s, plan_import(bundle_of(example_clinic())))
    return db


def _bundle(code: str) -> dict[str, Any]:
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    condition = copy.deepcopy(bundle)["entry"][1]["resource"]
    condition["code"]["coding"][0]["code"] = code
    condition["code"]["coding"][0].pop("display")
    bundle["entry"][1]["resource"] = condition
    return bundle


def _import(db: Database, bundle: dict[str, Any]) -> ImportReport:
    plan = plan_import(bundle)
    assert plan.errors == []
    with db.unit_of_work() as s:
        return write_plan(s, plan, clinic_code="north", patient_code="P-0001")


def _placed(db: Database) -> list[tuple[str, str, float]]:
    with db.unit_of_work() as s:
        return [
            tuple(row)
            for row in s.execute(
                select(EpisodeRow.condition, EpisodeRow.side, MeasurementRow.value)
                .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(MeasurementRow.source.is_not(None))
            )
        ]


def test_every_code_and_title_is_cdcs_own_in_the_april_2026_release() -> None:
    """Each mapped code exists in CDC's ICD-10-CM tabular list (April 1, 2026) with exactly the title written
    here; the list is read from the file simple-icd-10-cm 1.5.0 ships unchanged."""
    from importlib.util import find_spec
    from xml.etree import ElementTree

    # the package's folder, found without importing it (its import warns about an old importlib API)
    package = find_spec("simple_icd_10_cm")
    assert package is not None and package.submodule_search_locations, "pip install simple-icd-10-cm==1.5.0"
    data = Path(package.submodule_search_locations[0]) / "data" / "icd10c-tabular-April-1-2026.xml"
    root = ElementTree.fromstring(data.read_bytes())
    official = {
        d.findtext("name"): d.findtext("desc") for d in root.iter("diag") if d.findtext("name") is not None
    }
    assert official["M77.11"] == "Lateral epicondylitis, right elbow"  # the release is the one named
    _, entries = map_file_entries()
    wrong = {e["code"]: (e["title"], official.get(str(e["code"]))) for e in entries}
    wrong = {code: pair for code, pair in wrong.items() if pair[0] != pair[1]}
    assert wrong == {}
    assert all(e["source"] == "https://www.cdc.gov/nchs/icd/icd-10-cm/files.html" for e in entries)


def test_an_icd10cm_right_elbow_code_places_the_pain_score_in_the_right_elbow_episode(
    clinic: Database,
) -> None:
    plan = plan_import(_bundle("M77.11"))
    (foreign,) = plan.foreign_measurements
    assert (foreign.condition, foreign.side) == ("lateral_elbow_tendinopathy", "right")
    report = _import(clinic, _bundle("M77.11"))
    assert report.measurements_created == 1 and report.not_placed == []
    assert _placed(clinic) == [("lateral_elbow_tendinopathy", "right", 5.0)]


def test_a_code_without_a_side_places_in_the_one_episode_of_that_condition(clinic: Database) -> None:
    report = _import(clinic, _bundle("M77.10"))  # "unspecified elbow"
    assert report.measurements_created == 1
    assert _placed(clinic) == [("lateral_elbow_tendinopathy", "right", 5.0)]


def test_a_left_elbow_code_never_lands_in_the_right_elbow_episode(clinic: Database) -> None:
    report = _import(clinic, _bundle("M77.12"))
    assert report.measurements_created == 0 and _placed(clinic) == []
    (reason,) = report.not_placed
    assert "lateral_elbow_tendinopathy on the left side" in reason and "another side: right" in reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("M25.512", "not one Strigil can map"),  # a real ICD-10-CM code (shoulder pain) the map does not hold
        ("G56.01", "carpal_tunnel_syndrome"),  # mapped, but the patient has no such episode
    ],
)
def test_an_unmapped_or_unmatched_code_is_refused_with_the_reason(
    clinic: Database, code: str, reason: str
) -> None:
    report = _import(clinic, _bundle(code))
    assert report.measurements_created == 0 and _placed(clinic) == []
    assert len(report.not_placed) == 1 and reason in report.not_placed[0]


def test_the_same_code_in_another_system_is_not_read_as_icd10cm() -> None:
    bundle = _bundle("M77.11")
    bundle["entry"][1]["resource"]["code"]["coding"][0]["system"] = "https://emr.example.net/diagnoses"
    (foreign,) = plan_import(bundle).foreign_measurements
    assert foreign.condition is None and "not one Strigil can map" in str(foreign.unplaced)
