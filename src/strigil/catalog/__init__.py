"""The catalogues (conditions, regions, measures, instruments, edges, strokes, protocol steps) as typed data.

Pure: reads only its own packaged TOML files. Every entry carries a `source` (title + address).
"""

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
    "Catalog",
    "CatalogError",
    "Condition",
    "EdgeType",
    "Entry",
    "Instrument",
    "Measure",
    "ProtocolStep",
    "Region",
    "Stroke",
    "Threshold",
    "UnknownCode",
    "load_catalog",
]
