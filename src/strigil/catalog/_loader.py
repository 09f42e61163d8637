"""Read the packaged TOML catalogues into one frozen `Catalog` (pure: reads only its own data files)."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from strigil.catalog._citations import CitationError, load_bibliography
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

__all__ = ["KINDS", "Catalog", "CatalogError", "UnknownCode", "load_catalog"]

# kind name (as used by Catalog.require) -> (data file, TOML array name)
KINDS: dict[str, tuple[str, str]] = {
    "conditions": ("conditions.toml", "condition"),
    "regions": ("regions.toml", "region"),
    "measures": ("measures.toml", "measure"),
    "instruments": ("instruments.toml", "instrument"),
    "edge_types": ("instruments.toml", "edge_type"),
    "strokes": ("strokes.toml", "stroke"),
    "protocol_steps": ("protocol_steps.toml", "step"),
}


class CatalogError(ValueError):
    """A catalogue data file is malformed (duplicate code, missing field, bad reference)."""


class UnknownCode(ValueError):
    """A code is not in the catalogue; the message lists the closest codes that are."""

    def __init__(self, kind: str, code: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.code = code
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} code {code!r}{hint}")


@dataclass(frozen=True)
class Catalog:
    """All catalogues, each a mapping code -> entry. Obtain it with `load_catalog()`."""

    conditions: dict[str, Condition]
    regions: dict[str, Region]
    measures: dict[str, Measure]
    instruments: dict[str, Instrument]
    edge_types: dict[str, EdgeType]
    strokes: dict[str, Stroke]
    protocol_steps: dict[str, ProtocolStep]
    sides: tuple[str, ...]

    def require(self, kind: str, code: str) -> Any:
        """The entry `code` of catalogue `kind` (e.g. "measures"), or UnknownCode with the closest matches."""
        if kind == "sides":
            if code in self.sides:
                return code
            raise UnknownCode(kind, code, difflib.get_close_matches(code, self.sides, n=3, cutoff=0.5))
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, list(KINDS), n=3, cutoff=0.5)
            raise UnknownCode("catalogue", kind, close)
        table: Mapping[str, Entry] = getattr(self, kind)
        entry = table.get(code)
        if entry is None:
            raise UnknownCode(kind, code, difflib.get_close_matches(code, list(table), n=3, cutoff=0.5))
        return entry

    def codes(self, kind: str) -> list[str]:
        """The codes of catalogue `kind`, in data-file order."""
        if kind == "sides":
            return list(self.sides)
        return list(getattr(self, kind))


def _read(filename: str) -> dict[str, Any]:
    text = resources.files("strigil.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - data files are tested
        raise CatalogError(f"{filename}: {exc}") from exc


def _thresholds(raw: list[dict[str, Any]], default_kind: str, where: str) -> tuple[Threshold, ...]:
    out = []
    for item in raw:
        try:
            out.append(
                Threshold(
                    value=None if item.get("value") is None else float(item["value"]),
                    percent=None if item.get("percent") is None else float(item["percent"]),
                    population=str(item["population"]),
                    source=_cited(str(item["source"]), where),
                    note=str(item.get("note", "")),
                    kind=str(item.get("kind", default_kind)),
                    verified=bool(item.get("verified", True)),
                    conditions=tuple(str(c) for c in item.get("conditions", ())),
                    default=bool(item.get("default", False)),
                    joint=None if item.get("joint") is None else str(item["joint"]),
                    motion=None if item.get("motion") is None else str(item["motion"]),
                )
            )
        except KeyError as exc:
            raise CatalogError(f"{where}: threshold without {exc.args[0]!r}") from exc
    return tuple(out)


def _cited(field: str, where: str) -> str:
    """A `source` field (`@key (note); ...`) as the citation text pages show (one formatter for all)."""
    try:
        return load_bibliography().render_field(field)
    except CitationError as exc:
        raise CatalogError(f"{where}: {exc}") from exc


_E = TypeVar("_E", bound=Entry)


def _build(cls: type[_E], raw: dict[str, Any], where: str) -> _E:
    data = dict(raw)
    for key in ("code", "name", "source"):
        if not str(data.get(key, "")).strip():
            raise CatalogError(f"{where}: entry {data.get('code', '?')!r} has no {key!r}")
    data["source"] = _cited(str(data["source"]), f"{where}:{data['code']}")
    if cls is Condition and data.get("measures_source", HEURISTIC) != HEURISTIC:
        data["measures_source"] = _cited(str(data["measures_source"]), f"{where}:{data['code']}")
    if cls is Measure:
        data["mcids"] = _thresholds(data.get("mcids", []), "MCID", f"{where}:{data['code']}")
        data["mdcs"] = _thresholds(data.get("mdcs", []), "MDC", f"{where}:{data['code']}")
        data["min"] = float(data["min"])
        data["max"] = float(data["max"])
    for key, value in list(data.items()):
        if isinstance(value, list):
            data[key] = tuple(value)
    try:
        return cls(**data)
    except TypeError as exc:
        raise CatalogError(f"{where}: entry {data['code']!r}: {exc}") from exc


_CLASSES: dict[str, type[Entry]] = {
    "conditions": Condition,
    "regions": Region,
    "measures": Measure,
    "instruments": Instrument,
    "edge_types": EdgeType,
    "strokes": Stroke,
    "protocol_steps": ProtocolStep,
}


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Read every catalogue data file once; the result is shared and immutable."""
    files: dict[str, dict[str, Any]] = {}
    tables: dict[str, dict[str, Any]] = {}
    for kind, (filename, array) in KINDS.items():
        doc = files.setdefault(filename, _read(filename))
        table: dict[str, Any] = {}
        for raw in doc.get(array, []):
            entry = _build(_CLASSES[kind], raw, filename)
            if entry.code in table:
                raise CatalogError(f"{filename}: duplicate {kind} code {entry.code!r}")
            table[entry.code] = entry
        tables[kind] = table
    sides = tuple(files["regions.toml"]["sides"]["codes"])
    for condition in tables["conditions"].values():
        unknown = [m for m in condition.measures if m not in tables["measures"]]
        if unknown:
            raise CatalogError(f"conditions.toml:{condition.code}: unknown measures {', '.join(unknown)}")
        if condition.measures and not condition.measures_source:
            raise CatalogError(f"conditions.toml:{condition.code}: measures without a measures_source")
    return Catalog(sides=sides, **tables)
