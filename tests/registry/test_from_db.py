"""`strigil registry fit --from-db --outcome MEASURE` reads the record's analysis table (its CSV export)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strigil.cli import app

runner = CliRunner()
FORMULA = "pain ~ session + session:minutes"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from strigil.services.demo import build_demo
    from strigil.store.database import open_database

    url = f"sqlite:///{tmp_path_factory.mktemp('registry-db') / 'clinic.sqlite'}"
    db = open_database(url)
    build_demo(db, 12, 5)
    db.dispose()
    return url


def test_from_db_equals_the_exported_table(
    demo_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strigil.services.export import write_csv
    from strigil.store.database import open_database

    monkeypatch.setenv("STRIGIL_DATABASE_URL", demo_db)
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path))
    # each export pseudonymises patients under a fresh key (and orders them by pseudonym); the same key on
    # both sides gives the same patients in the same order
    import strigil.services.export as export_service

    monkeypatch.setattr(export_service.secrets, "token_bytes", lambda n: b"k" * n)
    args = [
        "registry",
        "fit",
        "--from-db",
        "--outcome",
        "nprs",
        "--formula",
        FORMULA,
        "--random",
        "1 + session | patient",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    from_db = json.loads(result.stdout)

    # The same rows by hand from the record's CSV export: nprs measured before the IASTM of each session.
    db = open_database(demo_db)
    buf = io.StringIO()
    with db.unit_of_work() as s:
        from strigil.services.clinics import get_clinic

        write_csv(s, get_clinic(s, "demo").id, buf)
    db.dispose()
    rows = [
        r
        for r in csv.DictReader(io.StringIO(buf.getvalue()))
        if r["measure"] == "nprs" and r["timing"] == "pre"
    ]
    table = tmp_path / "nprs.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["patient", "session", "minutes", "pain"])
        w.writerows([[r["patient"], r["session"], r["minutes"], r["value"]] for r in rows])
    result = runner.invoke(app, ["registry", "fit", str(table), *args[5:]])
    assert result.exit_code == 0, result.stderr
    from_csv = json.loads(result.stdout)
    assert from_db["n_obs"] == from_csv["n_obs"] == len(rows) > 0
    assert from_db["fixed"] == pytest.approx(from_csv["fixed"], rel=1e-10)
    assert from_db["objective"] == pytest.approx(from_csv["objective"], rel=1e-10)


def test_from_db_needs_an_outcome_with_rows(
    demo_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIGIL_DATABASE_URL", demo_db)
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path))
    base = ["registry", "fit", "--from-db", "--formula", FORMULA, "--random", "1 | patient"]
    result = runner.invoke(app, base)
    assert result.exit_code == 2 and "--outcome" in result.stderr
    result = runner.invoke(app, [*base, "--outcome", "no_such_measure"])
    assert result.exit_code == 2 and "no 'no_such_measure' measurements" in result.stderr
