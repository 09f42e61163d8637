"""Citations of the sources themselves: one bibliography, one formatter, one list of hosts allowed on pages.

What users see cites the source itself: authors, title or journal, year, and a DOI, PubMed/PMC,
trial-registry, standards-body or publisher address where one is known, otherwise no address (the domain
reference's "Citing" rule). The copies the team read the text in (`read_in`) never leave this module.
Practitioner sources (marked ⚠️ in the domain reference) carry the label "practitioner opinion" and are for
clinician views only.

A catalogue `source` field cites by key: `@key` or `@key (what this source says here)`, several joined by `;`.
Nothing else may stand in the field, so no reading note can reach a page through it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "PRACTITIONER_LABEL",
    "Bibliography",
    "Citation",
    "CitationError",
    "HostKind",
    "Source",
    "SourceKind",
    "address_host",
    "build_bibliography",
    "host_allowed",
    "load_bibliography",
    "load_hosts",
]

SourceKind = Literal["research", "practitioner", "standard", "project"]
HostKind = Literal["doi", "pubmed", "registry", "standards", "publisher", "practitioner"]
PRACTITIONER_LABEL = "practitioner opinion"

# A reference in a source field, and the whole field as references separated by semicolons.
_REF = r"@([a-z0-9_]+)(?:\s*\(([^()]*)\))?"
_FIELD = re.compile(rf"^\s*{_REF}(?:\s*;\s*{_REF})*\s*$")
_REFS = re.compile(_REF)


class CitationError(ValueError):
    """A source field, a bibliography entry or an address breaks the citation rules."""


@dataclass(frozen=True, slots=True)
class Citation:
    """A source as a page shows it: the citation text, its address (or None) and the practitioner label."""

    key: str
    text: str
    address: str | None
    practitioner: bool
    note: str = ""

    def __str__(self) -> str:
        label = f"{PRACTITIONER_LABEL.capitalize()}: " if self.practitioner else ""
        body = f"{label}{self.text}" + (f" ({self.note})" if self.note else "")
        return f"{body}. {self.address}" if self.address else body

    def to_json(self) -> dict[str, Any]:
        """The citation as plain JSON-ready data."""
        return {
            "key": self.key,
            "citation": self.text,
            "address": self.address,
            "practitioner_opinion": self.practitioner,
            "note": self.note,
            "text": str(self),
        }


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of the bibliography, as the domain reference gives it (nothing added)."""

    key: str
    kind: SourceKind
    authors: str = ""
    title: str = ""
    journal: str = ""
    year: int | None = None
    details: str = ""
    doi: str = ""
    pmid: str = ""
    pmcid: str = ""
    registry: str = ""
    address: str = ""
    reported_in: str = ""
    read_in: tuple[str, ...] = ()

    @property
    def practitioner(self) -> bool:
        """True for ⚠️ practitioner sources (clinic pages, blogs, courses, flashcards, CE e-books)."""
        return self.kind == "practitioner"

    def own_address(self) -> str | None:
        """The source's own address: DOI, then PubMed, PMC, the trial registry, the publisher's page."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        if self.pmcid:
            return f"https://pmc.ncbi.nlm.nih.gov/articles/{self.pmcid}/"
        if self.registry:
            return f"https://clinicaltrials.gov/study/{self.registry}"
        return self.address or None

    def text(self) -> str:
        """Authors. Title. Journal Year;details — whichever parts are known, in Vancouver order."""
        parts = [p for p in (self.authors, self.title) if p]
        where = " ".join(p for p in (self.journal, str(self.year) if self.year else "") if p)
        if self.details:
            where = f"{where};{self.details}" if self.year else f"{where} {self.details}".strip()
        if where:
            parts.append(where)
        return ". ".join(p.rstrip(".") for p in parts)


def address_host(address: str) -> str:
    """The host name of an address (lower case), '' when it has none."""
    return (urlsplit(address).hostname or "").lower()


@lru_cache(maxsize=1)
def load_hosts() -> Mapping[str, HostKind]:
    """The hosts allowed on pages (citation_hosts.toml): host name -> kind."""
    text = resources.files("strigil.catalog").joinpath("data", "citation_hosts.toml").read_text("utf-8")
    hosts: dict[str, HostKind] = {}
    for entry in tomllib.loads(text)["host"]:
        if entry["name"] in hosts:
            raise CitationError(f"citation_hosts.toml: {entry['name']!r} is listed twice")
        hosts[str(entry["name"])] = entry["kind"]
    return hosts


def host_allowed(address: str, *, patient: bool = False) -> bool:
    """True when the address's host is in the allowed list (on a patient page: and not a practitioner's)."""
    kind = load_hosts().get(address_host(address))
    return kind is not None and not (patient and kind == "practitioner")


@dataclass(frozen=True)
class Bibliography:
    """Every source by key, and the one formatter that turns keys and source fields into citations."""

    sources: Mapping[str, Source]

    def source(self, key: str) -> Source:
        """The source with this key; CitationError names the key when there is none."""
        try:
            return self.sources[key]
        except KeyError:
            raise CitationError(f"no source with key {key!r} in bibliography.toml") from None

    def cite(self, key: str, note: str = "") -> Citation:
        """The citation of one source (a study known only from a review cites the review's address)."""
        source = self.source(key)
        text, address = source.text(), source.own_address()
        if source.reported_in:
            review = self.source(source.reported_in)
            text = f"{text}. As reported in {review.text()}"
            address = address or review.own_address()
        return Citation(key, text, address, source.practitioner, note.strip())

    def cite_field(self, field: str) -> tuple[Citation, ...]:
        """The citations of a source field (`@key (note); @key ...`); CitationError for anything else."""
        if not _FIELD.match(field):
            raise CitationError(
                f"source field {field!r}: cite sources as '@key' or '@key (note)' separated by ';' "
                "(keys in strigil/catalog/data/bibliography.toml)"
            )
        return tuple(self.cite(key, note) for key, note in _REFS.findall(field))

    def render_field(self, field: str) -> str:
        """A source field as the text a page shows: its citations joined by '; '."""
        return "; ".join(str(c) for c in self.cite_field(field))


def _check(source: Source, hosts: Mapping[str, HostKind]) -> None:
    address = source.own_address()
    if address is not None:
        kind = hosts.get(address_host(address))
        if kind is None:
            raise CitationError(f"source {source.key!r}: host of {address} is not in citation_hosts.toml")
        if (kind == "practitioner") != source.practitioner:
            raise CitationError(
                f"source {source.key!r}: {address} is a {kind} host for a {source.kind} source"
            )
    if not (source.authors or source.title or source.journal):
        raise CitationError(f"source {source.key!r} names neither authors, title nor journal")


def build_bibliography(entries: Iterable[Mapping[str, Any]]) -> Bibliography:
    """Check and index bibliography entries (pure)."""
    hosts = load_hosts()
    sources: dict[str, Source] = {}
    for raw in entries:
        data = dict(raw)
        data["read_in"] = tuple(data.get("read_in", ()))
        try:
            source = Source(**data)
        except TypeError as exc:
            raise CitationError(f"bibliography.toml: entry {data.get('key', '?')!r}: {exc}") from exc
        if source.key in sources:
            raise CitationError(f"bibliography.toml: duplicate key {source.key!r}")
        _check(source, hosts)
        sources[source.key] = source
    for source in sources.values():
        if source.reported_in and source.reported_in not in sources:
            raise CitationError(f"source {source.key!r}: reported_in {source.reported_in!r} is unknown")
    return Bibliography(sources)


@lru_cache(maxsize=1)
def load_bibliography() -> Bibliography:
    """The bibliography shipped in the package (read once; immutable)."""
    text = resources.files("strigil.catalog").joinpath("data", "bibliography.toml").read_text("utf-8")
    return build_bibliography(tomllib.loads(text)["source"])
