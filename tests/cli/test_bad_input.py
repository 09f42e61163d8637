"""Bad input: each kind gets a clear `error:` message, exit status 2, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from record_cli import Clinic, make_clinic, session_doc


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    """One clinic for all bad-input cases (they must not change it); a closed episode 2 for one case."""
    c = make_clinic(tmp_path_factory.mktemp("bad"))
    c.ok("session", "record", c.write_json("good.json", session_doc()))
    c.ok(
        "episode",
        "open",
        "--patient",
        "P001",
        "--condition",
        "neck_pain",
        "--region",
        "neck",
        "--side",
        "midline",
        "--tissue",
        "muscle",
        "--onset",
        "2026-01-01",
        "--opened",
        "2026-02-01",
        "--care",
        "motor_control",
        "--consent-date",
        "2026-02-01",
        "--explained",
        "bruising",
        "--explained",
        "alternatives",
        "--explained",
        "exercise_programme",
    )
    c.ok("episode", "close", c.id("episode", 2), "--on", "2026-02-20", "--reason", "discharged")
    yield c


def _episode(*extra: str, **override: str) -> list[str]:
    opts = {
        "--patient": "P001",
        "--condition": "lateral_elbow_tendinopathy",
        "--region": "elbow",
        "--side": "right",
        "--tissue": "tendon",
        "--onset": "2026-01-10",
        "--opened": "2026-03-02",
        "--consent-date": "2026-03-02",
    }
    opts.update({f"--{k.replace('_', '-')}": v for k, v in override.items()})
    args = ["episode", "open"]
    for k, v in opts.items():
        if v:
            args += [k, v]
    consent = ["--explained", "bruising", "--explained", "alternatives", "--explained", "exercise_programme"]
    return [*args, "--care", "strengthening", *consent, *extra]


def _session(c: Clinic, **changes: Any) -> list[str]:
    return ["session", "record", c.write_json("bad.json", session_doc(**changes))]


def _step(**changes: Any) -> list[dict[str, Any]]:
    return [{**session_doc()["steps"][0], **changes}]


# (id, command builder, fragments the message must contain)
CASES: list[tuple[str, Callable[[Clinic], list[str]], tuple[str, ...]]] = [
    (
        "patient code with a name",
        lambda c: ["patient", "add", "Jane Doe", "--birth-year", "1980", "--sex", "female"],
        ("code:", "Jane Doe"),
    ),
    (
        "birth year in the future",
        lambda c: ["patient", "add", "P9", "--birth-year", "2999", "--sex", "male"],
        ("birth_year", "future"),
    ),
    (
        "unknown sex",
        lambda c: ["patient", "add", "P9", "--birth-year", "1980", "--sex", "x"],
        ("sex:", "'female', 'male', 'other' or 'unknown'"),
    ),
    (
        "duplicate patient code",
        lambda c: ["patient", "add", "P001", "--birth-year", "1980", "--sex", "female"],
        ("already used",),
    ),
    ("unknown patient", lambda c: [*_episode(patient="P404")], ("no patient with code 'P404'",)),
    (
        "unknown condition, with suggestion",
        lambda c: _episode(condition="lateral_elbow_tendinopaty"),
        ("condition:", "did you mean 'lateral_elbow_tendinopathy'"),
    ),
    ("unknown region", lambda c: _episode(region="elbw"), ("region:", "did you mean 'elbow'")),
    ("unknown side", lambda c: _episode(side="top"), ("side:", "allowed: left, right, bilateral, midline")),
    ("unknown tissue", lambda c: _episode(tissue="bone"), ("target_tissue:", "'tendon'")),
    ("onset after opening", lambda c: _episode(onset="2026-04-01"), ("onset must come first",)),
    ("malformed date", lambda c: _episode(onset="01/10/2026"), ("onset_date:", "date")),
    (
        "IASTM without exercise (exercise first)",
        lambda c: [
            "episode",
            "open",
            "--patient",
            "P001",
            "--condition",
            "neck_pain",
            "--region",
            "neck",
            "--side",
            "midline",
            "--tissue",
            "muscle",
            "--onset",
            "2026-01-01",
            "--opened",
            "2026-02-01",
            "--care",
            "stretching",
            "--consent-date",
            "2026-02-01",
            "--explained",
            "bruising",
        ],
        ("exercise", "stretching"),
    ),
    ("IASTM without consent", lambda c: _episode(consent_date=""), ("consent is required",)),
    ("session file missing", lambda c: ["session", "record", str(c.home / "nope.json")], ("does not exist",)),
    ("session file not JSON", lambda c: ["session", "record", _raw(c, "{not json")], ("not valid JSON",)),
    ("session document not an object", lambda c: ["session", "record", _raw(c, "[1, 2]")], ("JSON object",)),
    (
        "unknown instrument",
        lambda c: _session(c, steps=_step(instrument="graston")),
        ("steps[0].instrument", "did you mean 'graston_set'"),
    ),
    ("unknown stroke", lambda c: _session(c, steps=_step(stroke="swipe")), ("steps[0].stroke", "allowed:")),
    ("unknown edge", lambda c: _session(c, steps=_step(edge="serrated")), ("steps[0].edge", "allowed:")),
    (
        "angle out of range",
        lambda c: _session(c, steps=_step(angle_deg=135)),
        ("steps[0].angle_deg", "less than or equal to 90"),
    ),
    ("duration zero", lambda c: _session(c, steps=_step(duration_s=0)), ("steps[0].duration_s",)),
    (
        "direction not allowed",
        lambda c: _session(c, steps=_step(direction="up")),
        ("steps[0].direction", "'along', 'across', 'oblique' or 'multidirectional'"),
    ),
    (
        "pressure not allowed",
        lambda c: _session(c, steps=_step(pressure="firm")),
        ("steps[0].pressure", "'light', 'moderate' or 'heavy'"),
    ),
    (
        "measure value beyond its scale",
        lambda c: _session(c, measurements=[{"measure": "nprs", "value": 12, "timing": "pre"}]),
        ("12 is outside the nprs range; allowed: 0 to 10 points",),
    ),
    (
        "unknown measure",
        lambda c: _session(c, measurements=[{"measure": "pain", "value": 2, "timing": "pre"}]),
        ("measurements[0].measure", "allowed:"),
    ),
    (
        "pre/post without instrument work",
        lambda c: _session(c, steps=[], tolerance=None),
        ("need at least one dose step",),
    ),
    ("unknown field in the document", lambda c: _session(c, colour="red"), ("colour", "unknown field")),
    (
        "missing required field",
        lambda c: [
            "session",
            "record",
            c.write_json("m.json", {k: v for k, v in session_doc().items() if k != "date"}),
        ],
        ("date: required field is missing",),
    ),
    ("unknown clinician", lambda c: _session(c, clinician="bob"), ("clinician", "allowed: ana")),
    (
        "session before the episode opened",
        lambda c: _session(c, date="2026-03-01"),
        ("date", "on or after the episode's opening"),
    ),
    ("session in the future", lambda c: _session(c, date="2999-01-01"), ("must not be in the future",)),
    (
        "episode that does not exist",
        lambda c: _session(c, episode_id="0123456789abcdef0123456789abcdef"),
        ("no episode 0123456789abcdef0123456789abcdef",),
    ),
    ("episode by its database id", lambda c: _session(c, episode_id="1"), ("no episode 1", "public id")),
    (
        "session on a closed episode",
        lambda c: _session(c, episode_id=2, date="2026-02-25", steps=_step(region="neck", side="midline")),
        ("closed",),
    ),
    ("tolerance missing after IASTM", lambda c: _session(c, tolerance=None), ("tolerance is required",)),
    (
        "adverse response resolving before onset",
        lambda c: [
            "adverse",
            "add",
            "--episode",
            c.id("episode", 1),
            "--kind",
            "bruising",
            "--severity",
            "mild",
            "--onset",
            "2026-03-05",
            "--resolved",
            "2026-03-04",
        ],
        ("before onset_on",),
    ),
    (
        "adverse kind not allowed",
        lambda c: [
            "adverse",
            "add",
            "--episode",
            c.id("episode", 1),
            "--kind",
            "rash",
            "--severity",
            "mild",
            "--onset",
            "2026-03-05",
        ],
        ("kind:", "'petechiae'"),
    ),
    (
        "pre/post measurement without a session",
        lambda c: [
            "measure",
            "add",
            "--episode",
            c.id("episode", 1),
            "--measure",
            "nprs",
            "--value",
            "3",
            "--on",
            "2026-03-09",
            "--timing",
            "pre",
        ],
        ("belong to a session",),
    ),
    (
        "closing before opening",
        lambda c: ["episode", "close", c.id("episode", 1), "--on", "2026-01-01", "--reason", "x"],
        ("closed_on", "on or after opened_on"),
    ),
    (
        "unknown clinic",
        lambda c: ["patient", "list", "--clinic", "nowhere"],
        ("'nowhere' is not a clinic here", "allowed: main"),
    ),
    (
        "amendment without a reason",
        lambda c: [
            "session",
            "amend",
            c.id("session", 1),
            c.write_json("am.json", session_doc()),
            "--by",
            "ana",
            "--reason",
            " ",
        ],
        ("reason", "say why"),
    ),
    (
        "export over an existing file",
        lambda c: ["export", "csv", "-o", _raw(c, "exists")],
        ("never overwrite",),
    ),
    ("backup over an existing file", lambda c: ["backup", _raw(c, "exists")], ("never overwrite",)),
    (
        "restore from a file that is not a backup",
        lambda c: ["restore", _raw(c, "not a database at all"), "--replace"],
        ("not a Strigil backup",),
    ),
]


def _raw(c: Clinic, text: str) -> str:
    path = c.home / "raw.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("build", "fragments"), [(b, f) for _, b, f in CASES], ids=[i for i, _, _ in CASES])
def test_bad_input_is_refused_clearly_and_writes_nothing(
    shared: Clinic, build: Callable[[Clinic], list[str]], fragments: tuple[str, ...]
) -> None:
    before = shared.fingerprint()
    result = shared.run(*build(shared))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert shared.fingerprint() == before


def test_there_are_at_least_twenty_kinds() -> None:
    assert len({i for i, _, _ in CASES}) >= 20


def test_the_shared_clinic_still_accepts_good_input(shared: Clinic, tmp_path: Path) -> None:
    """Guards the cases above: the same clinic takes a valid session (so refusals come from the bad field)."""
    before = shared.fingerprint()
    shared.ok("session", "record", shared.write_json("good2.json", session_doc(date="2026-03-03")))
    assert shared.fingerprint() != before
