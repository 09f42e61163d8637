"""Decision-support commands: `strigil screen FILE.json` and `strigil respond FILE.json`.

Thin shell: read the JSON document, hand it to the pure rules in `strigil.clinical`, print the result.
Bad input prints `error: ...` (field, value, what is allowed) to stderr and exits with status 2; nothing is
written anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from strigil.cli import register_schema
from strigil.cli.toolkit import fail, read_json

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
) -> None:
    """Screen a patient for contraindications and precautions before a session."""
    from strigil.clinical.screening import screen_document

    result = _run(screen_document, file)
    out = result.to_json()
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"verdict: {out['verdict']} (region {out['region']})")
    for r in out["reasons"]:
        typer.echo(f"  - {r['kind']} ({r['scope']}): {r['name']} — {r['advice']}")
        typer.echo(f"    source: {r['source']}")
    for a in out["alternatives_detail"]:
        typer.echo(f"  instead: {a['text']}")
    for n in out["notes"]:
        typer.echo(f"  note: {n['name']}: {n['detail']}")
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
        typer.echo(
            f"  {m['measure']}: within {m['within_change']}, between {m['between_change']}; bar {bar}"
        )
    for h in out["heuristics"]:
        typer.echo(f"  {h['setting']} = {h['value']} ({h['label']})")
    if out["follow_up_questions"]:
        typer.echo(f"  ask at the start of session {out['latest_session'] + 1}:")
        for q in out["follow_up_questions"]:
            typer.echo(f"    ? {q['question']}")


def _screen_schema() -> dict[str, Any]:
    from strigil.clinical.screening import ScreenDocument

    return ScreenDocument.model_json_schema()


def _respond_schema() -> dict[str, Any]:
    from strigil.clinical.response import respond_schema

    return respond_schema()


def register(app: typer.Typer) -> None:
    """Add `screen` and `respond` to the `strigil` command and publish their input schemas."""
    app.command("screen")(screen_command)
    app.command("respond")(respond_command)
    register_schema("screen", _screen_schema)
    register_schema("respond", _respond_schema)
