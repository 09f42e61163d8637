"""The catalogues (conditions, regions, measures, instruments, edges, strokes, protocol steps) as typed data.

Pure: reads only its own packaged TOML files. Every entry carries a `source`: citations of the sources
themselves, formatted from the one bibliography (`load_bibliography`, `bibliography.toml`).
"""

from strigil.catalog._citations import (
    PRACTITIONER_LABEL,
    Bibliography,
    Citation,
    CitationError,
    Source,
    address_host,
    host_allowed,
    load_bibliography,
    load_hosts,
)
from strigil.catalog._entries import (
    HEURISTIC,
    Condition,
    EdgeType,
    Entry,
    Instrument,
    Measure,
    ProtocolStep,
    Region,
    Stroke,
    Threshold,
)
from strigil.catalog._loader import KINDS, Catalog, CatalogError, UnknownCode, load_catalog
from strigil.catalog._templates import (
    CLINIC_TEMPLATE_LABEL,
    AftercareItem,
    SessionTemplate,
    TemplateStep,
    load_aftercare,
    load_session_templates,
)

__all__ = [
    "CLINIC_TEMPLATE_LABEL",
    "HEURISTIC",
    "KINDS",
    "PRACTITIONER_LABEL",
    "AftercareItem",
    "Bibliography",
    "Catalog",
    "CatalogError",
    "Citation",
    "CitationError",
    "Condition",
    "EdgeType",
    "Entry",
    "Instrument",
    "Measure",
    "ProtocolStep",
    "Region",
    "SessionTemplate",
    "Source",
    "Stroke",
    "TemplateStep",
    "Threshold",
    "UnknownCode",
    "address_host",
    "host_allowed",
    "load_aftercare",
    "load_bibliography",
    "load_catalog",
    "load_hosts",
    "load_session_templates",
]
