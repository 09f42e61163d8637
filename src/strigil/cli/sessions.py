"""Treatment sessions: `strigil session prepare|record|amend` (documents: `strigil schema session`).

`prepare` prints what to do at the start of the next session — the latest screening and the follow-up
questions; `record` passes the safety gates (or prints every reason it is refused, writing nothing) and prints
the screening it was gated on, any override, the recommendation and the questions for the session after.
"""

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
    "session_prepare",
    "session_record",
]

session_app = typer.Typer(
    help="Treatment sessions: prepare the next one; record a whole session from JSON; amend it.",
    no_args_is_help=True,
)


@session_app.command("prepare")
def session_prepare(
    episode_id: Annotated[int, typer.Argument(help="Episode id.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """The start of the next session: the latest screening to confirm or redo, and the questions to ask."""
    from strigil.services.episodes import show_episode
    from strigil.services.follow_up import questions_for_next_session

    with unit_of_work() as s:
        view = show_episode(s, clinic_id(s, clinic), episode_id)
    number = len(view.sessions) + 1
    typer.echo(f"session {number} of episode {view.id} ({view.patient_code})")
    latest = view.latest_screening
    if latest is None:
        typer.echo(
            "screening: none recorded — screen now (`strigil screen FILE --episode ID`, or \"screening\" in "
            "the session document)"
        )
    else:
        typer.echo(
            f"screening of {latest.screened_on}: {latest.verdict} ({latest.findings_text}); confirm with "
            '"screening": {"no_change": true} or screen anew'
        )
    questions = questions_for_next_session(view)
    if questions:
        typer.echo('ask first (record the answers under "follow_up": asked, reactions, resolved):')
        for q in questions:
            ref = f"  [adverse_id {q.adverse_id}]" if q.adverse_id else ""
            typer.echo(f"  ? {q.question}{ref}")
    typer.echo('and say whether the exercise programme was delivered ("exercise_delivered").')


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
    rec = saved.recommendation or {}
    typer.echo(
        f"session {saved.id} recorded (episode {saved.episode_id}, session {saved.number})"
        + (f"; decision aid suggests: {rec['recommendation']}" if rec.get("recommendation") else "")
    )
    screening = saved.screening or {}
    if screening:
        typer.echo(f"  screening: {screening['verdict']} ({screening['source']})")
        gates = screening.get("gates", {})
        for what in gates.get("overridden", []):
            typer.echo(f"  override: {what} — reason: {doc.get('override_reason')}")
        for dose in gates.get("doses", []):
            typer.echo(f"  dose: {dose['text']}")
        for note in gates.get("notes", []):
            typer.echo(f"  note: {note}")
    if rec.get("advice"):
        typer.echo(f"  plan: {rec['advice']}")
    questions = rec.get("follow_up_questions", [])
    if questions:
        typer.echo(f"  ask at the start of session {saved.number + 1}:")
        for q in questions:
            typer.echo(f"    ? {q['question']}")


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
