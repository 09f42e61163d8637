"""The demo clinic: `strigil demo` builds one; `strigil main` shows one patient's episode and progress."""

from __future__ import annotations

from typing import Annotated

import typer

from strigil.cli.episodes import print_episode
from strigil.cli.toolkit import errors, fail, progress_bar

__all__ = [
    "demo",
    "main_job",
    "register",
]

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
    from strigil.services.demo import build_demo, write_bulk
    from strigil.settings import demo_database_url, get_settings
    from strigil.store.database import open_database

    url = database or demo_database_url()
    if url == get_settings().resolved_database_url():
        fail(
            f"--database: {url!r} is the clinic's own database; demo data never goes there — "
            "give another --database or leave it out (the demo file beside the clinic's)"
        )
    db = open_database(url)
    use_bulk = patients > 2000 if bulk is None else bulk
    with errors(), progress_bar(f"demo clinic ({'bulk' if use_bulk else 'services'})", patients) as bar:
        if use_bulk:
            write_bulk(db, patients, seed, progress=bar.advance)
        else:
            build_demo(db, patients, seed, progress=bar.advance)
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
        with errors(), progress_bar("demo clinic", patients) as bar:
            build_demo(db, patients, seed, progress=bar.advance)
    with errors(), db.unit_of_work() as s:
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
            fail("the demo clinic has no episode to show")
        view = show_episode(s, clinic_id, episode_id)
    db.dispose()
    print_episode(view)


def register(app: typer.Typer) -> None:
    """Add `strigil demo` and `strigil main`."""
    app.command("demo")(demo)
    app.command("main")(main_job)
