"""What every `strigil` command shares: the error exit, common options, reading input, one transaction.

An expected failure — bad input, an unknown patient, a refused record, an unreadable file — prints one line
`error: ...` per problem to stderr (naming the field, the value and what is allowed) and exits with status 2,
with the database unchanged. Commands import this module's helpers instead of writing their own.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "DEFAULT_CLINIC",
    "EXIT_INPUT",
    "ID_HELP",
    "PUBLIC_ID_SCHEMA",
    "ClinicOpt",
    "JsonOpt",
    "OptionalClinicOpt",
    "ProgressBar",
    "audited",
    "audited_job",
    "cli_actor",
    "clinic_id",
    "errors",
    "expected_failures",
    "fail",
    "fail_all",
    "new_file",
    "only_clinic",
    "parse_date",
    "print_json",
    "progress_bar",
    "read_json",
    "read_text",
    "record_document",
    "record_id",
    "unit_of_work",
]

EXIT_INPUT = 2  # bad input or a refused action: nothing was written

_P = ParamSpec("_P")
_R = TypeVar("_R")

# Every command that works in one clinic defaults to the database's only clinic (`strigil init` makes "main");
# with several, it stops and asks for --clinic rather than guess which clinic's record to read or change.
DEFAULT_CLINIC: str | None = None
# Records are named by their public ids (strigil.services.record_ids), which the CLI prints; 32 hex digits
# are hard to type, so any unique prefix of at least 8 names the record within the clinic.
ID_HELP = "{} id: its public id as printed (32 hex digits) or a unique prefix of at least 8."
OptionalClinicOpt = Annotated[
    str | None, typer.Option("--clinic", help="Clinic code (default: the database's only clinic).")
]
ClinicOpt = OptionalClinicOpt
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


class ProgressBar:
    """A task of a rich progress bar: `advance` by a count, or `show` how far of how much."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def show(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[ProgressBar]:
    """A progress bar for long work, on stderr (so `--json` on stdout stays clean) and gone when the work
    ends; drawn only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    # not on a terminal (a pipe, a log file, CI): nothing at all, not even the blank line of a transient bar
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        yield ProgressBar(progress, progress.add_task(description, total=total))


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
    from sqlalchemy.exc import IntegrityError, OperationalError

    from strigil.catalog import UnknownCode
    from strigil.force import RecordingError, ReliabilityError, SettingsError, TargetError
    from strigil.services.errors import InvalidInput, RecordError
    from strigil.services.meta_analysis import MetaInputError
    from strigil.store.database import DatabaseFileProblem

    try:
        yield
    except OperationalError as exc:  # full disk, read-only file, a lock held too long, a server gone
        fail(f"the database refused the work ({exc.orig}); nothing was written — check it, then retry")
    except IntegrityError:  # two writers raced for the same slot; the transaction was rolled back whole
        fail("another change to the same record happened at the same moment; nothing was written — retry")
    except InvalidInput as exc:
        fail_all(str(p) for p in exc.problems)
    except (RecordError, UnknownCode, MetaInputError, DatabaseFileProblem) as exc:
        fail(str(exc))
    except (RecordingError, SettingsError, ReliabilityError, TargetError) as exc:
        fail(str(exc))


def _file_problem(exc: OSError) -> str:
    """One sentence for a file that could not be read or written (the path and the system's reason)."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return f"a file could not be read or written: {reason}"
    return f"{str(exc.filename)!r} cannot be read or written ({reason}); give a readable file or a new path"


def expected_failures(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap a command so that a file it cannot read or write ends in one `error:` line and exit 2.

    `strigil.cli` wraps every registered command with it: a folder given for a file, an output path under
    a regular file, a full disk or a file that is not UTF-8 text is the user's to fix, never a traceback.
    """

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except OSError as exc:
            fail(_file_problem(exc))
        except UnicodeDecodeError as exc:
            fail(f"a file given is not UTF-8 text (byte {exc.start}: {exc.reason}); give a UTF-8 text file")

    return run


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


def clinic_id(db: Session, code: str | None) -> int:
    """The id of the clinic with this code (None: the database's only clinic; see `only_clinic`)."""
    from strigil.services.clinics import get_clinic

    return get_clinic(db, only_clinic(db, code)).id


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


def cli_actor(db: Session | None, clinic: int | None, role: str = "admin", *, by: str | None = None) -> Any:
    """The audit trail's actor for a command run by this operating-system user, or by the person `--by`
    names (a clinician acting through the command line)."""
    import getpass

    from strigil.services.audit import Actor

    who = by.strip() if by and by.strip() else f"cli:{getpass.getuser()}"
    return Actor(None, who[:64], role, clinic, "", "cli")


def audited(
    db: Session,
    clinic: int,
    action: str,
    resource: str,
    resource_id: object = "",
    *,
    patient_id: int | None = None,
    detail: str = "",
) -> None:
    """Write the audit row of a command that read, wrote or exported patient data (channel "cli")."""
    from strigil.services.audit import record

    record(db, cli_actor(db, clinic), action, resource, resource_id, patient_id=patient_id, detail=detail)


def audited_job(
    db: Session, clinic: int, action: str, resource: str, patient_ids: Iterable[int], *, detail: str = ""
) -> None:
    """Audit a command over many patients: one row for the job, one per patient it touched."""
    from strigil.services.audit import record_job

    record_job(db, cli_actor(db, clinic), action, resource, patient_ids, detail=detail)


def parse_date(value: str, field: str) -> dt.date:
    """An ISO date (YYYY-MM-DD) from an option, or exit 2 naming the option."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{field}: {value!r} is not a date; allowed: YYYY-MM-DD")


def read_text(path: Path, option: str = "FILE", *, kind: str = "text file", hint: str = "") -> str:
    """The UTF-8 text of a file, or one `error:` line naming `option` (absent, folder, unreadable, binary)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{option}: {str(path)!r} does not exist; give a {kind}{hint}")
    except IsADirectoryError:
        fail(f"{option}: {str(path)!r} is a folder; give a {kind}{hint}")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}: {exc.reason}"
        fail(f"{option}: {str(path)!r} is not UTF-8 text ({where}); give a {kind}{hint}")
    except OSError as exc:
        fail(f"{option}: {str(path)!r} cannot be read ({exc.strerror or exc}){hint}")


def read_json(
    path: Path, *, schema: str | None = None, object_only: bool = False, option: str = "FILE"
) -> Any:
    """A JSON document from a file; `schema` names the `strigil schema` that describes it."""
    hint = f"; see `strigil schema {schema}`" if schema else ""
    text = read_text(path, option, kind="JSON file", hint=hint)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        fail(f"{option}: {str(path)!r} is not valid JSON ({where}){hint}")
    if object_only and not isinstance(doc, dict):
        fail(f"{option}: the document is a JSON {type(doc).__name__}; allowed: one JSON object{hint}")
    return doc


def new_file(path: Path, option: str = "--output") -> Path:
    """A path to write that does not exist yet: exports never overwrite a file."""
    if path.exists():
        fail(f"{option}: {str(path)!r} already exists; exports never overwrite a file")
    return path


def print_json(doc: Any, **options: Any) -> None:
    """Print one JSON document on standard output (`options` go to json.dumps)."""
    typer.echo(json.dumps(doc, **options))


PUBLIC_ID_SCHEMA = {
    "type": "string",
    "description": "the record's public id as printed (32 hex digits) or a unique prefix of at least 8",
}


def record_document(s: Any, clinic: int, doc: dict[str, Any]) -> dict[str, Any]:
    """A session or screening document as written (records named by public ids or unique prefixes) with the
    clinic's database ids in their place (`strigil.services.record_ids.inward_document`)."""
    from strigil.services.record_ids import inward_document

    return inward_document(s, clinic, doc, prefix=True)


def record_id(s: Any, clinic: int, kind: str, given: str) -> int:
    """The database id of the clinic's record of `kind` that `given` names (its public id or a unique prefix
    of at least 8 hex digits; the rule is `strigil.services.record_ids.resolve`)."""
    from strigil.services.record_ids import resolve

    return resolve(s, clinic, kind, given, prefix=True)
