"""The addresses (canonical URLs) that name Strigil's FHIR artefacts and the standard systems it uses.

Strigil's own addresses live under one base. They are identifiers, as FHIR canonical URLs are, and do
not need to resolve; the definitions they name ship inside the package (`strigil/interop/data/`).
"""

from __future__ import annotations

__all__ = [
    "ADVERSE_OUTCOME",
    "ADVERSE_SEVERITY",
    "BASE",
    "CODE_SYSTEMS",
    "CONDITION_CLINICAL",
    "CONDITION_VERIFICATION",
    "IDENTIFIER_SYSTEMS",
    "LOINC",
    "OBSERVATION_CATEGORY",
    "UCUM",
    "code_system_url",
    "extension_url",
    "identifier_scope",
    "identifier_system",
    "is_identifier_system",
    "value_set_url",
]

BASE = "https://strigil.dev/fhir"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

ADVERSE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
ADVERSE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# Strigil code systems, one per catalogue (and a few fixed vocabularies of the record).
CODE_SYSTEMS = (
    "body-site",
    "condition",
    "measure",
    "instrument",
    "stroke",
    "adverse-response",
    "follow-up",
    "co-intervention",
    "profession",
    "training",
)

IDENTIFIER_SYSTEMS = (
    "clinic",
    "clinician",
    "patient",
    "episode",
    "session",
    "measurement",
    "adverse-response",
)


def code_system_url(name: str) -> str:
    """The canonical URL of the Strigil code system `name` (one of CODE_SYSTEMS)."""
    if name not in CODE_SYSTEMS:
        raise ValueError(
            f"code system {name!r} is not a Strigil code system; known: {', '.join(CODE_SYSTEMS)}"
        )
    return f"{BASE}/CodeSystem/{name}"


def extension_url(extension_id: str) -> str:
    """The canonical URL of the Strigil extension `extension_id` ("dose-step")."""
    return f"{BASE}/StructureDefinition/{extension_id}"


def value_set_url(name: str) -> str:
    """The canonical URL of the ValueSet holding every code of the Strigil code system `name`."""
    code_system_url(name)  # same names, same check
    return f"{BASE}/ValueSet/{name}"


def identifier_system(kind: str, clinic: str | None = None) -> str:
    """The identifier system of Strigil record ids of `kind` (patient codes, episode ids, ...).

    Codes a clinic chooses itself (patients, clinicians, the clinic's own) are scoped to the clinic's public
    id, so two clinics' patients "P-0001" never share an identifier; ids that are public ids are unique as
    they stand.
    """
    if kind not in IDENTIFIER_SYSTEMS:
        raise ValueError(f"identifier kind {kind!r} is unknown; known: {', '.join(IDENTIFIER_SYSTEMS)}")
    if clinic is not None:
        return f"{BASE}/clinic/{clinic}/identifier/{kind}"
    return f"{BASE}/identifier/{kind}"


def is_identifier_system(system: object, kind: str) -> bool:
    """Whether `system` is Strigil's identifier system of `kind`, of any clinic or unscoped."""
    if not isinstance(system, str):
        return False
    if system == identifier_system(kind):
        return True
    head, _, tail = system.removeprefix(f"{BASE}/clinic/").partition("/")
    return system.startswith(f"{BASE}/clinic/") and len(head) == 32 and tail == f"identifier/{kind}"


def identifier_scope(system: object, kind: str) -> str | None:
    """The public id of the clinic a scoped Strigil identifier system of `kind` names (None: unscoped or not
    Strigil's)."""
    if not is_identifier_system(system, kind) or system == identifier_system(kind):
        return None
    return str(system).removeprefix(f"{BASE}/clinic/").partition("/")[0]
