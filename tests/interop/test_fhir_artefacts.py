"""The shipped StructureDefinitions, CodeSystems and ValueSets: valid R4, in step with the catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from strigil.catalog import load_catalog
from strigil.interop.artefacts import build_artefacts, shipped_artefacts
from strigil.interop.codesystems import sided_site_code, split_site_code
from strigil.interop.definitions import DOSE_STEP
from strigil.interop.r4 import resource_problems
from strigil.interop.systems import code_system_url


def _codes(artefact: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for concept in artefact.get("concept", []):
        out.append((concept["code"], concept["display"]))
        out += _codes(concept)
    return out


def test_shipped_files_carry_the_codes_the_catalogue_builds() -> None:
    # A catalogue edit without `python -m strigil.interop.artefacts` leaves the shipped files stale.
    built, shipped = build_artefacts(), shipped_artefacts()
    stale = "is stale: run python -m strigil.interop.artefacts"
    assert sorted(shipped) == sorted(built)
    for name, artefact in built.items():
        assert _codes(shipped[name]) == _codes(artefact), f"{name} {stale}"
        if artefact["resourceType"] != "CodeSystem":
            assert shipped[name] == artefact, f"{name} {stale}"


@pytest.mark.parametrize("name", sorted(build_artefacts()))
def test_every_artefact_validates_as_r4(name: str) -> None:
    assert resource_problems(shipped_artefacts()[name]) == []


def test_body_sites_cover_every_region_on_every_side() -> None:
    catalog = load_catalog()
    system = shipped_artefacts()["CodeSystem-strigil-body-site.json"]
    codes = {c["code"]: [k["code"] for k in c.get("concept", [])] for c in system["concept"]}
    assert set(codes) == set(catalog.regions)
    for region, children in codes.items():
        assert children == [f"{region}.{side}" for side in catalog.sides]
    assert system["count"] == len(catalog.regions) * (1 + len(catalog.sides))


def test_site_codes_split_back_into_region_and_side() -> None:
    assert split_site_code(sided_site_code("knee", "left")) == ("knee", "left")
    assert split_site_code(sided_site_code("low_back", None)) == ("low_back", None)


def test_measure_system_keeps_each_source_and_verification_flag() -> None:
    catalog = load_catalog()
    system = shipped_artefacts()["CodeSystem-strigil-measure.json"]
    for concept in system["concept"]:
        entry = catalog.measures[concept["code"]]
        props = {p["code"]: p for p in concept["property"]}
        assert props["source"]["valueString"] == entry.source
        assert props["verified"]["valueBoolean"] is entry.verified


def test_dose_step_definition_slices_every_part_with_its_cardinality() -> None:
    sd = shipped_artefacts()["StructureDefinition-dose-step.json"]
    assert sd["url"] == DOSE_STEP.url and sd["fhirVersion"] == "4.0.1"
    assert sd["context"] == [{"type": "element", "expression": "Procedure"}]
    by_id = {e["id"]: e for e in sd["differential"]["element"]}
    for part in DOSE_STEP.parts:
        sliced = by_id[f"Extension.extension:{part.name}"]
        assert sliced["min"] == (1 if part.required else 0)
        assert by_id[f"Extension.extension:{part.name}.url"]["fixedUri"] == part.name
        value = by_id[f"Extension.extension:{part.name}.value[x]"]
        assert value["type"] == [{"code": part.value_type}]
    assert by_id["Extension.value[x]"]["max"] == "0"


def test_bound_parts_point_at_shipped_value_sets_of_shipped_code_systems() -> None:
    shipped = shipped_artefacts()
    value_sets = {a["url"]: a for a in shipped.values() if a["resourceType"] == "ValueSet"}
    sd = shipped["StructureDefinition-dose-step.json"]
    bound = [e for e in sd["differential"]["element"] if "binding" in e]
    assert len(bound) == 3
    for element in bound:
        value_set = value_sets[element["binding"]["valueSet"]]
        system = value_set["compose"]["include"][0]["system"]
        assert system in {code_system_url(n) for n in ("body-site", "instrument", "stroke")}
