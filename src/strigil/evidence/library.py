"""The shipped IASTM study library: studies.toml, iastm_trials.csv (numbers as printed), flags, comparisons.

The CSV is a verbatim copy of the project's shared data file; each study names the exact `study` strings of
its rows, and loading fails loudly when a row belongs to no study (or to two), when a flag or comparison
selects a different number of rows than it says, or when a published figure disagrees with its row.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from strigil.catalog import Bibliography, CitationError, load_bibliography
from strigil.evidence.records import (
    CSV_COLUMNS,
    Comparison,
    Flag,
    PrintedRow,
    PublishedFigure,
    Study,
)

__all__ = [
    "Library",
    "LibraryError",
    "build_library",
    "load_library",
    "parse_printed_rows",
    "read_data_text",
]


class LibraryError(ValueError):
    """The library's data files contradict each other (a bug in the shipped data, or a bad user file)."""


@dataclass(frozen=True)
class Library:
    """All studies (reviews, trials, background articles), their comparisons and the reviews' own figures."""

    studies: Mapping[str, Study]
    comparisons: tuple[Comparison, ...]
    published: tuple[PublishedFigure, ...]
    rows: tuple[PrintedRow, ...]

    def study(self, study_id: str) -> Study:
        """The study with this id; KeyError names the known ids when there is none."""
        try:
            return self.studies[study_id]
        except KeyError:
            raise KeyError(
                f"no study with id {study_id!r}; known ids: {', '.join(sorted(self.studies))}"
            ) from None

    def row(self, number: int) -> PrintedRow:
        """The printed row with this 1-based number."""
        for row in self.rows:
            if row.row == number:
                return row
        raise KeyError(f"no printed row {number}")

    def for_condition(self, condition: str) -> list[Study]:
        """Trials and reviews coded to this condition, in library order."""
        return [s for s in self.studies.values() if s.condition == condition]

    def comparisons_of(self, study_id: str) -> list[Comparison]:
        """The comparisons read from one study's rows."""
        return [c for c in self.comparisons if c.study == study_id]

    def merged(self, studies: Iterable[Study], comparisons: Iterable[Comparison]) -> Library:
        """A new library with further (e.g. user-imported) studies; ids must not clash with existing ones."""
        added = {s.id: s for s in studies}
        clash = sorted(set(added) & set(self.studies))
        if clash:
            raise LibraryError(f"study id(s) already in the library: {', '.join(clash)}")
        rows = self.rows + tuple(r for s in added.values() for r in s.rows)
        return replace(
            self,
            studies={**self.studies, **added},
            comparisons=self.comparisons + tuple(comparisons),
            rows=rows,
        )


def read_data_text(name: str) -> str:
    """The text of one of the package's data files (strigil/evidence/data/NAME)."""
    return resources.files("strigil.evidence").joinpath("data", name).read_text(encoding="utf-8")


def parse_printed_rows(text: str) -> tuple[PrintedRow, ...]:
    """Read iastm_trials.csv text into rows, every value kept as the printed string."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise LibraryError(f"iastm_trials.csv columns are {reader.fieldnames}, expected {list(CSV_COLUMNS)}")
    return tuple(
        PrintedRow(row=i, **{k: v or "" for k, v in record.items()}) for i, record in enumerate(reader, 1)
    )


def _select(rows: Iterable[PrintedRow], criteria: Mapping[str, str]) -> list[PrintedRow]:
    return [r for r in rows if r.matches(dict(criteria))]


def _assign_rows(entries: list[dict[str, Any]], rows: tuple[PrintedRow, ...]) -> dict[str, list[PrintedRow]]:
    owner: dict[int, str] = {}
    by_study: dict[str, list[PrintedRow]] = {e["id"]: [] for e in entries}
    for entry in entries:
        for text in entry.get("csv_study", []):
            selected = [r for r in rows if r.study == text]
            if not selected:
                raise LibraryError(
                    f"study {entry['id']!r}: csv_study {text!r} matches no row of iastm_trials.csv"
                )
            for r in selected:
                if r.row in owner:
                    raise LibraryError(f"row {r.row} is claimed by both {owner[r.row]!r} and {entry['id']!r}")
                owner[r.row] = entry["id"]
                by_study[entry["id"]].append(r)
    orphans = [r.row for r in rows if r.row not in owner]
    if orphans:
        raise LibraryError(f"rows of iastm_trials.csv that belong to no study: {orphans}")
    return by_study


def _flags(entries: list[dict[str, Any]], by_study: Mapping[str, list[PrintedRow]]) -> dict[str, list[Flag]]:
    out: dict[str, list[Flag]] = {sid: [] for sid in by_study}
    for entry in entries:
        sid = entry["study"]
        if sid not in by_study:
            raise LibraryError(f"flag names unknown study {sid!r}")
        rows: tuple[int, ...] = ()
        if "match" in entry:
            selected = _select(by_study[sid], entry["match"])
            if len(selected) != entry.get("expect_rows", 1):
                raise LibraryError(
                    f"flag on {sid!r} ({entry['field']}) selects {len(selected)} rows, "
                    f"expected {entry.get('expect_rows', 1)}"
                )
            rows = tuple(r.row for r in selected)
        fields = {k: v for k, v in entry.items() if k not in ("match", "expect_rows")}
        out[sid].append(Flag(rows=rows, **fields))
    return out


def _comparisons(
    entries: list[dict[str, Any]], by_study: Mapping[str, list[PrintedRow]]
) -> tuple[Comparison, ...]:
    out = []
    for entry in entries:
        sid = entry["study"]
        selected = _select(by_study.get(sid, []), entry["match"])
        if len(selected) != 1:
            raise LibraryError(
                f"comparison {sid!r}/{entry['outcome']} selects {len(selected)} rows, expected 1"
            )
        fields = {k: v for k, v in entry.items() if k != "match"}
        out.append(Comparison(row=selected[0].row, **fields))
    return tuple(out)


def _published(
    entries: list[dict[str, Any]], by_study: Mapping[str, list[PrintedRow]]
) -> tuple[PublishedFigure, ...]:
    out = []
    for entry in entries:
        rid = entry["review"]
        if rid not in by_study:
            raise LibraryError(f"published figure names unknown review {rid!r}")
        row = None
        if "match" in entry:
            selected = _select(by_study[rid], entry["match"])
            if len(selected) != 1:
                raise LibraryError(f"published figure of {rid!r} selects {len(selected)} rows, expected 1")
            row = selected[0]
            printed = (row.yi, row.ci_low, row.ci_high)
            if (entry.get("effect"), *entry.get("ci", ())) != printed:
                raise LibraryError(f"published figure of {rid!r} disagrees with row {row.row}: {printed}")
        fields = {k: v for k, v in entry.items() if k != "match"}
        for key in ("ci", "conditions", "applies_to"):
            if key in fields:
                fields[key] = tuple(fields[key])
        out.append(PublishedFigure(row=row.row if row else None, **fields))
    return tuple(out)


def _cited(entry: Mapping[str, Any], bibliography: Bibliography) -> dict[str, Any]:
    """A study's citation fields from the bibliography (its id is its key), its dose source resolved."""
    if "citation" in entry or "sources" in entry:
        raise LibraryError(f"study {entry['id']!r}: cite it in bibliography.toml, not in studies.toml")
    try:
        citation = bibliography.cite(entry["id"])
        source = bibliography.source(entry["id"])
        dose = dict(entry["dose"]) if "dose" in entry else None
        if dose and dose.get("source"):
            dose["source"] = bibliography.render_field(dose["source"])
    except CitationError as exc:
        raise LibraryError(f"study {entry['id']!r}: {exc}") from exc
    fields = {k: v for k, v in entry.items() if k not in ("csv_study", "dose")}
    if dose is not None:
        fields["dose"] = dose
    return {
        **fields,
        "citation": citation.text,
        "address": citation.address,
        "practitioner": citation.practitioner,
        # a study known from a review was read in the review's copies
        "read_in": source.read_in
        + (bibliography.source(source.reported_in).read_in if source.reported_in else ()),
    }


def build_library(
    studies_toml: str,
    trials_csv: str,
    flags_toml: str,
    comparisons_toml: str,
    published_toml: str,
    bibliography: Bibliography | None = None,
) -> Library:
    """Assemble and cross-check the library from the texts of its five data files (pure)."""
    bibliography = bibliography or load_bibliography()
    rows = parse_printed_rows(trials_csv)
    entries = tomllib.loads(studies_toml)["study"]
    ids = [e["id"] for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LibraryError(f"duplicate study ids: {duplicates}")
    by_study = _assign_rows(entries, rows)
    flags = _flags(tomllib.loads(flags_toml)["flag"], by_study)
    studies = {}
    for entry in entries:
        studies[entry["id"]] = Study(
            rows=tuple(by_study[entry["id"]]), flags=tuple(flags[entry["id"]]), **_cited(entry, bibliography)
        )
    return Library(
        studies=studies,
        comparisons=_comparisons(tomllib.loads(comparisons_toml)["comparison"], by_study),
        published=_published(tomllib.loads(published_toml)["published"], by_study),
        rows=rows,
    )


@lru_cache(maxsize=1)
def load_library() -> Library:
    """The library shipped inside the package (read once; the objects are immutable)."""
    return build_library(
        read_data_text("studies.toml"),
        read_data_text("iastm_trials.csv"),
        read_data_text("flags.toml"),
        read_data_text("comparisons.toml"),
        read_data_text("published.toml"),
    )
