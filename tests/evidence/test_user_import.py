"""Importing studies: validation with clear errors, nothing changed on error, shipped library intact."""

from __future__ import annotations

import pytest

from strigil.catalog import load_catalog
from strigil.evidence.library import load_library
from strigil.evidence.pooling import summarise_condition
from strigil.evidence.user_studies import UserStudyError, parse_user_studies, user_csv_header

CATALOG = load_catalog()
CONDITIONS, MEASURES = CATALOG.codes("conditions"), CATALOG.codes("measures")
SHIPPED = set(load_library().studies)
HEADER = (
    "id,citation,source,design,condition,population,outcome,higher_is_better,"
    "n_t,mean_t,sd_t,n_c,mean_c,sd_c,pedro"
)
GOOD = (
    HEADER
    + "\nnew2024,New A 2024,https://doi.org/10.5555/synthetic-a,rct,chronic_low_back_pain,CLBP,pain,false,20,30,10,20,40,12,7\n"
)


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_user_studies(text, CONDITIONS, MEASURES, SHIPPED)


def test_a_valid_file_gives_typed_user_studies() -> None:
    user = parse(GOOD)
    (study,) = user.studies
    assert study.origin == "user" and study.pedro == 7 and study.total_n == 40
    assert study.rows[0].mean_t == "30" and user.comparisons[0].higher_is_better is False


def test_imported_studies_pool_with_the_shipped_ones() -> None:
    library = load_library()
    user = parse(GOOD)
    merged = library.merged(user.studies, user.comparisons)
    pain = next(o for o in summarise_condition(merged, "chronic_low_back_pain") if o.outcome == "pain")
    assert pain.k == 2 and set(pain.studies) == {"lee2016", "new2024"} and pain.measure == "SMD"
    # the shipped library object is unchanged
    assert "new2024" not in library.studies and len(library.rows) == 89


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,citation\nx,y\n", "missing column(s) source"),
        (GOOD.replace("pedro", "pedro,colour"), "unknown column(s) colour"),
        (HEADER + "\n", "no study rows"),
        (GOOD.replace("chronic_low_back_pain", "back_ache"), "row 2, column condition: value 'back_ache'"),
        (GOOD.replace(",rct,", ",review,"), "column design: value 'review' is not allowed; allowed: "),
        (GOOD.replace(",20,30,10,", ",1,30,10,"), "column n_t: value '1'"),
        (GOOD.replace(",40,12,", ",40,-2,"), "column sd_c: value '-2'"),
        (GOOD.replace("https://doi.org/10.5555/synthetic-a", "example.org"), "column source"),
        (GOOD.replace("https://doi.org/10.5555/synthetic-a", "https://scribd.com/d/1"), "a copy such as"),
        (GOOD.replace(",false,", ",maybe,"), "column higher_is_better: value 'maybe'"),
        (GOOD.replace("new2024", "lee2016"), "belongs to a shipped study"),
        (GOOD.replace(",7\n", ",12\n"), "column pedro: value '12'"),
        (GOOD.replace(",CLBP,", ",,"), "row 2, column population: missing value"),
    ],
)
def test_malformed_files_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(UserStudyError) as caught:
        parse(text)
    assert any(message in e for e in caught.value.errors), caught.value.errors


def test_all_errors_are_reported_at_once() -> None:
    text = GOOD.replace("chronic_low_back_pain", "x").replace(",false,", ",maybe,")
    with pytest.raises(UserStudyError) as caught:
        parse(text)
    assert len(caught.value.errors) == 2


def test_rows_of_one_study_must_agree() -> None:
    second = "new2024,New B 2024,https://doi.org/10.5555/synthetic-a,rct,chronic_low_back_pain,CLBP,function,true,20,1,1,20,2,1,7\n"
    with pytest.raises(UserStudyError, match="differs from row 2"):
        parse(GOOD + second)
    with pytest.raises(UserStudyError, match="appears more than once"):
        parse(GOOD + GOOD.splitlines()[1] + "\n")


def test_the_header_helper_lists_every_column() -> None:
    assert user_csv_header().startswith("id,citation,source") and "dose_minutes" in user_csv_header()
