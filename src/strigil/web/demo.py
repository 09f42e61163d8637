"""A small, reproducible demo clinic for `strigil serve --demo`, written through the record's services.

Synthetic data only (it lives in its own database file). Patients, episodes and sessions are
recorded with the same service functions the pages use, so the demo also exercises the rules.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select

from strigil.services import clinics, episodes, patients, sessions
from strigil.services.errors import NotFound
from strigil.store.database import Database
from strigil.store.record import PatientRow

__all__ = ["DEMO_CLINIC", "demo_clinic_id", "seed_demo"]

DEMO_CLINIC = ("demo", "Demo clinic (synthetic data)")
# (condition, region, tissue, measure): conditions and measures from the catalogue.
_CASES = (
    ("lateral_elbow_tendinopathy", "elbow", "tendon", "nprs"),
    ("plantar_heel_pain", "foot_plantar", "fascia", "nprs"),
    ("chronic_low_back_pain", "low_back", "fascia", "nprs"),
    ("neck_pain", "neck", "muscle", "nprs"),
)
_INSTRUMENTS = ("graston_set", "hawkgrips")
_STROKES = ("sweep", "scanning", "j_stroke", "strum")


def _step(rng: random.Random, region: str, side: str) -> dict[str, Any]:
    return {
        "region": region,
        "side": side,
        "instrument": rng.choice(_INSTRUMENTS),
        "stroke": rng.choice(_STROKES),
        "angle_deg": rng.choice((30, 45, 60)),
        "direction": rng.choice(("along", "across", "oblique")),
        "pressure": rng.choice(("light", "moderate")),
        "duration_s": rng.choice((60, 90, 120)),
    }


def seed_demo(database: Database, clinic_id: int, *, patients_n: int, seed: int, today: dt.date) -> None:
    """Add `patients_n` synthetic patients with episodes and sessions to the clinic (deterministic)."""
    rng = random.Random(seed)
    for i in range(1, patients_n + 1):
        condition, region, tissue, measure = _CASES[i % len(_CASES)]
        side = "midline" if region in ("low_back", "neck") else rng.choice(("left", "right"))
        n_sessions = 1 + i % 5
        first = today - dt.timedelta(days=7 * (n_sessions - 1) + (0 if i % 3 == 0 else 1))
        with database.unit_of_work() as db:
            code = f"P{i:04d}"
            patients.add_patient(
                db,
                clinic_id,
                {"code": code, "birth_year": 1950 + rng.randrange(55), "sex": rng.choice(("female", "male"))},
            )
            episode = episodes.open_episode(
                db,
                clinic_id,
                code,
                {
                    "condition": condition,
                    "region": region,
                    "side": side,
                    "target_tissue": tissue,
                    "onset_date": (first - dt.timedelta(days=rng.randrange(20, 200))).isoformat(),
                    "opened_on": first.isoformat(),
                    "goals": ["pain below 3 on the NPRS"],
                    "planned_iastm": True,
                    "planned_co_interventions": ["strengthening", "stretching"],
                    "consent": {
                        "given_on": first.isoformat(),
                        "explained": ["petechiae", "bruising", "soreness"],
                    },
                },
                by="demo",
            )
            pain = rng.uniform(5, 8)
            responder = i % 4 != 0
            for s in range(n_sessions):
                date = first + dt.timedelta(days=7 * s)
                after = max(0.0, pain - (rng.uniform(1.0, 2.5) if responder else rng.uniform(-0.5, 0.5)))
                adverse = []
                if i % 7 == 0 and s == 0:
                    adverse = [
                        {
                            "kind": "petechiae",
                            "severity": "mild",
                            "onset_on": date.isoformat(),
                            "resolved_on": None if i % 14 == 0 else (date + dt.timedelta(days=3)).isoformat(),
                        }
                    ]
                sessions.record_session(
                    db,
                    clinic_id,
                    {
                        "episode_id": episode.id,
                        "clinician": "demo" if i % 2 else "c2",
                        "date": date.isoformat(),
                        "warm_up": {"kind": "cardiovascular", "minutes": 5},
                        "steps": [_step(rng, region, side), _step(rng, region, side)],
                        "followed_by": [{"kind": "strengthening", "minutes": 10}],
                        "measurements": [
                            {"measure": measure, "timing": "pre", "value": round(pain)},
                            {"measure": measure, "timing": "post", "value": round(after)},
                        ],
                        "adverse_responses": adverse,
                        "tolerance": "well_tolerated",
                    },
                    by="demo",
                    today=today,
                )
                pain = max(0.0, (pain + after) / 2 if responder else pain + rng.uniform(-0.3, 0.3))


def demo_clinic_id(
    database: Database, *, patients: int = 60, seed: int = 1, today: dt.date | None = None
) -> int:
    """The demo clinic's id; created (with clinicians and patients) the first time."""
    with database.unit_of_work() as db:
        try:
            clinic = clinics.get_clinic(db, DEMO_CLINIC[0])
            existing = (
                db.scalar(select(func.count(PatientRow.id)).where(PatientRow.clinic_id == clinic.id)) or 0
            )
        except NotFound:
            clinic = clinics.ensure_clinic(db, *DEMO_CLINIC)
            existing = 0
            for code, name in (("demo", "Demo Clinician"), ("c2", "Second Clinician")):
                clinics.add_clinician(
                    db,
                    clinic.id,
                    {
                        "code": code,
                        "name": name,
                        "profession": "athletic_trainer",
                        "training": [{"course": "Graston Technique M1", "formal": True}],
                        "years_experience": 6,
                    },
                )
    if existing == 0:
        seed_demo(database, clinic.id, patients_n=patients, seed=seed, today=today or dt.date.today())
    return clinic.id
