"""The shipped library against the shared data file, row by row, and against the clinical catalogue."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from strigil.catalog import host_allowed, load_catalog
from strigil.evidence.library import load_library, read_data_text
from strigil.evidence.records import CSV_COLUMNS, DESIGNS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_rows() -> list[dict[str, str]]:
    path = SHARED / "iastm_trials.csv"
    text = path.read_text(encoding="utf-8") if path.exists() else read_data_text("iastm_trials.csv")
    return list(csv.DictReader(text.splitlines()))


def test_packaged_copy_is_identical_to_the_shared_file() -> None:
    if not SHARED.exists():
        pytest.skip("../shared/data is not present on this machine; the packaged copy is used alone")
    for name in ("iastm_trials.csv", "iastm_trials.md"):
        assert read_data_text(name) == (SHARED / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("number", range(1, 90))
def test_every_shared_row_is_in_exactly_one_study_with_its_numbers_as_printed(number: int) -> None:
    library = load_library()
    printed = shared_rows()[number - 1]
    owners = [s for s in library.studies.values() if any(r.row == number for r in s.rows)]
    assert len(owners) == 1, f"row {number} is held by {[s.id for s in owners]}"
    study = owners[0]
    row = next(r for r in study.rows if r.row == number)
    for column in CSV_COLUMNS:
        assert getattr(row, column) == printed[column], (number, column)
    # the row's source addresses are where the study was read (or its own address), and the years agree
    for address in printed["source_address"].split(" ; "):
        assert address.strip() in (*study.read_in, study.address), (study.id, address)
    assert str(study.year) == printed["year"]


def test_the_shared_file_has_89_rows_and_the_library_all_of_them() -> None:
    assert len(shared_rows()) == 89
    assert len(load_library().rows) == 89


def test_every_review_and_trial_named_in_the_md_is_a_record() -> None:
    ids = set(load_library().studies)
    expected = {
        "tang2024",
        "tang2025",
        "shin2022",
        "seffrin2019",
        "nazari2019",
        "cheatham2016",
        "javeria2023",
        "lee_ms2010",
        "salamh2019",
        "lambert2017",
        "lee2016",
        "elhafez2020",
        "kivlan2015",
        "crothers2016",
        "laudner2014",
        "bailey2017",
        "mylonas2021",
        "ikeda2019",
        "jmmt2024",
        "sevier2015",
        "braun2011",
        "heinecke2014",
        "markovic2015",
        "vardiman2015",
        "bailey2015",
        "abdelaal2021",
        "aggarwal2021",
        "angelopoulos2021",
        "stanek2018",
        "gulick2018",
        "gulick2014",
        "schaefer2012",
        "blanchette2011",
        "moon2017",
        "gunn2019",
        "fousekis2019",
        "shewail2023",
        "kim_dh2018",
        "park2020",
        "jafarsalehi2025",
        "yana2025",
    }
    assert expected <= ids, sorted(expected - ids)


def test_codes_come_from_the_clinical_catalogue() -> None:
    catalog = load_catalog()
    for study in load_library().studies.values():
        assert study.design in DESIGNS, study.id
        if study.condition is not None:
            catalog.require("conditions", study.condition)
        else:  # no code only for multi-condition reviews, background articles or unseen populations
            assert study.is_review or study.design == "expert_article" or study.unverified, study.id
        if study.dose:
            for code in study.dose.instruments:
                catalog.require("instruments", code)
            for code in study.dose.strokes:
                catalog.require("strokes", code)
    for comparison in load_library().comparisons:
        if comparison.measure_code:
            catalog.require("measures", comparison.measure_code)


def test_every_study_is_cited_with_its_own_address_or_none() -> None:
    for study in load_library().studies.values():
        assert study.citation.strip(), study.id
        assert study.address is None or host_allowed(study.address, patient=True), (study.id, study.address)
        assert all(a != study.address for a in study.read_in), study.id  # a copy is never the address


def test_pedro_scores_are_the_published_ones() -> None:
    library = load_library()
    published = {
        "bailey2015": 7,
        "heinecke2014": 5,
        "laudner2014": 6,
        "markovic2015": 5,
        "vardiman2015": 6,
        "schaefer2012": 6,
        "blanchette2011": 7,
        "abdelaal2021": 8,
    }
    for study_id, score in published.items():
        assert library.study(study_id).pedro == score
    assert all(s.pedro is None for s in library.studies.values() if s.id not in published)


@pytest.mark.parametrize(
    ("study_id", "column", "printed", "words"),
    [
        ("markovic2015", "ci_low", "0.63", "cannot contain"),
        ("lee2016", "mean_c", "75.5", "fell"),
        ("tang2024", "yi", "0.39", "I²"),
        ("shin2022", "yi", "4.72", "implausibly"),
        ("heinecke2014", "ci_high", "1.36", "not symmetric"),
        ("elhafez2020", "mean_c", "0.97", "truncated"),
    ],
)
def test_doubtful_printed_numbers_are_flagged_and_kept_as_printed(
    study_id: str, column: str, printed: str, words: str
) -> None:
    study = load_library().study(study_id)
    flagged = [f for f in study.flags if words in f.explanation]
    assert flagged, f"{study_id}: no flag explaining {words!r}"
    rows = [r for r in study.rows if r.row in flagged[0].rows]
    assert rows and all(getattr(r, column) == printed for r in rows)


def test_participants_are_people_not_arm_sums_when_arms_overlap() -> None:
    library = load_library()
    assert library.study("ikeda2019").total_n == 14  # crossover: both conditions in the same 14 people
    assert library.study("sevier2015").total_n == 107  # 113 elbows in 107 people
    assert library.study("lee2016").total_n == 30
    assert library.study("heinecke2014").total_n == 15  # arm sizes unknown, N printed
    assert library.study("gulick2014").total_n is None
