"""`strigil fhir export|import|artefacts`: exchange records with other systems as HL7 FHIR R4 Bundles."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from strigil.cli.toolkit import OptionalClinicOpt, fail, only_clinic, unit_of_work

__all__ = [
    "fhir_app",
    "fhir_artefacts",
    "fhir_export",
    "fhir_import",
    "register",
]

fhir_app = typer.Typer(
    name="fhir", help="Exchange records with other systems as HL7 FHIR R4 Bundles.", no_args_is_help=True
)


@fhir_app.command("export")
def fhir_export(
    output: Path = typer.Option(..., "-o", "--output", help="Bundle file to write (JSON)."),
    episode: list[int] = typer.Option([], "--episode", help="Export this episode (repeat for several)."),
    all_: bool = typer.Option(False, "--all", help="Export the whole clinic."),
    clinic: OptionalClinicOpt = None,
    validate: bool = typer.Option(True, help="Validate every resource against FHIR R4 while writing."),
) -> None:
    """Export one or more episodes, or the whole clinic, as a FHIR R4 Bundle (type collection)."""
    from sqlalchemy import select

    from strigil.interop.bundle import stream_bundle
    from strigil.interop.r4 import resource_problems
    from strigil.interop.to_fhir import stream_resources
    from strigil.services.exchange import clinic_header, patient_dossiers
    from strigil.store.record import EpisodeRow, PatientRow

    if bool(episode) == all_:
        fail("choose what to export: --episode ID (repeatable) or --all")
    problems: list[str] = []

    def checked(resources: Any) -> Any:
        for resource in resources:
            if validate:
                problems.extend(str(p) for p in resource_problems(resource))
            yield resource

    with unit_of_work() as db:
        code = only_clinic(db, clinic)
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
                fail(f"--episode: {', '.join(missing)} is not an episode of clinic {code!r}")
        patients = patient_dossiers(db, clinic_id, episode_ids=episode or None)
        with output.open("w", encoding="utf-8") as fp:
            count = stream_bundle(
                checked(stream_resources(clinic_model, clinicians, patients)),
                fp.write,
                timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
    if problems:
        output.unlink(missing_ok=True)
        fail(
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
    from strigil.services.errors import RecordError
    from strigil.services.exchange import write_plan, write_plan_bulk

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        fail(f"{file}: not a readable JSON file ({error})")
    plan = plan_import(document, validate=validate)
    if plan.errors:
        shown = "\n  ".join(str(p) for p in plan.errors[:50])
        more = f"\n  …and {len(plan.errors) - 50} more" if len(plan.errors) > 50 else ""
        fail(
            f"{file}: bundle rejected, nothing imported ({len(plan.errors)} problems):\n  {shown}{more}"
        )
    report: dict[str, Any] = {"not_understood": [str(p) for p in plan.not_understood]}
    if not dry_run:
        if bulk and (clinic or patient):
            fail("--bulk imports a clinic as exported: drop --clinic and --patient")
        with unit_of_work() as db:
            try:
                if bulk:
                    written = write_plan_bulk(db, plan)
                else:
                    written = write_plan(db, plan, patient_code=patient, clinic_code=clinic)
            except RecordError as error:
                fail(f"{file}: bundle rejected, nothing imported: {error}")
        report |= written.to_json()
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


def register(app: typer.Typer) -> None:
    """Add `strigil fhir ...`."""
    app.add_typer(fhir_app, name="fhir")
