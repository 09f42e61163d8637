"""Pseudonymous patients: `strigil patient add|list|show`."""

from __future__ import annotations

from typing import Annotated

import typer

from strigil.cli.toolkit import DEFAULT_CLINIC, ClinicOpt, audited, clinic_id, unit_of_work

__all__ = [
    "patient_add",
    "patient_app",
    "patient_list",
    "patient_show",
    "register",
]

patient_app = typer.Typer(help="Pseudonymous patients: add, list, show.", no_args_is_help=True)


@patient_app.command("add")
def patient_add(
    code: Annotated[str, typer.Argument(help="Pseudonymous code (no names).")],
    birth_year: Annotated[int, typer.Option("--birth-year", help="Year of birth.")],
    sex: Annotated[str, typer.Option(help="female, male, other or unknown.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Register a patient by pseudonymous code, year of birth and sex."""
    from strigil.services.patients import add_patient

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        view = add_patient(s, cid, {"code": code, "birth_year": birth_year, "sex": sex})
        audited(s, cid, "create", "patient", view.id, patient_id=view.id)
    typer.echo(f"patient {view.code} added")


@patient_app.command("list")
def patient_list(
    clinic: ClinicOpt = DEFAULT_CLINIC,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List the clinic's patients (one page)."""
    from strigil.services.patients import list_patients

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        for p in list_patients(s, cid, limit=limit, offset=offset):
            typer.echo(f"{p.code}\t{p.birth_year}\t{p.sex}")
        audited(s, cid, "read", "patient_list", "", detail=f"limit={limit} offset={offset}")


@patient_app.command("show")
def patient_show(code: str, clinic: ClinicOpt = DEFAULT_CLINIC) -> None:
    """Show a patient and their episodes."""
    from strigil.services.patients import show_patient

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        p = show_patient(s, cid, code)
        audited(s, cid, "read", "patient", p.id, patient_id=p.id)
    typer.echo(f"patient {p.code}: born {p.birth_year}, {p.sex} (version {p.version})")
    for e in p.episodes:
        state = f"closed {e.closed_on}" if e.closed_on else "open"
        if e.void_reason:
            state = f"VOID ({e.void_reason})"
        typer.echo(
            f"  episode {e.public_id}: {e.condition}, {e.region} {e.side}, opened {e.opened_on}, {state}, "
            f"{e.sessions} sessions"
        )


def register(app: typer.Typer) -> None:
    """Add `strigil patient ...`."""
    app.add_typer(patient_app, name="patient")
