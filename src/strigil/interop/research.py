"""Research exports of the long table: Parquet, a metafor-ready effect file, a REDCap dictionary and records.

Pure: every function takes the rows of `strigil export csv` (record's `export_rows`, one dict per
measurement) and returns tables; the shell writes them. One long table feeds all three, so the exports
can never disagree with the CSV.

What protects the patients is here too: the export-specific pseudonym (`pseudonym`: keyed, so not reversible
without the key, and a fresh key per export unless the clinic gives its own), birth years banded and sex
withheld so that every birth-band × sex cell holds none or at least `MIN_PATIENTS` patients
(`banded_demographics`), and the fields that stay identifying (`IDENTIFYING_FIELDS`, flagged in REDCap's
"Identifier?" column). Dates are days since the episode began.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from strigil.catalog import Catalog
from strigil.clinical.vocabulary import Sex, Timing, Tolerance, allowed
from strigil.registry.disclosure import MIN_PATIENTS, count_allowed

__all__ = [
    "BAND_WIDTHS",
    "EFFECT_COLUMNS",
    "IDENTIFYING_FIELDS",
    "MIN_PATIENTS",
    "REDCAP_DICTIONARY_COLUMNS",
    "Demographics",
    "EpisodeChange",
    "banded_demographics",
    "effect_rows",
    "episode_changes",
    "parquet_table",
    "pseudonym",
    "redcap_dictionary",
    "redcap_records",
]

_Row = dict[str, Any]

# Strata with fewer than MIN_PATIENTS patients are left out of the effect file (the disclosure rule the web
# app's researcher view follows too), and a pre-post correlation needs several pairs.

_INT = (
    "birth_year",
    "birth_year_width",
    "episode",
    "session",
    "days_since_onset",
    "n_steps",
    "measured_strokes",
    # dates as days since the episode began (a date would identify a visit)
    "onset_date",
    "opened_on",
    "session_date",
    "taken_on",
)
_FLOAT = ("minutes", "value", "measured_force_n", "measured_peak_n")
_DATE: tuple[str, ...] = ()  # none: every date is a day count
_DAY_COUNTS = ("onset_date", "opened_on", "session_date", "taken_on")

# Fields that still point at people once the export is pseudonymised: the patient's pseudonym (linkable
# within the export, and by whoever holds the key) and the clinician's code (names a member of staff).
IDENTIFYING_FIELDS = ("patient", "clinician")

# Widths a birth-year band may take, narrowest first. Each divides the next, so an aligned band (1980-1984)
# lies inside one aligned band of every wider width (1980-1989, 1980-1999): coarsening a band never makes it
# overlap another. An engineering choice for disclosure control, like MIN_PATIENTS: a configurable heuristic,
# not a legal standard.
BAND_WIDTHS = (1, 5, 10, 20)


def pseudonym(key: bytes, public_id: str) -> str:
    """A patient's pseudonym in one export: HMAC-SHA-256 of the patient's public id under `key`, 80 bits as
    hex. The same key gives the same pseudonym (a clinic can link its own exports); without it, none."""
    return "s" + hmac.new(key, public_id.encode(), hashlib.sha256).hexdigest()[:20]


@dataclass(frozen=True)
class Demographics:
    """What an export shows of a patient's birth year and sex: a band (its first year and width in years)
    and the sex; `None` and "" where they are withheld."""

    birth_year: int | None
    birth_year_width: int | None
    sex: str


@dataclass(frozen=True)
class _Band:
    first: int
    last: int
    patients: Counter[str]  # per sex as shown

    @property
    def total(self) -> int:
        return sum(self.patients.values())

    def joined(self, other: _Band) -> _Band:
        return _Band(min(self.first, other.first), max(self.last, other.last), self.patients + other.patients)


def banded_demographics(
    patients: Mapping[tuple[int, str], int], min_patients: int = MIN_PATIENTS
) -> dict[tuple[int, str], Demographics]:
    """What the export shows for each (birth year, sex) of its patients (`patients` counts them), so that
    every cell a reader can count — the patients of one birth-year band and one sex as shown — holds 0 or
    at least `min_patients` patients.

    The cell is band × sex, not the band alone: a band of 12 holding one man names his birth years and sex
    as surely as a band of one. The bands partition the birth years (no band overlaps another or an exact
    year, so no cell is the difference of two published cells): every year starts as its own band; a band
    with a small cell widens to the aligned band of the next width (`BAND_WIDTHS`), taking in every band
    inside it; past the widest width a band with a small cell joins its smaller neighbour. A sex recorded for
    fewer than `min_patients` patients is withheld (""), and so is the next rarest until the withheld
    patients are none or at least `min_patients` (else "" would name the rare ones). With fewer than
    `min_patients` patients in all, neither year nor sex is shown.
    """
    k = min_patients
    counted = {cell: n for cell, n in patients.items() if n > 0}
    per_sex: Counter[str] = Counter()
    for (_, sex), n in counted.items():
        per_sex[sex] += n
    shown = _shown_sexes(per_sex, k)
    per_year: dict[int, Counter[str]] = defaultdict(Counter)
    for (year, sex), n in counted.items():
        per_year[year][shown[sex]] += n
    bands = _bands(per_year, k)
    if len(bands) == 1 and not _safe(bands[0], k):  # the whole export is a small cell
        return {cell: Demographics(None, None, "") for cell in counted}
    band_of = {year: band for band in bands for year in per_year if band.first <= year <= band.last}
    return {
        (year, sex): Demographics(
            band_of[year].first, band_of[year].last - band_of[year].first + 1, shown[sex]
        )
        for year, sex in counted
    }


def _safe(band: _Band, min_patients: int) -> bool:
    return all(count_allowed(n, min_patients) for n in band.patients.values())


def _shown_sexes(per_sex: Counter[str], min_patients: int) -> dict[str, str]:
    """Each recorded sex as shown: itself, or "" when withheld (rare, or pooled so that "" is not rare)."""
    withheld = {sex for sex, n in per_sex.items() if not count_allowed(n, min_patients)}
    while withheld and not count_allowed(sum(per_sex[s] for s in withheld), min_patients):
        rest = [s for s in per_sex if s not in withheld]
        if not rest:
            break  # the export is smaller than the minimum: the caller withholds everything
        withheld.add(min(rest, key=lambda s: (per_sex[s], s)))
    return {sex: "" if sex in withheld else sex for sex in per_sex}


def _bands(per_year: Mapping[int, Counter[str]], min_patients: int) -> list[_Band]:
    """A partition of the birth years into bands, in order, where every band's cells are 0 or large enough
    (or one band, when even the whole export is not)."""
    bands = [_Band(year, year, per_year[year]) for year in sorted(per_year)]
    for width in BAND_WIDTHS[1:]:
        widen = {b.first - b.first % width for b in bands if not _safe(b, min_patients)}
        if not widen:
            return bands
        coarser: list[_Band] = []
        for band in bands:
            start = band.first - band.first % width  # the aligned band of this width that holds it
            if start not in widen:
                coarser.append(band)
            elif coarser and coarser[-1].first == start:
                coarser[-1] = coarser[-1].joined(band)
            else:
                coarser.append(_Band(start, start + width - 1, band.patients))
        bands = coarser
    while len(bands) > 1:
        small = [i for i, b in enumerate(bands) if not _safe(b, min_patients)]
        if not small:
            break
        # the smallest such band joins its smaller neighbour: the least precision lost
        i = min(small, key=lambda i: (bands[i].total, i))
        j = min((j for j in (i - 1, i + 1) if 0 <= j < len(bands)), key=lambda j: (bands[j].total, j))
        lo, hi = min(i, j), max(i, j)
        bands[lo : hi + 1] = [bands[lo].joined(bands[hi])]
    return bands


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _arrow_type(column: str) -> pa.DataType:
    if column in _INT:
        return pa.int64()
    if column in _FLOAT:
        return pa.float64()
    if column in _DATE:
        return pa.date32()
    return pa.string()


def _typed(column: str, value: Any) -> Any:
    if _blank(value):
        return None
    if column in _INT:
        return int(value)
    if column in _FLOAT:
        return float(value)
    if column in _DATE:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return str(value)


def parquet_table(rows: Iterable[_Row], columns: Sequence[str]) -> pa.Table:
    """The long table with real types (integers, decimals, dates; blanks of the CSV become nulls)."""
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        for column in columns:
            data[column].append(_typed(column, row.get(column)))
    schema = pa.schema([pa.field(c, _arrow_type(c)) for c in columns])
    return pa.table(data, schema=schema)


@dataclass(frozen=True)
class EpisodeChange:
    """One episode's first and last value of one measure, with the dose it received in between."""

    patient: str
    episode: int
    condition: str
    phase: str
    measure: str
    baseline: float
    final: float
    sessions: int
    iastm_minutes: float
    days: int


def _order(row: _Row) -> tuple[Any, ...]:
    timing_rank = {"pre": 0, "between": 1, "post": 2}
    session = row.get("session")
    number = -1 if session is None or session == "" else int(session)
    taken = row["taken_on"]  # days since the episode began (an ISO date in older tables)
    return (taken if isinstance(taken, int) else str(taken), number, timing_rank.get(row["timing"], 1))


def episode_changes(rows: Iterable[_Row]) -> list[EpisodeChange]:
    """Per episode and measure: the earliest value (baseline), the latest (final) and the dose between."""
    by_key: dict[tuple[int, str], list[_Row]] = defaultdict(list)
    minutes: dict[int, dict[int, float]] = defaultdict(dict)
    for row in rows:
        by_key[(int(row["episode"]), row["measure"])].append(row)
        if not _blank(row.get("session")):
            minutes[int(row["episode"])][int(row["session"])] = float(row.get("minutes") or 0)
    changes = []
    for (episode, measure), items in by_key.items():
        if len(items) < 2:
            continue
        items.sort(key=_order)
        first, last = items[0], items[-1]
        days = int(last["days_since_onset"]) - int(first["days_since_onset"])
        changes.append(
            EpisodeChange(
                patient=first["patient"],
                episode=episode,
                condition=first["condition"],
                phase=first["phase"],
                measure=measure,
                baseline=float(first["value"]),
                final=float(last["value"]),
                sessions=len(minutes[episode]),
                iastm_minutes=round(sum(minutes[episode].values()), 3),
                days=days,
            )
        )
    return changes


EFFECT_COLUMNS = (
    "condition",
    "measure",
    "phase",
    "direction",
    "unit",
    "ni",
    "m1i",
    "m2i",
    "sd1i",
    "sd2i",
    "ri",
    "yi",
    "vi",
    "mean_baseline",
    "mean_final",
    "mean_sessions",
    "mean_iastm_minutes",
    "mean_days",
    "measure_kind",
)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _sd(xs: Sequence[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _corr(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = _mean(xs), _mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def effect_rows(
    changes: Iterable[EpisodeChange], catalog: Catalog, min_patients: int = MIN_PATIENTS
) -> list[_Row]:
    """One metafor row per (condition, measure, tissue phase): the standardized mean change (SMCR).

    Values are oriented so that improvement is a decrease (measures where higher is better change sign), so
    `yi = (m1i - m2i) / sd1i` (Becker 1988, raw-score standardisation, as metafor's escalc "SMCR") is positive
    when patients improved; m1i/m2i are the oriented baseline/final means, sd1i the baseline SD, ri the
    baseline-final correlation. Moderators: mean sessions, IASTM minutes and days between the values.
    """
    from strigil.meta import escalc

    groups: dict[tuple[str, str, str], list[EpisodeChange]] = defaultdict(list)
    for change in changes:
        groups[(change.condition, change.measure, change.phase)].append(change)
    rows = []
    for (condition, measure_code, phase), items in sorted(groups.items()):
        if len({c.patient for c in items}) < min_patients:
            continue
        measure = catalog.measures[measure_code]
        sign = -1.0 if measure.direction == "higher_is_better" else 1.0
        before = [sign * c.baseline for c in items]
        after = [sign * c.final for c in items]
        sd1, sd2 = _sd(before), _sd(after)
        if sd1 == 0 or sd2 == 0:
            continue  # no spread: a standardized change does not exist
        r = _corr(before, after)
        if not -1 < r < 1:
            continue
        rows.append(
            {
                "condition": condition,
                "measure": measure_code,
                "phase": phase,
                "direction": measure.direction,
                "unit": measure.unit,
                "ni": len(items),
                "m1i": _mean(before),
                "m2i": _mean(after),
                "sd1i": sd1,
                "sd2i": sd2,
                "ri": r,
                "mean_baseline": _mean([c.baseline for c in items]),
                "mean_final": _mean([c.final for c in items]),
                "mean_sessions": _mean([c.sessions for c in items]),
                "mean_iastm_minutes": _mean([c.iastm_minutes for c in items]),
                "mean_days": _mean([c.days for c in items]),
                "measure_kind": measure.kind,
            }
        )
    if rows:
        effects = escalc(
            "SMCR",
            m1i=[r["m1i"] for r in rows],
            m2i=[r["m2i"] for r in rows],
            sd1i=[r["sd1i"] for r in rows],
            ri=[r["ri"] for r in rows],
            ni=[r["ni"] for r in rows],
        )
        for row, yi, vi in zip(rows, effects.yi, effects.vi, strict=True):
            row["yi"], row["vi"] = float(yi), float(vi)
    return [{c: row[c] for c in EFFECT_COLUMNS} for row in rows]


REDCAP_DICTIONARY_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

# Fields that belong to the patient (one REDCap row per patient); all others repeat per measurement.
_PATIENT_FIELDS = ("birth_year", "birth_year_width", "sex")


def _forms(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The long table's columns (but the patient's pseudonym, which is record_id) as the fields of form
    `patient` and of form `measurement`, each in the table's order."""
    fields = [c for c in columns if c != "patient"]
    return [c for c in fields if c in _PATIENT_FIELDS], [c for c in fields if c not in _PATIENT_FIELDS]


def _choices(codes: Iterable[str], names: dict[str, str] | None = None) -> str:
    names = names or {}
    return " | ".join(f"{c}, {names.get(c, c.replace('_', ' '))}" for c in codes)


def redcap_dictionary(columns: Sequence[str], catalog: Catalog) -> list[_Row]:
    """A REDCap data dictionary for the long table: form `patient` (record_id = the pseudonym) and the
    repeating form `measurement`; coded fields are dropdowns listing the catalogue's codes.

    Rows are record_id first, then every field of `patient`, then every field of `measurement`: REDCap takes
    the first field as the record identifier and each form's fields as one run of rows (a form may not be
    split; see docs/interop.md, "Research exports").
    """
    dropdowns = {
        "sex": _choices(allowed(Sex)),
        "condition": _choices(catalog.conditions, {k: v.name for k, v in catalog.conditions.items()}),
        "region": _choices(catalog.regions, {k: v.name for k, v in catalog.regions.items()}),
        "side": _choices(catalog.sides),
        "measure": _choices(catalog.measures, {k: v.name for k, v in catalog.measures.items()}),
        "timing": _choices(allowed(Timing)),
        "phase": _choices(("acute", "subacute", "chronic")),
        "tolerance": _choices(allowed(Tolerance)),
    }
    validation = {c: "integer" for c in _INT} | {c: "number" for c in _FLOAT} | {c: "date_ymd" for c in _DATE}
    notes = {
        "phase": "from onset and opening dates; cut-offs are a configurable heuristic",
        "value": "in the measure's unit (see column unit)",
        "measured_force_n": "average mean normal force of the session's measured strokes, N",
        "measured_peak_n": "average peak normal force of the session's measured strokes, N",
    }
    notes |= {
        "birth_year": "first year of a band of birth_year_width years (each band x sex holds none or at "
        f"least {MIN_PATIENTS} patients); blank when the export holds fewer than {MIN_PATIENTS} patients",
        "sex": f"blank where withheld: recorded for fewer than {MIN_PATIENTS} patients of this export "
        "(with the next rarest, so that blank is not rare)",
        **{c: "days since the episode began" for c in _DAY_COUNTS},
    }
    fields: list[_Row] = [
        {
            "Variable / Field Name": "record_id",
            "Form Name": "patient",
            "Field Type": "text",
            "Field Label": "Patient pseudonym (this export; keyed)",
            "Identifier?": "y",
        }
    ]
    patient_fields, measurement_fields = _forms(columns)
    forms = [("patient", c) for c in patient_fields] + [("measurement", c) for c in measurement_fields]
    for form, column in forms:
        fields.append(
            {
                "Variable / Field Name": column,
                "Form Name": form,
                "Field Type": "dropdown" if column in dropdowns else "text",
                "Field Label": column.replace("_", " ").capitalize(),
                "Choices, Calculations, OR Slider Labels": dropdowns.get(column, ""),
                "Field Note": notes.get(column, ""),
                "Text Validation Type OR Show Slider Number": ""
                if column in dropdowns
                else validation.get(column, ""),
                "Identifier?": "y" if column in IDENTIFYING_FIELDS else "",
            }
        )
    return [{c: f.get(c, "") for c in REDCAP_DICTIONARY_COLUMNS} for f in fields]


def redcap_records(rows: Iterable[_Row], columns: Sequence[str]) -> tuple[list[str], list[_Row]]:
    """REDCap import records matching `redcap_dictionary`: one patient row, then one repeating
    `measurement` instance per row of the long table. Returns (header, records)."""
    patient_fields, measurement_fields = _forms(columns)
    header = [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        *patient_fields,
        *measurement_fields,
    ]
    records: list[_Row] = []
    instance: dict[str, int] = {}
    for row in rows:
        patient = row["patient"]
        if patient not in instance:
            instance[patient] = 0
            records.append(
                {
                    "record_id": patient,
                    "redcap_repeat_instrument": "",
                    "redcap_repeat_instance": "",
                    **{f: row.get(f, "") for f in patient_fields},
                }
            )
        instance[patient] += 1
        records.append(
            {
                "record_id": patient,
                "redcap_repeat_instrument": "measurement",
                "redcap_repeat_instance": instance[patient],
                **{f: "" if _blank(row.get(f)) else row[f] for f in measurement_fields},
            }
        )
    return header, [{h: r.get(h, "") for h in header} for r in records]
