"""Wait estimator (server/estimate.py): pure rules, and the service's use of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.estimate import CounterLoad, Served, WaitEstimator, served_from_events

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def served(counter, team, minutes_ago, occupancy_s):
    end = NOW - timedelta(minutes=minutes_ago)
    return Served(counter, team, end - timedelta(seconds=occupancy_s), end)


def test_no_history_is_default_over_open_counters():
    counters = [CounterLoad(1, (1,), True), CounterLoad(2, (1,), True),
                CounterLoad(3, (1,), False)]
    est = WaitEstimator(counters, {1: 5}, [], NOW, default_s=300)
    assert est.wait_s(1, 0) == 75            # half a service time over two counters
    assert est.wait_s(1, 4) == round(4.5 * 300 / 2)


def test_fast_and_slow_counters_add_their_own_rates():
    counters = [CounterLoad(1, (1,), True), CounterLoad(2, (1,), True)]
    history = [served(1, 1, i, 120) for i in range(8)] + [served(2, 1, i, 600) for i in range(8)]
    est = WaitEstimator(counters, {1: 10}, history, NOW, default_s=300)
    rate = est.rate(1)
    # counter 1 ~ 1 per 2 min, counter 2 ~ 1 per 10 min (shrunk a little to the team mean)
    assert 1 / 150 < rate < 1 / 80
    naive_mean = 360  # what a team-mean formula would use for both counters
    assert est.wait_s(1, 10) < 10.5 * naive_mean / 2


def test_shared_counter_helps_only_when_its_own_team_is_empty():
    counters = [CounterLoad(1, (1,), True), CounterLoad(14, (3, 1), True)]
    history = [served(1, 1, i, 300) for i in range(4)] + [served(14, 3, i, 300)
                                                         for i in range(4)]
    busy = WaitEstimator(counters, {1: 6, 3: 4}, history, NOW, default_s=300)
    free = WaitEstimator(counters, {1: 6, 3: 0}, history, NOW, default_s=300)
    assert busy.wait_s(1, 6) > 1.8 * free.wait_s(1, 6)
    assert free.wait_s(1, 6) == round(6.5 * 300 / 2)


def test_history_outside_the_window_is_ignored_and_events_parse():
    old = [served(1, 1, 200, 60) for _ in range(8)]
    est = WaitEstimator([CounterLoad(1, (1,), True)], {}, old, NOW, default_s=300)
    assert est.wait_s(1, 1) == 450
    evts = [{"type": "ticket.finished", "counter": 2, "team_id": 1,
             "at": "2026-03-02T02:10:00.000+00:00",
             "ticket": {"called_at": "2026-03-02T02:05:00.000+00:00"}},
            {"type": "ticket.finished", "counter": None, "team_id": 1, "at": "x", "ticket": {}}]
    (s,) = served_from_events(evts)
    assert (s.counter, s.occupancy_s) == (2, 300.0)


def test_service_estimate_uses_counter_occupancy(client, tokens):
    from conftest import bearer, login

    kiosk = bearer(tokens["kiosk-1"])
    for _ in range(4):
        client.post("/api/v1/tickets", json={"team_id": 4}, headers=kiosk)
    officer = bearer(login(client, "canbo15", 15))
    assert client.post("/api/v1/counters/15/call-next", headers=officer).status_code == 200
    state = client.get("/api/v1/state", headers=kiosk).get_json()
    team4 = next(t for t in state["teams"] if t["id"] == 4)
    # 3 waiting, one open counter with no history yet: default 300 s per ticket
    assert team4["waiting"] == 3 and team4["estimated_wait_s"] == round(3.5 * 300)
    res = client.post("/api/v1/tickets", json={"team_id": 4}, headers=kiosk).get_json()
    assert res["waiting_ahead"] == 3 and res["estimated_wait_s"] == round(3.5 * 300)
