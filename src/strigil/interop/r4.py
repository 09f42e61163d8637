"""Which FHIR release Strigil speaks, and how a resource is checked against it.

Strigil exchanges FHIR **R4**. `fhir.resources` 8 models R5 at its top level; its `R4B` sub-package
(FHIR 4.3.0) is the R4-compatible one: R4B changed only the medication-definition, evidence and
subscription resources, none of which Strigil uses — Patient, Practitioner, Organization, EpisodeOfCare,
Condition, Procedure, Device, Observation, AdverseEvent and CarePlan are structurally identical in
R4 (4.0.1) and R4B (https://hl7.org/fhir/R4B/r4b-explanation.html). Every FHIR model Strigil touches
is imported here and nowhere else, so a later switch of release is a one-file change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

__all__ = [
    "FHIR_VERSION",
    "REQUIRED_CODES",
    "FhirProblem",
    "is_resource_type",
    "resource_problems",
    "validate_resource",
]

# The release Strigil's files declare (StructureDefinition.fhirVersion, CodeSystem meta).
FHIR_VERSION = "4.0.1"


@dataclass(frozen=True)
class FhirProblem:
    """One reason a resource or bundle entry cannot be used: where, what was found, what is allowed."""

    where: str
    message: str
    # the reference that points at no resource, when that is the problem: a reader that knows more (bulk
    # import knows which files it was given) can say why
    dangling: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# Required bindings of the coded elements Strigil reads (FHIR R4 value sets, https://hl7.org/fhir/R4/).
# fhir.resources checks structure and data types but not these code lists, so Strigil checks them itself.
REQUIRED_CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Observation", "status"): (
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    ),
    ("Procedure", "status"): (
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    ),
    ("EpisodeOfCare", "status"): (
        "planned",
        "waitlist",
        "active",
        "onhold",
        "finished",
        "cancelled",
        "entered-in-error",
    ),
    ("CarePlan", "status"): (
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    ),
    ("CarePlan", "intent"): ("proposal", "plan", "order", "option"),
    ("AdverseEvent", "actuality"): ("actual", "potential"),
    ("Goal", "lifecycleStatus"): (
        "proposed",
        "planned",
        "accepted",
        "active",
        "on-hold",
        "completed",
        "cancelled",
        "entered-in-error",
        "rejected",
    ),
    ("Patient", "gender"): ("male", "female", "other", "unknown"),
    ("Device", "status"): ("active", "inactive", "entered-in-error", "unknown"),
}


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def is_resource_type(kind: str) -> bool:
    """True if `kind` names an R4 resource (or data type) model."""
    try:
        get_fhir_model_class(kind)
    except ValueError:
        return False
    return True


def resource_problems(resource: Any, where: str = "") -> list[FhirProblem]:
    """Check one resource (a JSON object) against the R4 model; return the problems, empty if valid."""
    if not isinstance(resource, dict):
        return [FhirProblem(where or "resource", f"expected a JSON object, got {type(resource).__name__}")]
    kind = resource.get("resourceType")
    label = where or f"{kind}/{resource.get('id', '?')}"
    if not isinstance(kind, str):
        return [FhirProblem(label, "missing 'resourceType' (a FHIR resource name such as 'Patient')")]
    try:
        model = get_fhir_model_class(kind)
    except ValueError:
        return [FhirProblem(label, f"resourceType {kind!r} is not a FHIR R4 resource")]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = _path(tuple(item["loc"])) or "(resource)"
            value = item.get("input")
            shown = "" if value is None or isinstance(value, dict) else f" (value {value!r})"
            problems.append(FhirProblem(f"{label}.{field}", f"{item['msg']}{shown}"))
        return problems
    problems = []
    for (resource_type, element), codes in REQUIRED_CODES.items():
        if kind == resource_type and element in resource and resource[element] not in codes:
            problems.append(
                FhirProblem(
                    f"{label}.{element}",
                    f"{resource[element]!r} is not allowed; allowed: " + ", ".join(codes),
                )
            )
    return problems


def validate_resource(resource: dict[str, Any]) -> None:
    """Raise ValueError naming every problem if `resource` does not validate as FHIR R4."""
    problems = resource_problems(resource)
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
