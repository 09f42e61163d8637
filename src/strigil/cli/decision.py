"""Decision-support commands: `strigil screen FILE.json [--episode ID]` and `strigil respond FILE.json`.

Thin shell: read the JSON document, hand it to the pure rules in `strigil.clinical` (or, with `--episode`,
to the record's screening service, which stores it on the episode), print the result. Bad input prints
`error: ...` (field, value, what is allowed) to stderr and exits with status 2; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from strigil.cli import register_schema
from strigil.cli.toolkit import (
    DEFAULT_CLINIC,
    ID_HELP,
    PUBLIC_ID_SCHEMA,
    ClinicOpt,
    audited,
    clinic_id,
    fail,
    read_json,
    record_id,
    unit_of_work,
)

__all__ = [
    "register",
    "respond_command",
    "screen_command",
]


def _run(build: Callable[[dict[str, Any]], Any], path: Path) -> Any:
    doc = read_json(path, object_only=True)
    try:
        return build(doc)
    except ValueError as exc:  # includes UnknownCode and pydantic's ValidationError
        fail(str(exc))


def screen_command(
    file: Path = typer.Argument(
        ..., help="JSON document: region, findings, prior_adverse_responses, intolerance."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    episode: str | None = typer.Option(
        None,
        "--episode",
        help="Store the screening on this episode (with its own adverse responses); the next session "
        "is gated on it. " + ID_HELP.format("Episode"),
    ),
    by: str = typer.Option("", "--by", help="Who screened (with --episode)."),
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Screen a patient for contraindications and precautions before a session."""
    from strigil.clinical.screening import screen_document

    doc = read_json(file, object_only=True)
    target = doc.get("episode_id") if episode is None else episode
    if episode is not None and doc.get("episode_id") not in (None, episode):
        fail(f"--episode: {episode} but the document names episode_id {doc['episode_id']}; give one")
    if target is None:
        result = _run(screen_document, file)
        out = result.to_json()
    else:
        from strigil.services.episodes import find_episode
        from strigil.services.screening import record_screening

        with unit_of_work() as s:
            cid = clinic_id(s, clinic)
            episode_id = record_id(s, cid, "episode", str(target))
            stored, result = record_screening(s, cid, episode_id, doc, by=by)
            episode_row, patient = find_episode(s, cid, stored.episode_id)
            audited(s, cid, "create", "screening", stored.id, patient_id=patient.id)
        out = {**result.to_json(), "episode_id": episode_row.public_id, "screening_id": stored.public_id}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"verdict: {out['verdict']} (region {out['region']})")
    if out.get("screening_id"):
        typer.echo(f"  stored as screening {out['screening_id']} of episode {out['episode_id']}")
    if out["referral"]:
        typer.echo(f"  referral: {out['referral']} — refer the same day")
    if out["consult_required"]:
        typer.echo(f"  consult required: {out['consult_source']}")
    for r in out["reasons"]:
        detail = f" ({r['detail']})" if r["detail"] else ""
        typer.echo(f"  - {r['kind']} ({r['scope']}): {r['name']}{detail} — {r['advice']}")
        typer.echo(f"    source: {r['source']}")
    for a in out["alternatives_detail"]:
        typer.echo(f"  instead: {a['text']}")
    for n in out["notes"]:
        typer.echo(f"  note: {n['name']}: {n['detail']}")
    for a in out["assumptions"]:
        typer.echo(f"  assumed: {a}")
    for c in out["caveats"]:
        typer.echo(f"  caveat: {c}")


def respond_command(
    file: Path = typer.Argument(..., help="JSON document: measures, goal, adverse_responses, settings."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Judge the patient's response (test–treat–retest) and recommend what to do next."""
    from strigil.clinical.response import recommend_document

    result = _run(recommend_document, file)
    out = result.to_json()
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"recommendation: {out['recommendation']}")
    for r in out["reasons"]:
        typer.echo(f"  - {r['text']}  [{r['rule']}]")
    typer.echo(f"  plan: {out['advice']}")
    for m, measure in zip(out["measures"], result.measures, strict=True):
        bar = measure.bar.describe(measure.baseline) if measure.bar else "not judged"
        within, between = (
            "not measured" if v is None else f"{v:g}" for v in (m["within_change"], m["between_change"])
        )
        typer.echo(f"  {m['measure']}: within {within}, between {between}; bar {bar}")
    for h in out["heuristics"]:
        typer.echo(f"  {h['setting']} = {h['value']} ({h['label']})")
    if out["follow_up_questions"]:
        typer.echo(f"  ask at the start of session {out['latest_session'] + 1}:")
        for q in out["follow_up_questions"]:
            typer.echo(f"    ? {q['question']}")


def _screen_schema() -> dict[str, Any]:
    from strigil.clinical.screening import ScreenDocument

    schema = ScreenDocument.model_json_schema()
    if "episode_id" in schema.get("properties", {}):  # named by public id, as everywhere outside the server
        schema["properties"]["episode_id"] = dict(PUBLIC_ID_SCHEMA)
    return schema


def _respond_schema() -> dict[str, Any]:
    from strigil.clinical.response import respond_schema

    return respond_schema()


def register(app: typer.Typer) -> None:
    """Add `screen` and `respond` to the `strigil` command and publish their input schemas."""
    app.command("screen")(screen_command)
    app.command("respond")(respond_command)
    register_schema("screen", _screen_schema)
    register_schema("respond", _respond_schema)
