"""Restoring a backup: never under a running server; nothing that must not go back in time does.

A restore over a running server once reverted a deactivated account and its revoked token (both worked
again) and dropped every audit row written since the backup. Now the restore is refused while a server holds
the file; done offline, it carries forward the newer audit rows, deactivations, password changes, token
revocations and the ids already given, ends every sign-in session and records itself in the audit trail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from live import free_port
from record_cli import Clinic, make_clinic
from sqlalchemy import select

from strigil.services import accounts as account_service
from strigil.services import patients
from strigil.services.audit import Actor, record
from strigil.store.accounts import Account, LoginSession
from strigil.store.audit import AuditEvent
from strigil.store.database import Database, open_database

STRIGIL = Path(sys.executable).with_name("strigil")
PASSWORD = "correct horse battery staple"


def _database(c: Clinic) -> Database:
    return open_database(f"sqlite:///{c.db_path}")


def test_a_restore_is_refused_while_a_server_holds_the_database(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    c.ok("backup", str(tmp_path / "copy.sqlite"))
    env = {**os.environ, "STRIGIL_HOME": str(tmp_path)}
    env.pop("STRIGIL_DATABASE_URL", None)
    port = free_port()
    server = subprocess.Popen(
        [str(STRIGIL), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
                    assert json.loads(answer.read()) == {"status": "ok"}
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        before = c.fingerprint()
        refused = c.run("restore", str(tmp_path / "copy.sqlite"), "--replace")
        assert refused.exit_code == 2
        assert refused.stderr.startswith("error: a Strigil server is using"), refused.stderr
        assert c.fingerprint() == before
    finally:
        server.terminate()
        server.communicate(timeout=30)
    # once the server is gone (even killed: the lock goes with its process) the restore goes ahead
    assert "restored" in c.ok("restore", str(tmp_path / "copy.sqlite"), "--replace").stdout


def test_a_restore_carries_forward_what_must_not_go_back_in_time(tmp_path: Path) -> None:
    c = make_clinic(tmp_path)
    database = _database(c)
    with database.unit_of_work() as db:
        for name in ("alice", "bob"):
            account_service.create_account(
                db, username=name, display_name=name, role="clinician", clinic_id=1, password=PASSWORD
            )
        alice = account_service.get_account(db, "alice")
        token = account_service.issue_api_token(db, alice, "sync", ["read"], 30).secret
        bob_session, _ = account_service.start_login_session(db, account_service.get_account(db, "bob"))
    c.ok("backup", str(tmp_path / "copy.sqlite"))
    # after the backup: alice is deactivated (her token revoked), bob changes his password, a patient comes
    # and goes, carol gets an account, and the trail grows
    with database.unit_of_work() as db:
        account_service.deactivate_account(db, "alice")
        bob = account_service.get_account(db, "bob")
        account_service.change_password(db, bob, PASSWORD, "a brand new passphrase of his")
        newcomer = patients.add_patient(db, 1, {"code": "P-LATE", "birth_year": 1999, "sex": "male"})
        account_service.create_account(
            db, username="carol", display_name="carol", role="clinician", clinic_id=1, password=PASSWORD
        )
        record(
            db,
            Actor(None, "cli:test", "admin", 1, "", "cli"),
            "read",
            "patient",
            newcomer.id,
            patient_id=newcomer.id,
        )
    with database.unit_of_work() as db:
        newer = [
            (e.id, e.action, e.patient_id) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
    database.dispose()

    restored = c.ok("restore", str(tmp_path / "copy.sqlite"), "--replace").stdout
    assert "1 deactivated accounts, 1 changed passwords, 1 revoked tokens" in restored
    assert "carol" in restored  # said out loud: an account that the backup does not hold

    database = _database(c)
    try:
        with database.unit_of_work() as db:
            assert account_service.get_account(db, "alice").active is False
            assert account_service.resolve_api_token(db, token) is None, "a revoked token works again"
            assert account_service.resolve_login_session(db, bob_session) is None, (
                "a session outlived the restore"
            )
            kept = [
                (e.id, e.action, e.patient_id) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
            ]
            assert kept[: len(newer)] == newer, "audit rows written after the backup were lost"
            (restore,) = db.scalars(select(AuditEvent).where(AuditEvent.resource == "database")).all()
            assert (restore.action, restore.clinic_id, restore.channel) == ("update", 1, "cli")
            assert "copy.sqlite" in restore.detail
            # the patient added after the backup is gone, but their id is not handed out again
            again = patients.add_patient(db, 1, {"code": "P-NEXT", "birth_year": 2000, "sex": "female"})
            assert again.id > newcomer.id
            assert db.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))).all() == []
        with pytest.raises(account_service.SignInRefused), database.unit_of_work() as db:
            account_service.authenticate(db, "bob", PASSWORD, "10.0.0.9")  # the old password is gone
        with database.unit_of_work() as db:
            assert (
                account_service.authenticate(db, "bob", "a brand new passphrase of his", "10.0.0.8").username
                == "bob"
            )
            assert db.scalar(select(Account.id).where(Account.username == "carol")) is None
    finally:
        database.dispose()
