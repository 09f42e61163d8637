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

__all__ = [
    "KINDS",
    "PRACTITIONER_LABEL",
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
    "Source",
    "Stroke",
    "Threshold",
    "UnknownCode",
    "address_host",
    "host_allowed",
    "load_bibliography",
    "load_catalog",
    "load_hosts",
]
