"""Studies a clinician or researcher adds: a CSV (one row per comparison) validated into library records.

Pure: text in, records (or every error at once) out. The shell decides where the file is kept; the shipped
library is never touched. Columns (header names exact; order free):

required  id, citation, source, design, condition, population, outcome, higher_is_better,
          n_t, mean_t, sd_t, n_c, mean_c, sd_c
optional  year, pedro, label, measure_code, unit, related_technique, dose_brief_name, dose_minutes,
          dose_sessions, dose_sessions_per_week, dose_weeks, compared, both, other, result

`compared` says what the trial compared (add_on: both groups had the same care, one also IASTM — `both`
names that care; other_treatment, sham, no_treatment — `other` names what the comparison group had);
`result` is the trial's own conclusion (no_difference or favours_iastm). Left empty, the patient summary
says it does not know what IASTM was compared with.

`source` is the study's own address (DOI, PubMed, PMC, trial registry or publisher) on a host listed in
strigil/catalog/data/citation_hosts.toml: it is shown to patients beside the citation.
Rows sharing an `id` belong to one study and must agree on the study's columns. Numbers are kept exactly as
written. `id` must not be a shipped study's id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

from strigil.catalog import host_allowed, load_hosts
from strigil.evidence.records import (
    DESIGNS,
    REVIEW_DESIGNS,
    Arm,
    Comparison,
    Dose,
    PrintedRow,
    Study,
    number,
)

__all__ = [
    "COMPARED",
    "OPTIONAL",
    "REQUIRED",
    "RESULTS",
    "STUDY_COLUMNS",
    "TRIAL_DESIGNS",
    "USER_ROW_OFFSET",
    "UserStudies",
    "UserStudyError",
    "parse_user_studies",
    "row_schema",
    "user_csv_header",
]

REQUIRED = (
    "id", "citation", "source", "design", "condition", "population", "outcome", "higher_is_better",
    "n_t", "mean_t", "sd_t", "n_c", "mean_c", "sd_c",
)  # fmt: skip
OPTIONAL = (
    "year", "pedro", "label", "measure_code", "unit", "related_technique", "dose_brief_name", "dose_minutes",
    "dose_sessions", "dose_sessions_per_week", "dose_weeks", "compared", "both", "other", "result",
)  # fmt: skip
# What a user trial may have compared (a two-arm trial: never single_group) and what it concluded.
COMPARED = ("add_on", "other_treatment", "sham", "no_treatment")
RESULTS = ("no_difference", "favours_iastm")
_PLAIN_MAX = 200  # characters of a plain-words description (both, other)
STUDY_COLUMNS = (
    "citation",
    "source",
    "design",
    "condition",
    "population",
    "year",
    "pedro",
    "related_technique",
    "dose_brief_name",
    "dose_minutes",
    "dose_sessions",
    "dose_sessions_per_week",
    "dose_weeks",
    "compared",
    "both",
    "other",
    "result",
)
TRIAL_DESIGNS = sorted(DESIGNS - REVIEW_DESIGNS - {"expert_article", "single_arm_study", "case_series"})
USER_ROW_OFFSET = 100_000  # user rows are numbered apart from the shipped file's rows
_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class UserStudyError(ValueError):
    """The file cannot be imported; `errors` lists every problem (row, column, value, what is allowed)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class UserStudies:
    """Validated user studies and the comparisons their rows give."""

    studies: tuple[Study, ...]
    comparisons: tuple[Comparison, ...]


def _check_row(
    i: int,
    row: Mapping[str, str],
    conditions: Collection[str],
    measures: Collection[str],
    taken_ids: Collection[str],
) -> list[str]:
    errors = []

    def bad(column: str, allowed: str) -> None:
        errors.append(f"row {i}, column {column}: value {row.get(column, '')!r} is not allowed; {allowed}")

    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            errors.append(f"row {i}, column {column}: missing value (required)")
    if errors:
        return errors
    if not _ID.match(row["id"]):
        bad("id", "use lower-case letters, digits and _ (e.g. smith2024)")
    elif row["id"] in taken_ids:
        bad("id", "this id belongs to a shipped study; choose another")
    if not row["source"].startswith(("http://", "https://")) or not host_allowed(row["source"], patient=True):
        bad(
            "source",
            "give the study's own address: https://doi.org/<doi>, PubMed, PMC, a trial registry or the "
            "publisher's page (a copy such as a mirror or document-sharing site is not shown to users; "
            f"allowed hosts: {', '.join(sorted(h for h, k in load_hosts().items() if k != 'practitioner'))})",
        )
    if row["design"] not in TRIAL_DESIGNS:
        bad("design", f"allowed: {', '.join(TRIAL_DESIGNS)}")
    if row["condition"] not in conditions:
        bad("condition", "use a condition code of the clinical catalogue (strigil evidence list shows them)")
    if row["higher_is_better"].lower() not in _BOOL:
        bad("higher_is_better", "allowed: true or false")
    for column in ("n_t", "n_c"):
        value = number(row[column])
        if value is None or value < 2 or value != int(value):
            bad(column, "a whole number of participants, at least 2")
    for column in ("sd_t", "sd_c"):
        value = number(row[column])
        if value is None or value <= 0:
            bad(column, "a standard deviation greater than 0")
    for column in ("mean_t", "mean_c"):
        if number(row[column]) is None:
            bad(column, "a number (the arm's mean at follow-up)")
    if row.get("year") and not re.fullmatch(r"(19|20)\d\d", row["year"]):
        bad("year", "a four-digit year")
    if row.get("pedro") and (not row["pedro"].isdigit() or int(row["pedro"]) > 10):
        bad("pedro", "a whole number from 0 to 10 (the published PEDro score)")
    if row.get("measure_code") and row["measure_code"] not in measures:
        bad("measure_code", "use a measure code of the clinical catalogue, or leave it empty")
    errors += _check_comparison(i, row)
    return errors


def _check_comparison(i: int, row: Mapping[str, str]) -> list[str]:
    """`compared`, `both`, `other` and `result`: the words the patient summary uses for the trial."""
    errors = []
    compared, both, other = row.get("compared", ""), row.get("both", ""), row.get("other", "")
    if compared and compared not in COMPARED:
        errors.append(
            f"row {i}, column compared: value {compared!r} is not allowed; allowed: {', '.join(COMPARED)} "
            "(or leave it empty when not known)"
        )
    if compared == "add_on" and not both:
        errors.append(
            f"row {i}, column both: missing value; with compared add_on, say in plain words what both groups "
            "did (e.g. 'the same home exercises')"
        )
    if compared in ("other_treatment", "sham", "no_treatment") and not other:
        errors.append(
            f"row {i}, column other: missing value; with compared {compared}, say in plain words what the "
            "comparison group had (e.g. 'stretching', 'a sham treatment', 'no treatment')"
        )
    if (both or other) and not compared:
        errors.append(f"row {i}, column compared: missing value; both and other need compared")
    for column, value in (("both", both), ("other", other)):
        if len(value) > _PLAIN_MAX:
            errors.append(
                f"row {i}, column {column}: {len(value)} characters; at most {_PLAIN_MAX} plain words"
            )
    result = row.get("result", "")
    if result and result not in RESULTS:
        errors.append(
            f"row {i}, column result: value {result!r} is not allowed; allowed: {', '.join(RESULTS)} "
            "(as the trial concluded; or leave it empty)"
        )
    return errors


def _study(sid: str, rows: list[tuple[int, dict[str, str]]]) -> Study:
    first = rows[0][1]
    n_t, n_c = int(float(first["n_t"])), int(float(first["n_c"]))
    dose = Dose(
        brief_name=first.get("dose_brief_name", ""), minutes=first.get("dose_minutes", ""),
        sessions=first.get("dose_sessions", ""), sessions_per_week=first.get("dose_sessions_per_week", ""),
        weeks=first.get("dose_weeks", ""), source="user import",
    )  # fmt: skip
    printed = tuple(
        PrintedRow(
            row=USER_ROW_OFFSET + i,
            review_or_trial="user",
            study=sid,
            year=r.get("year", ""),
            condition=r["population"],
            outcome=r["outcome"],
            measure="follow-up mean ± SD (user import)",
            n_t=r["n_t"],
            mean_t=r["mean_t"],
            sd_t=r["sd_t"],
            n_c=r["n_c"],
            mean_c=r["mean_c"],
            sd_c=r["sd_c"],
            yi="",
            ci_low="",
            ci_high="",
            source_address=r["source"],
            where_in_source="user import",
        )
        for i, r in rows
    )
    return Study(
        id=sid, citation=first["citation"], design=first["design"], population=first["population"],
        year=int(first["year"]) if first.get("year") else None, condition=first["condition"],
        address=first["source"], arms=(Arm(label="IASTM", role="iastm", n=n_t),
                                          Arm(label="comparison", role="comparison", n=n_c)),
        dose=dose if dose.brief_name or dose.minutes or dose.sessions else None,
        pedro=int(first["pedro"]) if first.get("pedro") else None,
        related_technique=first.get("related_technique", ""), origin="user", rows=printed,
        compared=cast(Any, first.get("compared") or "unknown"), both=first.get("both", ""),
        other=first.get("other", ""), result=cast(Any, first.get("result", "")),
    )  # fmt: skip


def parse_user_studies(
    text: str, conditions: Collection[str], measures: Collection[str], taken_ids: Collection[str]
) -> UserStudies:
    """Validate a user CSV; raise UserStudyError listing every problem, or return the studies it holds."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        raw_rows = list(reader)
    except csv.Error as exc:  # e.g. a bare carriage return inside a field (found by the hardening fuzz tests)
        raise UserStudyError([f"file: not a readable CSV table ({exc})"]) from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    errors = []
    if missing:
        errors.append(f"header: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}")
    if unknown:
        errors.append(
            f"header: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}"
        )
    if errors:
        raise UserStudyError(errors)
    rows = [(i, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for i, r in enumerate(raw_rows, 2)]
    if not rows:
        raise UserStudyError(["the file has a header but no study rows"])
    by_id: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for i, row in rows:
        errors += _check_row(i, row, conditions, measures, taken_ids)
        by_id.setdefault(row.get("id", ""), []).append((i, row))
    for sid, group in by_id.items():
        first_line, first = group[0]
        for line, row in group[1:]:
            for column in (*STUDY_COLUMNS, "n_t", "n_c"):
                if row.get(column, "") != first.get(column, ""):
                    errors.append(
                        f"row {line}, column {column}: value {row.get(column, '')!r} differs from row "
                        f"{first_line} ({first.get(column, '')!r}) of the same study {sid!r}"
                    )
        outcomes = [r["outcome"] for _, r in group]
        for outcome in {o for o in outcomes if outcomes.count(o) > 1}:
            errors.append(f"study {sid!r}: outcome {outcome!r} appears more than once")
    if errors:
        raise UserStudyError(errors)
    studies = tuple(_study(sid, group) for sid, group in by_id.items())
    comparisons = tuple(_comparison(sid, i, row) for sid, group in by_id.items() for i, row in group)
    return UserStudies(studies, comparisons)


def _comparison(sid: str, line: int, row: Mapping[str, str]) -> Comparison:
    return Comparison(
        study=sid, outcome=row["outcome"], label=row.get("label") or row["outcome"], kind="arm_means",
        row=USER_ROW_OFFSET + line, higher_is_better=_BOOL[row["higher_is_better"].lower()],
        measure_code=row.get("measure_code") or None, unit=row.get("unit", ""),
    )  # fmt: skip


def user_csv_header() -> str:
    """The header line of an importable file (all columns)."""
    return ",".join(REQUIRED + OPTIONAL)


def row_schema() -> dict[str, object]:
    """JSON Schema of one row of an importable study file (all values are CSV text)."""
    text = {"type": "string"}
    properties: dict[str, object] = {name: dict(text) for name in REQUIRED + OPTIONAL}
    properties["design"] = {"type": "string", "enum": TRIAL_DESIGNS}
    properties["higher_is_better"] = {"type": "string", "enum": sorted(_BOOL)}
    properties["id"] = {"type": "string", "pattern": _ID.pattern}
    properties["source"] = {"type": "string", "pattern": "^https?://"}
    properties["compared"] = {"type": "string", "enum": ["", *COMPARED]}
    properties["result"] = {"type": "string", "enum": ["", *RESULTS]}
    for name in ("both", "other"):
        properties[name] = {"type": "string", "maxLength": _PLAIN_MAX}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "strigil evidence import: one CSV row (one between-group comparison)",
        "type": "object",
        "properties": properties,
        "required": list(REQUIRED),
        "additionalProperties": False,
    }
