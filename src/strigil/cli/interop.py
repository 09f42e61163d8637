"""`strigil fhir export|import|artefacts` and the research exports `strigil export parquet|metafor|redcap`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]

fhir_app = typer.Typer(
    name="fhir", help="Exchange records with other systems as HL7 FHIR R4 Bundles.", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _clinic_code(db: Any, clinic: str | None) -> str:
    """The clinic to work on: the one named, else the database's only clinic."""
    from sqlalchemy import select

    from strigil.store.record import ClinicRow

    codes = list(db.scalars(select(ClinicRow.code).order_by(ClinicRow.code)))
    if clinic is not None:
        if clinic not in codes:
            raise _fail(f"--clinic: {clinic!r} is not a clinic here; allowed: {', '.join(codes) or 'none'}")
        return clinic
    if len(codes) != 1:
        raise _fail(
            f"--clinic: this database has {len(codes)} clinics; name one of: {', '.join(codes) or 'none'}"
        )
    return codes[0]


@fhir_app.command("export")
def fhir_export(
    output: Path = typer.Option(..., "-o", "--output", help="Bundle file to write (JSON)."),
    episode: list[int] = typer.Option([], "--episode", help="Export this episode (repeat for several)."),
    all_: bool = typer.Option(False, "--all", help="Export the whole clinic."),
    clinic: str | None = typer.Option(None, help="Clinic code (default: the database's only clinic)."),
    validate: bool = typer.Option(True, help="Validate every resource against FHIR R4 while writing."),
) -> None:
    """Export one or more episodes, or the whole clinic, as a FHIR R4 Bundle (type collection)."""
    from sqlalchemy import select

    from strigil.interop.bundle import stream_bundle
    from strigil.interop.r4 import resource_problems
    from strigil.interop.store_io import clinic_header, patient_dossiers
    from strigil.interop.to_fhir import stream_resources
    from strigil.store.database import open_database
    from strigil.store.record import EpisodeRow, PatientRow

    if bool(episode) == all_:
        raise _fail("choose what to export: --episode ID (repeatable) or --all")
    database = open_database()
    problems: list[str] = []

    def checked(resources: Any) -> Any:
        for resource in resources:
            if validate:
                problems.extend(str(p) for p in resource_problems(resource))
            yield resource

    with database.unit_of_work() as db:
        code = _clinic_code(db, clinic)
        clinic_id, clinic_model, clinicians = clinic_header(db, code)
        if episode:
            found = set(
                db.scalars(
                    select(EpisodeRow.id)
                    .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                    .where(PatientRow.clinic_id == clinic_id, EpisodeRow.id.in_(episode))
                )
            )
            missing = [str(e) for e in episode if e not in found]
            if missing:
                raise _fail(f"--episode: {', '.join(missing)} is not an episode of clinic {code!r}")
        patients = patient_dossiers(db, clinic_id, episode_ids=episode or None)
        with output.open("w", encoding="utf-8") as fp:
            count = stream_bundle(
                checked(stream_resources(clinic_model, clinicians, patients)),
                fp.write,
                timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
    database.dispose()
    if problems:
        output.unlink(missing_ok=True)
        raise _fail(
            "exported resources failed FHIR R4 validation (file removed): " + "; ".join(problems[:10])
        )
    typer.echo(f"wrote {count} resources to {output}")


@fhir_app.command("import")
def fhir_import(
    file: Path = typer.Argument(..., help="A FHIR R4 Bundle (JSON)."),
    clinic: str | None = typer.Option(None, help="Clinic to import into (default: the bundle's clinic)."),
    patient: str | None = typer.Option(
        None, help="Strigil patient code for measurements from another system."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    bulk: bool = typer.Option(False, "--bulk", help="New patients only, bulk inserts (whole clinics)."),
    validate: bool = typer.Option(
        True, help="Check every resource against the R4 models (--no-validate: bundles Strigil exported)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import a Bundle: all of it in one transaction, or nothing when anything is wrong."""
    from strigil.interop.from_fhir import plan_import
    from strigil.interop.store_io import write_plan, write_plan_bulk
    from strigil.services.errors import RecordError
    from strigil.store.database import open_database

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise _fail(f"{file}: not a readable JSON file ({error})") from None
    plan = plan_import(document, validate=validate)
    if plan.errors:
        shown = "\n  ".join(str(p) for p in plan.errors[:50])
        more = f"\n  …and {len(plan.errors) - 50} more" if len(plan.errors) > 50 else ""
        raise _fail(
            f"{file}: bundle rejected, nothing imported ({len(plan.errors)} problems):\n  {shown}{more}"
        )
    report: dict[str, Any] = {"not_understood": [str(p) for p in plan.not_understood]}
    if not dry_run:
        database = open_database()
        try:
            with database.unit_of_work() as db:
                if bulk:
                    if clinic or patient:
                        raise _fail("--bulk imports a clinic as exported: drop --clinic and --patient")
                    written = write_plan_bulk(db, plan)
                else:
                    written = write_plan(db, plan, patient_code=patient, clinic_code=clinic)
        except RecordError as error:
            raise _fail(f"{file}: bundle rejected, nothing imported: {error}") from None
        finally:
            database.dispose()
        report |= written.as_dict()
    else:
        report |= {
            "dry_run": True,
            "patients": sum(len(c.patients) for c in plan.clinics),
            "foreign_measurements": len(plan.foreign_measurements),
        }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        if isinstance(value, list):
            typer.echo(f"{key}: {len(value)}")
            for item in value:
                typer.echo(f"  - {item}")
        else:
            typer.echo(f"{key}: {value}")


@fhir_app.command("artefacts")
def fhir_artefacts(folder: Path = typer.Option(..., "-o", "--output", help="Folder to write into.")) -> None:
    """Write Strigil's StructureDefinitions, CodeSystems and ValueSets (for another system to load)."""
    from strigil.interop.artefacts import write_artefacts

    for path in write_artefacts(folder):
        typer.echo(str(path))


def _export_app(app: typer.Typer) -> typer.Typer:
    """The `export` sub-app: record's if it registered one first (it owns `export csv`), else a new one."""
    for group in app.registered_groups:
        if group.name == "export" and group.typer_instance is not None:
            return group.typer_instance
    export_app = typer.Typer(
        name="export", help="Analysis-ready exports of the clinic's record.", no_args_is_help=True
    )
    app.add_typer(export_app, name="export")
    return export_app


def _long_table(clinic: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of record's analysis-ready long table (`strigil export csv`)."""
    from strigil.services.export import CSV_COLUMNS, export_rows
    from strigil.store.database import open_database
    from strigil.store.record import ClinicRow

    database = open_database()
    try:
        with database.unit_of_work() as db:
            code = _clinic_code(db, clinic)
            clinic_id = db.scalar(select_clinic_id(ClinicRow, code))
            rows = list(export_rows(db, clinic_id))
    finally:
        database.dispose()
    return list(CSV_COLUMNS), rows


def select_clinic_id(table: Any, code: str) -> Any:
    """SELECT id FROM clinics WHERE code = :code."""
    from sqlalchemy import select

    return select(table.id).where(table.code == code)


def _new_file(path: Path, option: str = "--output") -> Path:
    if path.exists():
        raise _fail(f"{option}: {str(path)!r} already exists; exports never overwrite a file")
    return path


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]]) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def export_parquet(
    output: Path = typer.Option(..., "-o", "--output", help="Parquet file to write."),
    clinic: str | None = typer.Option(None, help="Clinic code (default: the database's only clinic)."),
) -> None:
    """The long table of `strigil export csv` as Parquet, with real types (dates, integers, decimals)."""
    import pyarrow.parquet as pq

    from strigil.interop.research import parquet_table

    _new_file(output)
    columns, rows = _long_table(clinic)
    pq.write_table(parquet_table(rows, columns), output)
    typer.echo(f"wrote {len(rows)} rows to {output}")


def export_metafor(
    output: Path = typer.Option(..., "-o", "--output", help="CSV file to write (yi, vi and moderators)."),
    clinic: str | None = typer.Option(None, help="Clinic code (default: the database's only clinic)."),
    min_patients: int = typer.Option(
        5, min=3, help="Smallest stratum written (researchers see >= 5 patients)."
    ),
) -> None:
    """Standardized mean changes (SMCR) per condition, measure and tissue phase, ready for metafor's rma()."""
    from strigil.catalog import load_catalog
    from strigil.interop.research import EFFECT_COLUMNS, effect_rows, episode_changes

    _new_file(output)
    _, rows = _long_table(clinic)
    effects = effect_rows(episode_changes(rows), load_catalog(), min_patients=min_patients)
    _write_csv(output, list(EFFECT_COLUMNS), effects)
    typer.echo(f"wrote {len(effects)} effect rows to {output} (strata with >= {min_patients} patients)")


def export_redcap(
    folder: Path = typer.Option(..., "-o", "--output", help="Folder for the dictionary and the records."),
    clinic: str | None = typer.Option(None, help="Clinic code (default: the database's only clinic)."),
) -> None:
    """A REDCap data dictionary and matching import records (patient form + repeating measurement form)."""
    from strigil.catalog import load_catalog
    from strigil.interop.research import REDCAP_DICTIONARY_COLUMNS, redcap_dictionary, redcap_records

    dictionary_path = _new_file(folder / "redcap_data_dictionary.csv")
    records_path = _new_file(folder / "redcap_records.csv")
    columns, rows = _long_table(clinic)
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(dictionary_path, list(REDCAP_DICTIONARY_COLUMNS), redcap_dictionary(columns, load_catalog()))
    header, records = redcap_records(rows, columns)
    _write_csv(records_path, header, records)
    typer.echo(f"wrote {dictionary_path} and {records_path} ({len(records)} records)")


def register(app: typer.Typer) -> None:
    """Add `strigil fhir ...` and the research exports to the command."""
    app.add_typer(fhir_app, name="fhir")
    export_app = _export_app(app)
    export_app.command("parquet")(export_parquet)
    export_app.command("metafor")(export_metafor)
    export_app.command("redcap")(export_redcap)
