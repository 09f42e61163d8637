"""The clinic and its database: `strigil init`, `clinician add|list`, `backup`, `restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strigil.cli.toolkit import (
    DEFAULT_CLINIC,
    ClinicOpt,
    audited_job,
    cli_actor,
    clinic_id,
    errors,
    unit_of_work,
)

__all__ = [
    "backup",
    "clinician_add",
    "clinician_app",
    "clinician_list",
    "init",
    "register",
    "restore",
]

clinician_app = typer.Typer(help="Clinicians of the clinic: add, list.", no_args_is_help=True)


def init(
    clinic: Annotated[str, typer.Option("--clinic", help="The clinic's code.")] = "main",
    name: Annotated[str, typer.Option(help="The clinic's name.")] = "My clinic",
) -> None:
    """Create (or migrate) the clinic database and the clinic."""
    from strigil.services.clinics import ensure_clinic
    from strigil.settings import get_settings

    with unit_of_work() as s:
        c = ensure_clinic(s, clinic, name)
    typer.echo(f"clinic {c.code!r} ready in {get_settings().resolved_database_url()}")


@clinician_app.command("add")
def clinician_add(
    code: Annotated[str, typer.Argument(help="Clinician code (letters, digits, - and _).")],
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    profession: Annotated[
        str,
        typer.Option(help="athletic_trainer, physical_therapist, chiropractor, massage_therapist or other."),
    ],
    years: Annotated[int, typer.Option(help="Years of clinical experience.")],
    course: Annotated[list[str] | None, typer.Option(help="Formal IASTM course (repeatable).")] = None,
    informal: Annotated[list[str] | None, typer.Option(help="Informal IASTM training (repeatable).")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Add a clinician (profession, IASTM training, experience)."""
    from strigil.services.clinics import add_clinician

    training = [{"course": c, "formal": True} for c in course or []]
    training += [{"course": c, "formal": False} for c in informal or []]
    with unit_of_work() as s:
        view = add_clinician(
            s,
            clinic_id(s, clinic),
            {
                "code": code,
                "name": name,
                "profession": profession,
                "years_experience": years,
                "training": training,
            },
        )
    typer.echo(f"clinician {view.code} added")


@clinician_app.command("list")
def clinician_list(clinic: ClinicOpt = DEFAULT_CLINIC) -> None:
    """List the clinic's clinicians."""
    from strigil.services.clinics import list_clinicians

    with unit_of_work() as s:
        for c in list_clinicians(s, clinic_id(s, clinic)):
            typer.echo(f"{c.code}\t{c.profession}\t{c.years_experience} y\t{c.name}")


def backup(path: Annotated[Path, typer.Argument(help="New file for the backup.")]) -> None:
    """Copy the clinic database to PATH (consistent, while others keep working)."""
    from strigil.services.backup import backup as do_backup
    from strigil.settings import get_settings

    with unit_of_work():  # migrates a fresh database and turns errors into messages
        pass
    with errors():
        do_backup(get_settings().resolved_database_url(), path)
    _audit_backup(path)
    typer.echo(f"backup written to {path}")


def _audit_backup(path: Path) -> None:
    """A backup exports every patient: per clinic, one audit row for it and one per patient (live trail)."""
    from sqlalchemy import select

    from strigil.services.export import clinic_patient_ids
    from strigil.store.record import ClinicRow

    with unit_of_work() as s:
        for clinic in s.scalars(select(ClinicRow.id)).all():
            patients = clinic_patient_ids(s, clinic, measured_only=False)
            audited_job(s, clinic, "export", "backup", patients, detail=f"database copied to {path}")


def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `strigil backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a database that holds patients.")
    ] = False,
) -> None:
    """Restore the clinic database from a backup (never under a running server; the audit trail is kept)."""
    from strigil.services.backup import restore as do_restore
    from strigil.settings import get_settings

    with errors():
        by = cli_actor(None, None).username
        report = do_restore(get_settings().resolved_database_url(), path, replace=replace, by=by)
    typer.echo(f"restored {path} into {report.target}")
    typer.echo(
        f"kept from the replaced database: {report.audit_rows_kept} newer audit rows, "
        f"{len(report.accounts_kept_deactivated)} deactivated accounts, {len(report.passwords_kept)} "
        f"changed passwords, {report.tokens_kept_revoked} revoked tokens; every sign-in session ended"
    )
    if report.accounts_lost:
        typer.echo(
            "accounts created after the backup are gone (their audit rows stay): "
            + ", ".join(report.accounts_lost)
        )


def register(app: typer.Typer) -> None:
    """Add the clinic's commands to `strigil`."""
    app.command("init")(init)
    app.add_typer(clinician_app, name="clinician")
    app.command("backup")(backup)
    app.command("restore")(restore)
