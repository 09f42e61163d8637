"""Strigil's FHIR StructureDefinitions: the dose-step and session-context extensions on Procedure.

FHIR R4 Procedure has no place for an IASTM dose (instrument, stroke, angle, direction, pressure,
duration per region), so Strigil defines a complex extension, one per dose step. The definitions are
built here from one table of parts, which the mapping code also reads, and shipped as JSON in
`strigil/interop/data/`; a test checks the files equal this module's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strigil import __version__
from strigil.interop.r4 import FHIR_VERSION, validate_resource
from strigil.interop.systems import DOSE_STEP_URL, SESSION_URL, value_set_url

__all__ = ["DOSE_STEP_PARTS", "SESSION_PARTS", "Part", "build_structure_definitions"]


@dataclass(frozen=True)
class Part:
    """One sub-extension of a complex extension: its url, value type, cardinality and meaning."""

    name: str
    value_type: str  # FHIR type of value[x]: integer, decimal, string, code, Coding, Quantity
    required: bool
    short: str
    binding: str | None = None  # short name of a Strigil code system; bound (required) to its ValueSet

    @property
    def value_key(self) -> str:
        """The JSON key of the value ("valueQuantity")."""
        return "value" + self.value_type[0].upper() + self.value_type[1:]


DOSE_STEP_PARTS: tuple[Part, ...] = (
    Part("order", "integer", True, "Position of the step in the session (1 = first)"),
    Part("site", "Coding", True, "Body site treated, region and side (Strigil body-site code)", "body-site"),
    Part("instrument", "Coding", True, "Instrument used (Strigil instrument code)", "instrument"),
    Part("edgeType", "code", False, "Edge of the instrument used (catalogue edge-type code)"),
    Part("stroke", "Coding", True, "Stroke type (Strigil stroke code)", "stroke"),
    Part("angle", "Quantity", False, "Tool-to-skin angle, degrees (UCUM 'deg')"),
    Part(
        "direction",
        "code",
        False,
        "Direction relative to the fibres: along | across | oblique | multidirectional",
    ),
    Part("pressure", "code", False, "Pressure as a verbal category (Strigil record vocabulary)"),
    Part("force", "Quantity", False, "Measured force, newtons (UCUM 'N'), when a device measured it"),
    Part("duration", "Quantity", True, "Duration of the step, seconds (UCUM 's')"),
    Part("strokeCount", "integer", False, "Number of strokes, if counted"),
    Part("position", "string", False, "Patient position during the step"),
    Part("activeMovement", "string", False, "Active movement the patient performed during the step"),
)

SESSION_PARTS: tuple[Part, ...] = (
    Part("warmUpKind", "string", False, "Warm-up before IASTM (kind)"),
    Part("warmUpMinutes", "decimal", False, "Warm-up duration, minutes"),
    Part("emollient", "string", False, "Emollient used on the skin"),
    Part("tolerance", "string", False, "How the patient tolerated the session"),
)


def _element(path: str, **fields: Any) -> dict[str, Any]:
    return {"id": path, "path": path, **fields}


def _complex_extension(
    url: str, sd_id: str, name: str, title: str, description: str, parts: tuple[Part, ...], max_repeats: str
) -> dict[str, Any]:
    elements = [
        _element("Extension", short=title, definition=description, min=0, max=max_repeats),
        _element(
            "Extension.extension",
            slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
        ),
    ]
    for part in parts:
        base = f"Extension.extension:{part.name}"
        elements.append(
            _element(
                base,
                sliceName=part.name,
                short=part.short,
                definition=part.short,
                min=1 if part.required else 0,
                max="1",
            )
        )
        elements.append(_element(f"{base}.extension", max="0"))
        elements.append(_element(f"{base}.url", fixedUri=part.name))
        value: dict[str, Any] = {"type": [{"code": part.value_type}]}
        if part.binding:
            value["binding"] = {"strength": "required", "valueSet": value_set_url(part.binding)}
        elements.append(_element(f"{base}.value[x]", min=1, **value))
    elements.append(_element("Extension.url", fixedUri=url))
    elements.append(_element("Extension.value[x]", max="0"))
    return {
        "resourceType": "StructureDefinition",
        "id": sd_id,
        "url": url,
        "version": __version__,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Strigil project",
        "description": description,
        "fhirVersion": FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": "Procedure"}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def build_structure_definitions() -> dict[str, dict[str, Any]]:
    """The dose-step and session-context extension definitions as FHIR R4 JSON, keyed by id."""
    definitions = [
        _complex_extension(
            DOSE_STEP_URL,
            "dose-step",
            "StrigilDoseStep",
            "IASTM dose step",
            "One step of an IASTM session's dose, in the order applied: where (body site and side), with "
            "what (instrument, edge), how (stroke type, angle, direction relative to the fibres, pressure or "
            "force), how long (seconds, optional stroke count) and in which position or active movement. "
            "Repeats once per step on the session's Procedure.",
            DOSE_STEP_PARTS,
            "*",
        ),
        _complex_extension(
            SESSION_URL,
            "session-context",
            "StrigilSessionContext",
            "IASTM session context",
            "What surrounds the IASTM in a session: warm-up (kind, minutes), emollient and the patient's "
            "tolerance. Appears at most once on the session's Procedure.",
            SESSION_PARTS,
            "1",
        ),
    ]
    for definition in definitions:
        validate_resource(definition)
    return {d["id"]: d for d in definitions}
