"""Fuzzed imports: CSV (evidence studies, meta-analysis table), JSON (session, screen, respond) and FHIR.

Each importer gets valid documents with hostile changes (hypothesis) and must answer with its own clear
error type — never another exception — and must write either everything or nothing: row counts (or the
store file's bytes) are compared before and after every refused import.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hostile import HOSTILE, mutated, row_counts, without_audit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from strigil.catalog import load_catalog
from strigil.cli import app as cli_app
from strigil.evidence.library import load_library
from strigil.evidence.user_studies import UserStudyError, parse_user_studies
from strigil.services.meta_analysis import MetaInputError, fit_csv

FUZZ = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
CATALOG = load_catalog()
CONDITIONS, MEASURES = CATALOG.codes("conditions"), CATALOG.codes("measures")
SHIPPED = set(load_library().studies)

STUDY_ROWS = [
    ["id", "citation", "source", "design", "condition", "population", "outcome", "higher_is_better",
     "n_t", "mean_t", "sd_t", "n_c", "mean_c", "sd_c", "pedro"],
    ["fuzz2024", "Fuzz A 2024", "https://doi.org/10.5555/f", "rct", "chronic_low_back_pain", "CLBP", "pain",
     "false", "20", "30", "10", "20", "40", "12", "7"],
    ["fuzz2024", "Fuzz A 2024", "https://doi.org/10.5555/f", "rct", "chronic_low_back_pain", "CLBP",
     "function", "true", "20", "55", "9", "20", "50", "11", "7"],
]  # fmt: skip
META_ROWS = [
    ["study", "yi", "vi"],
    ["Alpha 2019", "-0.42", "0.05"],
    ["Beta 2020", "-0.10", "0.08"],
    ["Gamma 2021", "-0.65", "0.12"],
]


def _cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def _csv(rows: Any) -> str:
    rows = rows if isinstance(rows, list) else [[rows]]
    out = io.StringIO()
    table = [[_cell(c) for c in row] if isinstance(row, list) else [_cell(row)] for row in rows]
    csv.writer(out, lineterminator="\n").writerows(table)
    return out.getvalue()


csv_documents = st.one_of(
    mutated(STUDY_ROWS).map(_csv),
    st.text(max_size=300),
    st.lists(st.lists(HOSTILE.map(_cell), max_size=16), max_size=4).map(_csv),
)


@FUZZ
@given(text=csv_documents)
def test_evidence_csv_parser_gives_only_clear_errors(text: str) -> None:
    try:
        parse_user_studies(text, CONDITIONS, MEASURES, SHIPPED)
    except UserStudyError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)


@pytest.fixture()
def study_store(tmp_path: Path) -> Path:
    """A study store already holding one valid imported study."""
    store = tmp_path / "user_studies.csv"
    first = tmp_path / "first.csv"
    first.write_text(_csv([STUDY_ROWS[0], [c.replace("fuzz2024", "kept2023") for c in STUDY_ROWS[1]]]))
    result = CliRunner().invoke(cli_app, ["evidence", "import", str(first), "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store


@FEW
@given(text=csv_documents)
def test_evidence_import_writes_the_whole_file_or_nothing(
    study_store: Path, tmp_path: Path, text: str
) -> None:
    before = study_store.read_bytes()
    upload = tmp_path / "upload.csv"
    upload.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["evidence", "import", str(upload), "--store", str(study_store)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code != 0:
        assert result.exit_code == 2 and "error:" in result.output
        assert study_store.read_bytes() == before, "a refused import changed the store"
    else:
        # Accepted: the old study is still there, and the store as a whole still parses.
        stored = study_store.read_text(encoding="utf-8")
        assert "kept2023" in stored
        parse_user_studies(stored, CONDITIONS, MEASURES, SHIPPED)
        study_store.write_bytes(before)  # next example starts from the same store


# Numeric overflow warnings and missing-glyph warnings are warnings in production too (the suite turns
# warnings into errors); what must never happen is an exception other than MetaInputError.
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore:Glyph:UserWarning")
@FEW
@given(text=st.one_of(mutated(META_ROWS).map(_csv), st.text(max_size=200)))
def test_meta_analysis_csv_gives_a_fit_or_a_clear_error(text: str) -> None:
    try:
        fit = fit_csv(text)
    except MetaInputError as exc:
        assert str(exc)
        return
    assert fit.k >= 1 and "<svg" in fit.forest_svg


@FUZZ
@given(doc=st.one_of(mutated(tomllib.loads('x = { region = "knee", findings = ["open_wound"] }')["x"]),
                     HOSTILE))  # fmt: skip
def test_screen_document_gives_a_result_or_a_value_error(doc: Any) -> None:
    from strigil.clinical.screening import screen_document

    try:
        screen_document(doc)
    except ValueError as exc:
        assert str(exc)


RESPOND = {
    "goal": {"measure": "nprs", "target": 2},
    "measures": [
        {"measure": "nprs", "session": 1, "timing": "pre", "value": 7},
        {"measure": "nprs", "session": 1, "timing": "post", "value": 5},
        {"measure": "nprs", "session": 2, "timing": "pre", "value": 5},
        {"measure": "nprs", "session": 2, "timing": "post", "value": 3},
    ],
}


@FUZZ
@given(doc=st.one_of(mutated(RESPOND), HOSTILE))
def test_respond_document_gives_a_recommendation_or_a_value_error(doc: Any) -> None:
    from strigil.clinical.response import recommend_document

    try:
        recommend_document(doc)
    except ValueError as exc:
        assert str(exc)


def test_screen_and_respond_cli_refuse_a_hostile_file_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    for command, doc in (("screen", {"region": "knee", "findings": [{"code": 7}]}), ("respond", [1])):
        path.write_text(json.dumps(doc))
        result = CliRunner().invoke(cli_app, [command, str(path)])
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.output


# --- session documents through the API (the same service the CLI's `session record` calls) ---------

SESSION_STEP = {
    "region": "elbow",
    "side": "right",
    "instrument": "graston_set",
    "stroke": "sweep",
    "angle_deg": 45,
    "direction": "along",
    "pressure": "moderate",
    "duration_s": 90,
}
SESSION = {
    "clinician": "c1",
    "date": "2026-01-05",
    "steps": [SESSION_STEP, {**SESSION_STEP, "stroke": "strum", "direction": "across"}],
    "measurements": [
        {"measure": "nprs", "timing": "pre", "value": 6},
        {"measure": "nprs", "timing": "post", "value": 4},
    ],
    "adverse_responses": [{"kind": "petechiae", "severity": "mild", "onset_on": "2026-01-05"}],
    "tolerance": "well_tolerated",
}


@FUZZ
@given(doc=st.one_of(mutated(SESSION, max_changes=4), HOSTILE))
def test_session_document_is_recorded_whole_or_not_at_all(world: Any, doc: Any) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    before = without_audit(row_counts(world.engine))
    response = client.post(
        f"/api/v1/episodes/{episode}/sessions",
        content=json.dumps(doc),
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    after = without_audit(row_counts(world.engine))
    assert response.status_code in (201, 404, 409, 422), (response.status_code, response.text[:300])
    if response.status_code != 201:
        assert after == before, f"refused ({response.status_code}) but rows changed"
        assert response.json()["detail"]
    else:
        assert after["treatment_sessions"] == before["treatment_sessions"] + 1
        assert after["dose_steps"] - before["dose_steps"] == len(doc["steps"])


# --- FHIR bundles ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fhir_bundle(template_db: tuple[Path, dict, dict]) -> dict[str, Any]:
    """Clinic 1 of the web tests' database, exported as a FHIR R4 Bundle."""
    from strigil.interop.bundle import make_bundle
    from strigil.interop.to_fhir import clinic_resources
    from strigil.services.exchange import read_clinic
    from strigil.store.database import Database, make_engine

    database = Database(make_engine(f"sqlite:///{template_db[0]}"))
    with database.unit_of_work() as db:
        dossier = read_clinic(db, "clinic1")
    database.dispose()
    return json.loads(json.dumps(make_bundle(clinic_resources(dossier))))


@pytest.fixture(scope="module")
def empty_clinic_db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from strigil.store.database import Database, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fhir') / 'empty.sqlite'}")
    migrate(engine)
    yield Database(engine)
    engine.dispose()


def _import(database: Any, document: Any) -> str:
    from strigil.interop.from_fhir import plan_import
    from strigil.services.errors import RecordError
    from strigil.services.exchange import write_plan

    plan = plan_import(document)
    if plan.errors:
        assert all(str(p) for p in plan.errors)
        return "rejected"
    try:
        with database.unit_of_work() as db:
            write_plan(db, plan)
    except RecordError as exc:
        assert str(exc)
        return "refused"
    return "imported"


def test_the_unchanged_bundle_imports(fhir_bundle: dict[str, Any], tmp_path: Path) -> None:
    from strigil.store.database import Database, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    migrate(engine)
    assert _import(Database(engine), fhir_bundle) == "imported"
    assert row_counts(engine)["treatment_sessions"] == 6
    engine.dispose()


@FUZZ
@given(data=st.data())
def test_fhir_import_is_all_or_nothing(fhir_bundle: dict[str, Any], empty_clinic_db: Any, data: Any) -> None:
    document = data.draw(st.one_of(mutated(fhir_bundle, max_changes=3), HOSTILE))
    before = row_counts(empty_clinic_db.engine)
    outcome = _import(empty_clinic_db, document)
    after = row_counts(empty_clinic_db.engine)
    if outcome != "imported":
        assert after == before, f"{outcome} but rows changed"


@pytest.mark.parametrize("text", ["{not json", "[]", "null", '{"resourceType": "Bundle", "entry": 7}'])
def test_fhir_cli_refuses_broken_files_cleanly(tmp_path: Path, text: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("STRIGIL_DATABASE_URL", f"sqlite:///{tmp_path / 'c.sqlite'}")
    path = tmp_path / "b.json"
    path.write_text(text)
    result = CliRunner().invoke(cli_app, ["fhir", "import", str(path)])
    assert result.exit_code == 2, (result.exit_code, repr(result.exception), result.output[-400:])
    assert "error:" in result.output
