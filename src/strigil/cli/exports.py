"""Analysis-ready exports of the clinic's record: `strigil export csv|parquet|metafor|redcap`.

Every command works on the clinic `--clinic` names, by default the database's only clinic (`only_clinic`, as
`strigil fhir export`), and writes its files 0600 in folders it makes 0700 (`store.files.open_private`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strigil.cli.toolkit import (
    OptionalClinicOpt,
    audited_job,
    clinic_id,
    fail,
    new_file,
    only_clinic,
    unit_of_work,
)

__all__ = [
    "KeyOpt",
    "export_app",
    "export_csv",
    "export_metafor",
    "export_parquet",
    "export_redcap",
    "register",
]

export_app = typer.Typer(
    name="export", help="Analysis-ready exports of the clinic's record.", no_args_is_help=True
)

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--pseudonym-key",
        help="File holding the clinic's pseudonym key (at least 16 bytes): the same key gives the same "
        "pseudonyms. Default: a new random key, so this export links to no other.",
    ),
]


def _key(path: Path | None) -> bytes | None:
    """The pseudonym key read from its file (never from the command line, where others could see it)."""
    if path is None:
        return None
    try:
        key = path.read_bytes().strip()
    except OSError as error:
        fail(f"--pseudonym-key: cannot read {path} ({error})")
    if len(key) < 16:
        fail(f"--pseudonym-key: {path} holds {len(key)} bytes; a key needs at least 16")
    return key


def export_csv(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    clinic_code: OptionalClinicOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """The clinic's record as one analysis-ready long table (one row per measurement, pseudonymised)."""
    from strigil.services.export import clinic_patient_ids, write_csv
    from strigil.store.files import open_private

    key = _key(key_file)

    if output is not None:
        new_file(output)
    with unit_of_work() as s:
        clinic = clinic_id(s, only_clinic(s, clinic_code))
        target = "standard output" if output is None else str(output)
        audited_job(
            s, clinic, "export", "csv", clinic_patient_ids(s, clinic), detail=f"long table to {target}"
        )
        if output is None:
            write_csv(s, clinic, sys.stdout, key=key)
            return
        with open_private(output, "w", encoding="utf-8", newline="") as out:
            n = write_csv(s, clinic, out, key=key)
    typer.echo(f"{n} rows written to {output}", err=True)


def _long_table(
    clinic: str | None, key_file: Path | None, what: str, target: Path
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of the analysis-ready long table (`strigil export csv`), audited as `what`."""
    from strigil.services.export import CSV_COLUMNS, clinic_patient_ids, export_rows

    key = _key(key_file)
    with unit_of_work() as db:
        cid = clinic_id(db, only_clinic(db, clinic))
        rows = list(export_rows(db, cid, key=key))
        audited_job(db, cid, "export", what, clinic_patient_ids(db, cid), detail=f"to {target}")
    return list(CSV_COLUMNS), rows


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]]) -> None:
    import csv

    from strigil.store.files import open_private

    with open_private(path, "w", encoding="utf-8", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def export_parquet(
    output: Path = typer.Option(..., "-o", "--output", help="Parquet file to write."),
    clinic: OptionalClinicOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """The long table of `strigil export csv` as Parquet, with real types (dates, integers, decimals)."""
    import pyarrow.parquet as pq

    from strigil.interop.research import parquet_table
    from strigil.store.files import open_private

    new_file(output)
    columns, rows = _long_table(clinic, key_file, "parquet", output)
    with open_private(output, "wb") as fp:
        pq.write_table(parquet_table(rows, columns), fp)
    typer.echo(f"wrote {len(rows)} rows to {output}")


def export_metafor(
    output: Path = typer.Option(..., "-o", "--output", help="CSV file to write (yi, vi and moderators)."),
    clinic: OptionalClinicOpt = None,
    min_patients: int | None = typer.Option(
        None,
        help="Smallest stratum written (default and least allowed: the disclosure minimum, the fewest "
        "patients any number shared outside the clinic may describe).",
    ),
    key_file: KeyOpt = None,
) -> None:
    """Standardized mean changes (SMCR) per condition, measure and tissue phase, ready for metafor's rma()."""
    from strigil.catalog import load_catalog
    from strigil.interop.research import EFFECT_COLUMNS, MIN_PATIENTS, effect_rows, episode_changes

    if min_patients is None:
        min_patients = MIN_PATIENTS
    if min_patients < MIN_PATIENTS:
        fail(
            f"--min-patients: {min_patients} is below the disclosure minimum; allowed: {MIN_PATIENTS} or more"
        )
    new_file(output)
    _, rows = _long_table(clinic, key_file, "metafor", output)
    effects = effect_rows(episode_changes(rows), load_catalog(), min_patients=min_patients)
    _write_csv(output, list(EFFECT_COLUMNS), effects)
    typer.echo(f"wrote {len(effects)} effect rows to {output} (strata with >= {min_patients} patients)")


def export_redcap(
    folder: Path = typer.Option(..., "-o", "--output", help="Folder for the dictionary and the records."),
    clinic: OptionalClinicOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """A REDCap data dictionary and matching import records (patient form + repeating measurement form)."""
    from strigil.catalog import load_catalog
    from strigil.interop.research import REDCAP_DICTIONARY_COLUMNS, redcap_dictionary, redcap_records

    dictionary_path = new_file(folder / "redcap_data_dictionary.csv")
    records_path = new_file(folder / "redcap_records.csv")
    columns, rows = _long_table(clinic, key_file, "redcap", folder)
    _write_csv(dictionary_path, list(REDCAP_DICTIONARY_COLUMNS), redcap_dictionary(columns, load_catalog()))
    header, records = redcap_records(rows, columns)
    _write_csv(records_path, header, records)
    typer.echo(f"wrote {dictionary_path} and {records_path} ({len(records)} records)")


def register(app: typer.Typer) -> None:
    """Add `strigil export ...`."""
    export_app.command("csv")(export_csv)
    export_app.command("parquet")(export_parquet)
    export_app.command("metafor")(export_metafor)
    export_app.command("redcap")(export_redcap)
    app.add_typer(export_app, name="export")
