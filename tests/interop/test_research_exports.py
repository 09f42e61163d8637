"""Research exports: typed Parquet, metafor effects checked against R metafor, REDCap dictionary + records."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from strigil.catalog import load_catalog
from strigil.interop.research import (
    BAND_WIDTHS,
    EpisodeChange,
    birth_year_bands,
    effect_rows,
    episode_changes,
    parquet_table,
    pseudonym,
    redcap_dictionary,
    redcap_records,
)

REFERENCE = Path(__file__).parents[1] / "reference" / "metafor"
COLUMNS = [
    "patient",
    "birth_year",
    "sex",
    "episode",
    "condition",
    "phase",
    "session",
    "session_date",
    "days_since_onset",
    "minutes",
    "measure",
    "timing",
    "value",
    "taken_on",
]


def _row(
    patient: str,
    episode: int,
    session: int | str,
    taken_on: int,
    timing: str,
    value: float,
    minutes: float | str = 5.0,
    days: int = 10,
) -> dict[str, Any]:
    return {
        "patient": patient,
        "birth_year": 1980,
        "sex": "female",
        "episode": episode,
        "condition": "neck_pain",
        "phase": "chronic",
        "session": session,
        "session_date": taken_on if session != "" else "",
        "days_since_onset": days,
        "minutes": minutes if session != "" else "",
        "measure": "nprs",
        "timing": timing,
        "value": value,
        "taken_on": taken_on,
    }


# dates are days since the episode began (9 and 10 also check they sort as numbers, not text)
ROWS = [
    _row("A", 1, 1, 2, "pre", 7, 4.5, 10),
    _row("A", 1, 1, 2, "post", 6, 4.5, 10),
    _row("A", 1, 2, 9, "pre", 5, 6.0, 17),
    _row("A", 1, "", 20, "between", 3, "", 28),
    _row("B", 2, 1, 0, "pre", 8, 3.0, 5),
]


def test_parquet_keeps_types_and_turns_blanks_into_nulls() -> None:
    table = parquet_table(ROWS, COLUMNS)
    assert table.num_rows == 5
    assert table.schema.field("taken_on").type == pa.int64()
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("session").type == pa.int64()
    assert table.column("session").to_pylist() == [1, 1, 2, None, 1]
    assert table.column("taken_on").to_pylist()[0] == 2
    assert table.column("minutes").null_count == 1


def test_episode_change_runs_from_the_first_to_the_last_value() -> None:
    (change,) = episode_changes(ROWS)  # episode 2 has one value only: no change
    assert (change.episode, change.baseline, change.final) == (1, 7.0, 3.0)
    assert (change.sessions, change.iastm_minutes, change.days) == (2, 10.5, 18)


def _reference_pairs() -> list[EpisodeChange]:
    with (REFERENCE / "research_effect_pairs.csv").open(encoding="utf-8") as fp:
        return [
            EpisodeChange(
                patient=r["patient"],
                episode=i,
                condition=r["condition"],
                phase=r["phase"],
                measure=r["measure"],
                baseline=float(r["baseline"]),
                final=float(r["final"]),
                sessions=int(r["sessions"]),
                iastm_minutes=float(r["iastm_minutes"]),
                days=int(r["days"]),
            )
            for i, r in enumerate(csv.DictReader(fp))
        ]


def test_effects_agree_with_metafor() -> None:
    expected = json.loads((REFERENCE / "research_effects.json").read_text(encoding="utf-8"))["rows"]
    got = {
        (r["condition"], r["measure"], r["phase"]): r for r in effect_rows(_reference_pairs(), load_catalog())
    }
    assert len(got) == len(expected) == 3
    for ref in expected:
        row = got[(ref["condition"], ref["measure"], ref["phase"])]
        assert row["ni"] == ref["ni"]
        for name in (
            "m1i",
            "m2i",
            "sd1i",
            "sd2i",
            "ri",
            "yi",
            "vi",
            "mean_sessions",
            "mean_iastm_minutes",
            "mean_days",
        ):
            assert math.isclose(row[name], float(ref[name]), rel_tol=1e-10, abs_tol=1e-12), name


def test_improvement_is_positive_whatever_the_measure_direction() -> None:
    rows = effect_rows(_reference_pairs(), load_catalog())
    lefs = next(r for r in rows if r["measure"] == "lefs")  # higher is better, and patients improved
    nprs = next(r for r in rows if r["measure"] == "nprs")  # lower is better, and patients improved
    assert lefs["yi"] > 0 and nprs["yi"] > 0
    assert lefs["mean_final"] > lefs["mean_baseline"] and nprs["mean_final"] < nprs["mean_baseline"]


def test_small_or_flat_strata_are_left_out() -> None:
    pairs = _reference_pairs()
    assert {r["measure"] for r in effect_rows(pairs, load_catalog(), min_patients=6)} == {"nprs", "lefs"}
    flat = [EpisodeChange(f"p{i}", i, "neck_pain", "acute", "nprs", 5, 4 - i % 2, 3, 10, 7) for i in range(6)]
    assert effect_rows(flat, load_catalog()) == []  # every baseline 5: no SD to standardize by


def test_redcap_records_match_their_dictionary() -> None:
    catalog = load_catalog()
    columns = [*COLUMNS, "region"]
    rows = [{**r, "region": "neck"} for r in ROWS]
    dictionary = {f["Variable / Field Name"]: f for f in redcap_dictionary(columns, catalog)}
    header, records = redcap_records(rows, columns)
    assert header[:3] == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
    assert next(iter(dictionary)) == "record_id"
    assert set(header[3:]) <= set(dictionary)
    assert [r["redcap_repeat_instance"] for r in records] == ["", 1, 2, 3, 4, "", 1]
    for record in records:
        for field, value in record.items():
            entry = dictionary.get(field)
            if entry and entry["Field Type"] == "dropdown" and value != "":
                codes = [
                    c.split(",")[0].strip()
                    for c in entry["Choices, Calculations, OR Slider Labels"].split("|")
                ]
                assert str(value) in codes, (field, value)
    assert dictionary["taken_on"]["Text Validation Type OR Show Slider Number"] == "integer"
    assert "days since the episode began" in dictionary["taken_on"]["Field Note"]
    # what stays identifying is flagged for REDCap's de-identified exports; nothing else is
    flagged = {name for name, f in dictionary.items() if f["Identifier?"] == "y"}
    assert flagged == {"record_id"} | ({"clinician"} & set(columns))
    assert dictionary["birth_year"]["Form Name"] == "patient"
    assert dictionary["value"]["Form Name"] == "measurement"


@pytest.mark.parametrize("measure", ["nprs", "lefs"])
def test_reference_file_names_measures_the_catalogue_knows(measure: str) -> None:
    assert measure in load_catalog().measures


def test_pseudonyms_are_keyed_stable_and_unlinkable_without_the_key() -> None:
    first = pseudonym(b"k" * 32, "0" * 32)
    assert first == pseudonym(b"k" * 32, "0" * 32)  # the same key: the same pseudonym
    assert first != pseudonym(b"j" * 32, "0" * 32)  # another key: another
    assert first != pseudonym(b"k" * 32, "1" + "0" * 31)
    assert first.startswith("s") and len(first) == 21 and "0" * 32 not in first


def test_birth_years_are_banded_only_where_a_year_has_few_patients() -> None:
    widths = birth_year_bands({1980: 7, 1981: 2, 1982: 2, 1983: 1, 1950: 1, 1999: 5}, min_patients=5)
    assert widths[1980] == 1 and widths[1999] == 1  # enough patients: the year itself
    assert widths[1981] == widths[1982] == widths[1983] == 5  # 1980-1984 holds 12
    assert widths[1950] == 50  # alone in every band: the widest
    assert BAND_WIDTHS[0] == 1
