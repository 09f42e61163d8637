"""After `strigil evidence import`, a report says which conditions' pooled estimates, GRADE ratings and
summaries changed, from what to what — tested on a real change: a second low-back-pain trial moves the
pooled estimate.

The imported rows are synthetic test records (Crossref's test DOI prefix 10.5555), not published studies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strigil.catalog import load_catalog
from strigil.cli import app
from strigil.evidence.changes import compare_libraries
from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import condition_codes, condition_info
from strigil.evidence.pooling import summarise_condition
from strigil.evidence.user_studies import parse_user_studies

HEADER = (
    "id,citation,source,design,condition,population,outcome,higher_is_better,n_t,mean_t,sd_t,n_c,mean_c,sd_c,"
    "measure_code,unit,pedro"
)
# pain on the same 0-100 mm scale as Lee 2016, so the mean difference is pooled; a larger trial that agrees
# with Lee 2016 (MD -17 mm against -19.1 mm)
TRIAL = (
    "synthetic2030,Synthetic test record,https://doi.org/10.5555/synthetic-lbp,rct,chronic_low_back_pain,"
    "chronic low back pain,pain,false,60,27,12,60,44,12,vas_mm,mm,8"
)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path / "home"))
    return CliRunner()


def _merged() -> object:
    catalog = load_catalog()
    shipped = load_library()
    user = parse_user_studies(
        f"{HEADER}\n{TRIAL}\n", catalog.codes("conditions"), catalog.codes("measures"), set(shipped.studies)
    )
    return shipped.merged(user.studies, user.comparisons)


def test_adding_a_trial_moves_the_pooled_estimate_and_the_report_says_from_what_to_what(
    runner: CliRunner, tmp_path: Path
) -> None:
    shipped = load_library()
    before = next(o for o in summarise_condition(shipped, "chronic_low_back_pain") if o.outcome == "pain")
    after = next(o for o in summarise_condition(_merged(), "chronic_low_back_pain") if o.outcome == "pain")  # type: ignore[arg-type]
    assert (before.k, after.k) == (1, 2) and before.effect != pytest.approx(after.effect)

    good = tmp_path / "trial.csv"
    good.write_text(f"{HEADER}\n{TRIAL}\n")
    result = runner.invoke(app, ["evidence", "import", str(good), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added_studies"] == ["synthetic2030"]
    changed = {c["condition"]: c for c in report["changed_conditions"]}
    assert set(changed) == {"chronic_low_back_pain"}  # no other condition has this trial
    pain = next(o for o in changed["chronic_low_back_pain"]["pooled_estimates"] if o["outcome"] == "pain")
    assert pain["before"]["effect"] == pytest.approx(before.effect, abs=1e-4) == -19.1
    assert pain["before"]["k"] == 1 and pain["before"]["studies"] == ["lee2016"]
    assert pain["after"]["effect"] == pytest.approx(after.effect, abs=1e-4)
    assert pain["after"]["k"] == 2 and pain["after"]["n"] == 150
    assert pain["after"]["ci"] == [pytest.approx(after.ci[0], abs=1e-4), pytest.approx(after.ci[1], abs=1e-4)]
    assert (pain["before"]["certainty"], pain["after"]["certainty"]) == (before.certainty, after.certainty)
    summary = changed["chronic_low_back_pain"]["summary"]
    assert any("3 studies of IASTM" in s for s in summary["added"])  # the summary's count moved
    assert any("2 studies of IASTM" in s for s in summary["removed"])

    # the same report, read by a person
    text = runner.invoke(
        app, ["evidence", "import", str(good), "--dry-run", "--store", str(tmp_path / "x.csv")]
    )
    assert text.exit_code == 0, text.output
    line = next(s for s in text.stdout.splitlines() if s.strip().startswith("pain:"))
    assert f"MD {before.effect:.2f}" in line and f"MD {after.effect:.2f}" in line and "->" in line
    assert "1 study, 30 people" in line and "2 studies, 150 people" in line


def test_the_grade_rating_change_is_reported() -> None:
    merged = _merged()
    report = compare_libraries(load_library(), merged, [condition_info("chronic_low_back_pain")])  # type: ignore[arg-type]
    change = report.conditions[0]
    pain = next(o for o in change.outcomes if o.outcome == "pain")
    assert pain.before is not None and pain.after is not None
    # worked by hand from the GRADE rules: Lee 2016 alone starts high, -1 risk of bias (no PEDro score),
    # -2 imprecision (one trial of 30 people) = very low. With the agreeing 120-person trial: -1 risk of bias
    # (one study unscored), no inconsistency, -1 imprecision (150 < 400 people; the interval excludes no
    # effect) = low
    assert (pain.before.certainty, pain.after.certainty) == ("very low", "low") and pain.certainty_changed
    assert (change.certainty_before, change.certainty_after) == ("very low", "low")
    lines = report.lines()
    assert "  overall certainty: very low -> low" in lines
    pain_line = next(line for line in lines if line.startswith("  pain:"))
    assert "very low certainty -> " in pain_line and pain_line.endswith(" low certainty")


def test_nothing_changed_says_so() -> None:
    shipped = load_library()
    report = compare_libraries(shipped, shipped, [condition_info(c) for c in condition_codes()])
    assert report.conditions == () and report.lines() == [
        "no condition's pooled estimates, GRADE ratings or summaries changed"
    ]


def test_a_change_of_measure_is_one_from_to_line() -> None:
    # A trial without a unit joins the 30-person Lee 2016 trial (mm): the pooled pain estimate becomes an SMD.
    text = (
        "id,citation,source,design,condition,population,outcome,higher_is_better,"
        "n_t,mean_t,sd_t,n_c,mean_c,sd_c\n"
        "synthetic2031,Synthetic trial 2031,https://doi.org/10.5555/synthetic-unitless,rct,"
        "chronic_low_back_pain,adults,pain,false,60,30,10,60,45,12\n"
    )
    catalog = load_catalog()
    user = parse_user_studies(
        text, catalog.codes("conditions"), catalog.codes("measures"), set(load_library().studies)
    )
    merged = load_library().merged(user.studies, user.comparisons)
    report = compare_libraries(load_library(), merged, [condition_info("chronic_low_back_pain")])
    (pain,) = [o for o in report.conditions[0].outcomes if o.outcome == "pain"]
    assert pain.before is not None and pain.after is not None
    assert (pain.before.measure, pain.after.measure) == ("MD", "SMD")
    (line,) = [s for s in report.lines() if s.strip().startswith("pain:")]
    assert "MD -19.10" in line and "-> SMD" in line and "no estimate" not in line
