"""The clinical record's commands: init, clinician, patient, episode, session, measure, adverse, export csv,
backup/restore, demo and `strigil main` (the demo clinic's episode with its progress).

Every command is a thin shell over one service function. Errors print `error: ...` naming the field, the
value and what is allowed, exit with status 2, and leave the database unchanged (one transaction per command).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from strigil.cli import register_schema

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from strigil.services.views import EpisodeView

__all__ = ["register"]

ClinicOpt = Annotated[str, typer.Option("--clinic", help="Clinic code (see `strigil init`).")]
DEFAULT_CLINIC = "main"

patient_app = typer.Typer(help="Pseudonymous patients: add, list, show.", no_args_is_help=True)
episode_app = typer.Typer(help="Episodes of care: open, close, show, tidier.", no_args_is_help=True)
session_app = typer.Typer(
    help="Treatment sessions: record a whole session from JSON; amend it.", no_args_is_help=True
)
measure_app = typer.Typer(help="Outcome measurements between sessions.", no_args_is_help=True)
adverse_app = typer.Typer(help="Adverse responses: add, resolve.", no_args_is_help=True)
clinician_app = typer.Typer(help="Clinicians of the clinic: add, list.", no_args_is_help=True)
export_app = typer.Typer(
    name="export", help="Analysis-ready exports of the clinic's record.", no_args_is_help=True
)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _unit(url: str | None = None) -> Iterator[Session]:
    """One command = one transaction; domain errors become `error:` lines and exit status 2."""
    from strigil.catalog import UnknownCode
    from strigil.services.errors import InvalidInput, RecordError
    from strigil.store.database import open_database

    try:
        db = open_database(url)
    except Exception as exc:  # a bad STRIGIL_DATABASE_URL or an unreachable server
        _fail(f"cannot open the database: {exc}")
    try:
        with db.unit_of_work() as s:
            yield s
    except InvalidInput as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    except (RecordError, UnknownCode) as exc:
        _fail(str(exc))
    finally:
        db.dispose()


def _clinic_id(s: Session, code: str) -> int:
    from strigil.services.clinics import get_clinic

    return get_clinic(s, code).id


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{field}: {value!r} is not a date; allowed: YYYY-MM-DD")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        _fail(f"FILE: {str(path)!r} does not exist; give a JSON file (see `strigil schema session`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"FILE: {str(path)!r} is not valid JSON ({exc}); see `strigil schema session`")


# ---- init and clinicians ----------------------------------------------------------------------------


def init(
    clinic: ClinicOpt = DEFAULT_CLINIC,
    name: Annotated[str, typer.Option(help="The clinic's name.")] = "My clinic",
) -> None:
    """Create (or migrate) the clinic database and the clinic."""
    from strigil.services.clinics import ensure_clinic
    from strigil.settings import get_settings

    with _unit() as s:
        c = ensure_clinic(s, clinic, name)
    typer.echo(f"clinic {c.code!r} ready in {get_settings().resolved_database_url()}")


@clinician_app.command("add")
def clinician_add(
    code: Annotated[str, typer.Argument(help="Clinician code (letters, digits, - and _).")],
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    profession: Annotated[
        str,
        typer.Option(help="athletic_trainer, physical_therapist, chiropractor, massage_therapist or other."),
    ],
    years: Annotated[int, typer.Option(help="Years of clinical experience.")],
    course: Annotated[list[str] | None, typer.Option(help="Formal IASTM course (repeatable).")] = None,
    informal: Annotated[list[str] | None, typer.Option(help="Informal IASTM training (repeatable).")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Add a clinician (profession, IASTM training, experience)."""
    from strigil.services.clinics import add_clinician

    training = [{"course": c, "formal": True} for c in course or []]
    training += [{"course": c, "formal": False} for c in informal or []]
    with _unit() as s:
        view = add_clinician(
            s,
            _clinic_id(s, clinic),
            {
                "code": code,
                "name": name,
                "profession": profession,
                "years_experience": years,
                "training": training,
            },
        )
    typer.echo(f"clinician {view.code} added")


@clinician_app.command("list")
def clinician_list(clinic: ClinicOpt = DEFAULT_CLINIC) -> None:
    """List the clinic's clinicians."""
    from strigil.services.clinics import list_clinicians

    with _unit() as s:
        for c in list_clinicians(s, _clinic_id(s, clinic)):
            typer.echo(f"{c.code}\t{c.profession}\t{c.years_experience} y\t{c.name}")


# ---- patients ---------------------------------------------------------------------------------------


@patient_app.command("add")
def patient_add(
    code: Annotated[str, typer.Argument(help="Pseudonymous code (no names).")],
    birth_year: Annotated[int, typer.Option("--birth-year", help="Year of birth.")],
    sex: Annotated[str, typer.Option(help="female, male, other or unknown.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Register a patient by pseudonymous code, year of birth and sex."""
    from strigil.services.patients import add_patient

    with _unit() as s:
        view = add_patient(s, _clinic_id(s, clinic), {"code": code, "birth_year": birth_year, "sex": sex})
    typer.echo(f"patient {view.code} added")


@patient_app.command("list")
def patient_list(
    clinic: ClinicOpt = DEFAULT_CLINIC,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List the clinic's patients (one page)."""
    from strigil.services.patients import list_patients

    with _unit() as s:
        for p in list_patients(s, _clinic_id(s, clinic), limit=limit, offset=offset):
            typer.echo(f"{p.code}\t{p.birth_year}\t{p.sex}")


@patient_app.command("show")
def patient_show(code: str, clinic: ClinicOpt = DEFAULT_CLINIC) -> None:
    """Show a patient and their episodes."""
    from strigil.services.patients import show_patient

    with _unit() as s:
        p = show_patient(s, _clinic_id(s, clinic), code)
    typer.echo(f"patient {p.code}: born {p.birth_year}, {p.sex} (version {p.version})")
    for e in p.episodes:
        state = f"closed {e.closed_on}" if e.closed_on else "open"
        typer.echo(
            f"  episode {e.id}: {e.condition}, {e.region} {e.side}, opened {e.opened_on}, {state}, "
            f"{e.sessions} sessions"
        )


# ---- episodes ---------------------------------------------------------------------------------------


@episode_app.command("open")
def episode_open(
    patient: Annotated[str, typer.Option(help="Patient code.")],
    condition: Annotated[str, typer.Option(help="Condition code (catalogue).")],
    region: Annotated[str, typer.Option(help="Body region code (catalogue).")],
    side: Annotated[str, typer.Option(help="left, right, bilateral or midline.")],
    tissue: Annotated[
        str,
        typer.Option(help="Target tissue: tendon, fascia, muscle, ligament, nerve, joint, scar or mixed."),
    ],
    onset: Annotated[str, typer.Option(help="Onset date YYYY-MM-DD.")],
    opened: Annotated[str, typer.Option(help="Opening date YYYY-MM-DD.")],
    care: Annotated[
        list[str] | None, typer.Option(help="Planned co-intervention (repeatable), e.g. strengthening.")
    ] = None,
    goal: Annotated[list[str] | None, typer.Option(help="Goal (repeatable).")] = None,
    consent_date: Annotated[
        str | None, typer.Option("--consent-date", help="Date of informed consent.")
    ] = None,
    explained: Annotated[
        list[str] | None, typer.Option(help="What consent explained (repeatable), e.g. bruising.")
    ] = None,
    no_iastm: Annotated[bool, typer.Option("--no-iastm", help="No IASTM is planned.")] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why IASTM without an active exercise component.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who opens the episode.")] = "",
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Open an episode of care (IASTM needs an active exercise component, or a recorded reason)."""
    from strigil.services.episodes import open_episode

    plan: dict[str, Any] = {
        "condition": condition,
        "region": region,
        "side": side,
        "target_tissue": tissue,
        "onset_date": onset,
        "opened_on": opened,
        "goals": goal or [],
        "planned_iastm": not no_iastm,
        "planned_co_interventions": care or [],
        "exercise_first_reason": reason,
        "consent": {"given_on": consent_date, "explained": explained or []} if consent_date else None,
    }
    with _unit() as s:
        view = open_episode(s, _clinic_id(s, clinic), patient, plan, by=by)
    typer.echo(
        f"episode {view.id} opened for {view.patient_code} ({view.phase} phase at opening; cut-offs: "
        "configurable heuristic)"
    )


@episode_app.command("close")
def episode_close(
    episode_id: Annotated[int, typer.Argument(help="Episode id.")],
    on: Annotated[str, typer.Option(help="Closing date YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(help="Why (discharged, referred, ...).")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Close an episode of care."""
    from strigil.services.episodes import close_episode

    with _unit() as s:
        close_episode(s, _clinic_id(s, clinic), episode_id, _date(on, "on"), reason)
    typer.echo(f"episode {episode_id} closed")


@episode_app.command("show")
def episode_show(
    episode_id: Annotated[int, typer.Argument(help="Episode id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Show an episode with its sessions and progress."""
    from dataclasses import asdict

    from strigil.services.episodes import show_episode

    with _unit() as s:
        view = show_episode(s, _clinic_id(s, clinic), episode_id)
    if as_json:
        typer.echo(json.dumps(asdict(view), default=str, indent=2))
    else:
        print_episode(view)


@episode_app.command("tidier")
def episode_tidier(
    episode_id: Annotated[int, typer.Argument(help="Episode id.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Describe the episode's IASTM as the 12 TIDieR items (Hoffmann et al. BMJ 2014)."""
    from dataclasses import asdict

    from strigil.clinical.tidier import render_tidier
    from strigil.services.clinics import get_clinic
    from strigil.services.episodes import show_episode

    with _unit() as s:
        c = get_clinic(s, clinic)
        view = show_episode(s, c.id, episode_id)
    for item in render_tidier(asdict(view), c.name):
        typer.echo(f"{item.number}. {item.name}: {item.text}")


# ---- sessions, measures, adverse responses ----------------------------------------------------------


@session_app.command("record")
def session_record(
    file: Annotated[Path, typer.Argument(help="The session as JSON (schema: `strigil schema session`).")],
    by: Annotated[str, typer.Option(help="Who records it.")] = "",
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record a whole session (steps, measures, adverse responses) from one JSON document."""
    from strigil.services.sessions import record_session

    doc = _read_json(file)
    if not isinstance(doc, dict):
        _fail("FILE: the document must be a JSON object; see `strigil schema session`")
    with _unit() as s:
        saved = record_session(s, _clinic_id(s, clinic), doc, by=by)
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

    doc = _read_json(file)
    if not isinstance(doc, dict):
        _fail("FILE: the document must be a JSON object; see `strigil schema session`")
    with _unit() as s:
        saved = amend_session(s, _clinic_id(s, clinic), session_id, doc, by=by, reason=reason)
    typer.echo(f"session {saved.id} amended (now version {saved.version})")


@measure_app.command("add")
def measure_add(
    episode: Annotated[int, typer.Option(help="Episode id.")],
    measure: Annotated[str, typer.Option(help="Measure code (catalogue), e.g. nprs, lefs.")],
    value: Annotated[float, typer.Option(help="Value in the measure's unit.")],
    on: Annotated[str, typer.Option(help="Date taken YYYY-MM-DD.")],
    timing: Annotated[str, typer.Option(help="between (default), or pre/post with --session.")] = "between",
    session: Annotated[int | None, typer.Option(help="Session id for pre/post.")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record an outcome measurement."""
    from strigil.services.outcomes import add_measurement

    with _unit() as s:
        m = add_measurement(
            s,
            _clinic_id(s, clinic),
            episode,
            measure,
            value,
            taken_on=_date(on, "on"),
            timing=timing,
            session_id=session,
        )
    typer.echo(f"measurement {m.id} recorded: {m.measure} = {m.value:g} ({m.timing})")


@adverse_app.command("add")
def adverse_add(
    episode: Annotated[int, typer.Option(help="Episode id.")],
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
    session: Annotated[int | None, typer.Option(help="Session id it followed.")] = None,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record an adverse response."""
    from strigil.services.outcomes import add_adverse_response

    data = {
        "kind": kind,
        "severity": severity,
        "onset_on": onset,
        "resolved_on": resolved,
        "region": region,
        "note": note,
    }
    with _unit() as s:
        a = add_adverse_response(s, _clinic_id(s, clinic), episode, data, session_id=session)
    typer.echo(f"adverse response {a.id} recorded: {a.kind} ({a.severity})")


@adverse_app.command("resolve")
def adverse_resolve(
    adverse_id: Annotated[int, typer.Argument(help="Adverse response id.")],
    on: Annotated[str, typer.Option(help="Resolution date YYYY-MM-DD.")],
    by: Annotated[str, typer.Option(help="Who records it.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record when an adverse response resolved (kept as an amendment)."""
    from strigil.services.outcomes import resolve_adverse_response

    with _unit() as s:
        resolve_adverse_response(s, _clinic_id(s, clinic), adverse_id, _date(on, "on"), by=by)
    typer.echo(f"adverse response {adverse_id} resolved on {on}")


# ---- export, backup, restore -----------------------------------------------------------------------


@export_app.command("csv")
def export_csv(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """The clinic's record as one analysis-ready long table (one row per measurement)."""
    from strigil.services.export import write_csv

    if output is not None and output.exists():
        _fail(f"--output: {str(output)!r} already exists; exports never overwrite a file")
    with _unit() as s:
        clinic_id = _clinic_id(s, clinic)
        if output is None:
            write_csv(s, clinic_id, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as out:
            n = write_csv(s, clinic_id, out)
    typer.echo(f"{n} rows written to {output}", err=True)


def backup(path: Annotated[Path, typer.Argument(help="New file for the backup.")]) -> None:
    """Copy the clinic database to PATH (consistent, while others keep working)."""
    from strigil.services.backup import backup as do_backup
    from strigil.settings import get_settings

    with _unit():  # migrates a fresh database and turns errors into messages
        pass
    with _errors():
        do_backup(get_settings().resolved_database_url(), path)
    typer.echo(f"backup written to {path}")


def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `strigil backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a database that holds patients.")
    ] = False,
) -> None:
    """Restore the clinic database from a backup."""
    from strigil.services.backup import restore as do_restore
    from strigil.settings import get_settings

    with _errors():
        target = do_restore(get_settings().resolved_database_url(), path, replace=replace)
    typer.echo(f"restored {path} into {target}")


@contextmanager
def _errors() -> Iterator[None]:
    from strigil.services.errors import InvalidInput, RecordError

    try:
        yield
    except InvalidInput as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    except RecordError as exc:
        _fail(str(exc))


# ---- demo and main ---------------------------------------------------------------------------------


def demo(
    patients: Annotated[int, typer.Option(min=1, max=1_000_000, help="Number of patients.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same clinic).")] = 1,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default: the demo database file).")
    ] = None,
    bulk: Annotated[
        bool | None, typer.Option("--bulk/--no-bulk", help="Bulk path (default above 2,000).")
    ] = None,
) -> None:
    """Build a realistic synthetic clinic in the demo database (never the clinic's)."""
    from rich.progress import Progress

    from strigil.services.demo import build_demo, write_bulk
    from strigil.settings import demo_database_url, get_settings
    from strigil.store.database import open_database

    url = database or demo_database_url()
    if url == get_settings().resolved_database_url():
        _fail(
            f"--database: {url!r} is the clinic's own database; demo data never goes there — "
            "give another --database or leave it out (the demo file beside the clinic's)"
        )
    db = open_database(url)
    use_bulk = patients > 2000 if bulk is None else bulk
    with _errors(), Progress(transient=True) as progress:
        task = progress.add_task(f"demo clinic ({'bulk' if use_bulk else 'services'})", total=patients)
        step = lambda n: progress.advance(task, n)  # noqa: E731
        if use_bulk:
            write_bulk(db, patients, seed, progress=step)
        else:
            build_demo(db, patients, seed, progress=step)
    db.dispose()
    typer.echo(f"demo clinic with {patients} patients (seed {seed}) in {db.url}")


def main_job(
    patients: Annotated[int, typer.Option(min=1, max=2000, help="Patients in a new demo clinic.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of a new demo clinic.")] = 1,
    patient: Annotated[
        str | None, typer.Option(help="Which patient to show (default: a typical one).")
    ] = None,
) -> None:
    """Create or reuse the demo clinic (demo database) and print one patient's episode with its progress."""
    from sqlalchemy import case, func, select

    from strigil.services.demo import CLINIC_CODE, build_demo
    from strigil.services.episodes import show_episode
    from strigil.services.patients import find_patient
    from strigil.settings import demo_database_url
    from strigil.store.database import open_database
    from strigil.store.record import ClinicRow, EpisodeRow, PatientRow, SessionRow

    url = demo_database_url()
    db = open_database(url)
    with db.unit_of_work() as s:
        exists = s.scalar(select(ClinicRow.id).where(ClinicRow.code == CLINIC_CODE))
    if exists is None:
        typer.echo(f"building the demo clinic ({patients} patients, seed {seed}) in {url} …", err=True)
        from rich.progress import Progress

        with _errors(), Progress(transient=True) as progress:
            task = progress.add_task("demo clinic", total=patients)
            build_demo(db, patients, seed, progress=lambda n: progress.advance(task, n))
    with _errors(), db.unit_of_work() as s:
        clinic_id = s.scalar(select(ClinicRow.id).where(ClinicRow.code == CLINIC_CODE))
        assert clinic_id is not None
        if patient is None:
            # Show a full course: the longest episode that ended in discharge (earliest code on ties).
            discharged = func.max(case((SessionRow.clinician_decision == "discharge", 1), else_=0))
            episode_id = s.scalar(
                select(EpisodeRow.id)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .join(SessionRow, SessionRow.episode_id == EpisodeRow.id)
                .where(PatientRow.clinic_id == clinic_id)
                .group_by(EpisodeRow.id, PatientRow.code)
                .order_by(discharged.desc(), func.count().desc(), PatientRow.code)
                .limit(1)
            )
        else:
            row = find_patient(s, clinic_id, patient)
            episode_id = s.scalar(select(EpisodeRow.id).where(EpisodeRow.patient_id == row.id).limit(1))
        if episode_id is None:
            _fail("the demo clinic has no episode to show")
        view = show_episode(s, clinic_id, episode_id)
    db.dispose()
    print_episode(view)


def print_episode(view: EpisodeView) -> None:
    """Render an episode and its progress as rich tables."""
    from rich.console import Console
    from rich.table import Table

    from strigil.catalog import load_catalog

    cat = load_catalog()
    console = Console(width=None if sys.stdout.isatty() else 150)
    condition = cat.conditions[view.condition]
    claimed = " [yellow](only claimed by clinics, not studied)[/]" if condition.evidence == "claimed" else ""
    console.print(
        f"[bold]Patient {view.patient_code}[/] — episode {view.id}: {condition.name}{claimed}, "
        f"{cat.regions[view.region].name.lower()} ({view.side}); target tissue {view.target_tissue}"
    )
    console.print(
        f"Onset {view.onset_date}, opened {view.opened_on} — {view.phase} phase at opening "
        "(cut-offs: configurable heuristic)"
        + (f"; closed {view.closed_on}: {view.close_reason}" if view.closed_on else "")
    )
    console.print(
        f"Planned care: IASTM with {', '.join(view.planned_co_interventions) or 'nothing else'}; "
        f"consent {view.consent_on or 'not recorded'}"
        + (f" (explained: {', '.join(view.consent_explained)})" if view.consent_explained else "")
    )
    table = Table(title="Sessions and progress (measures pre→post IASTM; (between sessions))")
    for column in (
        "#",
        "date",
        "by",
        "IASTM",
        "strokes",
        "measures",
        "adverse",
        "tolerance",
        "decision aid",
        "clinician decided",
    ):
        table.add_column(column)
    for s in view.sessions:
        table.add_row(
            str(s.number),
            str(s.date),
            s.clinician_code,
            f"{s.iastm_seconds / 60:.1f} min",
            ", ".join(st.stroke for st in s.steps) or "—",
            _measures_text(s.measurements),
            ", ".join(f"{a.kind} ({a.severity})" for a in s.adverse_responses) or "—",
            s.tolerance or "—",
            (s.recommendation or {}).get("recommendation") or "—",
            s.clinician_decision or "—",
        )
    console.print(table)
    _print_change(console, view)


def _measures_text(measurements: Any) -> str:
    pairs: dict[str, dict[str, float]] = {}
    for m in measurements:
        pairs.setdefault(m.measure, {})[m.timing] = m.value
    parts = []
    for code, values in pairs.items():
        if "pre" in values or "post" in values:
            parts.append(f"{code} {values.get('pre', float('nan')):g}→{values.get('post', float('nan')):g}")
        if "between" in values:
            parts.append(f"({code} {values['between']:g})")
    return ", ".join(parts) or "—"


def _print_change(console: Any, view: EpisodeView) -> None:
    from strigil.catalog import load_catalog

    cat = load_catalog()
    by_measure: dict[str, list[tuple[dt.date, float]]] = {}
    numbers = {s.id: s for s in view.sessions}
    for m in view.measurements:
        if m.timing in ("pre", "between"):
            by_measure.setdefault(m.measure, []).append((m.taken_on, m.value))
    for code, series in by_measure.items():
        if len(series) < 2 or code not in cat.measures:
            continue
        measure = cat.measures[code]
        change = measure.improvement(series[0][1], series[-1][1])
        mcid = next((t for t in measure.mcids if t.verified and t.value is not None), None)
        bar = (
            f"MCID {mcid.value:g} {measure.unit} ({mcid.population}; {mcid.source.split(' — ')[0]})"
            if mcid
            else "no MCID in the catalogue"
        )
        console.print(
            f"{measure.name}: {series[0][1]:g} → {series[-1][1]:g} ({'+' if change >= 0 else ''}"
            f"{change:g} {measure.unit} improvement); {bar}"
        )
    if not numbers:
        console.print("No sessions recorded yet.")


# ---- the session document's schema -----------------------------------------------------------------


def _session_schema() -> dict[str, Any]:
    from strigil.clinical.session import SessionRecord

    schema = SessionRecord.model_json_schema()
    schema["title"] = "strigil session record"
    return schema


def register(app: typer.Typer) -> None:
    """Add the clinical record's commands to `strigil`."""
    app.command("init")(init)
    app.add_typer(clinician_app, name="clinician")
    app.add_typer(patient_app, name="patient")
    app.add_typer(episode_app, name="episode")
    app.add_typer(session_app, name="session")
    app.add_typer(measure_app, name="measure")
    app.add_typer(adverse_app, name="adverse")
    app.add_typer(export_app, name="export")
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("demo")(demo)
    app.command("main")(main_job)
    register_schema("session", _session_schema)
