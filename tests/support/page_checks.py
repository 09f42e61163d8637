"""Checks on rendered pages that show sources: allowed hosts only, no reading notes, no practitioner source
and no statistical abbreviation on a patient page.

The lists below are the tests' own, written from the domain reference's "Citing" rule, not taken from the code
under test: a page passes only if what a reader can see and click obeys the rule.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from strigil.catalog import address_host, load_bibliography, load_hosts
from strigil.evidence.reading_level import visible_text

__all__ = [
    "READING_NOTES",
    "STATISTICAL_ABBREVIATIONS",
    "addresses",
    "page_problems",
]

# Phrases that say where or how the team read a text (for the team, never for a page), and the domain
# reference's markers.
READING_NOTES = (
    "excerpt",
    "copy read",
    "copies read",
    "read in a",
    "not read",
    "domain reference",
    "iastm_trials",
    "notes_raw",
    "shared files",
    "sources read",
    "mirror",
    "not shown in the",
    "not seen",
    "§",
    "❓",
    "⚠",
    "✅",
)

# Statistical abbreviations a patient page must not use (the numbers live in the clinician view).
STATISTICAL_ABBREVIATIONS = re.compile(
    r"\b(MD|SMD|CI|SD|SE|I2|OR|RR|NNT|MCID|MDC|REML|PEDro|GRADE|p\s*[<=>]|k\s*=|n\s*=)(?![\w-])|I²|τ²|95 ?%"
)

_URL = re.compile(r"https?://[^\s<>\"')\]]+")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "cite") and value and value.startswith(("http:", "https:")):
                self.found.append(value)


def addresses(html: str) -> list[str]:
    """Every web address a reader can follow or see: link targets and addresses written in the text."""
    parser = _Links()
    parser.feed(html)
    return parser.found + _URL.findall(visible_text(html))


def _practitioner_citations() -> list[str]:
    bibliography = load_bibliography()
    return [bibliography.cite(k).text for k, s in bibliography.sources.items() if s.practitioner]


def page_problems(html: str, *, patient: bool) -> list[str]:
    """Every breach of the citing rules on one rendered page (empty: the page obeys them)."""
    problems = []
    hosts = load_hosts()
    for address in addresses(html):
        kind = hosts.get(address_host(address))
        if kind is None:
            problems.append(f"address on a host that is not allowed: {address}")
        elif patient and kind == "practitioner":
            problems.append(f"practitioner address on a patient page: {address}")
    text = visible_text(html)
    lowered = text.lower()
    problems += [f"reading note {note!r} on the page" for note in READING_NOTES if note.lower() in lowered]
    if patient:
        if "practitioner opinion" in lowered:
            problems.append("a practitioner source on a patient page")
        problems += [
            f"practitioner source on a patient page: {c}" for c in _practitioner_citations() if c in text
        ]
        problems += [
            f"statistical abbreviation {m.group(0)!r} on a patient page"
            for m in STATISTICAL_ABBREVIATIONS.finditer(text)
        ]
    return problems
