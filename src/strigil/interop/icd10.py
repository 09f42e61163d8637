"""ICD-10-CM codes that name a Strigil condition: the shipped map that places another system's measurements.

A Condition from another system coded in ICD-10-CM (FHIR system `http://hl7.org/fhir/sid/icd-10-cm`) names a
Strigil condition, and where the code has laterality a side, through one data file,
`strigil/interop/data/icd10cm-conditions.toml`: each code with its official title as CDC's ICD-10-CM tabular
list prints it, and that source. Pure: the file in, a lookup out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["ICD10_CM", "IcdMapping", "icd10cm_map", "map_file_entries"]

ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"

_FILE = "icd10cm-conditions.toml"


@dataclass(frozen=True)
class IcdMapping:
    """One ICD-10-CM code and the Strigil condition (and side, when the code names one) it is."""

    code: str
    title: str
    condition: str
    source: str
    side: str | None = None


def map_file_entries() -> tuple[str, list[dict[str, object]]]:
    """The map file as written: its code system and its entries (for checks of the file itself)."""
    text = (resources.files("strigil.interop") / "data" / _FILE).read_text(encoding="utf-8")
    document = tomllib.loads(text)
    return str(document["system"]), list(document["code"])


@cache
def icd10cm_map() -> dict[str, tuple[IcdMapping, ...]]:
    """ICD-10-CM code -> the mappings of that code (more than one would make the code ambiguous)."""
    system, entries = map_file_entries()
    if system != ICD10_CM:
        raise ValueError(f"{_FILE}: system {system!r}, expected {ICD10_CM!r}")
    found: dict[str, list[IcdMapping]] = {}
    for entry in entries:
        mapping = IcdMapping(
            code=str(entry["code"]),
            title=str(entry["title"]),
            condition=str(entry["condition"]),
            source=str(entry["source"]),
            side=None if entry.get("side") is None else str(entry["side"]),
        )
        found.setdefault(mapping.code.upper(), []).append(mapping)
    return {code: tuple(mappings) for code, mappings in found.items()}
