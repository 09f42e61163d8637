"""Admin pages: the least privilege by default, deactivation confirmed and undone, clinician records linked,
the audit trail filtered by patient code."""

from __future__ import annotations

import re

from web_world import PASSWORD, World

from strigil.services import accounts as account_service


def test_a_new_account_defaults_to_the_least_privilege(world: World) -> None:
    admin, csrf = world.client("admin")
    page = admin.get("/admin/accounts")
    assert re.search(r'<option value="researcher"\s+selected', page.text)
    data = {"username": "newperson", "password": PASSWORD, "csrf_token": csrf}  # no role chosen
    made = admin.post("/admin/accounts", data=data)
    assert made.status_code == 200
    with world.db() as db:
        assert account_service.get_account(db, "newperson").role == "researcher"


def test_deactivation_asks_first_and_can_be_undone(world: World) -> None:
    admin, csrf = world.client("admin")
    spare = world.ids[(1, "spare")]
    asked = admin.post(f"/admin/accounts/{spare}/deactivate", data={"csrf_token": csrf})
    assert asked.status_code == 200 and 'id="confirm-deactivate"' in asked.text
    with world.db() as db:
        assert account_service.get_account(db, "spare1").active  # nothing happened yet
    done = admin.post(f"/admin/accounts/{spare}/deactivate", data={"csrf_token": csrf, "confirm": "yes"})
    assert 'id="undo-deactivate"' in done.text
    with world.db() as db:
        assert not account_service.get_account(db, "spare1").active
    undone = admin.post(f"/admin/accounts/{spare}/reactivate", data={"csrf_token": csrf})
    assert "active again" in undone.text
    with world.db() as db:
        assert account_service.get_account(db, "spare1").active


def test_an_admin_links_a_clinician_account_to_its_record(world: World) -> None:
    admin, csrf = world.client("admin")
    account = world.ids[(1, "clinician")]
    linked = admin.post(f"/admin/accounts/{account}/clinician", data={"csrf_token": csrf, "clinician": "c1"})
    assert linked.status_code == 200 and "linked to clinician record c1" in linked.text
    with world.db() as db:
        assert account_service.clinician_code(db, world.account_rows[(1, "clinician")]) == "c1"
    other = admin.post(f"/admin/accounts/{account}/clinician", data={"csrf_token": csrf, "clinician": "c2"})
    assert other.status_code == 422  # clinic 2's record


def test_the_audit_trail_filters_by_patient_code(world: World) -> None:
    clinician, _ = world.client("clinician")
    assert clinician.get("/patients/A001").status_code == 200
    assert clinician.get("/patients/A002").status_code == 200
    admin, _ = world.client("admin")
    page = admin.get("/admin/audit?patient=a001")  # any case
    assert page.status_code == 200
    cells = re.findall(r'<td data-label="Patient">([^<]*)</td>', page.text)
    assert cells and set(cells) == {"A001"}
    unknown = admin.get("/admin/audit?patient=ZZZ")
    assert "no patient with code" in unknown.text and "0 events" in unknown.text
