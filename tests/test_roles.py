"""The role matrix: every route x every role, allow or deny, checked over HTTP.

A route missing from MATRIX fails the test: every new route must say who may use it.
"allowed" means the request passed authentication and authorisation (it may still get a
404/409/422 for the state it meets); "denied" means 401 or 403.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import bearer, login
from tests.test_openapi import app_routes

ROLES = ("anonymous", "officer", "manager", "admin", "kiosk", "display", "bridge")
ANY = set(ROLES)
SIGNED = ANY - {"anonymous"}
STAFF = {"officer", "manager", "admin"}
COUNTER = {"officer", "admin", "bridge"}  # officer at their own counter (counter 1 here)

MATRIX: dict[tuple[str, str], set[str]] = {
    ("post", "/api/v1/auth/login"): ANY,
    ("post", "/api/v1/auth/logout"): SIGNED,
    ("get", "/api/v1/auth/me"): SIGNED,
    ("get", "/api/v1/procedures"): SIGNED,
    ("get", "/api/v1/procedures/fields"): SIGNED,
    ("get", "/api/v1/procedures/{code}"): SIGNED,
    ("post", "/api/v1/tickets"): {"officer", "admin", "kiosk"},
    ("get", "/api/v1/tickets/{token}"): ANY,
    # the citizen's side only: the rating pad's bridge (and a rating page's own token)
    ("post", "/api/v1/tickets/{ticket_id}/rating"): {"bridge"},
    ("post", "/api/v1/tickets/{ticket_id}/cancel"): STAFF,
    ("get", "/api/v1/counters/{n}"): SIGNED,
    ("get", "/api/v1/state"): SIGNED,
    ("get", "/api/v1/events"): SIGNED,
    ("post", "/api/v1/devices/status"): {"kiosk", "display", "bridge"},
    ("get", "/api/v1/devices/status"): {"manager", "admin"},
    ("get", "/api/v1/reports/waits"): {"manager", "admin"},
    ("get", "/api/v1/openapi.json"): ANY,
}
MATRIX[("get", "/api/v1/announcements/audio")] = SIGNED
MATRIX[("get", "/api/v1/counters/{n}/today")] = {"officer", "manager", "admin", "bridge"}
MATRIX[("post", "/api/v1/counters/{n}/rating-token")] = ANY  # name and password in the body
MATRIX[("get", "/api/v1/dashboard")] = {"manager", "admin"}
MATRIX[("get", "/api/v1/site")] = {"manager", "admin"}  # the hall's site id and epoch
# appointments (issue #15): booking on the phone is public (rate-limited per address);
# check-in: kiosks and officers (as issuing a ticket)
for _method, _path in (("get", "slots"), ("post", ""), ("get", "/{code}"),
                       ("post", "/{code}/cancel"), ("post", "/{code}/change")):
    MATRIX[(_method, f"/api/v1/bookings{'/' if _path == 'slots' else ''}{_path}")] = ANY
MATRIX[("post", "/api/v1/bookings/checkin")] = {"officer", "admin", "kiosk"}
MATRIX[("get", "/api/v1/reports/bookings")] = {"manager", "admin"}
# dossier lookup (issue #15): public, rate-limited per address; the lookup key is the
# right (a wrong key is 403 dossier_key_wrong for everyone; [dossier] is off here: 404)
MATRIX[("get", "/api/v1/dossiers/{code}")] = ANY
# its result-return number: a citizen's phone (no token) or whoever may issue tickets
MATRIX[("post", "/api/v1/dossiers/{code}/ticket")] = {"anonymous", "officer", "admin", "kiosk"}
for _report in ("summary", "satisfaction", "heatmap", "occupancy", "priority", "low-ratings",
                "monthly", "journeys", "export"):
    MATRIX[("get", f"/api/v1/reports/{_report}")] = {"manager", "admin"}
MATRIX[("post", "/api/v1/reports/exports")] = {"manager", "admin"}
MATRIX[("get", "/api/v1/reports/steps")] = {"manager", "admin"}  # visits of several steps
MATRIX[("get", "/api/v1/reports/exports/{job}")] = {"manager", "admin"}
MATRIX[("get", "/api/v1/reports/exports/{job}/file")] = {"manager", "admin"}
for _method, _path in (("get", "config"), ("put", "config"), ("get", "users"),
                       ("post", "users"), ("patch", "users/{username}"), ("get", "devices"),
                       ("post", "devices"), ("post", "devices/{name}/revoke"),
                       ("patch", "procedures/{code}"), ("post", "procedures/route"),
                       ("post", "procedures/import"), ("get", "imports/{job}"),
                       ("get", "audit")):
    MATRIX[(_method, f"/api/v1/admin/{_path}")] = {"admin"}
for _action in ("call-next", "call-number", "call-back", "recall", "start", "finish", "no-show",
                "next-step", "transfer", "pause", "resume", "close"):
    MATRIX[("post", f"/api/v1/counters/{{n}}/{_action}")] = COUNTER

BODIES = {"/api/v1/auth/login": {"username": "canbo02", "password": "demo1234"},
          "/api/v1/tickets": {"team_id": 1},
          "/api/v1/devices/status": {"part": "printer", "online": True},
          "/api/v1/tickets/{ticket_id}/rating": {"score": 4},
          "/api/v1/counters/{n}/rating-token": {"username": "canbo01", "password": "demo1234"}}


@pytest.fixture
def principals(client, tokens):
    return {"anonymous": None, "officer": login(client, "canbo01", 1),
            "manager": login(client, "giamdoc"), "admin": login(client, "admin"),
            "kiosk": tokens["kiosk-1"], "display": tokens["display-1"],
            "bridge": tokens["bridge-1"]}


def fill(path: str, ticket: dict) -> str:
    values = {"n": "1", "code": "1.001193", "token": ticket["token"],
              "ticket_id": str(ticket["id"]), "username": "canbo05", "name": "no-such-device",
              "job": "nope"}
    return re.sub(r"{([a-z_]+)}", lambda m: values[m.group(1)], path)


def test_every_route_is_in_the_matrix(app):
    missing = app_routes(app) - set(MATRIX)
    assert not missing, f"add these routes to the role matrix: {sorted(missing)}"


def test_role_matrix(client, principals, tokens):
    ticket = client.post("/api/v1/tickets", json={"team_id": 1},
                         headers=bearer(tokens["kiosk-1"])).get_json()
    failures = []
    for (method, path), allowed in sorted(MATRIX.items()):
        for role in ROLES:
            token = principals[role]
            if path.endswith("/logout") and token:
                token = login(client, {"officer": "canbo01", "manager": "giamdoc",
                                       "admin": "admin"}[role], 1 if role == "officer" else None
                              ) if role in STAFF else token
            headers = bearer(token) if token else {}
            url = fill(path, ticket)
            res = client.open(url, method=method.upper(), headers=headers,
                              json=BODIES.get(path) if method == "post" else None)
            denied = res.status_code in (401, 403)
            if (role in allowed) == denied:
                failures.append(f"{method.upper()} {url} as {role}: {res.status_code} "
                                f"{(res.get_json(silent=True) or {}).get('error')}")
    assert not failures, "\n".join(failures)


def test_officer_only_at_own_counters(client, principals):
    officer = bearer(principals["officer"])
    for action in ("call-next", "pause", "recall"):
        res = client.post(f"/api/v1/counters/2/{action}", headers=officer)
        assert res.status_code == 403, action
        assert res.get_json()["error"]["code"] == "not_your_counter"


def test_bridge_needs_a_signed_in_officer(client, tokens):
    bridge = bearer(tokens["bridge-1"])
    res = client.post("/api/v1/counters/3/call-next", headers=bridge)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "no_officer"
    login(client, "canbo03", 3)
    assert client.post("/api/v1/counters/3/call-next", headers=bridge).status_code == 204


def test_device_cannot_read_reports_or_act_elsewhere(client, tokens):
    for name in ("kiosk-1", "display-1", "bridge-1"):
        res = client.get("/api/v1/reports/waits", headers=bearer(tokens[name]))
        assert res.status_code == 403


def test_revoked_device_token_stops_working(app, client, tokens):
    headers = bearer(tokens["display-1"])
    assert client.get("/api/v1/state", headers=headers).status_code == 200
    store = app.extensions["qms"].store
    with store.write():
        store.revoke_device("display-1")
    assert client.get("/api/v1/state", headers=headers).status_code == 401


def test_socket_connect_matrix(app, client, principals, tokens):
    """Every role that holds a token may follow the queues (only public data is pushed);
    no token, a wrong token, a revoked token or an unknown room is refused; a citizen's
    ticket token joins only its team's room."""
    from server import socketio

    for role, token in principals.items():
        sio = socketio.test_client(app, auth={"token": token} if token else {})
        assert sio.is_connected() == (role != "anonymous"), role
        if role != "anonymous":
            hello = [m for m in sio.get_received() if m["name"] == "hello"][0]["args"][0]
            assert hello["rooms"] == ["site:main"]
            sio.disconnect()
    bad = socketio.test_client(app, auth={"token": tokens["display-1"], "rooms": ["team:99"]})
    assert not bad.is_connected()
    ticket = client.post("/api/v1/tickets", json={"team_id": 4},
                         headers=bearer(tokens["kiosk-1"])).get_json()
    phone = socketio.test_client(app, auth={"ticket": ticket["token"]})
    hello = [m for m in phone.get_received() if m["name"] == "hello"][0]["args"][0]
    assert hello["rooms"] == ["team:4"]
    phone.disconnect()
    assert not socketio.test_client(app, auth={"ticket": "x" * 32}).is_connected()
