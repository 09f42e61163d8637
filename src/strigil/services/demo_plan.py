"""The demo clinic's plan: synthetic patients, episodes and sessions generated column-wise with numpy.

Pure and reproducible: patients are generated in fixed chunks of `CHUNK` from `(seed, chunk number)`, so the
same seed gives the same clinic whatever the writer's batch size. The distributions (baselines, response
rates, adverse-response rates) are invented for the demo — they are not clinical estimates. Codes come from
the catalogue, so every row is valid by construction (a test validates samples against the record model).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from strigil.catalog import load_catalog

__all__ = [
    "ADVERSE",
    "AXIAL",
    "BASE_DATE",
    "CHUNK",
    "CLINICIANS",
    "DECISIONS",
    "DIRECTIONS",
    "EDGES",
    "EMOLLIENTS",
    "FUNCTION",
    "INSTRUMENTS",
    "N_DAYS",
    "POSITIONS",
    "PRESSURES",
    "ROM_CONDITIONS",
    "SEVERITIES",
    "SIDES",
    "STROKES",
    "TIMINGS",
    "TOLERANCES",
    "DemoChunk",
    "IntArray",
    "day",
    "json_text",
    "plan_chunks",
]

CHUNK = 1000
BASE_DATE = dt.date(2024, 1, 1)  # fixed, so a seed gives the same clinic on any day
N_DAYS = 1200

CLINICIANS: tuple[dict[str, Any], ...] = (
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
# Each clinician's instruments, used in turn for a session's steps.
INSTRUMENTS = (
    ("graston_set", "graston_set", "graston_set"),
    ("hawkgrips", "hawkgrips", "hawkgrips"),
    ("gavilan_ala", "gavilan_garra", "gavilan_pico"),
    ("astym", "astym", "astym"),
    ("generic_stainless_steel", "traditional_jade", "generic_stainless_steel"),
    ("generic_plastic", "self_made_thermoplastic", "generic_plastic"),
)
STROKES = ("scanning", "sweep", "sweep", "j_stroke", "strum", "fanning", "brushing", "cross_friction")
SIDES = ("left", "right", "bilateral", "midline")
AXIAL = frozenset({"neck", "upper_back", "low_back", "chest", "abdomen"})
EDGES = ("concave", "convex", None)
DIRECTIONS = ("along", "across", "oblique", "multidirectional")
PRESSURES = ("light", "moderate", "heavy")
POSITIONS = ("prone", "supine", "seated", "side-lying")
EMOLLIENTS = ("lotion", "cream", "emollient gel")
TOLERANCES = ("well_tolerated", "tolerated_with_modification", "poorly_tolerated")
DECISIONS = ("continue", "modify", "discharge")
ADVERSE = ("petechiae", "petechiae", "bruising", "soreness", "skin_irritation")
SEVERITIES = ("mild", "moderate")
TIMINGS = ("pre", "post", "between")
# Function measure by region (as the trials in the domain reference §3 used for such regions):
# measure, baseline low, baseline high, change per session for a responder.
FUNCTION: dict[str, tuple[str, float, float, float]] = {
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
    "chest": ("psfs", 3, 6, 0.4),
    "abdomen": ("psfs", 3, 6, 0.4),
}
ROM_CONDITIONS = frozenset(
    {
        "healthy_rom_limitation",
        "posterior_shoulder_tightness",
        "hamstring_tightness",
        "tfl_shortness",
        "adhesive_capsulitis",
    }
)

IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DemoChunk:
    """Up to CHUNK patients with one episode each, as columns (local indices link the tables)."""

    first: int  # number of the first patient (1-based), so codes are D000001, D000002, …
    birth_year: IntArray
    sex: IntArray  # 0 female, 1 male
    condition: list[str]
    region: list[str]
    side: IntArray
    onset_day: IntArray
    opened_day: IntArray
    care: list[tuple[str, ...]]  # planned co-interventions (always an active component: exercise first)
    clinician: IntArray
    # sessions
    s_patient: IntArray
    s_number: IntArray
    s_day: IntArray
    s_warm_minutes: _FloatArray  # 0 = no warm-up
    s_emollient: IntArray
    s_tolerance: IntArray
    s_decision: IntArray
    # dose steps
    t_session: IntArray
    t_position: IntArray
    t_stroke: IntArray
    t_angle: _FloatArray  # nan = not recorded
    t_edge: IntArray
    t_direction: IntArray
    t_pressure: IntArray
    t_duration: IntArray
    t_posture: IntArray
    t_active: npt.NDArray[np.bool_]
    # measurements
    m_session: IntArray
    m_measure: list[str]
    m_value: _FloatArray
    m_timing: IntArray
    # adverse responses
    a_session: IntArray
    a_kind: IntArray
    a_severity: IntArray
    a_resolved_days: IntArray  # -1 = not resolved

    @property
    def size(self) -> int:
        """Number of patients in the chunk."""
        return len(self.birth_year)

    def code(self, i: int) -> str:
        """Pseudonymous code of local patient `i`."""
        return f"D{self.first + i:06d}"

    def instrument(self, t: int) -> str:
        """Instrument of step `t` (the clinician's instruments in turn)."""
        clinician = int(self.clinician[self.s_patient[self.t_session[t]]])
        return INSTRUMENTS[clinician][(int(self.t_position[t]) - 1) % 3]

    def followed_by(self, i: int) -> list[dict[str, Any]]:
        """What followed the instrument work for patient `i` (their planned active care first)."""
        care = self.care[i]
        out: list[dict[str, Any]] = [{"kind": "strengthening", "detail": None, "minutes": 15.0}]
        if "stretching" in care:
            out.append({"kind": "stretching", "detail": None, "minutes": 5.0})
        if "cryotherapy" in care:
            out.append({"kind": "cryotherapy", "detail": None, "minutes": 15.0})
        return out

    def episode_document(self, i: int) -> dict[str, Any]:
        """Patient `i`'s episode as an `open_episode` plan."""
        opened = day(int(self.opened_day[i])).isoformat()
        return {
            "condition": self.condition[i],
            "region": self.region[i],
            "side": SIDES[self.side[i]],
            "target_tissue": load_catalog().conditions[self.condition[i]].tissue,
            "onset_date": day(int(self.onset_day[i])).isoformat(),
            "opened_on": opened,
            "goals": ["reduce pain with daily activity", "return to usual activity"],
            "planned_co_interventions": list(self.care[i]),
            "consent": {
                "given_on": opened,
                "explained": ["bruising", "petechiae", "soreness", "alternatives", "exercise_programme"],
            },
        }

    def session_documents(self, i: int, episode_id: int) -> Iterator[dict[str, Any]]:
        """Patient `i`'s sessions as `strigil session record` documents, in order."""
        sessions = np.flatnonzero(self.s_patient == i)
        for s in sessions.tolist():
            date = day(int(self.s_day[s]))
            steps = [self._step(t, i) for t in np.flatnonzero(self.t_session == s).tolist()]
            measurements = [
                {
                    "measure": self.m_measure[m],
                    "value": float(self.m_value[m]),
                    "timing": TIMINGS[self.m_timing[m]],
                }
                for m in np.flatnonzero(self.m_session == s).tolist()
            ]
            adverse = [
                {
                    "kind": ADVERSE[self.a_kind[a]],
                    "severity": SEVERITIES[self.a_severity[a]],
                    "onset_on": date.isoformat(),
                    "region": self.region[i],
                    "note": None,
                    "resolved_on": None
                    if self.a_resolved_days[a] < 0
                    else (date + dt.timedelta(days=int(self.a_resolved_days[a]))).isoformat(),
                }
                for a in np.flatnonzero(self.a_session == s).tolist()
            ]
            warm = float(self.s_warm_minutes[s])
            yield {
                "episode_id": episode_id,
                "clinician": CLINICIANS[self.clinician[i]]["code"],
                "date": date.isoformat(),
                "warm_up": {"kind": "cardiovascular", "minutes": warm} if warm else None,
                "emollient": EMOLLIENTS[self.s_emollient[s]],
                "steps": steps,
                "followed_by": self.followed_by(i),
                "measurements": measurements,
                "adverse_responses": adverse,
                "tolerance": TOLERANCES[self.s_tolerance[s]],
                "clinician_decision": DECISIONS[self.s_decision[s]],
                "follow_up": {"asked": True} if self.s_number[s] > 1 else None,
                "exercise_delivered": True,  # the plan's exercise follows the instrument work
            }

    def _step(self, t: int, i: int) -> dict[str, Any]:
        angle = float(self.t_angle[t])
        return {
            "region": self.region[i],
            "side": SIDES[self.side[i]],
            "instrument": self.instrument(t),
            "edge": EDGES[self.t_edge[t]],
            "stroke": STROKES[self.t_stroke[t]],
            "angle_deg": None if np.isnan(angle) else angle,
            "direction": DIRECTIONS[self.t_direction[t]],
            "pressure": PRESSURES[self.t_pressure[t]],
            "force_n": None,
            "duration_s": int(self.t_duration[t]),
            "stroke_count": None,
            "patient_position": POSITIONS[self.t_posture[t]],
            "active_movement": "active range of motion" if self.t_active[t] else None,
        }


def day(index: int) -> dt.date:
    """The date of day `index` of the demo calendar."""
    return BASE_DATE + dt.timedelta(days=index)


def _within(values: _FloatArray, starts: IntArray, counts: IntArray) -> _FloatArray:
    """Cumulative sums restarted at each group (groups are consecutive runs of `counts` rows)."""
    total = np.cumsum(values)
    offset = np.repeat(total[starts] - values[starts], counts)
    return total - offset


def _chunk(first_patient: int, n: int, rng: np.random.Generator) -> DemoChunk:
    cat = load_catalog()
    conditions = list(cat.conditions.values())
    weights = np.array([5.0 if c.evidence == "studied" else 1.0 for c in conditions])
    cond = rng.choice(len(conditions), size=n, p=weights / weights.sum())
    fallback = ("neck", "upper_back", "low_back")
    region_pick = rng.random(n)
    regions = []
    for k, c in enumerate(cond.tolist()):
        options = conditions[c].regions or fallback
        regions.append(options[int(region_pick[k] * len(options))])
    axial = np.array([r in AXIAL for r in regions])
    side = np.where(axial, 3, rng.choice(np.array([0, 1, 0, 1, 2]), size=n))
    opened = rng.integers(0, 700, size=n)
    kind = rng.integers(0, 3, size=n)
    lo, hi = np.array([3, 40, 90])[kind], np.array([40, 90, 600])[kind]
    onset = opened - (lo + (rng.random(n) * (hi - lo)).astype(np.int64))
    u = rng.random((n, 4))
    care = [
        ("strengthening" if u[k, 0] < 0.7 else "functional_exercise",)
        + (("stretching",) if u[k, 1] < 0.6 else ())
        + (("motor_control",) if u[k, 2] < 0.2 else ())
        + (("cryotherapy",) if u[k, 3] < 0.15 else ())
        for k in range(n)
    ]
    clinician = rng.integers(0, len(CLINICIANS), size=n)
    responder = rng.random(n) < 0.6
    pain0 = rng.integers(4, 9, size=n).astype(np.float64)
    slope = np.where(responder, rng.uniform(0.2, 0.6, n), rng.uniform(-0.1, 0.1, n))
    within = np.where(responder, rng.uniform(0.5, 2.0, n), rng.uniform(0.0, 0.8, n))
    f_code = [FUNCTION[r][0] for r in regions]
    f_lo = np.array([FUNCTION[r][1] for r in regions])
    f_hi = np.array([FUNCTION[r][2] for r in regions])
    f_step = np.array([FUNCTION[r][3] for r in regions]) * np.where(responder, 1.0, rng.uniform(-0.2, 0.2, n))
    f0 = np.round(rng.uniform(f_lo, f_hi))
    has_rom = np.array([conditions[c].code in ROM_CONDITIONS for c in cond.tolist()])
    rom0 = rng.integers(30, 70, size=n).astype(np.float64)
    n_sessions = rng.integers(4, 17, size=n)

    # sessions
    s_total = int(n_sessions.sum())
    s_patient = np.repeat(np.arange(n), n_sessions)
    starts = np.concatenate(([0], np.cumsum(n_sessions)[:-1]))
    s_number = np.arange(s_total) - np.repeat(starts, n_sessions) + 1
    is_first = s_number == 1
    gaps = rng.choice(np.array([2.0, 3.0, 3.0, 4.0, 7.0]), size=s_total)
    gaps[is_first] = 0
    s_day = opened[s_patient] + _within(gaps, starts, n_sessions).astype(np.int64)
    dec = slope[s_patient] * rng.uniform(0.5, 1.5, s_total)
    dec[is_first] = 0
    pain = np.maximum(pain0[s_patient] - _within(dec, starts, n_sessions), 0)
    pre = np.clip(np.round(pain), 0, 10)
    post = np.clip(np.round(pain - within[s_patient] * rng.uniform(0.5, 1.5, s_total)), 0, 10)
    fd = f_step[s_patient] * rng.uniform(0.5, 1.5, s_total)
    fd[is_first] = 0
    function = np.round(f0[s_patient] + _within(fd, starts, n_sessions))
    last = s_number == n_sessions[s_patient]
    f_measured = is_first | (s_number % 4 == 0) | last
    rd = np.where(responder[s_patient], rng.uniform(1, 3, s_total), rng.uniform(-1, 1, s_total))
    rd[is_first] = 0
    rom = rom0[s_patient] + _within(rd, starts, n_sessions)
    rom_gain = rng.uniform(0, 1, s_total) * np.where(responder[s_patient], 6, 2)
    warm = np.where(rng.random(s_total) < 0.7, rng.choice(np.array([5.0, 5.0, 10.0]), size=s_total), 0.0)
    tolerance = rng.choice(3, size=s_total, p=[0.85, 0.12, 0.03])
    decision = np.where(
        last & responder[s_patient], 2, np.where(~responder[s_patient] & (s_number % 3 == 0), 1, 0)
    )

    # measurements, ordered by session then: nprs pre, nprs post, function, rom pre, rom post
    sid = np.arange(s_total)
    f_rows = sid[f_measured]
    r_rows = sid[has_rom[s_patient]]
    m_session = np.concatenate((sid, sid, f_rows, r_rows, r_rows))
    m_rank = np.concatenate(
        (
            np.zeros(s_total),
            np.ones(s_total),
            np.full(len(f_rows), 2),
            np.full(len(r_rows), 3),
            np.full(len(r_rows), 4),
        )
    )
    measures = cat.measures
    f_values = np.array(
        [
            min(max(v, measures[f_code[p]].min), measures[f_code[p]].max)
            for v, p in zip(function[f_rows].tolist(), s_patient[f_rows].tolist(), strict=True)
        ],
        dtype=np.float64,
    )
    m_value = np.concatenate(
        (pre, post, f_values, np.round(rom[r_rows]), np.round(rom[r_rows] + rom_gain[r_rows]))
    )
    m_measure_all = (
        ["nprs"] * (2 * s_total)
        + [f_code[p] for p in s_patient[f_rows].tolist()]
        + ["rom_deg"] * (2 * len(r_rows))
    )
    m_timing = np.concatenate(
        (
            np.zeros(s_total),
            np.ones(s_total),
            np.full(len(f_rows), 2),
            np.zeros(len(r_rows)),
            np.ones(len(r_rows)),
        )
    ).astype(np.int64)
    order = np.lexsort((m_rank, m_session))
    m_measure = [m_measure_all[k] for k in order.tolist()]

    # dose steps
    k_steps = rng.integers(1, 4, size=s_total)
    t_total = int(k_steps.sum())
    t_session = np.repeat(sid, k_steps)
    t_starts = np.concatenate(([0], np.cumsum(k_steps)[:-1]))
    t_position = np.arange(t_total) - np.repeat(t_starts, k_steps) + 1
    t_stroke = rng.integers(0, len(STROKES), size=t_total)
    a_min = np.array(
        [np.nan if cat.strokes[s].angle_min is None else cat.strokes[s].angle_min for s in STROKES]
    )
    a_max = np.array(
        [np.nan if cat.strokes[s].angle_max is None else cat.strokes[s].angle_max for s in STROKES]
    )
    lo_a, hi_a = a_min[t_stroke], a_max[t_stroke]
    angle = np.floor(lo_a + rng.random(t_total) * (hi_a - lo_a + 1))
    angle = np.where(np.array(STROKES)[t_stroke] == "scanning", 45.0, angle)
    along = np.isin(np.array(STROKES)[t_stroke], ("scanning", "sweep"))
    t_direction = np.where(along, 0, rng.choice(np.array([1, 2, 3, 0]), size=t_total))

    # adverse responses (invented rate, for the demo only)
    a_rows = sid[rng.random(s_total) < 0.06]
    n_a = len(a_rows)
    resolved = np.where(rng.random(n_a) < 0.9, rng.integers(1, 6, size=n_a), -1)

    return DemoChunk(
        first=first_patient,
        birth_year=rng.integers(1945, 2008, size=n),
        sex=rng.integers(0, 2, size=n),
        condition=[conditions[c].code for c in cond.tolist()],
        region=regions,
        side=side.astype(np.int64),
        onset_day=onset.astype(np.int64),
        opened_day=opened.astype(np.int64),
        care=care,
        clinician=clinician.astype(np.int64),
        s_patient=s_patient,
        s_number=s_number,
        s_day=s_day,
        s_warm_minutes=warm,
        s_emollient=rng.integers(0, len(EMOLLIENTS), size=s_total),
        s_tolerance=tolerance.astype(np.int64),
        s_decision=decision.astype(np.int64),
        t_session=t_session,
        t_position=t_position,
        t_stroke=t_stroke,
        t_angle=angle,
        t_edge=rng.integers(0, 3, size=t_total),
        t_direction=t_direction.astype(np.int64),
        t_pressure=rng.choice(np.array([0, 1, 1, 2]), size=t_total),
        t_duration=30 + 15 * rng.integers(0, 19, size=t_total),
        t_posture=rng.integers(0, 4, size=t_total),
        t_active=rng.random(t_total) < 0.2,
        m_session=m_session[order].astype(np.int64),
        m_measure=m_measure,
        m_value=m_value[order],
        m_timing=m_timing[order],
        a_session=a_rows,
        a_kind=rng.integers(0, len(ADVERSE), size=n_a),
        a_severity=(rng.random(n_a) >= 0.85).astype(np.int64),
        a_resolved_days=resolved.astype(np.int64),
    )


def plan_chunks(n_patients: int, seed: int) -> Iterator[DemoChunk]:
    """The demo clinic of `n_patients` from `seed`, chunk by chunk (same seed → same clinic)."""
    for number, start in enumerate(range(0, n_patients, CHUNK)):
        size = min(CHUNK, n_patients - start)
        yield _chunk(start + 1, size, np.random.default_rng([seed, number]))


def json_text(value: Any) -> str:
    """Compact JSON as SQLAlchemy's JSON type would store it."""
    return json.dumps(value)
