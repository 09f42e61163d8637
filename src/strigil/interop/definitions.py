"""Strigil's FHIR StructureDefinitions: the extensions that carry what R4 resources have no place for.

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
from strigil.interop.systems import extension_url, value_set_url

__all__ = [
    "ADVERSE_CONTEXT",
    "DOSE_STEP",
    "ENTERED_IN_ERROR",
    "EPISODE_CONTEXT",
    "EXTENSIONS",
    "FOLLOW_UP_MINUTES",
    "MEASUREMENT_DETAIL",
    "MEASUREMENT_TIMING",
    "SESSION_CONTEXT",
    "YEARS_EXPERIENCE",
    "ExtensionDefinition",
    "Part",
    "build_structure_definitions",
]


@dataclass(frozen=True)
class Part:
    """One sub-extension of a complex extension: its url, value type, cardinality and meaning."""

    name: str
    value_type: str  # FHIR type of value[x]: integer, decimal, string, code, date, boolean, Coding, Quantity
    required: bool
    short: str
    binding: str | None = None  # short name of a Strigil code system; bound (required) to its ValueSet
    repeats: bool = False

    @property
    def value_key(self) -> str:
        """The JSON key of the value ("valueQuantity")."""
        return "value" + self.value_type[0].upper() + self.value_type[1:]


@dataclass(frozen=True)
class ExtensionDefinition:
    """A Strigil extension: where it may appear and either its parts (complex) or its one value (simple)."""

    id: str
    title: str
    description: str
    context: str  # FHIRPath of the element it extends
    parts: tuple[Part, ...] = ()
    value: Part | None = None  # for a simple extension
    repeats: bool = False
    modifier_reason: str | None = None  # set for a modifier extension: why it changes the meaning

    @property
    def url(self) -> str:
        """The extension's canonical URL."""
        return extension_url(self.id)

    def part(self, name: str) -> Part:
        """The part called `name`."""
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"extension {self.id!r} has no part {name!r}")


DOSE_STEP = ExtensionDefinition(
    "dose-step",
    "IASTM dose step",
    "One step of an IASTM session's dose, in the order applied: where (body site and side), with "
    "what (instrument, edge), how (stroke type, angle, direction relative to the fibres, pressure or "
    "force), how long (seconds, optional stroke count) and in which position or active movement; when a "
    "force recording was made, its summary (strokes, mean and peak force and their variation). "
    "Repeats once per step on the session's Procedure.",
    "Procedure",
    parts=(
        Part("order", "integer", True, "Position of the step in the session (1 = first)"),
        Part(
            "site", "Coding", True, "Body site treated, region and side (Strigil body-site code)", "body-site"
        ),
        Part("instrument", "Coding", True, "Instrument used (Strigil instrument code)", "instrument"),
        Part("edgeType", "code", False, "Edge of the instrument used (catalogue edge-type code)"),
        Part("stroke", "Coding", True, "Stroke type (Strigil stroke code)", "stroke"),
        Part("angle", "Quantity", False, "Tool-to-tissue angle, degrees (UCUM 'deg')"),
        Part(
            "direction",
            "code",
            True,
            "Direction relative to the fibres: along | across | oblique | multidirectional",
        ),
        Part("pressure", "code", True, "Pressure as a verbal category: light | moderate | heavy"),
        Part("force", "Quantity", False, "Measured force, newtons (UCUM 'N'), when a device measured it"),
        Part("duration", "Quantity", True, "Duration of the step, seconds (UCUM 's')"),
        Part("strokeCount", "integer", False, "Number of strokes, if counted"),
        Part("position", "string", False, "Patient position during the step"),
        Part("activeMovement", "string", False, "Active movement the patient performed during the step"),
        Part("measuredRecording", "string", False, "Force recording summarised here (file or reference)"),
        Part("measuredStrokeCount", "integer", False, "Complete strokes found in the force recording"),
        Part("measuredMeanForce", "Quantity", False, "Average of the strokes' mean normal force (UCUM 'N')"),
        Part("measuredPeakForce", "Quantity", False, "Average of the strokes' peak normal force (UCUM 'N')"),
        Part("measuredMeanForceCv", "Quantity", False, "CV across strokes of their mean force (UCUM '%')"),
        Part("measuredPeakForceCv", "Quantity", False, "CV across strokes of their peak force (UCUM '%')"),
    ),
    repeats=True,
)

SESSION_CONTEXT = ExtensionDefinition(
    "session-context",
    "IASTM session context",
    "What surrounds the IASTM in a session: its number in the episode, warm-up (kind, minutes), "
    "emollient, the patient's tolerance and the clinician's decision after the session.",
    "Procedure",
    parts=(
        Part("number", "integer", True, "Number of the session within its episode (1 = first)"),
        Part(
            "warmUpKind",
            "code",
            False,
            "Warm-up kind: cardiovascular | moist_heat | massage | active_movement | other",
        ),
        Part("warmUpMinutes", "decimal", False, "Warm-up duration, minutes"),
        Part("emollient", "string", False, "Emollient used on the skin"),
        Part(
            "tolerance",
            "code",
            False,
            "Tolerance: well_tolerated | tolerated_with_modification | poorly_tolerated | stopped_early",
        ),
        Part(
            "decision",
            "code",
            False,
            "Clinician's decision: refer | switch | modify | continue | progress | discharge",
        ),
        Part("decisionReason", "string", False, "Why the clinician decided so"),
        Part(
            "recommended",
            "code",
            False,
            "The decision aid's recommendation for the session: refer | switch | modify | continue | "
            "progress | discharge",
        ),
        Part("followUpAsked", "boolean", False, "The follow-up questions about earlier sessions were asked"),
        Part("overrideReason", "string", False, "Why IASTM went ahead over a safety gate"),
        Part("doseConfirmed", "boolean", False, "A dose beyond the sources' ranges was confirmed as meant"),
        Part("exerciseDelivered", "boolean", False, "The exercise programme was delivered in the session"),
        Part("exerciseNotDeliveredReason", "string", False, "Why the exercise programme was not delivered"),
        Part("voidReason", "string", False, "Why the session was voided (entered by mistake)"),
        Part("voidedAt", "dateTime", False, "When the session was voided"),
    ),
)

EPISODE_CONTEXT = ExtensionDefinition(
    "episode-context",
    "IASTM episode context",
    "What the clinician recorded when opening (and closing) the episode beyond FHIR's EpisodeOfCare: "
    "the target tissue, whether IASTM is planned, why without an active exercise component, informed "
    "consent (date and what was explained) and the reason for closing.",
    "EpisodeOfCare",
    parts=(
        Part(
            "targetTissue",
            "code",
            True,
            "Target tissue: tendon | fascia | muscle | ligament | nerve | joint | scar | mixed",
        ),
        Part("plannedIastm", "boolean", True, "Whether IASTM is planned in this episode"),
        Part(
            "exerciseFirstReason",
            "string",
            False,
            "Why IASTM is planned without an active exercise component",
        ),
        Part("consentDate", "date", False, "Date of informed consent"),
        Part(
            "consentExplained",
            "string",
            False,
            "What was explained (e.g. bruising, petechiae); one per item",
            repeats=True,
        ),
        Part("closeReason", "string", False, "Why the episode was closed"),
        Part("voidReason", "string", False, "Why the episode was voided (opened by mistake)"),
        Part("voidedAt", "dateTime", False, "When the episode was voided"),
    ),
)

ADVERSE_CONTEXT = ExtensionDefinition(
    "adverse-context",
    "IASTM adverse response context",
    "What R4 AdverseEvent cannot hold of an adverse response to IASTM: when it resolved, where on the body, "
    "and the clinician's note.",
    "AdverseEvent",
    parts=(
        Part("resolvedOn", "date", False, "Date the response resolved (absent: not resolved)"),
        Part("site", "Coding", False, "Body region of the response (Strigil body-site code)", "body-site"),
        Part("note", "string", False, "Clinician's note"),
    ),
)

MEASUREMENT_TIMING = ExtensionDefinition(
    "measurement-timing",
    "Measurement timing",
    "When the outcome was measured relative to the IASTM: pre | post (within the session) | between.",
    "Observation",
    value=Part("value", "code", True, "pre | post | between"),
)

MEASUREMENT_DETAIL = ExtensionDefinition(
    "measurement-detail",
    "Measurement detail",
    "What was measured where the measure needs it: a range of motion's joint, motion and side; a "
    "Patient-Specific Functional Scale item's activity in the patient's words.",
    "Observation",
    parts=(
        Part("joint", "code", False, "Range of motion: the joint measured"),
        Part("motion", "code", False, "Range of motion: the motion measured"),
        Part("side", "code", False, "Range of motion: the side measured"),
        Part("activity", "string", False, "PSFS item: the activity, in the patient's words"),
    ),
)

FOLLOW_UP_MINUTES = ExtensionDefinition(
    "follow-up-minutes",
    "Follow-up minutes",
    "How many minutes the follow-up after IASTM (stretching, strengthening, cryotherapy, taping) lasted.",
    "Procedure.followUp",
    value=Part("value", "decimal", True, "Minutes"),
)

# R4 AdverseEvent has no status, so nothing standard can say "entered in error". A modifier extension can:
# a system that does not know it must not process the resource as if it were absent
# (https://hl7.org/fhir/R4/extensibility.html#modifierExtension), so a voided record's adverse response is
# never taken for a real event, while Strigil itself reads it back into the void session or episode.
ENTERED_IN_ERROR = ExtensionDefinition(
    "entered-in-error",
    "Entered in error",
    "The adverse response belongs to a session or an episode that was voided (entered by mistake): the "
    "record should never have existed and must not be used as a clinical fact.",
    "AdverseEvent",
    value=Part("value", "boolean", True, "true: this record was entered in error"),
    modifier_reason="Marks the whole resource as entered in error (R4 AdverseEvent has no status element)",
)

YEARS_EXPERIENCE = ExtensionDefinition(
    "years-experience",
    "Years of experience",
    "The clinician's years of experience (TIDieR item 5).",
    "Practitioner",
    value=Part("value", "integer", True, "Years"),
)

EXTENSIONS: tuple[ExtensionDefinition, ...] = (
    DOSE_STEP,
    SESSION_CONTEXT,
    EPISODE_CONTEXT,
    ADVERSE_CONTEXT,
    MEASUREMENT_TIMING,
    MEASUREMENT_DETAIL,
    FOLLOW_UP_MINUTES,
    YEARS_EXPERIENCE,
    ENTERED_IN_ERROR,
)


def _element(path: str, **fields: Any) -> dict[str, Any]:
    return {"id": path, "path": path, **fields}


def _value_type(part: Part) -> dict[str, Any]:
    value: dict[str, Any] = {"type": [{"code": part.value_type}]}
    if part.binding:
        value["binding"] = {"strength": "required", "valueSet": value_set_url(part.binding)}
    return value


def _structure_definition(ext: ExtensionDefinition) -> dict[str, Any]:
    modifier = {"isModifier": True, "isModifierReason": ext.modifier_reason} if ext.modifier_reason else {}
    elements = [
        _element(
            "Extension",
            short=ext.title,
            definition=ext.description,
            min=0,
            max="*" if ext.repeats else "1",
            **modifier,
        )
    ]
    if ext.parts:
        elements.append(
            _element(
                "Extension.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
            )
        )
        for part in ext.parts:
            base = f"Extension.extension:{part.name}"
            elements.append(
                _element(
                    base,
                    sliceName=part.name,
                    short=part.short,
                    definition=part.short,
                    min=1 if part.required else 0,
                    max="*" if part.repeats else "1",
                )
            )
            elements.append(_element(f"{base}.extension", max="0"))
            elements.append(_element(f"{base}.url", fixedUri=part.name))
            elements.append(_element(f"{base}.value[x]", min=1, **_value_type(part)))
        elements.append(_element("Extension.url", fixedUri=ext.url))
        elements.append(_element("Extension.value[x]", max="0"))
    else:
        assert ext.value is not None
        elements.append(_element("Extension.extension", max="0"))
        elements.append(_element("Extension.url", fixedUri=ext.url))
        elements.append(
            _element("Extension.value[x]", min=1, short=ext.value.short, **_value_type(ext.value))
        )
    return {
        "resourceType": "StructureDefinition",
        "id": ext.id,
        "url": ext.url,
        "version": __version__,
        "name": "Strigil" + "".join(w.capitalize() for w in ext.id.split("-")),
        "title": ext.title,
        "status": "active",
        "experimental": False,
        "publisher": "Strigil project",
        "description": ext.description,
        "fhirVersion": FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": ext.context}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def build_structure_definitions() -> dict[str, dict[str, Any]]:
    """Every Strigil extension definition as FHIR R4 JSON, keyed by id."""
    definitions = {ext.id: _structure_definition(ext) for ext in EXTENSIONS}
    for definition in definitions.values():
        validate_resource(definition)
    return definitions
