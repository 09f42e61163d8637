"""`strigil fhir export|import`: a clinic moves between databases through a file; bad files change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir_strategies import bundle_of, example_clinic, unkeyed
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from strigil.cli import app
from strigil.interop.from_fhir import plan_import
from strigil.services.exchange import read_clinic, write_plan
from strigil.store.database import open_database
from strigil.store.record import MeasurementRow, PatientRow

runner = CliRunner()


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.sqlite'}"
    database = open_database(url)
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(example_clinic())))
    database.dispose()
    return url


def _run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"STRIGIL_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


def test_export_all_then_import_into_another_database(source: str, tmp_path: Path) -> None:
    out = tmp_path / "clinic.json"
    code, stdout, _ = _run(source, "fhir", "export", "--all", "-o", str(out))
    assert code == 0 and "resources" in stdout
    assert json.loads(out.read_text())["resourceType"] == "Bundle"
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    code, stdout, _ = _run(target, "fhir", "import", str(out), "--json")
    assert code == 0, stdout
    assert json.loads(stdout)["sessions_created"] == 1
    database = open_database(target)
    with database.unit_of_work() as db:
        assert unkeyed(read_clinic(db, "north")) == unkeyed(example_clinic())
    database.dispose()


def test_a_bundle_file_starting_with_a_byte_order_mark_is_imported(source: str, tmp_path: Path) -> None:
    out = tmp_path / "clinic.json"
    assert _run(source, "fhir", "export", "--all", "-o", str(out))[0] == 0
    out.write_bytes(b"\xef\xbb\xbf" + out.read_bytes())  # "UTF-8 with BOM", as EMRs often write
    code, stdout, stderr = _run(
        f"sqlite:///{tmp_path / 'target.sqlite'}", "fhir", "import", str(out), "--json"
    )
    assert code == 0, stderr
    assert json.loads(stdout)["sessions_created"] == 1


def test_a_transaction_file_is_all_or_nothing_on_the_cli_too(source: str, tmp_path: Path) -> None:
    visit = json.loads((Path(__file__).parent / "bundles" / "other_ehr_elbow_visit.json").read_text())
    visit["type"] = "transaction"
    out = tmp_path / "visit.json"
    out.write_text(json.dumps(visit))
    code, _, stderr = _run(source, "fhir", "import", str(out), "--clinic", "north", "--patient", "P-0001")
    assert code == 2 and "all or nothing" in stderr and "Procedure/proc-7" in stderr
    database = open_database(source)
    with database.unit_of_work() as db:
        assert (
            db.scalar(
                select(func.count()).select_from(MeasurementRow).where(MeasurementRow.source.is_not(None))
            )
            == 0
        )
    database.dispose()


def test_export_one_episode(source: str, tmp_path: Path) -> None:
    out = tmp_path / "episode.json"
    engine = create_engine(source)
    with engine.connect() as conn:  # the CLI names episodes by public id, or a prefix of 8 hex digits
        first = conn.execute(text("SELECT public_id FROM episodes ORDER BY id LIMIT 1")).scalar_one()
    engine.dispose()
    code, _, _ = _run(source, "fhir", "export", "--episode", first[:8], "-o", str(out))
    assert code == 0
    refused, _, error = _run(source, "fhir", "export", "--episode", "1", "-o", str(tmp_path / "no.json"))
    assert refused == 2 and "--episode: 1 is not an episode" in error
    kinds = [e["resource"]["resourceType"] for e in json.loads(out.read_text())["entry"]]
    assert kinds.count("EpisodeOfCare") == 1 and kinds.count("Procedure") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--episode", "99"), "--episode: 99 is not an episode"),
        ((), "--episode ID (repeatable) or --all"),
        (("--all", "--clinic", "south"), "--clinic: 'south' is not a clinic"),
    ],
)
def test_export_refuses_unclear_requests(
    source: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = _run(source, "fhir", "export", *args, "-o", str(tmp_path / "x.json"))
    assert code == 2 and message in stderr and stderr.startswith("error: ")


def test_a_malformed_file_is_rejected_and_nothing_is_written(source: str, tmp_path: Path) -> None:
    bundle = bundle_of(example_clinic())
    bundle["entry"][3]["resource"]["gender"] = 7  # Patient.gender must be a code
    del next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")["resource"][
        "status"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle))
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    code, _, stderr = _run(target, "fhir", "import", str(bad))
    assert code == 2
    assert "bundle rejected, nothing imported (2 problems)" in stderr and "status" in stderr
    database = open_database(target)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(PatientRow)) == 0
        assert db.scalar(select(func.count()).select_from(MeasurementRow)) == 0
    database.dispose()


def test_not_json_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, stderr = _run(f"sqlite:///{tmp_path / 't.sqlite'}", "fhir", "import", str(bad))
    assert code == 2 and "not JSON" in stderr


def test_research_exports_write_their_files_and_never_overwrite(source: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    parquet = tmp_path / "table.parquet"
    code, stdout, _ = _run(source, "export", "parquet", "-o", str(parquet))
    assert code == 0 and "wrote 3 rows" in stdout
    table = pq.read_table(parquet)
    assert table.num_rows == 3 and set(table.column("measure").to_pylist()) == {"nprs"}
    code, _, stderr = _run(source, "export", "parquet", "-o", str(parquet))
    assert code == 2 and "already exists" in stderr
    effects = tmp_path / "effects.csv"
    code, stdout, _ = _run(source, "export", "metafor", "-o", str(effects))
    assert code == 0 and "wrote 0 effect rows" in stdout  # one patient: below the 5-patient minimum
    assert effects.read_text().startswith("condition,measure,phase,direction,unit,ni,m1i,m2i,sd1i,sd2i,ri,yi")
    code, _, _ = _run(source, "export", "redcap", "-o", str(tmp_path / "redcap"))
    assert code == 0
    records = (tmp_path / "redcap" / "redcap_records.csv").read_text().splitlines()
    assert len(records) == 1 + 1 + 3  # header, the patient, three measurement instances
