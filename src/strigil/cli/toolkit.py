"""What every `strigil` command shares: the error exit, common options, reading input, one transaction.

An expected failure — bad input, an unknown patient, a refused record, an unreadable file — prints one line
`error: ...` per problem to stderr (naming the field, the value and what is allowed) and exits with status 2,
with the database unchanged. Commands import this module's helpers instead of writing their own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "DEFAULT_CLINIC",
    "EXIT_INPUT",
    "ClinicOpt",
    "JsonOpt",
    "OptionalClinicOpt",
    "cli_actor",
    "clinic_id",
    "errors",
    "fail",
    "fail_all",
    "new_file",
    "only_clinic",
    "parse_date",
    "print_json",
    "read_json",
    "unit_of_work",
]

EXIT_INPUT = 2  # bad input or a refused action: nothing was written

DEFAULT_CLINIC = "main"
ClinicOpt = Annotated[str, typer.Option("--clinic", help="Clinic code (see `strigil init`).")]
OptionalClinicOpt = Annotated[
    str | None, typer.Option("--clinic", help="Clinic code (default: the database's only clinic).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


def fail(message: str) -> NoReturn:
    """Print `error: message` to stderr and exit with status 2."""
    fail_all([message])


def fail_all(messages: Iterable[str]) -> NoReturn:
    """Print one `error:` line per problem and exit with status 2."""
    for message in messages:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_INPUT)


@contextmanager
def errors() -> Iterator[None]:
    """Turn the expected failures of services and the core into `error:` lines and exit status 2."""
    from strigil.catalog import UnknownCode
    from strigil.force import RecordingError, ReliabilityError, SettingsError, TargetError
    from strigil.services.errors import InvalidInput, RecordError
    from strigil.services.meta_analysis import MetaInputError
    from strigil.store.database import DatabaseFileProblem

    try:
        yield
    except InvalidInput as exc:
        fail_all(str(p) for p in exc.problems)
    except (RecordError, UnknownCode, MetaInputError, DatabaseFileProblem) as exc:
        fail(str(exc))
    except (RecordingError, SettingsError, ReliabilityError, TargetError) as exc:
        fail(str(exc))


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """One command = one transaction on the clinic database (or `url`); errors exit 2 and roll back."""
    from strigil.store.database import open_database

    try:
        database = open_database(url)
    except Exception as exc:  # a bad STRIGIL_DATABASE_URL or an unreachable server
        fail(f"cannot open the database: {exc}")
    try:
        with errors(), database.unit_of_work() as session:
            yield session
    finally:
        database.dispose()


def clinic_id(db: Session, code: str) -> int:
    """The id of the clinic with this code (NotFound otherwise)."""
    from strigil.services.clinics import get_clinic

    return get_clinic(db, code).id


def only_clinic(db: Session, clinic: str | None) -> str:
    """The clinic to work on: the one named, else the database's only clinic."""
    from sqlalchemy import select

    from strigil.store.record import ClinicRow

    codes = list(db.scalars(select(ClinicRow.code).order_by(ClinicRow.code)))
    if clinic is not None:
        if clinic not in codes:
            fail(f"--clinic: {clinic!r} is not a clinic here; allowed: {', '.join(codes) or 'none'}")
        return clinic
    if len(codes) != 1:
        fail(f"--clinic: this database has {len(codes)} clinics; name one of: {', '.join(codes) or 'none'}")
    return codes[0]


def cli_actor(db: Session, clinic: int, role: str = "admin", *, by: str | None = None) -> Any:
    """The audit trail's actor for a command run by this operating-system user, or by the person `--by`
    names (a clinician acting through the command line)."""
    import getpass

    from strigil.services.audit import Actor

    who = by.strip() if by and by.strip() else f"cli:{getpass.getuser()}"
    return Actor(None, who[:64], role, clinic, "", "cli")


def parse_date(value: str, field: str) -> dt.date:
    """An ISO date (YYYY-MM-DD) from an option, or exit 2 naming the option."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{field}: {value!r} is not a date; allowed: YYYY-MM-DD")


def read_json(path: Path, *, schema: str | None = None, object_only: bool = False) -> Any:
    """A JSON document from a file; `schema` names the `strigil schema` that describes it."""
    hint = f"; see `strigil schema {schema}`" if schema else ""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"FILE: {str(path)!r} does not exist; give a JSON file{hint}")
    except IsADirectoryError:
        fail(f"FILE: {str(path)!r} is a folder; give a JSON file{hint}")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"FILE: {str(path)!r} cannot be read ({exc}){hint}")
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        fail(f"FILE: {str(path)!r} is not valid JSON ({where}){hint}")
    if object_only and not isinstance(doc, dict):
        fail(f"FILE: the document is a JSON {type(doc).__name__}; allowed: one JSON object{hint}")
    return doc


def new_file(path: Path, option: str = "--output") -> Path:
    """A path to write that does not exist yet: exports never overwrite a file."""
    if path.exists():
        fail(f"{option}: {str(path)!r} already exists; exports never overwrite a file")
    return path


def print_json(doc: Any, **options: Any) -> None:
    """Print one JSON document on standard output (`options` go to json.dumps)."""
    typer.echo(json.dumps(doc, **options))
