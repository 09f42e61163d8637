"""How the web tests build their database: the real migrations, two clinics, a little clinical record each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from strigil.services import clinics, episodes, outcomes, patients, sessions
from strigil.services.record_ids import public_id_of
from strigil.store.database import migrate

TODAY = dt.date.today()
# Informed consent to IASTM names a risk, the alternatives and the exercise programme (as choices).
CONSENT = ["petechiae", "bruising", "alternatives", "exercise_programme"]


def create_schema(engine: Engine) -> None:
    """Empty database -> head, with Alembic (record's revisions, then the web's)."""
    migrate(engine)


def session_doc(
    episode_id: int | str, clinician: str, date: dt.date, pre: float, post: float
) -> dict[str, object]:
    """A valid session document with two dose steps and pain before and after."""
    step = {
        "region": "elbow",
        "side": "right",
        "instrument": "graston_set",
        "stroke": "sweep",
        "angle_deg": 45,
        "direction": "along",
        "pressure": "moderate",
        "duration_s": 90,
    }
    return {
        "episode_id": episode_id,
        "clinician": clinician,
        "date": date.isoformat(),
        "steps": [step, {**step, "stroke": "strum", "direction": "across", "duration_s": 60}],
        "measurements": [
            {"measure": "nprs", "timing": "pre", "value": pre},
            {"measure": "nprs", "timing": "post", "value": post},
        ],
        "tolerance": "well_tolerated",
        "exercise_delivered": True,
    }


def seed_clinic(db, number: int) -> dict[str, int | str]:  # type: ignore[no-untyped-def]
    """Clinic `number` with clinician C{n}, six patients (codes A… for clinic 1, B… for clinic 2)."""
    clinic = clinics.ensure_clinic(db, f"clinic{number}", f"Clinic {number}")
    letter = "AB"[number - 1]
    clinician = f"c{number}"
    clinics.add_clinician(
        db,
        clinic.id,
        {
            "code": clinician,
            "name": f"Therapist {number}",
            "profession": "physical_therapist",
            "years_experience": 5,
        },
    )
    first_episode = 0
    first_episode_public = ""
    first_session = 0
    first_session_public = ""
    for i in range(6):
        code = f"{letter}{i:03d}"
        patients.add_patient(db, clinic.id, {"code": code, "birth_year": 1980 + i, "sex": "female"})
        opened = TODAY - dt.timedelta(days=14)
        episode = episodes.open_episode(
            db,
            clinic.id,
            code,
            {
                "condition": "lateral_elbow_tendinopathy",
                "region": "elbow",
                "side": "right",
                "target_tissue": "tendon",
                "onset_date": (opened - dt.timedelta(days=90)).isoformat(),
                "opened_on": opened.isoformat(),
                "planned_iastm": True,
                "planned_co_interventions": ["strengthening"],
                "consent": {"given_on": opened.isoformat(), "explained": CONSENT},
            },
        )
        recorded = sessions.record_session(db, clinic.id, session_doc(episode.id, clinician, opened, 6, 4))
        if not first_episode:
            first_episode, first_episode_public = episode.id, episode.public_id
            first_session = recorded.id
            first_session_public = public_id_of(db, "session", recorded.id)
    adverse = outcomes.add_adverse_response(
        db,
        clinic.id,
        first_episode,
        {
            "kind": "bruising",
            "severity": "mild",
            "onset_on": (TODAY - dt.timedelta(days=14)).isoformat(),
            "region": "shoulder",  # away from the treated elbow: later sessions there stay possible
        },
        session_id=first_session,
    )
    # What a client sees are public ids (`episode_id`, ...); the database's integers (`episode_row`, ...) are
    # for tests that look inside the database.
    return {
        "clinic_id": clinic.id,
        "patient_code": f"{letter}000",
        "episode_id": first_episode_public,
        "session_id": first_session_public,
        "clinician": clinician,
        "adverse_id": adverse.public_id,
        "episode_row": first_episode,
        "session_row": first_session,
        "adverse_row": adverse.id,
    }
