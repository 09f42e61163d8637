"""Outcomes between and around sessions: `strigil measure add`, `strigil adverse add|resolve`."""

from __future__ import annotations

from typing import Annotated

import typer

from strigil.cli.toolkit import (
    DEFAULT_CLINIC,
    ID_HELP,
    ClinicOpt,
    audited,
    cli_actor,
    clinic_id,
    parse_date,
    record_id,
    unit_of_work,
)

__all__ = [
    "adverse_add",
    "adverse_app",
    "adverse_resolve",
    "measure_add",
    "measure_app",
    "register",
]

measure_app = typer.Typer(help="Outcome measurements between sessions.", no_args_is_help=True)
adverse_app = typer.Typer(help="Adverse responses: add, resolve.", no_args_is_help=True)


@measure_app.command("add")
def measure_add(
    episode: Annotated[str, typer.Option(help=ID_HELP.format("Episode"))],
    measure: Annotated[str, typer.Option(help="Measure code (catalogue), e.g. nprs, lefs.")],
    value: Annotated[float, typer.Option(help="Value in the measure's unit.")],
    on: Annotated[str, typer.Option(help="Date taken YYYY-MM-DD.")],
    timing: Annotated[str, typer.Option(help="between (default), or pre/post with --session.")] = "between",
    session: Annotated[str | None, typer.Option(help=ID_HELP.format("Session") + " For pre/post.")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record an outcome measurement."""
    from strigil.services.episodes import find_episode
    from strigil.services.outcomes import add_measurement

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        m = add_measurement(
            s,
            cid,
            episode_id,
            measure,
            value,
            taken_on=parse_date(on, "on"),
            timing=timing,
            session_id=None if session is None else record_id(s, cid, "session", session),
        )
        _, patient = find_episode(s, cid, episode_id)
        audited(s, cid, "create", "measurement", m.id, patient_id=patient.id)
    typer.echo(f"measurement {m.public_id} recorded: {m.measure} = {m.value:g} ({m.timing})")


@adverse_app.command("add")
def adverse_add(
    episode: Annotated[str, typer.Option(help=ID_HELP.format("Episode"))],
    kind: Annotated[
        str,
        typer.Option(
            help="petechiae, bruising, soreness, skin_irritation, pain_flare, paresthesia or other."
        ),
    ],
    severity: Annotated[str, typer.Option(help="mild, moderate or severe.")],
    onset: Annotated[str, typer.Option(help="Onset date YYYY-MM-DD.")],
    resolved: Annotated[str | None, typer.Option(help="Resolution date YYYY-MM-DD.")] = None,
    region: Annotated[str | None, typer.Option(help="Body region code.")] = None,
    session: Annotated[
        int | None, typer.Option(help="Number of the session it followed (1, 2, … in the episode).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record an adverse response against the session it followed, with its real onset (and resolution)."""
    from strigil.services.outcomes import add_adverse_response

    data = {
        "kind": kind,
        "severity": severity,
        "onset_on": onset,
        "resolved_on": resolved,
        "region": region,
        "note": note,
    }
    from strigil.services.episodes import find_episode

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        a = add_adverse_response(s, cid, episode_id, data, session_number=session)
        _, patient = find_episode(s, cid, episode_id)
        audited(s, cid, "create", "adverse_response", a.id, patient_id=patient.id)
    typer.echo(f"adverse response {a.public_id} recorded: {a.kind} ({a.severity})")


@adverse_app.command("resolve")
def adverse_resolve(
    adverse: Annotated[str, typer.Argument(help=ID_HELP.format("Adverse response"))],
    on: Annotated[str, typer.Option(help="Resolution date YYYY-MM-DD.")],
    by: Annotated[str, typer.Option(help="Who records it.")],
    where: Annotated[
        str | None, typer.Option(help="How it became known: seen in clinic, reported by phone, ...")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note on the resolution.")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record when an adverse response resolved (kept as an amendment; the note gets an addendum)."""
    from strigil.services.outcomes import resolve_adverse_response

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        adverse_id = record_id(s, cid, "adverse_response", adverse)
        resolve_adverse_response(
            s,
            cid,
            adverse_id,
            parse_date(on, "on"),
            by=by,
            where=where,
            note=note,
            actor=cli_actor(s, cid, "clinician", by=by),
        )
    typer.echo(f"adverse response {adverse} resolved on {on}")


def register(app: typer.Typer) -> None:
    """Add `strigil measure ...` and `strigil adverse ...`."""
    app.add_typer(measure_app, name="measure")
    app.add_typer(adverse_app, name="adverse")
