"""`qms simulate` against the real server process: a compressed hour (x600) with two
counters on emulated keypads and rating pads through the counter bridge, checked against
the database and the event log."""

from __future__ import annotations

import json
import random
import sqlite3
import time

import pytest

from tools.simulate import profiles, report
from tools.simulate.runner import run

# a ticket's legal moves, written out independently of server.simulate.report
LEGAL = {
    None: {"ticket.issued"},
    "ticket.issued": {"ticket.called", "ticket.cancelled"},
    "ticket.called": {"ticket.recalled", "ticket.started", "ticket.finished",
                      "ticket.no_show", "ticket.transferred", "ticket.step_moved"},
    "ticket.recalled": {"ticket.recalled", "ticket.started", "ticket.finished",
                        "ticket.no_show", "ticket.transferred", "ticket.step_moved"},
    "ticket.started": {"ticket.finished", "ticket.transferred", "ticket.step_moved"},
    "ticket.transferred": {"ticket.called", "ticket.cancelled"},
    "ticket.step_moved": {"ticket.called", "ticket.cancelled"},  # the visit's next step
    "ticket.finished": {"ticket.rated"},
    "ticket.no_show": {"ticket.called"},
    "ticket.rated": set(),
}


def db_rows(data_dir, sql):
    con = sqlite3.connect(f"file:{data_dir / 'qms.db'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


@pytest.mark.timeout(90)
def test_simulated_hour_against_live_server(live_server, data_dir, tmp_path):
    out = tmp_path / "day.json"
    md = tmp_path / "day.md"
    t0 = time.monotonic()
    rc = run(["--server", live_server.url, "--data-dir", str(data_dir), "--hours", "1",
              "--speed", "600", "--start", "09:30", "--seed", "7", "--devices", "2",
              "--drain-min", "60", "--report", str(out), "--quiet"])
    elapsed = time.monotonic() - t0
    assert rc == 0
    assert elapsed < 60, f"simulated hour took {elapsed:.1f} s"  # 45 s at load 12 on 2 cores
    s = json.loads(out.read_text())

    tickets = db_rows(data_dir, "SELECT * FROM tickets")
    events = db_rows(data_dir, "SELECT * FROM events ORDER BY seq")
    assert s["issued"] == len(tickets) >= 20
    by_status = {}
    for t in tickets:
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
    assert s["served"] == by_status.get("done", 0)
    assert s["no_show"] == by_status.get("no_show", 0)
    assert s["not_finished"] == by_status.get("waiting", 0) == 0
    assert s["transferred"] == sum(1 for t in tickets if t["transfers"])
    assert s["rated"] == sum(1 for t in tickets if t["rating"] is not None)
    assert sum(r["issued"] for r in s["teams"]) == s["issued"]

    # every ticket's events, in seq order, follow the queue's rules and end in its status
    last: dict[int, str | None] = {}
    for e in events:
        if e["ticket_id"] is None or not e["type"].startswith("ticket."):
            continue  # booking.checked_in names the ticket it issued too
        prev = last.get(e["ticket_id"])
        assert e["type"] in LEGAL[prev], f"ticket {e['ticket_id']}: {e['type']} after {prev}"
        last[e["ticket_id"]] = e["type"]
    final = {"ticket.finished": "done", "ticket.rated": "done", "ticket.no_show": "no_show"}
    for t in tickets:
        assert final[last[t["id"]]] == t["status"]
    assert s["illegal"] == {}
    assert s["errors"] == []

    # the display client was shown every call, in seq order
    calls = [e["seq"] for e in events if e["type"] in ("ticket.called", "ticket.recalled")]
    assert s["display"]["calls_logged"] == len(calls) == s["display"]["calls_seen"]
    assert s["display"]["missed"] == 0 and s["display"]["in_order"]

    # officers signed in at their counters, some went on a break; keypads and pads were used
    kinds = {e["type"] for e in events}
    assert {"counter.opened", "counter.paused", "counter.closed"} <= kinds
    assert any(e["actor"] == "device:bridge-1" and e["type"] == "ticket.called" for e in events)
    assert any(e["actor"] == "device:bridge-1" and e["type"] == "ticket.rated" for e in events)
    assert any(e["type"] == "ticket.recalled" for e in events)

    s["title"] = "test"
    report.write(str(md), s)
    assert "Theo tổ / per team" in md.read_text()


def test_profile_day_totals_and_mix():
    p = profiles.get_profile("bac-ninh")
    rng = random.Random(3)
    start, end = p.opening()
    average = [len(p.arrivals(rng, "average", start, end)) for _ in range(20)]
    assert 200 < sum(average) / 20 < 270
    peak = p.arrivals(rng, "peak", start, end)
    assert len(peak) > 1900
    morning = sum(1 for t in peak if profiles.hhmm("08:00") <= t < profiles.hhmm("10:00"))
    afternoon = sum(1 for t in peak if profiles.hhmm("14:00") <= t < profiles.hhmm("16:00"))
    assert morning > 1.5 * afternoon
    assert not any(profiles.hhmm("11:30") <= t < profiles.hhmm("13:30") for t in peak)
    procs = [{"code": f"c{i}", "field": f, "team_id": team}
             for i, (f, team) in enumerate([("Hộ tịch", 1), ("Chứng thực", 1),
                                            ("Đất đai", 2), ("Văn hóa", 6)])]
    shares = profiles.ProcedureMix(procs, p.fields).team_shares()
    assert shares[1] > 0.7 and shares[6] < 0.01
    services = sorted(p.service_s(rng, 2) for _ in range(2001))
    assert 600 < services[1000] < 850


def test_bad_arguments():
    assert run(["--day-load", "busiest", "--server", "http://127.0.0.1:9"]) == 2


def test_counter_list():
    from tools.simulate.runner import counter_spec

    assert counter_spec("1-4,7") == [1, 2, 3, 4, 7]
    assert counter_spec("5") == [5]
