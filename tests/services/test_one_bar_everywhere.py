"""Every view shows the same bar for the same measure and episode: the decision aid stored with the
session, the episode page's chart, the command line's episode view, `strigil respond` with the condition."""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_factories import clinician_doc, episode_doc, session_doc, step_doc

from strigil.catalog import load_catalog
from strigil.cli.episodes import print_episode
from strigil.clinical.response import recommend_document
from strigil.services import clinics, episodes, patients, sessions
from strigil.services.progress import progress
from strigil.store.database import Database, open_database

CATALOG = load_catalog()
CONDITIONS = sorted(CATALOG.conditions)
# Measures a clinician scores per session, with plausible integer ranges.
RANGES = {
    "nprs": (0, 10),
    "lefs": (0, 80),
    "ndi": (0, 50),
    "dash": (0, 100),
    "quickdash": (0, 100),
    "prtee": (0, 100),
    "faam_sport": (0, 100),
    "psfs": (0, 10),
    "odi": (0, 100),
    "rom_deg": (0, 180),
    "ppt_kpa": (50, 900),
}
_patients = itertools.count(1)


def _region(condition: str) -> str:
    """The condition's first typical region ("any region" conditions: the shoulder)."""
    return (CATALOG.conditions[condition].regions or ("shoulder",))[0]


def _episode(db: Database, condition: str) -> tuple[int, int]:
    """A fresh patient and an open episode for `condition` in the clinic 'main' (made once)."""
    entry = CATALOG.conditions[condition]
    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, "main", "Main clinic")
        if not clinics.list_clinicians(s, clinic.id):
            clinics.add_clinician(s, clinic.id, clinician_doc())
        code = f"P{next(_patients):05d}"
        patients.add_patient(s, clinic.id, {"code": code, "birth_year": 1980, "sex": "female"})
        plan = episode_doc(condition=condition, region=_region(condition), target_tissue=entry.tissue)
        ep = episodes.open_episode(s, clinic.id, code, plan)
    return clinic.id, ep.id


def _record(
    db: Database, clinic_id: int, episode_id: int, region: str, measure: str, values: list[int]
) -> None:
    """One session per (pre, post) pair of `values`."""
    for n, (pre, post) in enumerate(zip(values[::2], values[1::2], strict=False), start=1):
        doc = session_doc(
            episode_id,
            date=f"2026-03-{1 + n:02d}",
            steps=[step_doc(region=region)],
            measurements=[
                {"measure": measure, "value": pre, "timing": "pre"},
                {"measure": measure, "value": post, "timing": "post"},
            ],
            adverse_responses=[],
            clinician_decision=None,  # whatever the aid says: this test looks at its bars only
        )
        with db.unit_of_work() as s:
            sessions.record_session(s, clinic_id, doc, by="test")


def _views(db: Database, clinic_id: int, episode_id: int, measure: str) -> dict[str, float | None]:
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic_id, episode_id)
    stored = view.sessions[-1].recommendation or {}
    aid = next(m["mcid"] for m in stored["measures"] if m["measure"] == measure)
    (series,) = [x for x in progress(view) if x.measure == measure]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_episode(view)
    text = " ".join(out.getvalue().split())
    name = re.escape(CATALOG.measures[measure].name)
    found = re.search(rf"{name}: .*?; bar ([0-9.e+-]+) ", text)
    respond = recommend_document(
        {
            "condition": view.condition,
            "measures": [
                {"measure": m.measure, "session": n, "timing": m.timing, "value": m.value}
                for n, sess in enumerate(view.sessions, start=1)
                for m in sess.measurements
                if m.timing in ("pre", "post")
            ],
        }
    ).to_json()
    return {
        "decision aid": aid,
        "episode page": series.threshold,
        "command line": float(found.group(1)) if found else None,
        "strigil respond": next(m["mcid"] for m in respond["measures"] if m["measure"] == measure),
    }


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = open_database(f"sqlite:///{Path(tmp_path_factory.mktemp('bars')) / 'clinic.sqlite'}")
    yield database
    database.dispose()


@st.composite
def episodes_with_values(draw: st.DrawFn) -> tuple[str, str, list[int]]:
    condition = draw(st.sampled_from(CONDITIONS))
    measure = draw(st.sampled_from(sorted(RANGES)))
    lo, hi = RANGES[measure]
    values = draw(st.lists(st.integers(lo, hi), min_size=4, max_size=6))
    return condition, measure, values


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(episodes_with_values())
def test_every_view_shows_the_same_bar(sqlite_db: Database, case: tuple[str, str, list[int]]) -> None:
    condition, measure, values = case
    clinic_id, episode_id = _episode(sqlite_db, condition)
    _record(sqlite_db, clinic_id, episode_id, _region(condition), measure, values)
    bars = _views(sqlite_db, clinic_id, episode_id, measure)
    assert bars["decision aid"] is not None, bars
    for bar in bars.values():
        assert bar == pytest.approx(bars["decision aid"], rel=1e-3), (condition, measure, bars)


@pytest.mark.parametrize(
    ("condition", "measure", "bar"),
    [
        ("lateral_elbow_tendinopathy", "nprs", 2.3),  # the catalogue's 2.3, not a chronic-pain threshold
        ("neck_pain", "ndi", 10.2),  # 7.5 lies within error; the authors advise 10, the MDC is 10.2
        ("plantar_heel_pain", "rom_deg", 20.0),  # no joint recorded: the labelled fallback
    ],
)
def test_the_stored_recommendation_uses_the_episodes_condition(
    db: Database, condition: str, measure: str, bar: float
) -> None:
    clinic_id, episode_id = _episode(db, condition)
    lo, hi = RANGES[measure]
    values = [hi - (hi - lo) // 4, hi - (hi - lo) // 4, hi - (hi - lo) // 3, hi - (hi - lo) // 3]
    _record(db, clinic_id, episode_id, _region(condition), measure, values)
    bars: dict[str, Any] = _views(db, clinic_id, episode_id, measure)
    assert bars == pytest.approx(dict.fromkeys(bars, bar)), bars
