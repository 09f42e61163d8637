"""Research exports: typed Parquet, metafor effects checked against R metafor, REDCap dictionary + records."""

from __future__ import annotations

import csv
import json
import math
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strigil.catalog import load_catalog
from strigil.interop.research import (
    BAND_WIDTHS,
    MIN_PATIENTS,
    Demographics,
    EpisodeChange,
    banded_demographics,
    effect_rows,
    episode_changes,
    parquet_table,
    pseudonym,
    redcap_dictionary,
    redcap_records,
)
from strigil.services.export import CSV_COLUMNS

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


def test_redcap_dictionary_keeps_each_form_in_one_run_of_rows_record_id_first() -> None:
    # the real long table, whose patient field birth_year_width comes last (after every measurement field)
    dictionary = redcap_dictionary(CSV_COLUMNS, load_catalog())
    assert dictionary[0]["Variable / Field Name"] == "record_id" and dictionary[0]["Form Name"] == "patient"
    runs = [form for form, _ in groupby(f["Form Name"] for f in dictionary)]
    assert runs == ["patient", "measurement"]  # each form contiguous: REDCap refuses a split form
    patient_form = [f["Variable / Field Name"] for f in dictionary if f["Form Name"] == "patient"]
    assert patient_form == ["record_id", "birth_year", "sex", "birth_year_width"]
    header, _ = redcap_records([], CSV_COLUMNS)
    assert header[3:6] == patient_form[1:]  # the records list the fields in the dictionary's order


def _bands_overlap(a: Demographics, b: Demographics) -> bool:
    assert a.birth_year is not None and a.birth_year_width is not None
    assert b.birth_year is not None and b.birth_year_width is not None
    return (
        a.birth_year < b.birth_year + b.birth_year_width and b.birth_year < a.birth_year + a.birth_year_width
    )


def _check_cells(patients: dict[tuple[int, str], int], k: int) -> dict[tuple[int, str], Demographics]:
    """`banded_demographics` of `patients`, checked: true, every shown cell large, no band inside another."""
    shown = banded_demographics(patients, min_patients=k)
    assert set(shown) == {cell for cell, n in patients.items() if n > 0}
    cells: dict[Demographics, int] = {}
    for (year, sex), d in shown.items():
        if d.birth_year is not None:
            assert d.birth_year_width is not None
            assert d.birth_year <= year < d.birth_year + d.birth_year_width  # the band holds the true year
        assert d.sex in (sex, "")  # the true sex or nothing, never another
        cells[d] = cells.get(d, 0) + patients[(year, sex)]
    for d, n in cells.items():
        if d.birth_year is None:
            assert d == Demographics(None, None, "")  # withheld: nothing at all is said of them
            assert sum(patients.values()) < k  # only when the whole export is smaller than the minimum
        else:
            assert n >= k, (d, n)
    bands = {Demographics(d.birth_year, d.birth_year_width, "") for d in cells if d.birth_year is not None}
    for a in bands:
        for b in bands:
            assert a == b or not _bands_overlap(a, b), (a, b)  # no subtraction isolates a small group
    return shown


def test_a_band_never_overlaps_a_year_shown_exactly() -> None:
    # the reviewer's case: 1990, 1991, 1992 and 1994 have enough patients, 1993 has two
    patients = {(1990, "female"): 6, (1991, "female"): 8, (1992, "female"): 6, (1993, "female"): 2}
    patients |= {(1994, "female"): 5}
    shown = _check_cells(patients, MIN_PATIENTS)
    assert {(d.birth_year, d.birth_year_width) for d in shown.values()} == {(1990, 5)}


def test_the_cell_is_band_and_sex() -> None:
    # 1980 has 12 patients, one of them a man: the year alone would be a band of 12 naming him
    patients = {(1980, "female"): 11, (1980, "male"): 1, (1981, "male"): 2, (1983, "male"): 3}
    patients |= {(1990, "female"): 5, (1990, "male"): 5}
    shown = _check_cells(patients, MIN_PATIENTS)
    assert shown[(1980, "male")] == Demographics(1980, 5, "male")  # 1980-1984 holds 6 men and 11 women
    assert shown[(1990, "female")] == Demographics(1990, 1, "female")  # enough of both: the year itself


def test_a_rare_sex_is_withheld_with_the_next_rarest() -> None:
    patients = {(1970 + i % 20, "female"): 3 for i in range(20)} | {(1975, "other"): 2}
    patients |= {(1980 + i % 10, "male"): 2 for i in range(10)}
    shown = _check_cells(patients, MIN_PATIENTS)
    # "other" (2) alone would make a blank that names them: the men (20) are withheld with them
    assert shown[(1975, "other")].sex == shown[(1981, "male")].sex == ""
    assert shown[(1970, "female")].sex == "female"


def test_past_the_widest_band_a_small_band_joins_its_neighbour() -> None:
    patients = {(1901, "female"): 1, (1962, "female"): 30, (1985, "female"): 30}
    shown = _check_cells(patients, MIN_PATIENTS)
    assert max(BAND_WIDTHS) == 20  # 1901 is alone even in 1900-1919: it joins its neighbour, 1962
    assert shown[(1901, "female")] == shown[(1962, "female")] == Demographics(1900, 63, "female")
    assert shown[(1985, "female")] == Demographics(1985, 1, "female")


def test_a_clinic_smaller_than_the_minimum_shows_no_year_and_no_sex() -> None:
    shown = _check_cells({(1950, "female"): 2, (1990, "male"): 2}, MIN_PATIENTS)
    assert set(shown.values()) == {Demographics(None, None, "")}


@given(
    st.dictionaries(
        st.tuples(st.integers(1900, 2025), st.sampled_from(["female", "male", "other", "unknown"])),
        st.integers(0, 9),
        max_size=60,
    ),
    st.integers(2, 8),
)
def test_every_shown_cell_holds_enough_patients_and_no_band_overlaps_another(
    patients: dict[tuple[int, str], int], k: int
) -> None:
    _check_cells(patients, k)
