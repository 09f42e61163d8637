"""Loading fails loudly when the library's files contradict each other."""

from __future__ import annotations

import pytest

from strigil.catalog._citations import build_bibliography
from strigil.evidence.library import LibraryError, build_library, read_data_text

HEADER = ",".join(
    [
        "review_or_trial",
        "study",
        "year",
        "condition",
        "outcome",
        "measure",
        "n_t",
        "mean_t",
        "sd_t",
        "n_c",
        "mean_c",
        "sd_c",
        "yi",
        "ci_low",
        "ci_high",
        "source_address",
        "where_in_source",
    ]
)
ROW_A = "trial,Trial A,2020,x,pain,post,10,1,1,10,2,1,,,,http://a,table"
ROW_B = "trial,Trial B,2021,x,pain,post,10,1,1,10,2,1,,,,http://b,table"
STUDY_A = '[[study]]\nid = "a"\ndesign = "rct"\npopulation = "p"\ncsv_study = ["Trial A"]\n'
STUDY_B = STUDY_A.replace('"a"', '"b"').replace("Trial A", "Trial B")
# test records, not published studies: the bibliography of this little library
BIBLIOGRAPHY = build_bibliography(
    [{"key": key, "kind": "research", "title": f"[Test record {key}]"} for key in ("a", "a2", "b")]
)
EMPTY_FLAGS, EMPTY_COMPARISONS, EMPTY_PUBLISHED = "flag = []", "comparison = []", "published = []"


def build(
    studies: str, rows: list[str], flags: str = EMPTY_FLAGS, comparisons: str = EMPTY_COMPARISONS
) -> None:
    build_library(studies, "\n".join([HEADER, *rows]), flags, comparisons, EMPTY_PUBLISHED, BIBLIOGRAPHY)


def test_a_consistent_pair_of_files_loads() -> None:
    build(STUDY_A + STUDY_B, [ROW_A, ROW_B])


def test_a_study_is_cited_from_the_bibliography_and_nowhere_else() -> None:
    with pytest.raises(LibraryError, match=r"cite it in bibliography\.toml"):
        build(STUDY_A.replace('design = "rct"', 'citation = "A"\ndesign = "rct"'), [ROW_A])
    with pytest.raises(LibraryError, match="no source with key 'c'"):
        build(STUDY_A.replace('id = "a"', 'id = "c"'), [ROW_A])


def test_a_row_that_belongs_to_no_study_is_an_error() -> None:
    with pytest.raises(LibraryError, match=r"belong to no study: \[2\]"):
        build(STUDY_A, [ROW_A, ROW_B])


def test_a_row_claimed_twice_is_an_error() -> None:
    with pytest.raises(LibraryError, match="claimed by both"):
        build(STUDY_A + STUDY_A.replace('id = "a"', 'id = "a2"'), [ROW_A])


def test_a_flag_that_selects_the_wrong_number_of_rows_is_an_error() -> None:
    flags = (
        '[[flag]]\nstudy = "a"\nmatch = { outcome = "pain" }\nexpect_rows = 2\n'
        'field = "x"\nprinted = "x"\nexplanation = "x"\n'
    )
    with pytest.raises(LibraryError, match="selects 1 rows, expected 2"):
        build(STUDY_A, [ROW_A], flags=flags)


def test_a_comparison_must_select_one_row_of_its_own_study() -> None:
    comparisons = (
        '[[comparison]]\nstudy = "a"\noutcome = "pain"\nlabel = "x"\nkind = "arm_means"\n'
        'higher_is_better = false\nmatch = { study = "Trial B" }\n'
    )
    with pytest.raises(LibraryError, match="selects 0 rows"):
        build(STUDY_A + STUDY_B, [ROW_A, ROW_B], comparisons=comparisons)


def test_the_shipped_csv_has_the_expected_columns() -> None:
    with pytest.raises(LibraryError, match="columns"):
        build_library(
            read_data_text("studies.toml"), "a,b\n1,2", EMPTY_FLAGS, EMPTY_COMPARISONS, EMPTY_PUBLISHED
        )
