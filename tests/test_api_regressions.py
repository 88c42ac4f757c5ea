"""Bugs found by the API fuzzer (tests/test_fuzz_api.py, bench/fuzz_api.py), each kept as a
regression test on the in-process app."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, login


def test_announcement_without_counter_is_422_not_500(client):
    """schemathesis: GET /announcements/audio?number=0 -> 500 (the default wording needs
    {counter}; build_announcement raised ValueError)."""
    token = login(client, "admin")
    res = client.get("/api/v1/announcements/audio?number=0", headers=bearer(token))
    assert res.status_code == 422
    assert res.get_json()["error"]["code"] == "bad_announcement"


def _admin(client):
    return bearer(login(client, "admin"))


@pytest.mark.parametrize("body", [{"procedure_code": [-8907753, {}]},
                                  {"procedure_code": {"a": 1}}, {"procedure_code": 5}])
def test_issue_with_non_string_procedure_code_is_422(client, body):
    """schemathesis: POST /tickets {"procedure_code": [-8907753, {}]} -> 500 (a list bound
    as an SQL parameter)."""
    res = client.post("/api/v1/tickets", json=body, headers=_admin(client))
    assert res.status_code == 422


def _serving(client, headers):
    assert client.post("/api/v1/tickets", json={"team_id": 1}, headers=headers).status_code == 201
    assert client.post("/api/v1/counters/1/call-next", headers=headers).status_code == 200


@pytest.mark.parametrize("body", [{"team_id": "abc"}, {"counter": [1]}, {"team_id": True},
                                  {"team_id": 2, "note": {"a": 1}}])
def test_transfer_with_wrong_types_is_422(client, body):
    """POST /counters/1/transfer with a non-integer team/counter or an object note -> 500
    (int("abc"), int([1]), an object bound as SQL parameter)."""
    headers = _admin(client)
    _serving(client, headers)
    res = client.post("/api/v1/counters/1/transfer", json=body, headers=headers)
    assert res.status_code == 422
    assert client.get("/api/v1/counters/1", headers=headers).get_json()["ticket"]["status"] \
        == "called"


@pytest.mark.parametrize("body", [{"number": 99999999999999999999},
                                  {"number": 1001, "reason": {"a": 1}}])
def test_call_number_out_of_range_or_bad_reason_is_422(client, body):
    """POST /counters/1/call-number {"number": 1e20} -> 500 (SQLite integer overflow)."""
    res = client.post("/api/v1/counters/1/call-number", json=body, headers=_admin(client))
    assert res.status_code == 422


def test_pause_with_object_reason_is_422(client):
    """POST /counters/1/pause {"reason": {...}} -> 500 (object bound as SQL parameter)."""
    headers = _admin(client)
    res = client.post("/api/v1/counters/1/pause", json={"reason": {"a": 1}}, headers=headers)
    assert res.status_code == 422
    assert client.get("/api/v1/counters/1", headers=headers).get_json()["status"] != "paused"


@pytest.mark.parametrize("action,body", [("rating", {"score": 4}), ("cancel", {})])
def test_huge_ticket_id_is_404(client, tokens, action, body):
    """POST /tickets/99999999999999999999/rating|cancel -> 500 (SQLite integer overflow)."""
    headers = bearer(tokens["bridge-1"]) if action == "rating" else _admin(client)  # who may
    res = client.post(f"/api/v1/tickets/99999999999999999999/{action}", json=body,
                      headers=headers)
    assert res.status_code == 404
