"""Every command that writes patient data out: one default clinic, and files only their owner can read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from strigil.cli import app
from strigil.services.clinics import ensure_clinic
from strigil.services.demo import write_bulk
from strigil.store.database import open_database

# Each export with what it writes under `out` (a folder that does not exist yet, so the command makes it).
EXPORTS: dict[str, tuple[list[str], list[str]]] = {
    "export csv": (["export", "csv", "-o", "{out}/table.csv"], ["table.csv"]),
    "export parquet": (["export", "parquet", "-o", "{out}/table.parquet"], ["table.parquet"]),
    "export metafor": (["export", "metafor", "-o", "{out}/effects.csv"], ["effects.csv"]),
    "export redcap": (
        ["export", "redcap", "-o", "{out}/rc"],
        ["rc", "rc/redcap_data_dictionary.csv", "rc/redcap_records.csv"],
    ),
    "fhir export": (["fhir", "export", "--all", "-o", "{out}/bundle.json"], ["bundle.json"]),
    "fhir export --bulk": (["fhir", "export", "--bulk", "{out}/bulk"], ["bulk", "bulk/manifest.json"]),
    "privacy export": (["privacy", "export", "D000001", "-o", "{out}/record.json"], ["record.json"]),
}


def _demo(tmp_path: Path, *other_clinics: str) -> str:
    """A database holding the demo clinic (6 patients) and, if named, other (empty) clinics."""
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    database = open_database(url)
    try:
        write_bulk(database, 6, seed=3)
        with database.unit_of_work() as db:
            for code in other_clinics:
                ensure_clinic(db, code, code.title())
    finally:
        database.dispose()
    return url


def _run(url: str, args: list[str], out: Path) -> Result:
    argv = [a.replace("{out}", str(out)) for a in args]
    return CliRunner().invoke(app, argv, env={"STRIGIL_DATABASE_URL": url})


@pytest.mark.parametrize("command", EXPORTS)
def test_every_export_works_on_the_only_clinic_without_clinic(tmp_path: Path, command: str) -> None:
    args, _ = EXPORTS[command]
    result = _run(_demo(tmp_path), args, tmp_path / "out")
    assert result.exit_code == 0, (result.stdout, result.stderr)


@pytest.mark.parametrize("command", EXPORTS)
def test_every_export_asks_which_clinic_when_there_are_several(tmp_path: Path, command: str) -> None:
    args, _ = EXPORTS[command]
    url = _demo(tmp_path, "north")
    result = _run(url, args, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --clinic: this database has 2 clinics; name one of: demo, north"
    ]
    assert not (tmp_path / "out").exists()  # nothing written
    assert _run(url, [*args, "--clinic", "demo"], tmp_path / "out").exit_code == 0


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX permissions")
@pytest.mark.parametrize("command", EXPORTS)
def test_exports_are_the_owners_alone(tmp_path: Path, command: str) -> None:
    args, written = EXPORTS[command]
    out = tmp_path / "new" / "out"  # two folders the command makes
    old = os.umask(0o022)  # the usual umask, which leaves new files readable by all
    try:
        result = _run(_demo(tmp_path), args, out)
    finally:
        os.umask(old)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    modes = {name: stat.S_IMODE((out / name).stat().st_mode) for name in written}
    modes |= {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    for name, mode in modes.items():
        assert mode == (0o700 if (out / name).is_dir() else 0o600), (name, oct(mode))
    for folder in (tmp_path / "new", out):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_the_effect_file_never_goes_below_the_disclosure_minimum(tmp_path: Path) -> None:
    url = _demo(tmp_path)
    low = _run(url, ["export", "metafor", "-o", "{out}/effects.csv", "--min-patients", "3"], tmp_path)
    assert low.exit_code == 2 and "below the disclosure minimum" in low.stderr
    assert not (tmp_path / "effects.csv").exists()
    high = _run(url, ["export", "metafor", "-o", "{out}/effects.csv", "--min-patients", "8"], tmp_path)
    assert high.exit_code == 0 and "strata with >= 8 patients" in high.stdout


# Commands that read or change one clinic's record: the same default as the exports, from the same helper.
CLINIC_COMMANDS = {
    "patient list": ["patient", "list"],
    "patient show": ["patient", "show", "D000001"],
    "clinician list": ["clinician", "list"],
    "privacy erase": ["privacy", "erase", "D000001", "--confirm", "D000001", "--reason", "patient request"],
}


@pytest.mark.parametrize("command", CLINIC_COMMANDS)
def test_clinic_commands_default_to_the_only_clinic_and_ask_when_there_are_several(
    tmp_path: Path, command: str
) -> None:
    args = CLINIC_COMMANDS[command]
    several = _demo(tmp_path / "several", "north")
    refused = _run(several, args, tmp_path)
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        "error: --clinic: this database has 2 clinics; name one of: demo, north"
    ]
    only = _demo(tmp_path / "only")
    result = _run(only, args, tmp_path)
    assert result.exit_code == 0, (result.stdout, result.stderr)
