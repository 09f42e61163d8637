"""`strigil privacy export|erase CODE`: a patient's whole record as JSON, and erasure on request (audited).

Thin shell over `strigil.services.privacy`; both commands write an audit event (channel "cli").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from strigil.cli.toolkit import OptionalClinicOpt, cli_actor, clinic_id, fail, only_clinic, unit_of_work

__all__ = [
    "erase_command",
    "export_command",
    "privacy_app",
    "register",
]

privacy_app = typer.Typer(
    help="A patient's rights: export the whole record, erase it on request (the audit trail is kept).",
    no_args_is_help=True,
)


def _run(clinic: str | None, work: Any) -> Any:
    """Run `work(db, clinic_id, actor)` in one transaction on the clinic database (None: its only clinic);
    errors exit 2."""
    with unit_of_work() as db:
        clinic_key = clinic_id(db, only_clinic(db, clinic))
        return work(db, clinic_key, cli_actor(db, clinic_key))


@privacy_app.command("export")
def export_command(
    code: str = typer.Argument(..., help="The patient's code."),
    clinic: OptionalClinicOpt = None,
    output: Path | None = typer.Option(None, "-o", "--output", help="New file to write (default: stdout)."),
) -> None:
    """Everything Strigil holds about one patient, as one JSON document."""
    from strigil.services.privacy import export_patient

    if output is not None and output.exists():
        fail(f"--output: {output} already exists; exports never overwrite a file — choose a new name")
    document = _run(clinic, lambda db, clinic_id, actor: export_patient(db, clinic_id, code, actor))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        from strigil.store.files import open_private

        with open_private(output, "w", encoding="utf-8") as fp:
            fp.write(text + "\n")
        typer.echo(f"wrote the record of {code} to {output}", err=True)


@privacy_app.command("erase")
def erase_command(
    code: str = typer.Argument(..., help="The patient's code."),
    confirm: str = typer.Option(..., "--confirm", help="Repeat the patient's code to confirm."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. 'patient request of 2026-01-05')."),
    clinic: OptionalClinicOpt = None,
) -> None:
    """Erase one patient's clinical record on request; the audit trail keeps who erased it and when."""
    from strigil.services.privacy import erase_patient

    def erase(db: Any, clinic_id: int, actor: Any) -> Any:
        return erase_patient(db, clinic_id, code, actor, confirm=confirm, reason=reason)

    report = _run(clinic, erase)
    removed = ", ".join(f"{table} {n}" for table, n in report.removed.items() if n)
    typer.echo(f"erased patient {code} ({report.public_id}): {removed}; the audit trail records it")


def register(app: typer.Typer) -> None:
    """Add `strigil privacy` to the CLI."""
    app.add_typer(privacy_app, name="privacy")
