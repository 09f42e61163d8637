"""`strigil fhir export|import|artefacts`: exchange records with other systems as HL7 FHIR R4 Bundles."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from strigil.cli.toolkit import (
    ID_HELP,
    OptionalClinicOpt,
    audited_job,
    cli_actor,
    fail,
    fail_all,
    new_file,
    only_clinic,
    progress_bar,
    record_id,
    unit_of_work,
)

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
    output: Path | None = typer.Option(None, "-o", "--output", help="Bundle file to write (JSON)."),
    episode: list[str] = typer.Option(
        [], "--episode", help="Export this episode (repeat for several): " + ID_HELP.format("Episode")
    ),
    all_: bool = typer.Option(False, "--all", help="Export the whole clinic."),
    bulk: Path | None = typer.Option(
        None, "--bulk", help="Write the clinic as FHIR Bulk Data: one NDJSON file per resource type, here."
    ),
    types: list[str] = typer.Option([], "--type", help="With --bulk: only this resource type (repeatable)."),
    since: str | None = typer.Option(
        None, "--since", help="With --bulk: only patients with anything recorded at or after this ISO time."
    ),
    validation: str = typer.Option(
        "sample", "--validation", help="With --bulk: validate a sample of every type, all, or none."
    ),
    clinic: OptionalClinicOpt = None,
    validate: bool = typer.Option(True, help="Validate every resource against FHIR R4 while writing."),
) -> None:
    """Export episodes or the whole clinic as a FHIR R4 Bundle, or the clinic as Bulk Data (--bulk DIR)."""
    if bulk is not None:
        if output is not None or episode or all_:
            fail("--bulk DIR writes the whole clinic into DIR: drop -o, --episode and --all")
        _export_bulk(bulk, types, since, validation, clinic)
        return
    if output is None:
        fail("-o/--output FILE is needed for a Bundle (or --bulk DIR for Bulk Data)")
    _export_bundle(output, episode, all_, clinic, validate)


def _export_bulk(
    folder: Path, types: list[str], since: str | None, validation: str, clinic: str | None
) -> None:
    from strigil.interop.bulk import VALIDATION_MODES
    from strigil.interop.r4 import is_resource_type
    from strigil.services import audit as audit_service
    from strigil.services.bulk_exchange import export_bulk
    from strigil.store.files import open_private

    if validation not in VALIDATION_MODES:
        fail(f"--validation: {validation!r} is not allowed; allowed: {', '.join(VALIDATION_MODES)}")
    unknown = [t for t in types if not is_resource_type(t)]
    if unknown:
        fail(f"--type: {', '.join(unknown)} is not a FHIR R4 resource type")
    since_at = None
    if since is not None:
        try:
            since_at = dt.datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since: {since!r} is not an ISO date-time (e.g. 2026-12-01T00:00:00+00:00)")
        since_at = since_at if since_at.tzinfo else since_at.replace(tzinfo=dt.UTC)
    new_file(folder / "manifest.json", "--bulk")  # written last: find a leftover one before exporting
    touched: list[int] = []
    from strigil.cli.toolkit import clinic_id
    from strigil.services.exchange import patient_count

    with unit_of_work() as db:
        code = only_clinic(db, clinic)
        key = clinic_id(db, code)
        # with --since, how many patients have anything new is known only as they are read
        total = None if since_at else patient_count(db, key)
        with progress_bar("FHIR bulk export (patients)", total) as bar:

            def written(ids: list[int]) -> None:
                touched.extend(ids)
                bar.advance(len(ids))

            manifest = export_bulk(
                db,
                code,
                folder,
                types=types or None,
                since=since_at,
                validation=validation,
                request=f"strigil fhir export --bulk {folder}",
                patient_ids=written,
            )
    # the audit rows in their own short transaction (the export itself only read)
    with unit_of_work() as db:
        actor = cli_actor(db, key)
        total = sum(manifest.counts.values())
        detail = f"{len(touched)} patients, {total} resources"
        audit_service.record(db, actor, "export", "fhir_bulk", "", detail=detail)
        audit_service.record_patients(db, actor, "export", "fhir_bulk", touched)
    with open_private(folder / "manifest.json", "w", encoding="utf-8") as fp:
        fp.write(json.dumps(manifest.to_json(), indent=2))
    for kind, count in sorted(manifest.counts.items()):
        typer.echo(f"{kind}: {count}")
    typer.echo(f"wrote {sum(manifest.counts.values())} resources to {folder} ({manifest.validation})")


def _export_bundle(output: Path, given: list[str], all_: bool, clinic: str | None, validate: bool) -> None:
    from sqlalchemy import select

    from strigil.interop.bundle import stream_bundle
    from strigil.interop.r4 import resource_problems
    from strigil.interop.to_fhir import stream_resources
    from strigil.services.errors import RecordError
    from strigil.services.exchange import clinic_header, clinic_scope, patient_dossiers
    from strigil.store.files import open_private
    from strigil.store.record import EpisodeRow, PatientRow

    if bool(given) == all_:
        fail("choose what to export: --episode ID (repeatable) or --all")
    new_file(output)
    problems: list[str] = []

    def checked(resources: Any) -> Any:
        for resource in resources:
            if validate:
                problems.extend(str(p) for p in resource_problems(resource))
            yield resource

    with unit_of_work() as db:
        code = only_clinic(db, clinic)
        clinic_id, clinic_model, clinicians = clinic_header(db, code)
        episode: list[int] = []
        for named in given:
            try:
                episode.append(record_id(db, clinic_id, "episode", named))
            except RecordError as exc:
                fail(f"--episode: {named} is not an episode of clinic {code!r} ({exc})")
        exported = select(PatientRow.id).where(PatientRow.clinic_id == clinic_id)
        if episode:
            exported = exported.join(EpisodeRow, EpisodeRow.patient_id == PatientRow.id).where(
                EpisodeRow.id.in_(episode)
            )
        what = "episodes " + ", ".join(given) if episode else "the whole clinic"
        chosen = set(db.scalars(exported))
        audited_job(db, clinic_id, "export", "fhir_bundle", chosen, detail=f"{what} to {output}")
        scope = clinic_scope(db, clinic_id)
        with (
            open_private(output, "w", encoding="utf-8") as fp,
            progress_bar("FHIR export (patients)", len(chosen)) as bar,
        ):

            def patients() -> Iterator[Any]:
                for dossier in patient_dossiers(db, clinic_id, episode_ids=episode or None):
                    yield dossier
                    bar.advance(1)

            count = stream_bundle(
                checked(stream_resources(clinic_model, clinicians, patients(), scope=scope)),
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
    file: Path = typer.Argument(..., help="A FHIR R4 Bundle (JSON), or a folder of Bulk Data NDJSON files."),
    clinic: str | None = typer.Option(
        None, help="Clinic to import into (default: the file's own clinic, not another with its code)."
    ),
    patient: str | None = typer.Option(
        None, help="Strigil patient code for measurements from another system."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    match_only: bool = typer.Option(
        False, "--match-only", help="Other systems' patients: only those found here; create none."
    ),
    bulk: bool = typer.Option(False, "--bulk", help="New patients only, bulk inserts (whole clinics)."),
    validate: bool = typer.Option(
        True, help="Check every resource against the R4 models (--no-validate: bundles Strigil exported)."
    ),
    validation: str = typer.Option(
        "sample", "--validation", help="A folder of NDJSON: validate a sample of every type, all, or none."
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="A folder of NDJSON: commit every N patients (with all their resources) on their own; a failure "
        "names the batches that landed. Default: the whole folder in one transaction.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import a Bundle, or a folder of Bulk Data NDJSON: all of it in one transaction (or in declared
    batches of a folder's patients), or nothing."""
    if file.is_dir():
        if patient or dry_run:
            fail("a folder of NDJSON is imported as exported: drop --patient and --dry-run")
        _import_bulk(file, validation, as_json, batch_size, clinic)
        return
    if batch_size is not None:
        fail("--batch-size is for a folder of NDJSON; a Bundle is imported whole")
    _import_bundle(file, clinic, patient, dry_run, bulk, validate, as_json, match_only)


def _import_bulk(
    folder: Path, validation: str, as_json: bool, batch_size: int | None = None, clinic: str | None = None
) -> None:
    from strigil.interop.bulk import VALIDATION_MODES
    from strigil.services.bulk_exchange import Batch, BatchesPartlyLanded, BulkRejected, import_bulk
    from strigil.services.errors import RecordError
    from strigil.services.exchange import ImportReport

    if validation not in VALIDATION_MODES:
        fail(f"--validation: {validation!r} is not allowed; allowed: {', '.join(VALIDATION_MODES)}")

    with unit_of_work() as db:

        def committed(batch: Batch, part: ImportReport) -> None:
            # a batch lands with its own audit rows, or not at all
            _audit_bulk(db, folder, part)
            db.commit()
            if not as_json:
                typer.echo(f"landed {batch}")

        try:
            with progress_bar("FHIR bulk import (patients)", _lines_in(folder / "Patient.ndjson")) as bar:
                written, not_understood = import_bulk(
                    db,
                    folder,
                    validation=validation,
                    batch_size=batch_size,
                    committed=None if batch_size is None else committed,
                    clinic_code=clinic,
                    progress=bar.advance,
                )
        except BatchesPartlyLanded as error:
            db.rollback()
            fail_all(
                [
                    f"{folder}: {error.summary}",
                    *[f"  landed: {batch}" for batch in error.landed],
                    *[f"{folder}: not imported: {problem}" for problem in error.problems[:50]],
                ]
            )
        except BulkRejected as error:
            fail_all([f"{folder}: nothing imported: {problem}" for problem in error.problems[:50]])
        except RecordError as error:
            fail(f"{folder}: nothing imported: {error}")
        if batch_size is None:
            # one row for the run and one per patient it wrote, committed with the import itself
            _audit_bulk(db, folder, written)
    _print_report({"not_understood": not_understood, **written.to_json()}, as_json)


def _lines_in(path: Path) -> int | None:
    """How many lines a file has (its patients, for a progress bar); None if it cannot be read."""
    try:
        with path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None  # the import itself says what is wrong with the folder


def _audit_bulk(db: Any, folder: Path, written: Any) -> None:
    """The audit rows of a bulk import (or of one batch of it): one for the run, one per patient written."""
    if not written.patient_ids:
        return
    from sqlalchemy import select

    from strigil.cli.toolkit import cli_actor
    from strigil.services import audit as audit_service
    from strigil.store.record import PatientRow

    first = written.patient_ids[0]
    clinic = db.scalar(select(PatientRow.clinic_id).where(PatientRow.id == first))
    actor = cli_actor(db, int(clinic or 0))
    detail = f"{folder.name}: {written.patients_created} patients, {written.sessions_created} visits"
    audit_service.record(db, actor, "create", "fhir_bulk", "", detail=detail)
    audit_service.record_patients(db, actor, "create", "fhir_bulk", written.patient_ids)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
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


def _import_bundle(
    file: Path,
    clinic: str | None,
    patient: str | None,
    dry_run: bool,
    bulk: bool,
    validate: bool,
    as_json: bool,
    match_only: bool = False,
) -> None:
    from strigil.interop.bundle import MAX_BUNDLE_BYTES, UnreadableJson
    from strigil.services.bundle_import import BundleRejected, import_bundle
    from strigil.services.errors import RecordError
    from strigil.services.exchange import audit_import

    if bulk and (clinic or patient):
        fail("--bulk imports a clinic as exported: drop --clinic and --patient")
    try:
        size = file.stat().st_size
        source = file.open("rb")
    except OSError as error:
        fail(f"{file}: not a readable file ({error})")
    if size > MAX_BUNDLE_BYTES:
        source.close()
        fail(
            f"{file}: {size:,} bytes is larger than a Bundle may be ({MAX_BUNDLE_BYTES:,}); move whole "
            "clinics as Bulk Data (strigil fhir export --bulk DIR, strigil fhir import DIR)"
        )
    with source, unit_of_work() as db:
        try:
            with progress_bar("FHIR import (entries)") as bar:
                done = import_bundle(
                    db,
                    source,
                    validate=validate,
                    patient_code=patient,
                    clinic_code=clinic,
                    match_only=match_only,
                    bulk=bulk,
                    dry_run=dry_run,
                    progress=bar.show,
                )
        except UnreadableJson as error:  # the API's reader too: the same sentence for the same fault
            fail(f"{file}: {error}")
        except OSError as error:
            fail(f"{file}: not a readable file ({error})")
        except BundleRejected as error:
            issues = [f"{where}: {message}" if where else message for where, message in error.issues]
            if len(issues) == 1 and not error.rule:  # one reason: one line
                fail(f"{file}: bundle rejected, nothing imported: {issues[0]}")
            shown = "\n  ".join(issues[:50])
            more = f"\n  …and {len(issues) - 50} more" if len(issues) > 50 else ""
            counted = f"{len(issues)} problems" + (f"; {error.rule}" if error.rule else "")
            fail(f"{file}: bundle rejected, nothing imported ({counted}):\n  {shown}{more}")
        except RecordError as error:
            fail(f"{file}: bundle rejected, nothing imported: {error}")
        report: dict[str, Any] = {"not_understood": done.not_understood}
        if dry_run:
            report |= {
                "dry_run": True,
                "patients": done.patients,
                "foreign_measurements": done.foreign_measurements,
            }
        else:
            audit_import(db, cli_actor(db, None), done.report, source=file.name)
            report |= done.report.to_json()
    _print_report(report, as_json)


@fhir_app.command("artefacts")
def fhir_artefacts(folder: Path = typer.Option(..., "-o", "--output", help="Folder to write into.")) -> None:
    """Write Strigil's StructureDefinitions, CodeSystems and ValueSets (for another system to load)."""
    from strigil.interop.artefacts import write_artefacts

    for path in write_artefacts(folder):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add `strigil fhir ...`."""
    app.add_typer(fhir_app, name="fhir")
