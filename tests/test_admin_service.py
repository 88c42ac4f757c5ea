"""Every change of configuration, users, devices, sessions and the catalogue is a service
command (server/admin_service.py, server/auth.py `Accounts`, server/importer.py): its rows,
its audit row and its events in one transaction, nothing written when any part fails, and
applied once under a repeated Idempotency-Key."""

from __future__ import annotations

import io
import re
import time

import pytest

from server.admin_service import AdminService
from server.auth import Accounts
from server.errors import NotFound, ValidationFailed
from server.importer import import_procedures
from server.service import QueueService, utcnow
from server.setup import open_store
from tests.conftest import bearer, login
from tools.testing import OFFICER_PASSWORD, ROOT


class Boom(Exception):
    pass


@pytest.fixture
def services(data_dir):
    store, cfg = open_store(data_dir)
    published: list[dict] = []
    queue = QueueService(store, cfg, publish=published.extend)
    swapped = []
    admin = AdminService(queue, data_dir, on_config=swapped.append)
    accounts = Accounts(store, utcnow, queue)
    yield store, queue, admin, accounts, published, swapped
    store.close()


def state(store, data_dir=None) -> dict:
    """Everything a command may write, to compare before and after."""
    with store.read():
        return {"seq": store.current_seq("main"), "audit": store.audit_log(2000),
                "users": store.users(), "devices": store.devices(),
                "procedures": store.procedures(None),
                "counters": sorted(store.counter_states()),
                "toml": (data_dir / "centre.toml").read_text() if data_dir else None}


def new_events(store, since: int) -> list[dict]:
    with store.read():
        return store.events_since("main", since)


def begins(store):
    """Every SQL statement run on the store's connection from now on (BEGIN, COMMIT...)."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    return seen


def all_commands(admin: AdminService, accounts: Accounts, tmp_path) -> list:
    """Each command once, as an admin would give it: (action, what, idempotency scope,
    call(key))."""
    csv = tmp_path / "catalogue.csv"
    csv.write_text("code,name,field\n9.000001,Thủ tục thử,Hộ tịch\n", encoding="utf-8")
    counters = admin.config.to_dict()["counters"] + [{"number": 24, "name": "Quầy 24",
                                                      "teams": [1]}]
    return [
        ("user.add", "users", "t add_user", lambda key: accounts.add_user(
            "canbo99", "officer", "matkhau99", [3], "Lê Văn Chín", actor="user:admin",
            idem=("t add_user", key))),
        ("user.edit", "users", "t edit_user", lambda key: accounts.edit_user(
            "canbo02", role="manager", counters=[1, 2], password="doimatkhau",
            actor="user:admin", idem=("t edit_user", key))),
        ("device.token", "devices", "t add_device", lambda key: accounts.add_device(
            "kiosk-9", "kiosk", actor="user:admin", idem=("t add_device", key))),
        ("device.revoke", "devices", "t revoke", lambda key: accounts.revoke_device(
            "display-1", actor="user:admin", idem=("t revoke", key))),
        ("config.update", "config", "t config", lambda key: admin.update_config(
            {"target_wait_min": 25, "counters": counters}, actor="user:admin",
            idem=("t config", key))),
        ("config.update", "config", "t notice", lambda key: admin.set_notice(
            "Chiều nay nghỉ", actor="user:admin", idem=("t notice", key))),
        ("procedure.edit", "procedures", "t edit_proc", lambda key: admin.edit_procedure(
            "1.001193", {"fee": "10.000 đồng", "team_id": 2}, actor="user:admin",
            idem=("t edit_proc", key))),
        ("procedure.route", "procedures", "t route", lambda key: admin.route_field(
            "Hộ tịch", 3, actor="user:admin", idem=("t route", key))),
        ("procedure.import", "procedures", "t import", lambda key: import_procedures(
            admin.store, admin.config, csv, queue=admin.queue, actor="user:admin",
            idem=("t import", key))),
    ]


def test_each_command_writes_rows_audit_and_event_together(services, data_dir, tmp_path):
    store, queue, admin, accounts, published, _ = services
    for action, what, _scope, call in all_commands(admin, accounts, tmp_path):
        before = state(store, data_dir)
        published.clear()
        call(f"key-{action}")
        after = state(store, data_dir)
        assert after != before, action
        audit = after["audit"][0]
        assert (audit["action"], audit["actor"]) == (action, "user:admin")
        assert len(after["audit"]) == len(before["audit"]) + 1
        events = new_events(store, before["seq"])
        assert [(e["type"], e["what"], e["action"]) for e in events] == [
            ("config.changed", what, action)], action
        assert events[0]["request"] == f"key-{action}"  # traced to the command's key
        assert published == events  # pushed after commit


def test_a_failing_audit_insert_leaves_nothing_written(services, data_dir, tmp_path,
                                                       monkeypatch):
    store, queue, admin, accounts, published, swapped = services
    config = queue.config

    def boom(*args, **kwargs):
        raise Boom("disk full")

    monkeypatch.setattr(store, "audit", boom)
    for action, _what, scope, call in all_commands(admin, accounts, tmp_path):
        before = state(store, data_dir)
        with pytest.raises(Boom):
            call("key")
        assert state(store, data_dir) == before, action
        with store.read():
            assert store.idem_get(scope, "key") is None, action  # not even the key
    assert published == [] and swapped == [] and queue.config is config
    with store.read():
        assert store.user("canbo99") is None and store.procedure("9.000001") is None


def test_a_failing_event_leaves_nothing_written(services, data_dir, tmp_path, monkeypatch):
    store, queue, admin, accounts, published, _ = services

    def boom(*args, **kwargs):
        raise Boom("no more seq")

    monkeypatch.setattr(store, "append_event", boom)
    for action, _what, scope, call in all_commands(admin, accounts, tmp_path):
        before = state(store, data_dir)
        with pytest.raises(Boom):
            call("key")
        assert state(store, data_dir) == before, action
        with store.read():
            assert store.idem_get(scope, "key") is None, action
    assert published == []


def test_a_retry_with_the_same_key_applies_once(services, data_dir, tmp_path):
    store, queue, admin, accounts, published, _ = services
    for action, _what, _scope, call in all_commands(admin, accounts, tmp_path):
        first = call(f"again-{action}")
        middle = state(store, data_dir)
        published.clear()
        second = call(f"again-{action}")
        assert state(store, data_dir) == middle, action  # nothing written twice
        assert published == []
        if action != "device.token":
            assert second == first, action


def test_a_device_token_is_shown_once_even_to_a_retry(services):
    store, queue, admin, accounts, published, _ = services
    status, first = accounts.add_device("kiosk-9", "kiosk", actor="user:admin",
                                        idem=("t add_device", "k1"))
    assert status == 201 and first["token"].startswith("d_")
    assert accounts.principal(first["token"]).name == "kiosk-9"
    status, again = accounts.add_device("kiosk-9", "kiosk", actor="user:admin",
                                        idem=("t add_device", "k1"))
    assert status == 201 and again == {"name": "kiosk-9", "kind": "kiosk", "token": None}
    assert accounts.principal(first["token"]).name == "kiosk-9"  # not replaced
    with store.read():
        body = store.idem_get("t add_device", "k1")[1]
    assert first["token"] not in repr(body)  # the token is never stored in the clear


def test_editing_a_user_is_one_transaction(services):
    store, queue, admin, accounts, published, _ = services
    seen = begins(store)
    accounts.edit_user("canbo02", role="manager", full_name="Nguyễn Văn Hai",
                       counters=[2, 3], password="matkhaumoi", active=True,
                       actor="user:admin")
    store.db.conn.set_trace_callback(None)
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    assert seen.count("COMMIT") == 1
    with store.read():
        user = store.user("canbo02")
        audit = store.audit_log(1)[0]
    assert (user["role"], user["counters"], user["full_name"]) == (
        "manager", [2, 3], "Nguyễn Văn Hai")
    assert audit["action"] == "user.edit" and audit["detail"]["fields"] == [
        "active", "counters", "full_name", "role", "password"]


def test_an_unknown_user_or_device_writes_nothing(services, data_dir):
    store, queue, admin, accounts, published, _ = services
    before = state(store, data_dir)
    with pytest.raises(NotFound):
        accounts.edit_user("nobody", role="officer", actor="user:admin")
    with pytest.raises(NotFound):
        accounts.revoke_device("nothing", actor="user:admin")
    with pytest.raises(NotFound):
        admin.edit_procedure("0.000000", {"fee": "1"}, actor="user:admin")
    with pytest.raises(ValidationFailed):
        admin.update_config({"priority": {"policy": "lottery"}}, actor="user:admin")
    assert state(store, data_dir) == before and published == []


def test_sign_in_at_a_counter_and_out_are_one_transaction_each(services):
    store, queue, admin, accounts, published, _ = services
    seen = begins(store)
    out = accounts.login("canbo01", OFFICER_PASSWORD, 1, "test")
    assert seen.count("BEGIN IMMEDIATE") == 1
    with store.read():
        assert store.counter_state(1).officer == "canbo01"
        assert store.counter_officers(1, "2000-01-01") == ["canbo01"]
    principal = accounts.principal(out["token"])
    assert principal.seated == 1
    seen.clear()
    session = accounts.logout(principal)
    store.db.conn.set_trace_callback(None)
    assert session["counter"] == 1 and seen.count("BEGIN IMMEDIATE") == 1
    with store.read():
        assert store.counter_state(1).officer is None
    assert accounts.principal(out["token"]) is None
    assert published == []  # sessions are not announced


def test_config_change_swaps_saves_and_announces_per_site(services, data_dir):
    store, queue, admin, accounts, published, swapped = services
    sites = {**admin.config.sites, "nhanh1": "Chi nhánh 1"}
    status, body = admin.update_config({"sites": sites}, actor="user:admin")
    assert status == 200 and body["sites"] == sites
    assert swapped == [queue.config] and queue.config.sites == sites
    assert "nhanh1" in (data_dir / "centre.toml").read_text()
    assert sorted(e["site"] for e in published) == ["main", "nhanh1"]


# -- through HTTP ----------------------------------------------------------------------------
def actions(client, admin) -> list[str]:
    """The audited actions of the admin (not those of `qms init` seeding the demo)."""
    audit = client.get("/api/v1/admin/audit", headers=admin).get_json()["items"]
    return [a["action"] for a in audit if a["actor"] == "user:admin"]


def test_admin_routes_replay_a_retried_command(app, client):
    admin = bearer(login(client, "admin"))
    key = {**admin, "Idempotency-Key": "add-canbo30"}
    body = {"username": "canbo30", "role": "officer", "password": "matkhau30",
            "counters": [4]}
    first = client.post("/api/v1/admin/users", headers=key, json=body)
    second = client.post("/api/v1/admin/users", headers=key, json=body)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert actions(client, admin).count("user.add") == 1
    res = client.put("/api/v1/admin/config", headers={**admin, "Idempotency-Key": "n1"},
                     json={"notice": "Thông báo"})
    again = client.put("/api/v1/admin/config", headers={**admin, "Idempotency-Key": "n1"},
                       json={"notice": "Thông báo"})
    assert res.get_json() == again.get_json() and "priority_classes" in res.get_json()
    assert actions(client, admin).count("config.update") == 1


def test_admin_route_edit_user_opens_one_transaction(app, client):
    admin = bearer(login(client, "admin"))
    store = app.extensions["qms"].store
    seen = begins(store)
    res = client.patch("/api/v1/admin/users/canbo03", headers=admin,
                       json={"full_name": "Phạm Thị Ba", "password": "matkhau03"})
    store.db.conn.set_trace_callback(None)
    assert res.status_code == 200 and res.get_json()["user"]["full_name"] == "Phạm Thị Ba"
    assert seen.count("BEGIN IMMEDIATE") == 1


def test_a_retried_import_upload_is_one_job_and_one_import(app, client):
    admin = bearer(login(client, "admin"))
    headers = {**admin, "Idempotency-Key": "catalogue-1"}
    text = "Mã thủ tục,Tên thủ tục,Lĩnh vực\n9.100001,Thủ tục thử một lần,Hộ tịch\n"

    def upload():
        data = {"file": (io.BytesIO(text.encode()), "catalogue.csv")}
        return client.post("/api/v1/admin/procedures/import", headers=headers, data=data,
                           content_type="multipart/form-data")

    first = upload()
    assert first.status_code == 202
    job = first.get_json()["job"]
    for _ in range(100):
        st = client.get(f"/api/v1/admin/imports/{job}", headers=admin).get_json()
        if st["state"] != "running":
            break
        time.sleep(0.05)
    assert st["state"] == "done" and st["count"] == 1
    second = upload()
    assert second.status_code == 202 and second.get_json()["job"] == job
    audit = client.get("/api/v1/admin/audit", headers=admin).get_json()["items"]
    imports = [a for a in audit
               if a["action"] == "procedure.import" and a["actor"] == "user:admin"]
    assert len(imports) == 1 and imports[0]["detail"] == {"file": "catalogue.csv",
                                                          "count": 1}


def test_no_write_transaction_outside_the_services():
    """Routes, the admin page, the auth module and the importer never open a write
    transaction themselves: they call service commands."""
    files = [*ROOT.glob("server/**/routes.py"), *ROOT.glob("server/admin/**/*.py"),
             ROOT / "server" / "auth.py", ROOT / "server" / "importer.py",
             *ROOT.glob("*/routes.py")]
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in files
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\.write\(\)", line)]
    assert not offenders, offenders
