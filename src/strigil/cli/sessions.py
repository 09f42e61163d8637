"""Treatment sessions: `strigil session record|amend` from a JSON document (`strigil schema session`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strigil.cli import register_schema
from strigil.cli.toolkit import DEFAULT_CLINIC, ClinicOpt, clinic_id, read_json, unit_of_work

__all__ = [
    "register",
    "session_amend",
    "session_app",
    "session_record",
]

session_app = typer.Typer(
    help="Treatment sessions: record a whole session from JSON; amend it.", no_args_is_help=True
)


@session_app.command("record")
def session_record(
    file: Annotated[Path, typer.Argument(help="The session as JSON (schema: `strigil schema session`).")],
    by: Annotated[str, typer.Option(help="Who records it.")] = "",
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record a whole session (steps, measures, adverse responses) from one JSON document."""
    from strigil.services.sessions import record_session

    doc = read_json(file, schema="session", object_only=True)
    with unit_of_work() as s:
        saved = record_session(s, clinic_id(s, clinic), doc, by=by)
    rec = (saved.recommendation or {}).get("recommendation")
    typer.echo(
        f"session {saved.id} recorded (episode {saved.episode_id}, session {saved.number})"
        + (f"; decision aid suggests: {rec}" if rec else "")
    )


@session_app.command("amend")
def session_amend(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    file: Annotated[Path, typer.Argument(help="The corrected session as JSON.")],
    by: Annotated[str, typer.Option(help="Who corrects it.")],
    reason: Annotated[str, typer.Option(help="Why it is corrected.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Correct a recorded session; the earlier version is kept with who, when and why."""
    from strigil.services.sessions import amend_session

    doc = read_json(file, schema="session", object_only=True)
    with unit_of_work() as s:
        saved = amend_session(s, clinic_id(s, clinic), session_id, doc, by=by, reason=reason)
    typer.echo(f"session {saved.id} amended (now version {saved.version})")


def _session_schema() -> dict[str, Any]:
    from strigil.clinical.session import SessionRecord

    schema = SessionRecord.model_json_schema()
    schema["title"] = "strigil session record"
    return schema


def register(app: typer.Typer) -> None:
    """Add `strigil session ...` and the session schema."""
    app.add_typer(session_app, name="session")
    register_schema("session", _session_schema)
