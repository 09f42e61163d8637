"""Strigil's FHIR CodeSystems, built from the catalogues so that the two can never disagree.

One CodeSystem per catalogue: body sites (regions, and each region on a side), conditions, outcome
measures, instruments and stroke types. Each concept keeps its catalogue `source` as a property. The
built resources are shipped as JSON in `strigil/interop/data/` (for other systems to load); a test
checks that the shipped files equal what this module builds from the current catalogue.

Body sites use Strigil's own region vocabulary, not SNOMED CT: SNOMED CT needs an affiliate licence
outside member countries, while Strigil's codes are its own work under the project's licence, so a
clinic may ship and exchange them freely (see docs/interop.md).
"""

from __future__ import annotations

from typing import Any

from strigil import __version__
from strigil.catalog import Catalog, Entry
from strigil.clinical.vocabulary import AdverseKind, CoIntervention, FollowUpKind, Profession, allowed
from strigil.interop.r4 import validate_resource
from strigil.interop.systems import code_system_url, value_set_url

__all__ = [
    "SIDE_NAMES",
    "build_code_systems",
    "build_value_sets",
    "sided_site_code",
    "split_site_code",
    "vocabulary_display",
]

SIDE_NAMES = {"left": "left", "right": "right", "bilateral": "both sides", "midline": "midline"}

_PROPERTIES = [
    {
        "code": "source",
        "type": "string",
        "description": "Where the catalogue entry comes from (title and address).",
    },
    {
        "code": "verified",
        "type": "boolean",
        "description": "False where the catalogue marks the entry as not confirmed.",
    },
]


def sided_site_code(region: str, side: str | None) -> str:
    """The body-site code of a region on a side ("knee.left"); the bare region code when no side is given."""
    return f"{region}.{side}" if side else region


def split_site_code(code: str) -> tuple[str, str | None]:
    """The (region, side) a body-site code names; the inverse of `sided_site_code`."""
    region, _, side = code.partition(".")
    return region, side or None


def _concept(entry: Entry, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"code": entry.code, "display": entry.name}
    if entry.note:
        concept["definition"] = entry.note
    concept["property"] = [
        {"code": "source", "valueString": entry.source},
        {"code": "verified", "valueBoolean": entry.verified},
    ]
    if children:
        concept["concept"] = children
    return concept


def _vocabulary_concept(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "display": vocabulary_display(code),
        "property": [
            {"code": "source", "valueString": "Strigil record vocabulary (strigil.clinical.vocabulary)"},
            {"code": "verified", "valueBoolean": True},
        ],
    }


def vocabulary_display(code: str) -> str:
    """A readable display for a record-vocabulary code ("pain_flare" -> "Pain flare")."""
    return code.replace("_", " ").capitalize()


def _code_system(
    name: str, title: str, description: str, concepts: list[dict[str, Any]], hierarchy: bool = False
) -> dict[str, Any]:
    def count(items: list[dict[str, Any]]) -> int:
        return sum(1 + count(c.get("concept", [])) for c in items)

    system: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": f"strigil-{name}",
        "url": code_system_url(name),
        "version": __version__,
        "name": "Strigil" + "".join(part.capitalize() for part in name.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Strigil project",
        "description": description,
        "caseSensitive": True,
        "valueSet": value_set_url(name),
        "content": "complete",
        "count": count(concepts),
        "property": _PROPERTIES,
        "concept": concepts,
    }
    if hierarchy:
        system["hierarchyMeaning"] = "is-a"
    return system


def build_code_systems(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Every Strigil CodeSystem as FHIR R4 JSON, keyed by its short name (see systems.CODE_SYSTEMS)."""
    sites = [
        _concept(
            region,
            [
                {"code": sided_site_code(region.code, side), "display": f"{region.name}, {SIDE_NAMES[side]}"}
                for side in catalog.sides
            ],
        )
        for region in catalog.regions.values()
    ]
    systems = {
        "body-site": _code_system(
            "body-site",
            "Strigil body sites",
            "Body regions of Strigil's catalogue; each region has one child per side (code 'region.side'). "
            "Strigil's own vocabulary: needs no licence to ship (SNOMED CT would).",
            sites,
            hierarchy=True,
        ),
        "condition": _code_system(
            "condition",
            "Strigil conditions",
            "Conditions of Strigil's catalogue; 'claimed' ones are only claimed by clinics, not studied.",
            [_concept(c) for c in catalog.conditions.values()],
        ),
        "measure": _code_system(
            "measure",
            "Strigil outcome measures",
            "Outcome measures of Strigil's catalogue. Observations also carry the LOINC code where the "
            "catalogue marks it verified; for every other measure this is the only code.",
            [_concept(m) for m in catalog.measures.values()],
        ),
        "instrument": _code_system(
            "instrument",
            "Strigil IASTM instruments",
            "IASTM instruments (make/model or family) of Strigil's catalogue, used as Device.type.",
            [_concept(i) for i in catalog.instruments.values()],
        ),
        "stroke": _code_system(
            "stroke",
            "Strigil IASTM stroke types",
            "IASTM stroke types of Strigil's catalogue, used in the dose-step extension.",
            [_concept(s) for s in catalog.strokes.values()],
        ),
    }
    vocabularies = {
        "adverse-response": (
            "Strigil adverse responses",
            "Kinds of adverse response to IASTM (AdverseEvent.event).",
            AdverseKind,
        ),
        "follow-up": (
            "Strigil session follow-ups",
            "What followed the IASTM in a session (Procedure.followUp).",
            FollowUpKind,
        ),
        "co-intervention": (
            "Strigil co-interventions",
            "Planned co-interventions of an episode (CarePlan.activity.detail.code).",
            CoIntervention,
        ),
        "profession": (
            "Strigil professions",
            "Profession of the clinician (Practitioner.qualification).",
            Profession,
        ),
    }
    for name, (title, description, literal) in vocabularies.items():
        systems[name] = _code_system(
            name,
            title,
            description + " Strigil record vocabulary.",
            [_vocabulary_concept(code) for code in allowed(literal)],
        )
    systems["training"] = _code_system(
        "training",
        "Strigil IASTM training routes",
        "How a clinician learned IASTM: formal (a course) or informal (Baker et al. 2018, TIDieR item 5); "
        "Practitioner.qualification.code carries the route as code and the course as text.",
        [_vocabulary_concept("formal"), _vocabulary_concept("informal")],
    )
    for system in systems.values():
        validate_resource(system)
    return systems


def build_value_sets(code_systems: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One ValueSet per Strigil CodeSystem holding all its codes (what the extension parts bind to)."""
    value_sets = {}
    for name, system in code_systems.items():
        value_set = {
            "resourceType": "ValueSet",
            "id": f"strigil-{name}",
            "url": value_set_url(name),
            "version": __version__,
            "name": system["name"],
            "title": system["title"],
            "status": "active",
            "experimental": False,
            "publisher": "Strigil project",
            "description": f"All codes of the CodeSystem {system['url']}.",
            "compose": {"include": [{"system": system["url"]}]},
        }
        validate_resource(value_set)
        value_sets[name] = value_set
    return value_sets
