"""API v1 in-process (Flask test client over a real SQLite file)."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, login


@pytest.fixture
def kiosk(tokens):
    return bearer(tokens["kiosk-1"])


def issue(client, headers, **body):
    body.setdefault("procedure_code", "1.001193")
    res = client.post("/api/v1/tickets", json=body, headers=headers)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def test_search_is_diacritic_insensitive(client, kiosk):
    for q in ("dang ky khai sinh", "Đăng ký khai sinh", "DANG KY KHAI SINH"):
        items = client.get("/api/v1/procedures", query_string={"q": q}, headers=kiosk)
        assert items.status_code == 200
        assert items.get_json()["items"][0]["code"] == "1.001193", q


def test_search_field_filter_and_limit(client, kiosk):
    res = client.get("/api/v1/procedures", query_string={"q": "dang ky", "field": "Hộ tịch",
                                                         "limit": 3}, headers=kiosk).get_json()
    assert 0 < res["count"] <= 3
    assert {p["field"] for p in res["items"]} == {"Hộ tịch"}


def test_procedure_whole_and_unknown(client, kiosk):
    proc = client.get("/api/v1/procedures/1.001193", headers=kiosk).get_json()
    assert proc["name"] == "Thủ tục đăng ký khai sinh"
    assert proc["documents"] and proc["team_id"] == 1
    res = client.get("/api/v1/procedures/9.999999", headers=kiosk)
    assert res.status_code == 404
    assert res.get_json()["error"]["code"] == "unknown_procedure"


def test_issue_numbers_in_team_band(client, kiosk):
    a = issue(client, kiosk)
    b = issue(client, kiosk)
    c = issue(client, kiosk, team_id=3)
    assert (a["number"], b["number"], c["number"]) == (1001, 1002, 3001)
    # no counter of team 1 is open yet: no wait is estimated (issue #16, honest waits)
    assert b["waiting_ahead"] == 1 and b["estimated_wait_s"] is None
    assert b["counters_open"] == 0 and b["no_counter_open"] is True
    assert a["status_url"].endswith("/t/" + a["token"])
    assert len(a["token"]) >= 22  # >= 128 bits


def test_issue_bad_input(client, kiosk):
    cases = [({"procedure_code": "nope"}, 404, "unknown_procedure"),
             ({"team_id": 99}, 422, "unknown_team"),
             ({}, 422, "missing_team"),
             ({"team_id": "1"}, 422, "validation_failed"),
             ({"team_id": 1, "priority": "vip"}, 422, "bad_priority"),
             ({"team_id": 1, "channel": "fax"}, 422, "bad_channel")]
    for body, status, code in cases:
        res = client.post("/api/v1/tickets", json=body, headers=kiosk)
        assert res.status_code == status, body
        assert res.get_json()["error"]["code"] == code
    res = client.post("/api/v1/tickets", data="[1,2", headers={**kiosk,
                                                               "Content-Type": "application/json"})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "bad_json"


def test_idempotent_issue_and_call(client, kiosk):
    h = {**kiosk, "Idempotency-Key": "kiosk-retry-1"}
    a = client.post("/api/v1/tickets", json={"team_id": 1}, headers=h).get_json()
    b = client.post("/api/v1/tickets", json={"team_id": 1}, headers=h).get_json()
    assert a == b
    issue(client, kiosk)
    officer = bearer(login(client, "canbo01", 1))
    h2 = {**officer, "Idempotency-Key": "press-1"}
    c1 = client.post("/api/v1/counters/1/call-next", headers=h2).get_json()
    c2 = client.post("/api/v1/counters/1/call-next", headers=h2).get_json()
    assert c1 == c2 and c1["number"] == 1001
    state = client.get("/api/v1/state", headers=officer).get_json()
    assert state["teams"][0]["waiting"] == 1  # only one ticket was called


def test_officer_flow_and_events(client, kiosk, tokens):
    t = issue(client, kiosk)
    officer = bearer(login(client, "canbo01", 1))
    called = client.post("/api/v1/counters/1/call-next", headers=officer)
    assert called.status_code == 200 and called.get_json()["counter"] == 1
    for action in ("recall", "start", "finish"):
        res = client.post(f"/api/v1/counters/1/{action}", headers=officer)
        assert res.status_code == 200, (action, res.get_json())
    assert client.post("/api/v1/counters/1/call-next", headers=officer).status_code == 204
    pad = bearer(tokens["bridge-1"])  # ratings come from the citizen's side, not the officer
    rated = client.post(f"/api/v1/tickets/{t['id']}/rating", json={"score": 4}, headers=pad)
    assert rated.status_code == 200
    again = client.post(f"/api/v1/tickets/{t['id']}/rating", json={"score": 3}, headers=pad)
    assert again.status_code == 409
    events = client.get("/api/v1/events?since=0", headers=kiosk).get_json()
    types = [e["type"] for e in events["items"]]
    assert types == ["ticket.issued", "counter.opened", "ticket.called", "ticket.recalled",
                     "ticket.started", "ticket.finished", "ticket.rated"]
    assert [e["seq"] for e in events["items"]] == list(range(1, 8))
    assert all("token" not in e.get("ticket", {}) for e in events["items"])
    later = client.get("/api/v1/events?since=5", headers=kiosk).get_json()
    assert [e["seq"] for e in later["items"]] == [6, 7] and later["seq"] == 7


def test_illegal_moves(client, kiosk):
    officer = bearer(login(client, "canbo01", 1))
    res = client.post("/api/v1/counters/1/finish", headers=officer)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "no_current_ticket"
    assert client.post("/api/v1/counters/1/pause", json={"reason": "họp"},
                       headers=officer).status_code == 200
    res = client.post("/api/v1/counters/1/call-next", headers=officer)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "counter_paused"
    assert client.post("/api/v1/counters/1/resume", headers=officer).status_code == 200
    issue(client, kiosk)
    client.post("/api/v1/counters/1/call-next", headers=officer)
    res = client.post("/api/v1/counters/1/transfer", json={"team_id": 42}, headers=officer)
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "unknown_team"
    res = client.post("/api/v1/counters/99/call-next", headers=officer)
    assert res.status_code == 422


def test_transfer_keeps_wait_clock(client, kiosk):
    first = issue(client, kiosk)
    officer = bearer(login(client, "canbo01", 1))
    client.post("/api/v1/counters/1/call-next", headers=officer)
    issue(client, kiosk, team_id=3)  # someone already waiting at team 3
    res = client.post("/api/v1/counters/1/transfer", json={"team_id": 3, "note": "ĐKKD"},
                      headers=officer).get_json()
    assert res["team_id"] == 3 and res["status"] == "waiting"
    assert res["wait_from"] == first["wait_from"] and res["waiting_ahead"] == 0
    other = bearer(login(client, "canbo11", 11))
    nxt = client.post("/api/v1/counters/11/call-next", headers=other).get_json()
    assert nxt["number"] == first["number"]  # the transferred ticket goes first


def test_transfer_to_counter_and_call_number(client, kiosk):
    t = issue(client, kiosk)
    issue(client, kiosk)
    officer = bearer(login(client, "canbo01", 1))
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post("/api/v1/counters/1/no-show", headers=officer)
    res = client.post("/api/v1/counters/1/call-number", json={"number": t["number"],
                                                              "reason": "quay lại"},
                      headers=officer)
    assert res.status_code == 200 and res.get_json()["number"] == t["number"]
    res = client.post("/api/v1/counters/1/transfer", json={"counter": 2}, headers=officer)
    assert res.get_json()["target_counter"] == 2
    o2 = bearer(login(client, "canbo02", 2))
    assert client.post("/api/v1/counters/2/call-next", headers=o2).get_json()["number"] == \
        t["number"]


def test_citizen_view(client, kiosk):
    t = issue(client, kiosk)
    issue(client, kiosk)
    view = client.get(f"/api/v1/tickets/{t['token']}").get_json()
    assert view["number"] == 1001 and view["waiting_ahead"] == 0
    assert "id" not in view and view["procedure_name"] == "Thủ tục đăng ký khai sinh"
    assert client.get("/api/v1/tickets/" + "x" * 32).status_code == 404
    officer = bearer(login(client, "canbo01", 1))
    client.post("/api/v1/counters/1/call-next", headers=officer)
    view = client.get(f"/api/v1/tickets/{t['token']}").get_json()
    assert view["status"] == "called" and view["now_calling"] == {"number": 1001, "counter": 1}


def test_unknown_api_route_is_json(client):
    res = client.get("/api/v1/nope")
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    res = client.delete("/api/v1/tickets")
    assert res.status_code == 405 and "error" in res.get_json()


def test_bad_login_and_rate_limit(client):
    for _ in range(10):
        res = client.post("/api/v1/auth/login", json={"username": "admin", "password": "x"})
        assert res.status_code == 401
    res = client.post("/api/v1/auth/login", json={"username": "admin", "password": "x"})
    assert res.status_code == 429


def test_officer_cannot_sit_at_other_counter(client):
    res = client.post("/api/v1/auth/login", json={"username": "canbo01", "password": "demo1234",
                                                  "counter": 5})
    assert res.status_code == 403 and res.get_json()["error"]["code"] == "not_your_counter"


def test_logout_ends_session(client):
    tok = bearer(login(client, "giamdoc"))
    assert client.get("/api/v1/auth/me", headers=tok).status_code == 200
    client.post("/api/v1/auth/logout", headers=tok)
    assert client.get("/api/v1/auth/me", headers=tok).status_code == 401
