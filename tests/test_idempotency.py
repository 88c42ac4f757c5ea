"""An Idempotency-Key is bound to its request (issue #12, finding 13): the same key with a
different body answers 422 and changes nothing; the key's scope is the canonical resource, so
`/counters/01/...` and `/counters/1/...` are one resource and a retry runs nothing twice."""

from __future__ import annotations

from tests.conftest import bearer, login


def test_same_key_with_another_body_is_refused(client, tokens):
    kiosk = {**bearer(tokens["kiosk-1"]), "Idempotency-Key": "k-ticket-1"}
    first = client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    assert first.status_code == 201
    again = client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    other = client.post("/api/v1/tickets", json={"team_id": 5, "priority": "elderly"},
                        headers=kiosk)
    assert other.status_code == 422
    err = other.get_json()["error"]
    assert err["code"] == "idempotency_key_reused" and "Idempotency-Key" in err["message"]
    state = client.get("/api/v1/state", headers=bearer(tokens["display-1"])).get_json()
    waiting = {str(t["id"]): t["waiting"] for t in state["teams"]}
    assert waiting["1"] == 1 and waiting["5"] == 0  # nothing issued for team 5


def test_key_order_and_spacing_of_the_body_do_not_matter(client, tokens):
    kiosk = {**bearer(tokens["kiosk-1"]), "Idempotency-Key": "k-ticket-2",
             "Content-Type": "application/json"}
    first = client.post("/api/v1/tickets", data='{"team_id": 2, "channel": "kiosk"}',
                        headers=kiosk)
    second = client.post("/api/v1/tickets", data='{"channel":"kiosk","team_id":2}',
                         headers=kiosk)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["number"] == second.get_json()["number"]


def test_scope_is_the_canonical_counter_not_the_raw_path(client, tokens):
    officer = login(client, "canbo01", 1)
    kiosk = bearer(tokens["kiosk-1"])
    for _ in range(2):
        assert client.post("/api/v1/tickets", json={"team_id": 1},
                           headers=kiosk).status_code == 201
    headers = {**bearer(officer), "Idempotency-Key": "k-next-1"}
    a = client.post("/api/v1/counters/1/call-next", headers=headers)
    b = client.post("/api/v1/counters/01/call-next", headers=headers)
    assert a.status_code == 200
    assert b.status_code == 200 and b.get_json() == a.get_json()  # replayed, not run again
    state = client.get("/api/v1/state", headers=bearer(tokens["display-1"])).get_json()
    team1 = next(t for t in state["teams"] if t["id"] == 1)
    assert team1["waiting"] == 1  # only one of the two tickets was called


def test_a_key_that_is_not_printable_ascii_is_refused(client, tokens):
    res = client.post("/api/v1/tickets", json={"team_id": 1},
                      headers={**bearer(tokens["kiosk-1"]), "Idempotency-Key": "k\u1ec5y"})
    assert res.status_code == 422
