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


WITH_COMPARISON = GOOD.replace(",pedro", ",pedro,compared,both,other,result").replace(
    ",7\n", ",7,{compared},{both},{other},{result}\n"
)


def _with(compared: str = "", both: str = "", other: str = "", result: str = "") -> str:
    return WITH_COMPARISON.format(compared=compared, both=both, other=other, result=result)


def test_an_imported_study_can_say_what_it_compared_and_that_it_found_no_difference() -> None:
    from strigil.evidence.patient_summary import build_summary, condition_info

    user = parse(_with("add_on", "the same home exercises", "", "no_difference"))
    (study,) = user.studies
    assert (study.compared, study.both, study.result) == (
        "add_on",
        "the same home exercises",
        "no_difference",
    )
    merged = load_library().merged(user.studies, user.comparisons)
    summary = build_summary(condition_info("chronic_low_back_pain"), merged)
    (compared,) = [s for s in summary.section("compared").sentences if s.sources == ("new2024",)]
    assert compared.text == (
        "In one study of 40 people, both groups did the same home exercises. One group also had IASTM."
    )
    no_difference = " ".join(s.text for s in summary.section("no_difference").sentences)
    assert (
        "people who had IASTM did no better than people who only did the same home exercises" in no_difference
    )
    other = parse(_with("other_treatment", "", "static stretching")).studies[0]
    assert (other.compared, other.other, other.result) == ("other_treatment", "static stretching", "")


def test_without_the_columns_an_imported_study_is_of_unknown_comparison() -> None:
    (study,) = parse(GOOD).studies
    assert study.compared == "unknown" and study.result == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"compared": "placebo"}, "column compared: value 'placebo' is not allowed; allowed: add_on"),
        ({"compared": "add_on"}, "column both: missing value; with compared add_on"),
        ({"compared": "sham"}, "column other: missing value; with compared sham"),
        ({"other": "stretching"}, "column compared: missing value; both and other need compared"),
        ({"result": "better"}, "column result: value 'better' is not allowed; allowed: no_difference"),
        ({"compared": "add_on", "both": "x" * 201}, "column both: 201 characters"),
    ],
)
def test_bad_comparison_columns_give_clear_errors(fields: dict[str, str], message: str) -> None:
    with pytest.raises(UserStudyError) as caught:
        parse(_with(**fields))
    assert any(message in e for e in caught.value.errors), caught.value.errors


def test_the_row_schema_publishes_the_comparison_columns() -> None:
    from strigil.evidence.user_studies import row_schema

    properties = row_schema()["properties"]
    assert isinstance(properties, dict)
    assert properties["compared"]["enum"] == ["", "add_on", "other_treatment", "sham", "no_treatment"]
    assert properties["result"]["enum"] == ["", "no_difference", "favours_iastm"]
    assert "compared" in user_csv_header()
