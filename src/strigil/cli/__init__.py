"""The `strigil` command: one Typer app; each area of Strigil registers its own commands.

An area's commands live in `strigil.cli.<area>` and expose `register(app)`; `AREAS` lists them in the order
their commands appear in `--help` (a test checks that every area module is listed). An area that fails to
import fails the command loudly. Modules import their heavy dependencies (scipy, matplotlib, SQLAlchemy)
inside the commands, so `strigil --help` stays fast. Shared options and error exits: `strigil.cli.toolkit`.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

import typer

__all__ = [
    "AREAS",
    "app",
    "main",
    "register_schema",
    "schema",
]

app = typer.Typer(
    name="strigil",
    help="Evidence-based IASTM: clinical record, decision support, meta-analysis, registry analytics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _root() -> None:
    """Evidence-based IASTM: clinical record, decision support, meta-analysis, registry analytics."""


# name -> function returning a JSON Schema (dict); areas add theirs with register_schema.
_SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {}

# The areas, in the order their commands appear in --help.
AREAS = (
    "clinic",
    "patients",
    "episodes",
    "sessions",
    "outcomes",
    "decision",
    "exports",
    "demo",
    "meta",
    "evidence",
    "registry",
    "force",
    "fhir",
    "web",
    "privacy",
)


def register_schema(name: str, build: Callable[[], dict[str, Any]]) -> None:
    """Publish a JSON Schema under `strigil schema NAME`."""
    _SCHEMAS[name] = build


@app.command("schema")
def schema(
    name: str = typer.Argument(..., help="Which input schema to print (e.g. session, screen, respond)."),
) -> None:
    """Print the JSON Schema of an input document."""
    if name not in _SCHEMAS:
        known = ", ".join(sorted(_SCHEMAS)) or "none"
        typer.echo(f"error: no schema named {name!r}; known schemas: {known}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(_SCHEMAS[name](), indent=2, sort_keys=False))


def _guard(typer_app: typer.Typer) -> None:
    """Wrap every command (and sub-command) so that an unusable file ends in one `error:` line."""
    from strigil.cli.toolkit import expected_failures

    for command in typer_app.registered_commands:
        if command.callback is not None:
            command.callback = expected_failures(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard(group.typer_instance)


def _load_areas() -> None:
    for area in AREAS:
        importlib.import_module(f"strigil.cli.{area}").register(app)
    _guard(app)


_load_areas()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
