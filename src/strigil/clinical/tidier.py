"""TIDieR: an episode's IASTM intervention as the 12 items of the Template for Intervention Description and
Replication (Hoffmann TC et al. BMJ 2014), filled from the record.

The IASTM field mapping is the domain reference §6 design synthesis (no published IASTM extension of TIDieR
was found ❓). Input is plain data (the episode as a mapping), so this module stays pure.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strigil.catalog import load_catalog

__all__ = [
    "NOT_RECORDED",
    "TIDIER_ITEMS",
    "TidierItem",
    "render_tidier",
]

TIDIER_ITEMS = (
    "Brief name",
    "Why",
    "What (materials)",
    "What (procedures)",
    "Who provided",
    "How",
    "Where",
    "When and how much",
    "Tailoring",
    "Modifications",
    "How well (planned)",
    "How well (actual)",
)
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class TidierItem:
    """One TIDieR item: its number, name and the text filled from the record."""

    number: int
    name: str
    text: str


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _counts(values: Sequence[Any]) -> str:
    c = Counter(v for v in values if v)
    return ", ".join(f"{k} ×{n}" for k, n in c.most_common()) or NOT_RECORDED


def _edges_used(steps: Sequence[Mapping[str, Any]], instrument: str) -> str:
    edges = sorted({st["edge"] for st in steps if st["instrument"] == instrument and st.get("edge")})
    return ", ".join(edges) or NOT_RECORDED


def _adverse_text(a: Mapping[str, Any]) -> str:
    return f"{a['kind']} ({a['severity']})"


def render_tidier(episode: Mapping[str, Any], clinic_name: str = "") -> list[TidierItem]:
    """Fill the 12 TIDieR items from an episode (the shape of `strigil.services.views.EpisodeView`)."""
    cat = load_catalog()
    sessions: list[Mapping[str, Any]] = list(episode.get("sessions", ()))
    steps = [st for s in sessions for st in s.get("steps", ())]
    condition = cat.conditions[episode["condition"]]
    region = cat.regions[episode["region"]].name
    instruments = sorted({st["instrument"] for st in steps})
    families = sorted({cat.instruments[i].family for i in instruments}) or [NOT_RECORDED]

    name = f"IASTM ({', '.join(families)}) for {condition.name.lower()}, {region.lower()}, {episode['side']}"
    evidence = (
        "studied in trials"
        if condition.evidence == "studied"
        else "only claimed by clinics — not supported by trials"
    )
    why = (
        f"Condition: {condition.name} ({evidence}; {condition.source}). Target tissue: "
        f"{episode['target_tissue']}; phase at opening: {episode['phase']} "
        "(cut-offs: configurable heuristic). "
        f"Goals: {'; '.join(episode.get('goals', ())) or NOT_RECORDED}. Proposed mechanism (controlled "
        "microtrauma and remodelling) is unverified (Baker & Baker 2017; domain reference §0)."
    )
    materials = (
        "; ".join(
            f"{cat.instruments[i].name} (material {cat.instruments[i].material}"
            f"{', unverified' if not cat.instruments[i].verified else ''}; edges used: "
            f"{_edges_used(steps, i)})"
            for i in instruments
        )
        or NOT_RECORDED
    )
    materials += f". Emollient: {_counts([s.get('emollient') for s in sessions])}."

    def step_text(st: Mapping[str, Any]) -> str:
        angle = f" at {st['angle_deg']:g}°" if st.get("angle_deg") is not None else ""
        force = f", {st['force_n']:g} N" if st.get("force_n") is not None else ""
        if st.get("measured_force"):
            m = st["measured_force"]
            cv = f", CV {m['peak_cv_pct']:.0f} %" if m.get("peak_cv_pct") is not None else ""
            force += (
                f", measured {m['mean_n']:.1f} N mean and {m['peak_n']:.1f} N peak force over "
                f"{m['stroke_count']} strokes{cv}"
            )
        move = f", with {st['active_movement']}" if st.get("active_movement") else ""
        pos = f", {st['patient_position']}" if st.get("patient_position") else ""
        return (
            f"{st['stroke']} on {st['region']} ({st['side']}){angle}, {st['direction']} the fibres, "
            f"{st['pressure']} pressure{force}, {st['duration_s']} s{pos}{move}"
        )

    typical = sessions[-1] if sessions else {}
    procedures = (
        f"Warm-up: {_counts([s.get('warm_up_kind') for s in sessions])}. Steps (last session, in order): "
        + (
            "; ".join(f"{i}. {step_text(st)}" for i, st in enumerate(typical.get("steps", ()), start=1))
            or NOT_RECORDED
        )
        + f". Followed by: {_counts([f.get('kind') for s in sessions for f in s.get('followed_by', ())])}. "
        f"Planned co-interventions: {', '.join(episode.get('planned_co_interventions', ())) or NOT_RECORDED}."
    )
    who = (
        "; ".join(
            f"{c['profession']}, {c['years_experience']} years' experience, IASTM training: "
            + (
                ", ".join(
                    f"{t['course']} ({'formal' if t['formal'] else 'informal'})"
                    for t in c.get("training", ())
                )
                or NOT_RECORDED
            )
            for c in episode.get("clinicians", ())
        )
        or NOT_RECORDED
    )
    how = "Face-to-face, individual sessions (every session in the Strigil record is an in-person session)."
    where = clinic_name or NOT_RECORDED
    if sessions:
        dates = sorted(_date(s["date"]) for s in sessions)
        weeks = max((dates[-1] - dates[0]).days / 7, 1.0)
        minutes = [sum(st["duration_s"] for st in s.get("steps", ())) / 60 for s in sessions]
        durations = [st["duration_s"] for st in steps]
        forces = [st["force_n"] for st in steps if st.get("force_n") is not None]
        when = (
            f"{len(sessions)} sessions from {dates[0]} to {dates[-1]} "
            f"(~{len(sessions) / weeks:.1f} per week); "
            f"IASTM {sum(minutes):.1f} min in total, {sum(minutes) / len(sessions):.1f} min per session; "
            f"per step {min(durations, default=0)}–{max(durations, default=0)} s; pressure "
            f"{_counts([st['pressure'] for st in steps])}; force "
            + (f"{min(forces):g}–{max(forces):g} N" if forces else "not measured (verbal categories only)")
        )
    else:
        when = "no sessions recorded yet"
    tailoring = (
        f"Pressure categories used: {_counts([st['pressure'] for st in steps])}; strokes: "
        f"{_counts([st['stroke'] for st in steps])}; tolerance: "
        f"{_counts([s.get('tolerance') for s in sessions])}."
    )
    changes = [
        f"session {s['number']}: {s['clinician_decision']}"
        + (f" ({s['decision_reason']})" if s.get("decision_reason") else "")
        for s in sessions
        if s.get("clinician_decision") in ("modify", "switch", "refer")
    ]
    modifications = "; ".join(changes) or "none recorded"
    planned = (
        "No fidelity plan is recorded by Strigil; planned care: "
        f"{'IASTM' if episode.get('planned_iastm') else 'no IASTM'} with "
        f"{', '.join(episode.get('planned_co_interventions', ())) or 'no co-interventions'}"
        + (
            f"; exercise-first exception: {episode['exercise_first_reason']}"
            if episode.get("exercise_first_reason")
            else ""
        )
        + "."
    )
    adverse = [a for s in sessions for a in s.get("adverse_responses", ())] + [
        a for a in episode.get("adverse_responses", ()) if a.get("session_id") is None
    ]
    actual = (
        f"{len(sessions)} sessions delivered, {sum(1 for s in sessions if s.get('steps'))} with IASTM; "
        f"stopped early: {sum(1 for s in sessions if s.get('tolerance') == 'stopped_early')}; adverse "
        f"responses: {_counts([_adverse_text(a) for a in adverse])}; consent "
        + (
            f"given {episode['consent_on']} (explained: {', '.join(episode.get('consent_explained', ()))})"
            if episode.get("consent_on")
            else NOT_RECORDED
        )
        + "."
    )
    texts = (
        name,
        why,
        materials,
        procedures,
        who,
        how,
        where,
        when,
        tailoring,
        modifications,
        planned,
        actual,
    )
    return [TidierItem(i, n, t) for i, (n, t) in enumerate(zip(TIDIER_ITEMS, texts, strict=True), start=1)]
