"""Who belongs to which site (issue #13, "users, devices and managers belong to a site").

On a hall server: a device belongs to the site it was enrolled for; an officer to the site
of the counter they sit at (else of the first counter assigned to them); managers and
admins read every site of their server. Checked through the socket rooms a principal may
join and the `?site=` of /state. (The central server's side — a site manager limited to
their site, a province manager and an admin seeing all — is in test_central.py.)"""

from __future__ import annotations

import pytest

from tests.conftest import bearer, login


@pytest.fixture
def branch_hall(data_dir):
    """The demo centre plus a branch `b1` (a team and two counters of its own) and an officer
    assigned to the branch's counters."""
    import tomllib

    import tomli_w

    from qms.app import create_app
    from server.config import CONFIG_NAME

    path = data_dir / CONFIG_NAME
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["sites"] = {**cfg.get("sites", {"main": "Trụ sở chính"}), "b1": "Chi nhánh 1"}
    team = max(t["id"] for t in cfg["teams"]) + 1
    top = max(t["band"][1] for t in cfg["teams"])
    cfg["teams"].append({"id": team, "name": "Tổ chi nhánh", "band": [top + 1, top + 999],
                         "site": "b1"})
    first = max(c["number"] for c in cfg["counters"]) + 1
    for n in (first, first + 1):
        cfg["counters"].append({"number": n, "teams": [team], "site": "b1",
                                "name": f"Quầy {n}"})
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    accounts = app.extensions["qms"].accounts
    accounts.add_user("canbo_b1", "officer", "password-b1", [first, first + 1],
                      "Cán bộ chi nhánh")
    app.config["B1_COUNTER"] = first
    yield app
    app.extensions["qms"].store.close()


def sign_in(client, username: str, password: str, counter: int | None = None) -> str:
    body = {"username": username, "password": password}
    if counter is not None:
        body["counter"] = counter
    res = client.post("/api/v1/auth/login", json=body)
    assert res.status_code == 200, res.get_json()
    return res.get_json()["token"]


def may_join(app, token: str, room: str) -> bool:
    from server import socketio

    c = socketio.test_client(app, auth={"token": token, "rooms": [room]})
    ok = c.is_connected()
    if ok:
        c.disconnect()
    return ok


def test_an_officer_belongs_to_the_site_of_their_counter(branch_hall, tokens):
    client = branch_hall.test_client()
    counter = branch_hall.config["B1_COUNTER"]
    seated = sign_in(client, "canbo_b1", "password-b1", counter)
    assert may_join(branch_hall, seated, "site:b1")
    assert may_join(branch_hall, seated, f"counter:{counter}")
    assert not may_join(branch_hall, seated, "site:main")
    assert client.get("/api/v1/state?site=b1", headers=bearer(seated)).status_code == 200
    res = client.get("/api/v1/state?site=main", headers=bearer(seated))
    assert res.status_code == 403
    # not seated: the site of the first counter assigned to them
    unseated = sign_in(client, "canbo_b1", "password-b1")
    assert may_join(branch_hall, unseated, "site:b1")
    assert not may_join(branch_hall, unseated, "site:main")
    # the centre's own officer stays in the centre
    main_officer = login(client, "canbo01", 1)
    assert may_join(branch_hall, main_officer, "site:main")
    assert not may_join(branch_hall, main_officer, "site:b1")


def test_devices_belong_to_their_site_and_managers_read_every_site(branch_hall, tokens):
    client = branch_hall.test_client()
    added = branch_hall.extensions["qms"].accounts.add_device("display-b1", "display", (),
                                                               "b1")
    branch_display = added if isinstance(added, str) else added[1]["token"]
    assert may_join(branch_hall, branch_display, "site:b1")
    assert not may_join(branch_hall, branch_display, "site:main")
    assert not may_join(branch_hall, tokens["display-1"], "site:b1")
    manager = login(client, "giamdoc")
    for site in ("main", "b1"):
        assert may_join(branch_hall, manager, f"site:{site}")
        res = client.get(f"/api/v1/state?site={site}", headers=bearer(manager))
        assert res.status_code == 200
