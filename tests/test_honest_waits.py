"""Honest waits (issue #16): when no counter of a team is open, nobody can call its numbers,
so no wait is estimated. The ticket view, the snapshot's team entries and the public
projection pushed to phones carry `counters_open`; with 0, `estimated_wait_s` is null and
`no_counter_open` true; the manager's dashboard alerts "N người chờ, không có quầy nào mở".
In-process (the Flask app on a real SQLite file, the Socket.IO test client)."""

from __future__ import annotations

from tests.conftest import bearer, login

TEAM = 4  # the demo's "Tổ Xây dựng – Giao thông": counters 10, 15, 16, 17
TEAM_NAME = "Tổ Xây dựng – Giao thông"


def team_entry(client, token: str) -> dict:
    state = client.get("/api/v1/state", headers=bearer(token)).get_json()
    return next(t for t in state["teams"] if t["id"] == TEAM)


def no_counter_alerts(client, manager: dict) -> list[dict]:
    dash = client.get("/api/v1/dashboard", headers=manager).get_json()
    return [a for a in dash["alerts"] if a["kind"] == "no_counter"]


def test_a_team_with_no_open_counter_gets_no_wait_but_an_alert(app, client, tokens):
    from server import socketio

    kiosk = bearer(tokens["kiosk-1"])
    manager = bearer(login(client, "giamdoc"))
    first = client.post("/api/v1/tickets", json={"team_id": TEAM}, headers=kiosk).get_json()
    assert first["counters_open"] == 0 and first["no_counter_open"] is True
    assert first["estimated_wait_s"] is None
    phone = socketio.test_client(app, auth={"ticket": first["token"]})
    second = client.post("/api/v1/tickets", json={"team_id": TEAM}, headers=kiosk).get_json()
    assert second["estimated_wait_s"] is None and second["waiting_ahead"] == 1
    view = client.get(f"/api/v1/tickets/{second['token']}").get_json()
    assert (view["counters_open"], view["no_counter_open"], view["estimated_wait_s"]) == \
        (0, True, None)
    entry = team_entry(client, tokens["display-1"])
    assert (entry["waiting"], entry["counters_open"], entry["no_counter_open"],
            entry["estimated_wait_s"]) == (2, 0, True, None)
    (alert,) = no_counter_alerts(client, manager)
    assert alert["team_id"] == TEAM and alert["waiting"] == 2
    assert alert["message"].startswith(f"{TEAM_NAME}: 2 người chờ, không có quầy nào mở")
    # a team nobody waits for raises no alert, even with every counter closed
    dash = client.get("/api/v1/dashboard", headers=manager).get_json()
    assert not [a for a in dash["alerts"] if a.get("team_id") == 3]

    # counter 15 opens (its officer calls the first number): the second gets a real wait
    officer = bearer(login(client, "canbo15", 15))
    assert client.post("/api/v1/counters/15/call-next", headers=officer).status_code == 200
    view = client.get(f"/api/v1/tickets/{second['token']}").get_json()
    assert view["counters_open"] == 1 and view["no_counter_open"] is False
    assert view["waiting_ahead"] == 0 and view["estimated_wait_s"] > 0
    entry = team_entry(client, tokens["display-1"])
    assert entry["counters_open"] == 1 and entry["estimated_wait_s"] > 0
    assert no_counter_alerts(client, manager) == []

    # the phone is told through the public projection of its team's ticket events
    pushed = [m["args"][0] for m in phone.get_received() if m["name"] == "event"]
    opened = [e["counters_open"][str(TEAM)] for e in pushed]
    assert opened[0] == 0 and opened[-1] == 1, pushed
    assert set(pushed[-1]["counters_open"]) == {str(t) for t in range(1, 9)}
    phone.disconnect()

    # the counter pauses: no counter of the team is open any more
    assert client.post("/api/v1/counters/15/finish", headers=officer).status_code == 200
    assert client.post("/api/v1/counters/15/pause", json={"reason": "Họp"},
                       headers=officer).status_code == 200
    view = client.get(f"/api/v1/tickets/{second['token']}").get_json()
    assert (view["counters_open"], view["no_counter_open"], view["estimated_wait_s"]) == \
        (0, True, None)
    (alert,) = no_counter_alerts(client, manager)
    assert alert["waiting"] == 1 and "1 người chờ" in alert["message"]
