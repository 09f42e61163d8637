"""`strigil demo`: a realistic, reproducible synthetic clinic (in the demo database, never the clinic's).

The plan is generated from a seed alone (same seed → same clinic). Small clinics are written through the
services, one user action at a time, so every rule applies (exercise first, validation, the decision aid's
recommendation per session). Large clinics (the 100,000-patient benchmark) use a bulk path: SQLAlchemy Core
`insert()` executemany, one transaction per batch, no ORM and no per-session recommendation; the plan is
valid by construction and a test validates samples of it against the record model.

The synthetic numbers (baselines, response rates, adverse-response rates) are invented for the demo — they
are not clinical estimates and must not be read as such.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from strigil.catalog import load_catalog

__all__ = ["CLINIC_CODE", "DemoPatient", "build_demo", "demo_clinicians", "plan_patients", "write_bulk"]

CLINIC_CODE = "demo"
CLINIC_NAME = "Strigil demo clinic (synthetic data)"
BASE_DATE = dt.date(2024, 1, 1)  # fixed, so a seed gives the same clinic on any day

_CLINICIANS: tuple[dict[str, Any], ...] = (
    {
        "code": "c01",
        "name": "Demo clinician 1",
        "profession": "athletic_trainer",
        "years_experience": 12,
        "training": [{"course": "Graston Technique M1", "formal": True}],
    },
    {
        "code": "c02",
        "name": "Demo clinician 2",
        "profession": "physical_therapist",
        "years_experience": 7,
        "training": [{"course": "HawkGrips course", "formal": True}],
    },
    {
        "code": "c03",
        "name": "Demo clinician 3",
        "profession": "athletic_trainer",
        "years_experience": 4,
        "training": [
            {"course": "Técnica Gavilán course", "formal": True},
            {"course": "colleagues", "formal": False},
        ],
    },
    {
        "code": "c04",
        "name": "Demo clinician 4",
        "profession": "physical_therapist",
        "years_experience": 15,
        "training": [{"course": "ASTYM certification", "formal": True}],
    },
    {
        "code": "c05",
        "name": "Demo clinician 5",
        "profession": "chiropractor",
        "years_experience": 9,
        "training": [{"course": "online videos", "formal": False}],
    },
    {
        "code": "c06",
        "name": "Demo clinician 6",
        "profession": "massage_therapist",
        "years_experience": 3,
        "training": [{"course": "IASTM scraping for massage therapists", "formal": True}],
    },
)
_INSTRUMENTS = {
    "c01": ("graston_set",),
    "c02": ("hawkgrips",),
    "c03": ("gavilan_ala", "gavilan_garra", "gavilan_pico"),
    "c04": ("astym",),
    "c05": ("generic_stainless_steel", "traditional_jade"),
    "c06": ("generic_plastic", "self_made_thermoplastic"),
}
_STROKES = ("scanning", "sweep", "sweep", "j_stroke", "strum", "fanning", "brushing", "cross_friction")
# Function measure by region (what the trials in the domain reference §3 used for such regions).
_FUNCTION: dict[str, tuple[str, float, float, float]] = {  # measure, baseline low, high, change per session
    "foot_plantar": ("lefs", 30, 55, 2.0),
    "ankle": ("faam_adl", 55, 80, 2.0),
    "knee": ("lefs", 30, 55, 2.0),
    "thigh_anterior": ("lefs", 35, 60, 2.0),
    "thigh_posterior": ("lefs", 45, 65, 1.5),
    "thigh_lateral": ("lefs", 40, 60, 1.5),
    "lower_leg_posterior": ("lefs", 40, 60, 2.0),
    "lower_leg_anterior": ("lefs", 40, 60, 2.0),
    "hip": ("lefs", 40, 60, 1.5),
    "elbow": ("prtee", 40, 70, -3.0),
    "forearm": ("prtee", 35, 60, -3.0),
    "wrist_hand": ("quickdash", 30, 55, -2.5),
    "shoulder": ("quickdash", 25, 50, -2.5),
    "upper_arm": ("quickdash", 20, 40, -2.0),
    "neck": ("ndi", 12, 28, -1.0),
    "upper_back": ("odi", 20, 40, -1.5),
    "low_back": ("odi", 20, 45, -2.0),
}
_ROM_CONDITIONS = frozenset(
    {
        "healthy_rom_limitation",
        "posterior_shoulder_tightness",
        "hamstring_tightness",
        "tfl_shortness",
        "adhesive_capsulitis",
    }
)


@dataclass
class DemoSession:
    """One session of the plan (dates as date objects; steps and measures as record-shaped dicts)."""

    date: dt.date
    clinician: str
    warm_up: tuple[str, float] | None
    emollient: str | None
    steps: list[dict[str, Any]]
    followed_by: list[dict[str, Any]]
    measurements: list[tuple[str, float, str]]
    adverse: list[dict[str, Any]]
    tolerance: str
    decision: str

    def document(self, episode_id: int) -> dict[str, Any]:
        """The session as a `strigil session record` JSON document."""
        return {
            "episode_id": episode_id,
            "clinician": self.clinician,
            "date": self.date.isoformat(),
            "warm_up": {"kind": self.warm_up[0], "minutes": self.warm_up[1]} if self.warm_up else None,
            "emollient": self.emollient,
            "steps": self.steps,
            "followed_by": self.followed_by,
            "measurements": [{"measure": m, "value": v, "timing": t} for m, v, t in self.measurements],
            "adverse_responses": [
                {
                    **a,
                    "onset_on": a["onset_on"].isoformat(),
                    "resolved_on": a["resolved_on"].isoformat() if a["resolved_on"] else None,
                }
                for a in self.adverse
            ],
            "tolerance": self.tolerance if self.steps else None,
            "clinician_decision": self.decision,
        }


@dataclass
class DemoPatient:
    """One synthetic patient with one episode of care and its sessions."""

    code: str
    birth_year: int
    sex: str
    episode: dict[str, Any]
    sessions: list[DemoSession] = field(default_factory=list)


def demo_clinicians() -> list[dict[str, Any]]:
    """The demo clinic's clinicians (professions and training routes as Baker et al. 2018 describe)."""
    return [dict(c) for c in _CLINICIANS]


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def plan_patients(n: int, seed: int) -> Iterator[DemoPatient]:
    """Generate `n` patients from `seed` (pure and reproducible: same arguments, same patients)."""
    cat = load_catalog()
    rng = random.Random(seed)
    conditions = [c for c in cat.conditions.values()]
    weights = [5 if c.evidence == "studied" else 1 for c in conditions]
    strokes = [cat.strokes[s] for s in _STROKES]
    days = [BASE_DATE + dt.timedelta(days=i) for i in range(1200)]
    clinician_codes = [c["code"] for c in _CLINICIANS]
    for i in range(1, n + 1):
        condition = rng.choices(conditions, weights)[0]
        region = (
            rng.choice(condition.regions)
            if condition.regions
            else rng.choice(("neck", "upper_back", "low_back"))
        )
        side = (
            "midline"
            if region in ("neck", "upper_back", "low_back", "chest", "abdomen")
            else rng.choice(("left", "right", "left", "right", "bilateral"))
        )
        opened = rng.randrange(0, 700)
        onset = opened - rng.choice((rng.randrange(3, 40), rng.randrange(40, 90), rng.randrange(90, 600)))
        co = ["strengthening"] if rng.random() < 0.7 else ["functional_exercise"]
        if rng.random() < 0.6:
            co.append("stretching")
        if rng.random() < 0.2:
            co.append("motor_control")
        if rng.random() < 0.15:
            co.append("cryotherapy")
        opened_on = days[opened]
        episode = {
            "condition": condition.code,
            "region": region,
            "side": side,
            "target_tissue": condition.tissue,
            "onset_date": (BASE_DATE + dt.timedelta(days=onset)).isoformat(),
            "opened_on": opened_on.isoformat(),
            "goals": ["reduce pain with daily activity", "return to usual activity"],
            "planned_co_interventions": co,
            "consent": {
                "given_on": opened_on.isoformat(),
                "explained": ["bruising", "petechiae", "soreness"],
            },
        }
        patient = DemoPatient(f"D{i:06d}", rng.randrange(1945, 2008), rng.choice(("female", "male")), episode)
        clinician = rng.choice(clinician_codes)
        instruments = _INSTRUMENTS[clinician]
        responder = rng.random() < 0.6
        pain = float(rng.randrange(4, 9))
        pain_slope = rng.uniform(0.2, 0.6) if responder else rng.uniform(-0.1, 0.1)
        within = rng.uniform(0.5, 2.0) if responder else rng.uniform(0.0, 0.8)
        f_code, f_lo, f_hi, f_step = _FUNCTION.get(region, ("psfs", 3, 6, 0.4))
        f_measure = cat.measures[f_code]
        function = float(round(rng.uniform(f_lo, f_hi)))
        f_step = f_step * (1.0 if responder else rng.uniform(-0.2, 0.2))
        rom = float(rng.randrange(30, 70)) if condition.code in _ROM_CONDITIONS else None
        n_sessions = rng.randrange(4, 17)
        day = opened
        for k in range(1, n_sessions + 1):
            date = days[day]
            pre = _clip(round(pain), 0, 10)
            post = _clip(round(pain - within * rng.uniform(0.5, 1.5)), 0, 10)
            measurements: list[tuple[str, float, str]] = [("nprs", pre, "pre"), ("nprs", post, "post")]
            if k == 1 or k % 4 == 0 or k == n_sessions:
                measurements.append((f_code, _clip(round(function), f_measure.min, f_measure.max), "between"))
            if rom is not None:
                measurements.append(("rom_deg", float(round(rom)), "pre"))
                measurements.append(
                    ("rom_deg", float(round(rom + rng.uniform(0, 6 if responder else 2))), "post")
                )
                rom += rng.uniform(1, 3) if responder else rng.uniform(-1, 1)
            steps = []
            for position in range(rng.randrange(1, 4)):
                stroke = strokes[rng.randrange(len(strokes))]
                if stroke.angle_min is not None and stroke.angle_max is not None:
                    angle: float | None = float(
                        rng.randrange(int(stroke.angle_min), int(stroke.angle_max) + 1)
                    )
                else:
                    angle = 45.0 if stroke.code == "scanning" else None
                steps.append(
                    {
                        "region": region,
                        "side": side,
                        "instrument": instruments[position % len(instruments)],
                        "edge": rng.choice(("concave", "convex", None)),
                        "stroke": stroke.code,
                        "angle_deg": angle,
                        "direction": "along"
                        if stroke.code in ("scanning", "sweep")
                        else rng.choice(("across", "oblique", "multidirectional", "along")),
                        "pressure": rng.choice(("light", "moderate", "moderate", "heavy")),
                        "force_n": None,
                        "duration_s": rng.randrange(30, 301, 15),
                        "stroke_count": None,
                        "patient_position": rng.choice(("prone", "supine", "seated", "side-lying")),
                        "active_movement": "active range of motion" if rng.random() < 0.2 else None,
                    }
                )
            adverse = []
            if rng.random() < 0.06:
                kind = rng.choice(("petechiae", "petechiae", "bruising", "soreness", "skin_irritation"))
                resolved = date + dt.timedelta(days=rng.randrange(1, 6)) if rng.random() < 0.9 else None
                adverse.append(
                    {
                        "kind": kind,
                        "severity": "mild" if rng.random() < 0.85 else "moderate",
                        "onset_on": date,
                        "resolved_on": resolved,
                        "region": region,
                        "note": None,
                    }
                )
            tolerance = rng.choices(
                ("well_tolerated", "tolerated_with_modification", "poorly_tolerated"), (0.85, 0.12, 0.03)
            )[0]
            decision = (
                "discharge"
                if k == n_sessions and responder
                else ("modify" if not responder and k % 3 == 0 else "continue")
            )
            patient.sessions.append(
                DemoSession(
                    date=date,
                    clinician=clinician,
                    warm_up=("cardiovascular", float(rng.choice((5, 5, 10)))) if rng.random() < 0.7 else None,
                    emollient=rng.choice(("lotion", "cream", "emollient gel")),
                    steps=steps,
                    followed_by=[{"kind": "strengthening", "detail": None, "minutes": 15.0}]
                    + ([{"kind": "stretching", "detail": None, "minutes": 5.0}] if "stretching" in co else [])
                    + (
                        [{"kind": "cryotherapy", "detail": None, "minutes": 15.0}]
                        if "cryotherapy" in co
                        else []
                    ),
                    measurements=measurements,
                    adverse=adverse,
                    tolerance=tolerance,
                    decision=decision,
                )
            )
            pain = max(0.0, pain - pain_slope * rng.uniform(0.5, 1.5))
            function += f_step * rng.uniform(0.5, 1.5)
            day += rng.choice((2, 3, 3, 4, 7))
        yield patient


def build_demo(db: Any, n_patients: int, seed: int, *, progress: Callable[[int], None] | None = None) -> int:
    """Write a demo clinic through the services (every rule applies); returns the clinic id."""
    from strigil.services import clinics, episodes, patients, sessions

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, CLINIC_CODE, CLINIC_NAME)
        known = {c.code for c in clinics.list_clinicians(s, clinic.id)}
        for c in demo_clinicians():
            if c["code"] not in known:
                clinics.add_clinician(s, clinic.id, c)
    for patient in plan_patients(n_patients, seed):
        with db.unit_of_work() as s:
            patients.add_patient(
                s, clinic.id, {"code": patient.code, "birth_year": patient.birth_year, "sex": patient.sex}
            )
            ep = episodes.open_episode(s, clinic.id, patient.code, patient.episode, by="demo")
            for session in patient.sessions:
                sessions.record_session(s, clinic.id, session.document(ep.id), by="demo")
        if progress:
            progress(1)
    return clinic.id


def write_bulk(
    db: Any,
    n_patients: int,
    seed: int,
    *,
    batch_patients: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write a (large) demo clinic with Core bulk inserts, one transaction per batch; returns the clinic id.

    Rows get explicit ids (continuing after the current maximum), so children need no round trip. The
    exercise-first rule is still checked per episode; recommendations are not computed on this path.
    """
    from sqlalchemy import func, select

    from strigil.services import clinics
    from strigil.store.record import (
        AdverseResponseRow,
        DoseStepRow,
        EpisodeRow,
        MeasurementRow,
        PatientRow,
        SessionRow,
    )
    from strigil.store.types import now_utc

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, CLINIC_CODE, CLINIC_NAME)
        known = {c.code: c.id for c in clinics.list_clinicians(s, clinic.id)}
        for c in demo_clinicians():
            if c["code"] not in known:
                known[c["code"]] = clinics.add_clinician(s, clinic.id, c).id
        tables = (PatientRow, EpisodeRow, SessionRow, DoseStepRow, MeasurementRow, AdverseResponseRow)
        next_id = {t: (s.scalar(select(func.max(t.id))) or 0) + 1 for t in tables}
    stamp = now_utc()
    sqlite = db.engine.dialect.name == "sqlite"
    plan = plan_patients(n_patients, seed)
    done = 0
    with db.engine.connect() as conn:
        if sqlite:
            # Bulk-load settings on this one connection (outside any transaction); WAL stays on, and the
            # usual durability is restored before the connection goes back to the pool.
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-200000")
            conn.commit()
        try:
            done = _load_batches(
                conn, plan, n_patients, batch_patients, tables, next_id, clinic.id, known, stamp, progress
            )
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
    assert done == n_patients
    return clinic.id


def _load_batches(
    conn: Any,
    plan: Iterator[DemoPatient],
    n_patients: int,
    batch_patients: int,
    tables: tuple[Any, ...],
    next_id: dict[Any, int],
    clinic_id: int,
    known: dict[str, int],
    stamp: dt.datetime,
    progress: Callable[[int], None] | None,
) -> int:
    from sqlalchemy import insert

    from strigil.services.decision_support import exercise_first_problem
    from strigil.store.record import (
        AdverseResponseRow,
        DoseStepRow,
        EpisodeRow,
        MeasurementRow,
        PatientRow,
        SessionRow,
    )

    done = 0
    while done < n_patients:
        rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in tables}
        for patient in plan:
            pid, eid = next_id[PatientRow], next_id[EpisodeRow]
            next_id[PatientRow] += 1
            next_id[EpisodeRow] += 1
            ep = patient.episode
            problem = exercise_first_problem(True, ep["planned_co_interventions"], None)
            if problem:  # the generator never plans this; refuse loudly if it ever does
                raise ValueError(f"demo patient {patient.code}: {problem}")
            rows[PatientRow].append(
                {
                    "id": pid,
                    "clinic_id": clinic_id,
                    "code": patient.code,
                    "birth_year": patient.birth_year,
                    "sex": patient.sex,
                    "version": 1,
                    "created_at": stamp,
                }
            )
            opened_on = dt.date.fromisoformat(ep["opened_on"])
            rows[EpisodeRow].append(
                {
                    "id": eid,
                    "patient_id": pid,
                    "condition": ep["condition"],
                    "region": ep["region"],
                    "side": ep["side"],
                    "target_tissue": ep["target_tissue"],
                    "onset_date": dt.date.fromisoformat(ep["onset_date"]),
                    "opened_on": opened_on,
                    "closed_on": None,
                    "close_reason": None,
                    "goals": ep["goals"],
                    "planned_iastm": True,
                    "planned_co_interventions": ep["planned_co_interventions"],
                    "exercise_first_reason": None,
                    "consent_on": opened_on,
                    "consent_explained": ep["consent"]["explained"],
                    "version": 1,
                    "created_at": stamp,
                    "created_by": "demo",
                }
            )
            for number, sess in enumerate(patient.sessions, start=1):
                sid = next_id[SessionRow]
                next_id[SessionRow] += 1
                rows[SessionRow].append(
                    {
                        "id": sid,
                        "episode_id": eid,
                        "clinician_id": known[sess.clinician],
                        "number": number,
                        "date": sess.date,
                        "warm_up_kind": sess.warm_up[0] if sess.warm_up else None,
                        "warm_up_minutes": sess.warm_up[1] if sess.warm_up else None,
                        "emollient": sess.emollient,
                        "followed_by": sess.followed_by,
                        "tolerance": sess.tolerance,
                        "recommendation": None,
                        "clinician_decision": sess.decision,
                        "decision_reason": None,
                        "notes": None,
                        "version": 1,
                        "created_at": stamp,
                        "created_by": "demo",
                    }
                )
                for position, step in enumerate(sess.steps, start=1):
                    rows[DoseStepRow].append(
                        {"id": next_id[DoseStepRow], "session_id": sid, "position": position, **step}
                    )
                    next_id[DoseStepRow] += 1
                for measure, value, timing in sess.measurements:
                    rows[MeasurementRow].append(
                        {
                            "id": next_id[MeasurementRow],
                            "episode_id": eid,
                            "session_id": sid,
                            "measure": measure,
                            "value": value,
                            "timing": timing,
                            "taken_on": sess.date,
                            "version": 1,
                        }
                    )
                    next_id[MeasurementRow] += 1
                for a in sess.adverse:
                    rows[AdverseResponseRow].append(
                        {
                            "id": next_id[AdverseResponseRow],
                            "episode_id": eid,
                            "session_id": sid,
                            "version": 1,
                            **a,
                        }
                    )
                    next_id[AdverseResponseRow] += 1
            done += 1
            if len(rows[PatientRow]) >= batch_patients:
                break
        with conn.begin():
            for table in tables:
                if rows[table]:
                    conn.execute(insert(table), rows[table])
        if progress:
            progress(len(rows[PatientRow]))
    return done
