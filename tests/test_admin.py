"""Admin API: live configuration changes (validated, saved, audited, pushed), users,
devices, catalogue import with progress; officers get 403 on every manager/admin route."""

from __future__ import annotations

import io
import time
import tomllib

import pytest

from tests.conftest import bearer, login
from tests.test_openapi import app_routes

MANAGER_PREFIXES = ("/api/v1/reports/", "/api/v1/dashboard", "/api/v1/devices/status")
ADMIN_PREFIX = "/api/v1/admin/"


@pytest.fixture
def admin(client):
    return bearer(login(client, "admin"))


def fill(path):
    return (path.replace("{username}", "canbo02").replace("{name}", "display-1")
            .replace("{code}", "1.001193").replace("{job}", "nope"))


def test_officer_and_devices_get_403_on_every_manager_and_admin_route(app, client, tokens):
    routes = [(m, p) for m, p in app_routes(app)
              if p.startswith(MANAGER_PREFIXES + (ADMIN_PREFIX,))]
    assert len(routes) > 20
    officer = bearer(login(client, "canbo01", 1))
    manager = bearer(login(client, "giamdoc"))
    for method, path in routes:
        if method == "post" and path == "/api/v1/devices/status":
            continue  # devices report there
        for who in (officer, bearer(tokens["kiosk-1"]), bearer(tokens["bridge-1"])):
            res = client.open(fill(path), method=method.upper(), headers=who, json={})
            assert res.status_code == 403, (method, path, res.status_code)
        res = client.open(fill(path), method=method.upper(), headers=manager, json={})
        assert (res.status_code == 403) == path.startswith(ADMIN_PREFIX), (method, path)
    assert client.get("/api/v1/reports/summary").status_code == 401


def test_config_change_is_live_saved_audited_and_pushed(app, client, admin, data_dir):
    q = app.extensions["qms"]
    seq = client.get("/api/v1/state", headers=admin).get_json()["seq"]
    res = client.put("/api/v1/admin/config", headers=admin,
                     json={"notice": "Hôm nay nghỉ chiều", "target_wait_min": 20})
    assert res.status_code == 200, res.get_json()
    assert client.get("/api/v1/state", headers=admin).get_json()["notice"] == "Hôm nay nghỉ chiều"
    assert q.service.config is q.config and q.config.target_wait_min == 20
    saved = tomllib.loads((data_dir / "centre.toml").read_text())
    assert saved["notice"] == "Hôm nay nghỉ chiều"
    events = client.get(f"/api/v1/events?since={seq}", headers=admin).get_json()["items"]
    assert [e["type"] for e in events] == ["config.changed"]
    audit = client.get("/api/v1/admin/audit", headers=admin).get_json()["items"]
    assert audit[0]["action"] == "config.update" and audit[0]["actor"] == "user:admin"
    assert set(audit[0]["detail"]["changed"]) == {"notice", "target_wait_min"}


def test_add_counter_and_team_live(app, client, admin, tokens):
    cfg = client.get("/api/v1/admin/config", headers=admin).get_json()
    teams = cfg["teams"] + [{"id": 9, "name": "Tổ Một cửa liên thông", "band": [9001, 9999]}]
    counters = cfg["counters"] + [{"number": 24, "name": "Quầy 24", "teams": [9]}]
    res = client.put("/api/v1/admin/config", headers=admin,
                     json={"teams": teams, "counters": counters})
    assert res.status_code == 200, res.get_json()
    t = client.post("/api/v1/tickets", json={"team_id": 9},
                    headers=bearer(tokens["kiosk-1"])).get_json()
    assert t["number"] == 9001
    res = client.post("/api/v1/counters/24/call-next", headers=admin)
    assert res.status_code == 200 and res.get_json()["number"] == 9001


def test_bad_config_is_refused_and_nothing_changes(app, client, admin, data_dir):
    before = (data_dir / "centre.toml").read_text()
    cfg = client.get("/api/v1/admin/config", headers=admin).get_json()
    teams = [dict(t) for t in cfg["teams"]]
    teams[1]["band"] = [1500, 2999]  # overlaps team 1
    for body in ({"teams": teams}, {"priority": {"policy": "lottery"}},
                 {"counters": [{"number": 1, "teams": [99]}]}, {"path": "/etc"}):
        res = client.put("/api/v1/admin/config", headers=admin, json=body)
        assert res.status_code in (400, 422), body
    assert (data_dir / "centre.toml").read_text() == before


def test_users_and_devices(client, admin):
    res = client.post("/api/v1/admin/users", headers=admin, json={
        "username": "canbo24", "role": "officer", "password": "matkhau24", "counters": [5],
        "full_name": "Trần Thị Bích"})
    assert res.status_code == 201, res.get_json()
    assert client.post("/api/v1/auth/login", json={"username": "canbo24",
                                                   "password": "matkhau24"}).status_code == 200
    res = client.patch("/api/v1/admin/users/canbo24", headers=admin, json={"active": False})
    assert res.status_code == 200 and res.get_json()["user"]["active"] == 0
    assert client.post("/api/v1/auth/login", json={"username": "canbo24",
                                                   "password": "matkhau24"}).status_code == 401
    res = client.post("/api/v1/admin/devices", headers=admin,
                      json={"name": "kiosk-2", "kind": "kiosk"})
    token = res.get_json()["token"]
    assert client.get("/api/v1/state", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/admin/devices/kiosk-2/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/state", headers=bearer(token)).status_code == 401
    actions = [a["action"] for a in
               client.get("/api/v1/admin/audit", headers=admin).get_json()["items"]]
    assert actions[:4] == ["device.revoke", "device.token", "user.edit", "user.add"]


def test_catalogue_import_edit_and_route(client, admin):
    lines = ["Mã thủ tục,Tên thủ tục,Lĩnh vực"] + [
        f"9.{i:06d},Thủ tục thử nghiệm số {i},Lĩnh vực thử" for i in range(300)]
    data = {"file": (io.BytesIO("\n".join(lines).encode()), "catalogue.csv")}
    res = client.post("/api/v1/admin/procedures/import", headers=admin, data=data,
                      content_type="multipart/form-data")
    assert res.status_code == 202
    job = res.get_json()["job"]
    for _ in range(100):
        state = client.get(f"/api/v1/admin/imports/{job}", headers=admin).get_json()
        if state["state"] != "running":
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["count"] == 300 and state["done"] == 300
    res = client.post("/api/v1/admin/procedures/route", headers=admin,
                      json={"field": "Lĩnh vực thử", "team_id": 3})
    assert res.get_json()["count"] == 300
    res = client.patch("/api/v1/admin/procedures/9.000001", headers=admin,
                       json={"team_id": 4, "fee": "50.000 đồng"})
    assert res.get_json()["team_id"] == 4 and res.get_json()["fee"] == "50.000 đồng"
    proc = client.get("/api/v1/procedures/9.000002", headers=admin).get_json()
    assert proc["team_id"] == 3
