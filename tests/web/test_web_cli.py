"""`strigil user ...` and the demo set-up behind `strigil serve --demo`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from strigil.cli import app
from strigil.services import accounts as account_service
from strigil.store.database import open_database

runner = CliRunner()


@pytest.fixture()
def clinic_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("STRIGIL_DATABASE_URL", url)
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path))
    return url


def test_first_admin_token_reset_and_deactivate(clinic_db: str) -> None:
    made = runner.invoke(
        app,
        ["user", "add", "chief", "--role", "admin", "--password-stdin"],
        input="a long enough passphrase\n",
    )
    assert made.exit_code == 0, made.output
    token = runner.invoke(app, ["user", "token", "chief", "--scope", "read", "--scope", "admin"])
    assert token.exit_code == 0 and token.output.startswith("stg_")
    reset = runner.invoke(
        app, ["user", "reset-password", "chief", "--password-stdin"], input="another passphrase x\n"
    )
    assert reset.exit_code == 0
    gone = runner.invoke(app, ["user", "deactivate", "chief"])
    assert gone.exit_code == 0
    database = open_database(clinic_db)
    with database.unit_of_work() as db:
        account = account_service.get_account(db, "chief")
        assert not account.active and account.must_change_password
        assert account_service.resolve_api_token(db, token.output.strip()) is None
    database.dispose()


def test_cli_errors_name_the_problem_and_exit_2(clinic_db: str) -> None:
    weak = runner.invoke(app, ["user", "add", "chief", "--password-stdin"], input="short\n")
    assert weak.exit_code == 2 and "password: must have at least 12 characters" in weak.output
    role = runner.invoke(
        app,
        ["user", "add", "chief", "--role", "owner", "--password-stdin"],
        input="a long enough passphrase\n",
    )
    assert role.exit_code == 2 and "role: 'owner' is not allowed" in role.output
    missing = runner.invoke(app, ["user", "deactivate", "nobody"])
    assert missing.exit_code == 2 and "no account named 'nobody'" in missing.output
    scope = runner.invoke(app, ["user", "token", "nobody", "--scope", "everything"])
    assert scope.exit_code == 2


def test_demo_setup_is_idempotent_and_uses_its_own_file(tmp_path: Path) -> None:
    from strigil.web.setup import DEMO_USERS, ensure_demo

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    first = ensure_demo(url, patients=3)
    again = ensure_demo(url, patients=3)
    assert first == again == len(DEMO_USERS)
    assert not (tmp_path / "clinic.sqlite").exists()


def test_the_demo_clinician_account_treats_as_a_demo_clinician_and_can_sign_its_notes(tmp_path: Path) -> None:
    from sqlalchemy import select

    from strigil.services import accounts
    from strigil.store.accounts import Account
    from strigil.store.database import open_database
    from strigil.store.record import ClinicianRow
    from strigil.web.setup import ensure_demo

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    ensure_demo(url, patients=3)
    database = open_database(url)
    try:

        def linked() -> dict[str, str | None]:
            with database.unit_of_work() as db:
                rows = db.execute(
                    select(Account.username, ClinicianRow.code).outerjoin(
                        ClinicianRow, ClinicianRow.id == Account.clinician_id
                    )
                )
                return {name: code for name, code in rows}

        assert linked() == {"demo": "c02", "demo-admin": None, "demo-research": None}
        # a demo file made before: its clinician account is linked when the demo starts again
        with database.unit_of_work() as db:
            demo = db.scalar(select(Account).where(Account.username == "demo"))
            assert demo is not None
            accounts.link_clinician(db, demo, None)
        assert linked()["demo"] is None
        ensure_demo(url, patients=3)
        assert linked()["demo"] == "c02"
    finally:
        database.dispose()
