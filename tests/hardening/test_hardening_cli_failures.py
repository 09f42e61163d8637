"""Every `strigil` command, given a missing patient, a wrong clinic or an unreadable file, ends with one line.

The walk covers the whole command tree (read from the Typer app, so a new command fails
`test_every_command_is_in_the_walk` until it is listed here): for each command, the expected failures that
apply to it. Each must exit non-zero with exactly one `error: ...` line on stderr — never a traceback,
never a usage box — and leave the clinic's record unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer.main
from record_cli import Clinic, make_clinic, session_doc

from strigil.cli import app

FOREIGN_BUNDLE = Path(__file__).resolve().parent.parent / "interop" / "bundles" / "other_ehr_pain_scores.json"

Build = Callable[[Clinic, str], list[str]]

MISSING_PATIENT = "missing patient"
WRONG_CLINIC = "wrong clinic"
UNREADABLE = "unreadable file"
UNWRITABLE = "unwritable output"

# An unreadable file: a path that does not exist, a folder, bytes that are not text. An unwritable output:
# a path under a regular file, an existing folder.
FILE_KINDS = {UNREADABLE: ("absent", "folder", "binary"), UNWRITABLE: ("under-a-file", "folder")}

_EPISODE = [
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
]
_NO_CLINIC = "no-such-clinic"


def _cmd(*args: str) -> Build:
    """A command line; '{file}' stands for the unreadable file, '{good}' for a valid session document."""

    def build(c: Clinic, file: str) -> list[str]:
        good = c.write_json("good-session.json", session_doc())
        return [a.replace("{file}", file).replace("{good}", good) for a in args]

    return build


# Where a kind of file does not fail: an output folder may exist; a study store need not exist yet.
_STORE = {UNREADABLE: ("folder", "binary")}
NARROWER = {
    "fhir artefacts": {UNWRITABLE: ("under-a-file",)},
    "evidence list": _STORE,
    "evidence show": _STORE,
    "evidence summary": _STORE,
    "evidence effects": _STORE,
}

# command -> {failure kind: command line} or, where no such failure applies, the reason why not.
WALK: dict[str, dict[str, Build] | str] = {
    "schema": "reads no patient, clinic or file",
    "init": "creates the clinic it is given",
    "backup": {UNWRITABLE: _cmd("backup", "{file}")},
    "restore": {UNREADABLE: _cmd("restore", "{file}")},
    "screen": {
        MISSING_PATIENT: _cmd("screen", "{screen}", "--episode", "999", "--by", "ana"),
        WRONG_CLINIC: _cmd("screen", "{screen}", "--episode", "1", "--by", "ana", "--clinic", _NO_CLINIC),
        UNREADABLE: _cmd("screen", "{file}"),
    },
    "respond": {UNREADABLE: _cmd("respond", "{file}")},
    "demo": "writes its own demo database",
    "main": {MISSING_PATIENT: _cmd("main", "--patient", "NOPE404", "--patients", "3")},
    "serve": "starts a server (covered by the web tests)",
    "clinician add": {
        WRONG_CLINIC: _cmd(
            "clinician",
            "add",
            "bo",
            "--name",
            "Bo",
            "--profession",
            "athletic_trainer",
            "--years",
            "2",
            "--clinic",
            _NO_CLINIC,
        )
    },
    "clinician list": {WRONG_CLINIC: _cmd("clinician", "list", "--clinic", _NO_CLINIC)},
    "patient add": {
        WRONG_CLINIC: _cmd(
            "patient", "add", "P9", "--birth-year", "1980", "--sex", "male", "--clinic", _NO_CLINIC
        )
    },
    "patient list": {WRONG_CLINIC: _cmd("patient", "list", "--clinic", _NO_CLINIC)},
    "patient show": {
        MISSING_PATIENT: _cmd("patient", "show", "NOPE404"),
        WRONG_CLINIC: _cmd("patient", "show", "P001", "--clinic", _NO_CLINIC),
    },
    "episode open": {
        MISSING_PATIENT: _cmd("episode", "open", "--patient", "NOPE404", *_EPISODE),
        WRONG_CLINIC: _cmd("episode", "open", "--patient", "P001", *_EPISODE, "--clinic", _NO_CLINIC),
    },
    "episode amend-plan": {
        MISSING_PATIENT: _cmd("episode", "amend-plan", "999", "--reason", "r", "--by", "ana", "--iastm"),
        WRONG_CLINIC: _cmd(
            "episode", "amend-plan", "1", "--reason", "r", "--by", "ana", "--iastm", "--clinic", _NO_CLINIC
        ),
    },
    "episode close": {
        MISSING_PATIENT: _cmd("episode", "close", "999", "--on", "2026-04-01", "--reason", "discharged"),
        WRONG_CLINIC: _cmd(
            "episode", "close", "1", "--on", "2026-04-01", "--reason", "discharged", "--clinic", _NO_CLINIC
        ),
    },
    "episode show": {
        MISSING_PATIENT: _cmd("episode", "show", "999"),
        WRONG_CLINIC: _cmd("episode", "show", "1", "--clinic", _NO_CLINIC),
    },
    "episode tidier": {
        MISSING_PATIENT: _cmd("episode", "tidier", "999"),
        WRONG_CLINIC: _cmd("episode", "tidier", "1", "--clinic", _NO_CLINIC),
    },
    "episode discharge": {
        MISSING_PATIENT: _cmd(
            "episode", "discharge", "999", "--on", "2026-04-01", "--reason", "goals_met", "--by", "ana"
        ),
        WRONG_CLINIC: _cmd(
            "episode",
            "discharge",
            "1",
            "--on",
            "2026-04-01",
            "--reason",
            "goals_met",
            "--by",
            "ana",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "episode summary": {
        MISSING_PATIENT: _cmd("episode", "summary", "999"),
        WRONG_CLINIC: _cmd("episode", "summary", "1", "--clinic", _NO_CLINIC),
    },
    "episode reopen": {
        MISSING_PATIENT: _cmd(
            "episode", "reopen", "999", "--reason", "a mistaken discharge, reopened", "--by", "ana"
        ),
        WRONG_CLINIC: _cmd(
            "episode",
            "reopen",
            "1",
            "--reason",
            "a mistaken discharge, reopened",
            "--by",
            "ana",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "episode void": {
        MISSING_PATIENT: _cmd(
            "episode", "void", "999", "--reason", "opened for the wrong patient", "--by", "ana"
        ),
        WRONG_CLINIC: _cmd(
            "episode",
            "void",
            "1",
            "--reason",
            "opened for the wrong patient",
            "--by",
            "ana",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "session note": {
        MISSING_PATIENT: _cmd("session", "note", "999"),
        WRONG_CLINIC: _cmd("session", "note", "1", "--clinic", _NO_CLINIC),
    },
    "session sign": {
        MISSING_PATIENT: _cmd("session", "sign", "999", "--by", "ana"),
        WRONG_CLINIC: _cmd("session", "sign", "1", "--by", "ana", "--clinic", _NO_CLINIC),
    },
    "session addendum": {
        MISSING_PATIENT: _cmd("session", "addendum", "999", "--text", "bruise reported", "--by", "ana"),
        WRONG_CLINIC: _cmd(
            "session", "addendum", "1", "--text", "bruise reported", "--by", "ana", "--clinic", _NO_CLINIC
        ),
    },
    "session void": {
        MISSING_PATIENT: _cmd(
            "session", "void", "999", "--reason", "entered for the wrong patient", "--by", "ana"
        ),
        WRONG_CLINIC: _cmd(
            "session",
            "void",
            "1",
            "--reason",
            "entered for the wrong patient",
            "--by",
            "ana",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "session prepare": {
        MISSING_PATIENT: _cmd("session", "prepare", "999"),
        WRONG_CLINIC: _cmd("session", "prepare", "1", "--clinic", _NO_CLINIC),
    },
    "session record": {
        MISSING_PATIENT: _cmd("session", "record", "{missing-episode}"),
        WRONG_CLINIC: _cmd("session", "record", "{good}", "--clinic", _NO_CLINIC),
        UNREADABLE: _cmd("session", "record", "{file}"),
    },
    "session amend": {
        MISSING_PATIENT: _cmd("session", "amend", "999", "{good}", "--by", "ana", "--reason", "typo"),
        WRONG_CLINIC: _cmd(
            "session", "amend", "1", "{good}", "--by", "ana", "--reason", "typo", "--clinic", _NO_CLINIC
        ),
        UNREADABLE: _cmd("session", "amend", "1", "{file}", "--by", "ana", "--reason", "typo"),
    },
    "measure add": {
        MISSING_PATIENT: _cmd(
            "measure", "add", "--episode", "999", "--measure", "nprs", "--value", "3", "--on", "2026-03-05"
        ),
        WRONG_CLINIC: _cmd(
            "measure",
            "add",
            "--episode",
            "1",
            "--measure",
            "nprs",
            "--value",
            "3",
            "--on",
            "2026-03-05",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "adverse add": {
        MISSING_PATIENT: _cmd(
            "adverse",
            "add",
            "--episode",
            "999",
            "--kind",
            "soreness",
            "--severity",
            "mild",
            "--onset",
            "2026-03-03",
        ),
        WRONG_CLINIC: _cmd(
            "adverse",
            "add",
            "--episode",
            "1",
            "--kind",
            "soreness",
            "--severity",
            "mild",
            "--onset",
            "2026-03-03",
            "--clinic",
            _NO_CLINIC,
        ),
    },
    "adverse resolve": {
        MISSING_PATIENT: _cmd("adverse", "resolve", "999", "--on", "2026-03-09", "--by", "ana"),
        WRONG_CLINIC: _cmd(
            "adverse", "resolve", "1", "--on", "2026-03-09", "--by", "ana", "--clinic", _NO_CLINIC
        ),
    },
    "export csv": {
        WRONG_CLINIC: _cmd("export", "csv", "--clinic", _NO_CLINIC),
        UNWRITABLE: _cmd("export", "csv", "-o", "{file}"),
    },
    "export parquet": {
        WRONG_CLINIC: _cmd("export", "parquet", "-o", "{out}", "--clinic", _NO_CLINIC),
        UNWRITABLE: _cmd("export", "parquet", "-o", "{file}"),
    },
    "export metafor": {
        WRONG_CLINIC: _cmd("export", "metafor", "-o", "{out}", "--clinic", _NO_CLINIC),
        UNWRITABLE: _cmd("export", "metafor", "-o", "{file}"),
    },
    "export redcap": {
        WRONG_CLINIC: _cmd("export", "redcap", "-o", "{out}", "--clinic", _NO_CLINIC),
    },
    "meta escalc": {UNREADABLE: _cmd("meta", "escalc", "{file}", "--measure", "SMD")},
    "meta fit": {UNREADABLE: _cmd("meta", "fit", "{file}")},
    "meta forest": {UNREADABLE: _cmd("meta", "forest", "{file}", "-o", "{out}")},
    "meta funnel": {UNREADABLE: _cmd("meta", "funnel", "{file}", "-o", "{out}")},
    "meta diagnose": {UNREADABLE: _cmd("meta", "diagnose", "{file}")},
    "meta counts": {UNREADABLE: _cmd("meta", "counts", "{file}")},
    "meta bubble": {UNREADABLE: _cmd("meta", "bubble", "{file}", "-o", "{out}", "--mods", "year")},
    "meta radial": {UNREADABLE: _cmd("meta", "radial", "{file}", "-o", "{out}")},
    "meta gosh": {UNREADABLE: _cmd("meta", "gosh", "{file}", "-o", "{out}")},
    "meta residuals": {UNREADABLE: _cmd("meta", "residuals", "{file}")},
    "evidence list": {UNREADABLE: _cmd("evidence", "list", "--store", "{file}")},
    "evidence show": {UNREADABLE: _cmd("evidence", "show", "nakamura2022", "--store", "{file}")},
    "evidence summary": {
        UNREADABLE: _cmd("evidence", "summary", "--condition", "neck_pain", "--store", "{file}")
    },
    "evidence import": {UNREADABLE: _cmd("evidence", "import", "{file}", "--store", "{out}")},
    "evidence effects": {UNREADABLE: _cmd("evidence", "effects", "--store", "{file}")},
    "evidence seffrin": "reads the packaged study only",
    "registry fit": {
        WRONG_CLINIC: _cmd(
            "registry",
            "fit",
            "--from-db",
            "--formula",
            "value ~ session",
            "--random",
            "1 | patient",
            "--outcome",
            "nprs",
            "--db-clinic",
            _NO_CLINIC,
        ),
        UNREADABLE: _cmd(
            "registry", "fit", "{file}", "--formula", "value ~ session", "--random", "1 | patient"
        ),
    },
    "registry generate": {UNWRITABLE: _cmd("registry", "generate", "{file}", "--clinics", "2")},
    "registry site-summary": {
        UNREADABLE: _cmd(
            "registry",
            "site-summary",
            "{file}",
            "--formula",
            "value ~ session",
            "--random",
            "1 | patient",
            "--site",
            "a",
            "--out-dir",
            "{outdir}",
        )
    },
    "registry pool": {UNREADABLE: _cmd("registry", "pool", "{file}")},
    "registry report": {
        UNREADABLE: _cmd(
            "registry",
            "report",
            "{file}",
            "--formula",
            "value ~ session",
            "--random",
            "1 | patient",
            "--out",
            "{out}",
        )
    },
    "force analyse": {UNREADABLE: _cmd("force", "analyse", "{file}")},
    "force reliability": {UNREADABLE: _cmd("force", "reliability", "{file}")},
    "force simulate": {UNWRITABLE: _cmd("force", "simulate", "{file}")},
    "force settings": "reads no patient, clinic or file",
    "force ranges": "reads no patient, clinic or file",
    "fhir export": {
        MISSING_PATIENT: _cmd("fhir", "export", "-o", "{out}", "--episode", "999"),
        WRONG_CLINIC: _cmd("fhir", "export", "-o", "{out}", "--all", "--clinic", _NO_CLINIC),
        UNWRITABLE: _cmd("fhir", "export", "-o", "{file}", "--all"),
    },
    "fhir import": {
        MISSING_PATIENT: _cmd("fhir", "import", "{foreign}", "--clinic", "main", "--patient", "NOPE404"),
        WRONG_CLINIC: _cmd("fhir", "import", "{bundle}", "--clinic", _NO_CLINIC),
        UNREADABLE: _cmd("fhir", "import", "{file}"),
    },
    "fhir artefacts": {UNWRITABLE: _cmd("fhir", "artefacts", "-o", "{file}")},
    "user add": "creates the clinic it is given; its password comes from the terminal",
    "user deactivate": {MISSING_PATIENT: _cmd("user", "deactivate", "nobody")},
    "user reactivate": {MISSING_PATIENT: _cmd("user", "reactivate", "nobody")},
    "user reset-password": {MISSING_PATIENT: _cmd("user", "reset-password", "nobody", "--password-stdin")},
    "user token": {MISSING_PATIENT: _cmd("user", "token", "nobody")},
    "privacy export": {
        MISSING_PATIENT: _cmd("privacy", "export", "NOPE404"),
        WRONG_CLINIC: _cmd("privacy", "export", "P001", "--clinic", _NO_CLINIC),
        UNWRITABLE: _cmd("privacy", "export", "P001", "-o", "{file}"),
    },
    "privacy erase": {
        MISSING_PATIENT: _cmd("privacy", "erase", "NOPE404", "--confirm", "NOPE404", "--reason", "request"),
        WRONG_CLINIC: _cmd(
            "privacy", "erase", "P001", "--confirm", "P001", "--reason", "request", "--clinic", _NO_CLINIC
        ),
    },
}


def command_paths() -> list[str]:
    """Every leaf command of `strigil`, as its words ('patient show')."""
    import typer._click as click

    root = typer.main.get_command(app)
    context = click.Context(root)
    found: list[str] = []

    def walk(command: object, words: list[str]) -> None:
        group = getattr(command, "list_commands", None)
        if group is None:
            found.append(" ".join(words))
            return
        for name in group(context):
            walk(command.get_command(context, name), [*words, name])  # type: ignore[attr-defined]

    walk(root, [])
    return found


def test_every_command_is_in_the_walk() -> None:
    assert sorted(command_paths()) == sorted(WALK)


def _cases() -> Iterator[tuple[str, str, str]]:
    for command, kinds in WALK.items():
        if isinstance(kinds, str):
            continue
        for kind in kinds:
            for file_kind in NARROWER.get(command, FILE_KINDS).get(kind, ("",)):
                yield command, kind, file_kind


CASES = list(_cases())


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Clinic:
    """A clinic (SQLite) with clinician 'ana', patient 'P001', episode 1 with session 1, a FHIR bundle."""
    home = tmp_path_factory.mktemp("walk")
    c = make_clinic(home)
    c.ok("session", "record", c.write_json("first.json", session_doc()))
    c.ok("fhir", "export", "-o", str(home / "bundle.json"), "--all")
    c.write_json("screen.json", {"region": "elbow", "findings": []})
    c.write_json("missing-episode.json", session_doc(episode_id=999))
    (home / "folder").mkdir()
    (home / "binary").write_bytes(b"\xff\xfe\x00\x81PK\x03\x04" * 64)
    return c


def _unreadable(c: Clinic, kind: str) -> str:
    return {
        "absent": str(c.home / "no-such-file"),
        "folder": str(c.home / "folder"),
        "binary": str(c.home / "binary"),
        "under-a-file": str(c.home / "binary" / "out"),
    }[kind]


@pytest.mark.parametrize(
    ("command", "kind", "file_kind"), CASES, ids=["/".join(filter(None, c)) for c in CASES]
)
def test_an_expected_failure_ends_with_one_error_line(
    clinic: Clinic, tmp_path: Path, command: str, kind: str, file_kind: str
) -> None:
    build = WALK[command]
    assert not isinstance(build, str)
    args = build[kind](clinic, _unreadable(clinic, file_kind) if file_kind else "")
    home = clinic.home
    args = [
        a.replace("{screen}", str(home / "screen.json"))
        .replace("{missing-episode}", str(home / "missing-episode.json"))
        .replace("{bundle}", str(home / "bundle.json"))
        .replace("{foreign}", str(FOREIGN_BUNDLE))
        .replace("{binary}", str(home / "binary"))
        .replace("{outdir}", str(tmp_path))
        .replace("{out}", str(tmp_path / "out"))
        for a in args
    ]
    before = clinic.fingerprint()
    result = clinic.runner.invoke(
        app,
        args,
        input="a-long-enough-passphrase\n",
        env={"STRIGIL_HOME": str(home), "STRIGIL_DATABASE_URL": ""},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args}: ended in {type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code != 0, (args, result.stdout)
    # One error line, the last thing said (a progress line such as "building the demo clinic" may precede it).
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], (args, result.stderr)
    assert all("│" not in line for line in lines), (args, result.stderr)  # no usage box
    assert "Traceback" not in result.stdout + result.stderr
    assert clinic.fingerprint() == before


@pytest.mark.parametrize(
    "args",
    [
        ("patient", "add", "P777", "--birth-year", "1980", "--sex", "male"),
        ("patient", "show", "P001"),  # a read writes its audit row
        ("privacy", "export", "P001"),
        ("export", "csv"),
    ],
)
def test_a_database_that_refuses_writes_ends_in_one_error_line(clinic: Clinic, args: tuple[str, ...]) -> None:
    """A full disk or a read-only file: SQLite's own error, raised for every write, as one line."""
    import sqlite3

    from sqlalchemy import Engine, event

    def refuse(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("attempt to write a readonly database")

    before = clinic.fingerprint()
    event.listen(Engine, "before_cursor_execute", refuse)
    try:
        result = clinic.run(*args)
    finally:
        event.remove(Engine, "before_cursor_execute", refuse)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: the database refused the work (attempt to write a readonly database); nothing was written — "
        "check it, then retry"
    ]
    assert clinic.fingerprint() == before
