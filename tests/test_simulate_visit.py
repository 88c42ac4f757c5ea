"""A simulated day of whole visits (issue #15) against the real server process living in
the simulated time (tools/simulate/clock.py): bookings made through the public API the
evening before and checked in at the kiosk on time, late or never, walk-ins with a scanned
CCCD (second numbers in the same field refused), and visits of several steps (receive ->
fee -> result, receive -> result). Every step's wait and service time is checked against a
fold of `GET /api/v1/events` written here, apart from server/reports/fold.py, and the
manager's steps and bookings reports must agree with it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tools.simulate.clock import ClockFile
from tools.simulate.runner import run, start_server
from tools.testing import PASSWORDS

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SPEED = 400
# counters for each first step of the demo's routes (2 land, 4 building and driving
# licences, 5 social protection), the fee desk (22, team 7) and results (23, teams 8 and 6)
COUNTERS = "7-8,15-16,18-19,21-23"


@pytest.fixture(scope="module")
def day(demo_template, tmp_path_factory):
    data = tmp_path_factory.mktemp("visit-day") / "data"
    shutil.copytree(demo_template, data)
    clock = ClockFile(data / "clock.json")
    clock.set(datetime.now(TZ) - timedelta(days=2), 0)  # the simulator moves it on
    proc, url = start_server(data, clock)
    report = data / "day.json"
    try:
        t0 = time.monotonic()
        rc = run(["--server", url, "--data-dir", str(data), "--clock-file", str(clock.path),
                  "--start", "08:00", "--hours", "1", "--speed", str(SPEED), "--seed", "11",
                  "--counters", COUNTERS, "--drain-min", "180", "--bookings", "0.25",
                  "--late", "0.25", "--never", "0.15", "--cccd", "0.4", "--hoard", "0.3",
                  "--field", "Bảo trợ xã hội=15",  # receive -> result (no fee) every hour
                  "--report", str(report), "--quiet"])
        elapsed = time.monotonic() - t0
        manager = requests.post(f"{url}/api/v1/auth/login", timeout=10, json={
            "username": "giamdoc", "password": PASSWORDS["giamdoc"]}).json()["token"]
        yield {"rc": rc, "url": url, "summary": json.loads(report.read_text()),
               "elapsed": elapsed, "auth": {"Authorization": f"Bearer {manager}"}}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def get(day, path, **params):
    res = requests.get(day["url"] + "/api/v1" + path, params=params, headers=day["auth"],
                       timeout=30)
    assert res.status_code == 200, res.text
    return res.json()


def all_events(day) -> list[dict]:
    out, since = [], 0
    while True:
        page = get(day, "/events", since=since, limit=5000)
        out += page["items"]
        if not page["items"] or not page["more"]:
            return out
        since = page["items"][-1]["seq"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fold_visits(events: list[dict]) -> dict[int, list[dict]]:
    """ticket -> its steps: team (where last called), arrival (issue or move), first call,
    wait, start (or the call), end (finish, move on, absence), service when served there.
    A transfer keeps the step's arrival and first call; a recall changes nothing."""
    visits: dict[int, list[dict]] = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        kind, tid = e["type"], e.get("ticket_id")
        if kind == "ticket.issued":
            visits[tid] = [{"team": e["team_id"], "arrived": at(e["at"]), "called": None,
                            "start": None, "end": None, "served": False, "named": False}]
            continue
        if tid not in visits:
            continue
        step = visits[tid][-1]
        if kind == "ticket.called":
            step["called"] = step["called"] or at(e["at"])
            step["last_call"], step["team"], step["start"] = at(e["at"]), e["team_id"], None
        elif kind == "ticket.started":
            step["start"] = at(e["at"])
        elif kind == "ticket.transferred":
            step["team"], step["start"] = e["team_id"], None
        elif kind in ("ticket.finished", "ticket.step_moved"):
            # a step of a route says so when it ends (a visit of one step does not)
            named = step["named"] or bool(e.get("step") or e.get("from_step"))
            step.update(end=at(e["at"]), served=True, named=named,
                        start=step["start"] or step["last_call"])
            if kind == "ticket.step_moved":
                visits[tid].append({"team": e["team_id"], "arrived": at(e["at"]),
                                    "called": None, "start": None, "end": None,
                                    "served": False, "named": True})
        elif kind == "ticket.no_show":
            step["end"] = at(e["at"])
    for steps in visits.values():
        for s in steps:
            s["wait"] = (s["called"] - s["arrived"]).total_seconds() if s["called"] else None
            s["service"] = (s["end"] - s["start"]).total_seconds() if s["served"] else None
    return visits


def test_simulated_day_of_whole_visits(day):
    s, v = day["summary"], day["summary"]["visit"]
    assert day["rc"] == 0, s["errors"]
    assert day["elapsed"] < 75, f"the simulated day took {day['elapsed']:.0f} s"
    assert v["simulated_clock"] and s["errors"] == [] and s["illegal"] == {}
    events = all_events(day)
    issued = [e for e in events if e["type"] == "ticket.issued"]

    # no ticket number duplicated or skipped: each team's band counts up one by one
    numbers = defaultdict(list)
    for e in issued:
        numbers[e["team_id"]].append(e["ticket"]["number"])
    for team, ns in numbers.items():
        ns.sort()
        assert ns == list(range(ns[0], ns[0] + len(ns))), f"team {team}: {ns}"
    assert len({e["ticket_id"] for e in issued}) == len(issued) == s["issued"]

    # every visit ended: served (at its last step) or absent; nobody left waiting
    visits = fold_visits(events)
    assert s["not_finished"] == 0
    several = {tid: steps for tid, steps in visits.items() if len(steps) > 1}
    assert len(several) == v["several_steps"] >= 5
    routes = {tuple(st["team"] for st in steps) for steps in several.values()}
    assert any(len(r) == 3 and r[1:] == (7, 8) for r in routes), routes  # receive, fee, result
    assert any(len(r) == 2 and r[1] == 8 for r in routes), routes  # no fee: straight to result
    for steps in several.values():
        for st in steps:
            assert st["wait"] is None or st["wait"] >= 0
            assert st["service"] is None or st["service"] >= 0

    # the manager's report by step agrees with the independent fold, group by group
    report = get(day, "/reports/steps", **{"from": s["day"], "to": s["day"]})
    assert report["visits"] == len({tid for tid, steps in visits.items()
                                    if any(st["named"] for st in steps)})
    mine = defaultdict(list)
    for steps in visits.values():
        for i, st in enumerate(steps, start=1):
            if st["named"]:
                mine[(i, st["team"])].append(st)
    assert {(r["step_index"], r["team_id"]) for r in report["rows"]} == set(mine)
    for r in report["rows"]:
        rows = mine[(r["step_index"], r["team_id"])]
        served = [st["service"] for st in rows if st["served"]]
        waits = [st["wait"] for st in rows if st["wait"] is not None]
        assert (r["arrived"], r["served"]) == (len(rows), len(served)), r["key"]
        assert r["service_s"]["count"] == len(served)
        assert r["wait_s"]["count"] == len(waits)
        if served:
            assert r["service_s"]["max"] == pytest.approx(max(served), abs=0.051)
            assert r["service_s"]["mean"] == pytest.approx(sum(served) / len(served), abs=0.051)
        if waits:
            assert r["wait_s"]["max"] == pytest.approx(max(waits), abs=0.051)
            assert r["wait_s"]["mean"] == pytest.approx(sum(waits) / len(waits), abs=0.051)

    # bookings: on time -> in the queue at the slot start; late -> a walk-in marked late;
    # never used -> expired as a no-show the next morning
    by_ticket = {e["ticket_id"]: e for e in issued}
    checked = {e["booking_id"]: e for e in events if e["type"] == "booking.checked_in"}
    created = {e["booking_id"]: e for e in events if e["type"] == "booking.created"}
    expired = {e["booking_id"] for e in events if e["type"] == "booking.expired"}
    assert len(created) == v["booked"] >= 8
    assert set(checked) | expired == set(created) and not set(checked) & expired
    outcomes = defaultdict(int)
    for c in checked.values():
        slot = datetime.combine(datetime.fromisoformat(c["day"]).date(),
                                datetime.strptime(c["start"], "%H:%M").time(), TZ)
        ticket = by_ticket[c["ticket_id"]]["ticket"]
        late = at(c["at"]) > slot + timedelta(minutes=15)
        assert c["late"] is late and by_ticket[c["ticket_id"]]["booking"]["late"] is late
        if late:
            assert at(ticket["wait_from"]) == at(ticket["issued_at"])
            assert ticket["channel"] == "kiosk"
        else:
            assert at(ticket["wait_from"]) == slot and ticket["channel"] == "appointment"
            assert at(c["at"]) >= slot - timedelta(minutes=30)
        outcomes["late" if late else "on_time"] += 1
    outcomes["expired"] = len(expired)
    assert outcomes["on_time"] and outcomes["late"] and outcomes["expired"]
    sim = {k: n for k, n in v["outcomes"].items()}
    assert sim == dict(outcomes)
    assert sum(1 for b in v["items"] if b["plan"] == "never") == len(expired)

    # the manager's bookings report agrees with the booking events
    rows = get(day, "/reports/bookings", **{"from": s["day"], "to": s["day"]})["rows"]
    for team in {c["team_id"] for c in created.values()}:
        row = next(r for r in rows if r["team_id"] == team)
        ids = {bid for bid, c in created.items() if c["team_id"] == team}
        late = sum(1 for bid in ids & set(checked) if checked[bid]["late"])
        assert (row["checked_in"], row["late"], row["no_show"], row["booked"]) == (
            len(ids & set(checked)) - late, late, len(ids & expired), 0)

    # walk-ins with a scanned CCCD: a second number in the same field is refused
    assert v["cccd_walk_ins"] >= 5 and v["second_tries"] >= 1
    assert v["person_limit"] == v["second_tries"]
