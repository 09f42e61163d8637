"""FHIR Bulk Data as Strigil writes and reads it (pure: resources in, lines and plans out; no files here).

The FHIR Bulk Data Access IG (https://hl7.org/fhir/uv/bulkdata/) moves whole clinics as NDJSON: one file per
resource type, one resource per line, and a manifest that lists the files. Strigil writes each patient's
resources into the files of their types, patient after patient, so every file is in the order of
`Patient.ndjson`; reading goes the same way, a chunk of patients at a time, so memory stays flat whatever the
clinic's size. The resources are the same as in a Bundle (`strigil.interop.to_fhir`), with the records'
public ids as resource ids.

Validation against the R4 models costs about 0.3 ms a resource, most of a whole-clinic exchange, so by
default a sample of every resource type is checked (`Sampler`: the first resources of each type and then one
in `every`), and every resource on request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from strigil.interop.r4 import FhirProblem, resource_problems

__all__ = [
    "CLINIC_TYPES",
    "NDJSON",
    "PATIENT_REFERENCE",
    "VALIDATION_MODES",
    "BulkManifest",
    "Sampler",
    "encode_line",
    "file_name",
    "patient_of",
]

NDJSON = "application/fhir+ndjson"
VALIDATION_MODES = ("sample", "all", "none")

# Resources of the whole clinic, not of one patient: read whole before the patients' chunks.
CLINIC_TYPES = ("Organization", "Practitioner", "Device")

# The element of each patient-compartment resource that names its Patient.
PATIENT_REFERENCE = {
    "EpisodeOfCare": "patient",
    "Condition": "subject",
    "Goal": "subject",
    "CarePlan": "subject",
    "Procedure": "subject",
    "Observation": "subject",
    "AdverseEvent": "subject",
    "Encounter": "subject",
}


def file_name(resource_type: str) -> str:
    """The NDJSON file of a resource type ("Patient.ndjson")."""
    return f"{resource_type}.ndjson"


def encode_line(resource: dict[str, Any]) -> bytes:
    """One NDJSON line: the resource as compact UTF-8 JSON and a newline."""
    return orjson.dumps(resource) + b"\n"


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the Patient a resource belongs to (its own id for a Patient), or None for clinic resources
    and resources that name none."""
    kind = resource.get("resourceType")
    if kind == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    element = PATIENT_REFERENCE.get(str(kind))
    target = resource.get(element) if element else None
    reference = target.get("reference") if isinstance(target, dict) else None
    if not isinstance(reference, str):
        return None
    kind_id = reference.rstrip("/").split("/")[-2:]
    return kind_id[1] if len(kind_id) == 2 and kind_id[0] == "Patient" else None


@dataclass
class Sampler:
    """Which resources to validate: `mode` "all", "none", or "sample" — the first `first` of every type,
    then one in `every` (so every type is checked however few it has)."""

    mode: str = "sample"
    first: int = 20
    every: int = 100
    seen: dict[str, int] = field(default_factory=dict)
    checked: int = 0

    def __post_init__(self) -> None:
        if self.mode not in VALIDATION_MODES:
            raise ValueError(f"validation {self.mode!r} is unknown; allowed: {', '.join(VALIDATION_MODES)}")

    def wants(self, resource_type: str) -> bool:
        """Whether the next resource of this type is to be validated (counts it)."""
        n = self.seen.get(resource_type, 0)
        self.seen[resource_type] = n + 1
        take = self.mode == "all" or (self.mode == "sample" and (n < self.first or n % self.every == 0))
        self.checked += take
        return take

    def problems(self, resource: dict[str, Any], where: str = "") -> list[FhirProblem]:
        """The resource's problems against R4 if it is in the sample (else none)."""
        if not self.wants(str(resource.get("resourceType"))):
            return []
        return resource_problems(resource, where)

    def describe(self) -> str:
        """What was validated, in words."""
        if self.mode == "all":
            return f"every resource validated against FHIR R4 ({self.checked})"
        if self.mode == "none":
            return "no resource validated against FHIR R4"
        return (
            f"a sample validated against FHIR R4: the first {self.first} of each type and one in "
            f"{self.every} after ({self.checked} of {sum(self.seen.values())})"
        )


@dataclass
class BulkManifest:
    """What a bulk export wrote: the Bulk Data complete-status manifest, with counts per type."""

    transaction_time: dt.datetime
    request: str
    counts: dict[str, int] = field(default_factory=dict)
    validation: str = ""

    def to_json(self, url_of: Any = None) -> dict[str, Any]:
        """The manifest as the Bulk Data IG's status answer; `url_of(file_name)` gives each file's URL
        (default: the bare file name, for a folder on disk)."""
        url_of = url_of or (lambda name: name)
        return {
            "transactionTime": self.transaction_time.isoformat(timespec="seconds"),
            "request": self.request,
            "requiresAccessToken": True,
            "output": [
                {"type": kind, "url": url_of(file_name(kind)), "count": count}
                for kind, count in sorted(self.counts.items())
            ],
            "error": [],
            "extension": {"validation": self.validation},
        }

    def add(self, resources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Count resources by type as they pass."""
        for resource in resources:
            kind = resource["resourceType"]
            self.counts[kind] = self.counts.get(kind, 0) + 1
            yield resource
