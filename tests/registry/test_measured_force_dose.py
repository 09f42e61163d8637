"""The registry models dose as measured force: `session:measured_force_n` from the record's dose steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from record_factories import clinician_doc, episode_doc, session_doc, step_doc
from typer.testing import CliRunner

from strigil.cli import app
from strigil.services import clinics, episodes, patients
from strigil.services.sessions import record_session
from strigil.store.database import open_database

runner = CliRunner()


@pytest.fixture(scope="module")
def measured_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """20 patients, 5 sessions each; each session's step carries a measured force (the patient's own level),
    and pain falls by 0.05 per session per newton of mean force (plus noise). One session in five has no
    measured force, so its rows have no dose and are left out of the fit."""
    url = f"sqlite:///{tmp_path_factory.mktemp('measured') / 'clinic.sqlite'}"
    db = open_database(url)
    rng = np.random.default_rng(3)
    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, "main", "Main clinic")
        clinics.add_clinician(s, clinic.id, clinician_doc())
        for p in range(20):
            code = f"P{p:03d}"
            patients.add_patient(s, clinic.id, {"code": code, "birth_year": 1980, "sex": "female"})
            episode = episodes.open_episode(s, clinic.id, code, episode_doc())
            force = float(rng.uniform(3.0, 11.0))
            start = 7.0 + rng.normal(0, 0.5)
            for n in range(5):
                pain = float(np.clip(start - 0.05 * n * force + rng.normal(0, 0.3), 0, 10))
                summary = {
                    "recording": f"{code}-{n}.csv",
                    "stroke_count": 30,
                    "mean_n": force,
                    "peak_n": force * 1.4,
                }
                step = step_doc(measured_force=summary if n != 2 else None)
                doc = session_doc(
                    episode.id,
                    date=f"2026-03-{2 + 3 * n:02d}",
                    steps=[step],
                    measurements=[{"measure": "nprs", "value": round(pain, 1), "timing": "pre"}],
                    adverse_responses=[],
                )
                record_session(s, clinic.id, doc)
    db.dispose()
    return url


def test_registry_fits_dose_as_measured_force(
    measured_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIGIL_DATABASE_URL", measured_db)
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path))
    formula = "pain ~ session + session:measured_force_n"
    args = [
        "registry",
        "fit",
        "--from-db",
        "--outcome",
        "nprs",
        "--formula",
        formula,
        "--random",
        "1 | patient",
    ]
    args.append("--json")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    fit = json.loads(result.stdout)
    assert fit["n_obs"] == 20 * 4  # the sessions without a measured force have no dose
    slope = fit["fixed"]["session:measured_force_n"]
    assert slope == pytest.approx(-0.05, abs=0.02)
