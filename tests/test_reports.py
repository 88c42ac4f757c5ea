"""Manager reports against an independent computation over a simulated day.

The day is driven through the real QueueService (real SQLite) with an injected clock; the
test keeps its own record of what happened to every ticket and when, and recomputes every
figure from that record (not from the event log) to compare with the report API.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qms.app import create_app
from tests.conftest import bearer, login

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = "2026-11-23"  # a Monday
START = datetime(2026, 11, 23, 7, 30, tzinfo=TZ).astimezone(UTC)
OFFICERS = {1: "canbo01", 2: "canbo02", 7: "canbo07", 11: "canbo11"}


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t

    def step(self, s):
        self.t += timedelta(seconds=s)


@pytest.fixture
def sim(data_dir):
    clock = Clock(START)
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading",
                      "CLOCK": clock})
    yield app, clock
    app.extensions["qms"].store.close()


def simulate(app, clock) -> dict[int, dict]:
    """One morning at 4 counters: arrivals, calls, starts, finishes (some implicit), a
    pause with tickets waiting, a transfer, recalls, no-shows, a cancel and ratings."""
    svc = app.extensions["qms"].service
    rnd = random.Random(7)
    rec: dict[int, dict] = {}
    current: dict[int, int | None] = dict.fromkeys(OFFICERS)

    def issue(team, priority=None):
        _, t = svc.issue(team_id=team, priority=priority, channel="kiosk", actor="device:k")
        rec[t["id"]] = {"id": t["id"], "team": team, "issued": clock(), "first_call": None,
                        "start": None, "call": None, "finish": None, "status": "waiting",
                        "counter": None, "officer": None, "rating": None, "reason": "",
                        "priority": priority, "transfers": 0}
        return t["id"]

    def act(n, action, **kw):
        return svc.counter_action(n, action, actor=f"user:{OFFICERS[n]}", **kw)

    def finish_rec(tid, n, implicit=False):
        r = rec[tid]
        r.update(status="done", finish=clock(), counter=n, officer=OFFICERS[n])
        r["service"] = (r["finish"] - (r["start"] or r["call"])).total_seconds()

    def call_next(n):
        if current[n] is not None and rec[current[n]]["status"] in ("called", "serving"):
            finish_rec(current[n], n, implicit=True)
        status, t = act(n, "call-next")
        current[n] = None
        if status == 204:
            return None
        r = rec[t["id"]]
        r["first_call"] = r["first_call"] or clock()
        r.update(call=clock(), start=None, status="called", counter=n, officer=OFFICERS[n])
        current[n] = t["id"]
        return t["id"]

    def arrive(i):
        issue(rnd.choice([1, 1, 2, 3]), "elderly" if i % 9 == 4 else None)
        clock.step(rnd.randint(10, 50))

    for i in range(15):
        arrive(i)
    paused_once = transferred = False
    for step in range(120):
        if rnd.random() < 0.6:
            arrive(step)
        n = list(OFFICERS)[step % 4]
        tid = call_next(n)
        if tid is None:
            continue
        clock.step(rnd.randint(5, 40))
        roll = rnd.random()
        if roll < 0.12:
            act(n, "recall")
            clock.step(30)
            act(n, "no-show")
            rec[tid].update(status="no_show")
            current[n] = None
        elif n == 1 and not transferred:
            act(n, "start")
            clock.step(60)
            act(n, "transfer", team_id=2)
            rec[tid].update(status="waiting", team_now=2, start=None, transfers=1)
            current[n] = None
            transferred = True
        elif roll < 0.3:
            clock.step(rnd.randint(60, 400))  # finished implicitly by the next call-next
        else:
            act(n, "start")
            rec[tid]["start"] = clock()
            rec[tid]["status"] = "serving"
            clock.step(rnd.randint(90, 600))
            act(n, "finish")
            finish_rec(tid, n)
            current[n] = None
            if rnd.random() < 0.7:
                score = rnd.choice([4, 4, 3, 3, 2, 1])
                reason = "chờ lâu" if score <= 2 else ""
                svc.rate(tid, score, reason, actor="device:bridge-1")
                rec[tid].update(rating=score, reason=reason)
        if n == 2 and not paused_once and step > 20:
            act(2, "pause", reason="họp")
            clock.step(1200)  # tickets wait through the pause
            act(2, "resume")
            paused_once = True
    for n in OFFICERS:  # close the counters: their current tickets finish
        if current[n] is not None and rec[current[n]]["status"] in ("called", "serving"):
            finish_rec(current[n], n)
        act(n, "close")
    waiting = [r for r in rec.values() if r["status"] == "waiting"]
    if waiting:
        svc.cancel(waiting[-1]["id"], actor="user:admin")
        waiting[-1]["status"] = "cancelled"
        waiting[-1]["cancelled_at"] = clock()
    return rec


# -- the independent computation -------------------------------------------------------------
def nearest_rank(values, p):
    v = sorted(values)
    return round(v[max(0, math.ceil(p / 100 * len(v)) - 1)], 1)


def expect_stats(values):
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    return {"count": len(values), "mean": round(sum(values) / len(values), 1),
            "p50": nearest_rank(values, 50), "p90": nearest_rank(values, 90),
            "max": round(max(values), 1)}


def wait_of(r):
    return (r["first_call"] - r["issued"]).total_seconds() if r["first_call"] else None


def expected(rec, key, target_s=900):
    groups: dict = {}
    for r in rec.values():
        groups.setdefault(key(r), []).append(r)
    out = {}
    for k, rs in groups.items():
        waits = [wait_of(r) for r in rs if r["first_call"]]
        services = [r["service"] for r in rs if r["status"] == "done"]
        ratings = [r["rating"] for r in rs if r["rating"]]
        out[k] = {"issued": len(rs), "called": len(waits), "served": len(services),
                  "no_show": sum(r["status"] == "no_show" for r in rs),
                  "cancelled": sum(r["status"] == "cancelled" for r in rs),
                  "transferred": sum(1 for r in rs if r["transfers"]),
                  "wait_s": expect_stats(waits), "service_s": expect_stats(services),
                  "within_target": (round(sum(w <= target_s for w in waits) / len(waits), 4)
                                    if waits else None),
                  "rated": len(ratings),
                  "satisfied_share": (round(sum(s >= 3 for s in ratings) / len(ratings), 4)
                                      if ratings else None)}
    return out


FIELDS = ("issued", "called", "served", "no_show", "cancelled", "transferred", "wait_s",
          "service_s", "within_target", "rated", "satisfied_share")


@pytest.fixture
def day(sim):
    app, clock = sim
    rec = simulate(app, clock)
    client = app.test_client()
    return app, clock, rec, client, bearer(login(client, "giamdoc"))


def get(client, headers, path):
    res = client.get(path, headers=headers)
    assert res.status_code == 200, res.get_json()
    return res.get_json()


@pytest.mark.parametrize("by,key", [
    ("team", lambda r: r["team"]), ("counter", lambda r: r["counter"]),
    ("officer", lambda r: r["officer"]),
    ("hour", lambda r: r["issued"].astimezone(TZ).hour), ("all", lambda r: "all"),
    ("priority", lambda r: "priority" if r["priority"] else "normal")])
def test_summary_matches_independent_computation(day, by, key):
    app, clock, rec, client, h = day
    data = get(client, h, f"/api/v1/reports/summary?from={DAY}&to={DAY}&by={by}")
    assert data["exact"]
    exp = expected(rec, key)
    got = {r["key"]: r for r in data["rows"]}
    assert set(got) == set(exp)
    for k, e in exp.items():
        for f in FIELDS:
            assert got[k][f] == e[f], (by, k, f)


def test_edge_cases_are_in_the_day(day):
    app, clock, rec, client, h = day
    statuses = {r["status"] for r in rec.values()}
    assert {"done", "no_show", "cancelled"} <= statuses
    moved = [r for r in rec.values() if r["transfers"]]
    assert moved and moved[0]["first_call"] is not None
    data = get(client, h, f"/api/v1/reports/summary?from={DAY}&to={DAY}&by=all")
    assert data["total"]["transferred"] == 1
    assert data["total"]["wait_s"]["max"] >= 1200  # someone waited through the pause


def test_fast_path_agrees(day):
    app, clock, rec, client, h = day
    exact = get(client, h, f"/api/v1/reports/summary?from={DAY}&to={DAY}&by=team")
    fast = get(client, h, f"/api/v1/reports/summary?from={DAY}&to={DAY}&by=team&precision=fast")
    assert not fast["exact"]
    for a, b in zip(exact["rows"], fast["rows"], strict=True):
        for f in ("key", "issued", "called", "served", "no_show", "cancelled", "transferred",
                  "within_target", "ratings", "satisfied_share"):
            assert a[f] == b[f], f
        for m in ("wait_s", "service_s"):
            assert a[m]["mean"] == pytest.approx(b[m]["mean"], abs=0.1)
            assert a[m]["max"] == b[m]["max"]
            for p in ("p50", "p90"):
                if a[m][p] is not None:
                    assert abs(a[m][p] - b[m][p]) <= 60


def test_heatmap_and_occupancy(day):
    app, clock, rec, client, h = day
    heat = get(client, h, f"/api/v1/reports/heatmap?from={DAY}&to={DAY}")
    for r in rec.values():
        local = r["issued"].astimezone(TZ)
        heat["arrivals"][local.weekday()][local.hour] -= 1
    assert all(v == 0 for row in heat["arrivals"] for v in row)
    moves = []
    for r in rec.values():
        end = r["first_call"] or r.get("cancelled_at")
        moves += [(r["issued"], 1), (end, -1)] if end else [(r["issued"], 1)]
    level = peak = 0
    for _, d in sorted(moves, key=lambda m: (m[0], m[1])):
        level += d
        peak = max(peak, level)
    occ = get(client, h, f"/api/v1/reports/occupancy?from={DAY}&to={DAY}")
    assert occ["peak"]["peak"] == peak


def test_ratings_and_low_ratings(day):
    app, clock, rec, client, h = day
    sat = get(client, h, f"/api/v1/reports/satisfaction?from={DAY}&to={DAY}&by=officer")
    for row in sat["rows"]:
        mine = [r["rating"] for r in rec.values() if r["officer"] == row["key"] and r["rating"]]
        assert row["rated"] == len(mine)
        for s in (1, 2, 3, 4):
            assert row["ratings"][str(s)] == mine.count(s)
    low = get(client, h, f"/api/v1/reports/low-ratings?from={DAY}&to={DAY}")["items"]
    assert len(low) == sum(1 for r in rec.values() if r["rating"] and r["rating"] <= 2)
    assert all(i["reason"] == "chờ lâu" for i in low)


def test_day_with_no_tickets_and_monthly(day):
    app, clock, rec, client, h = day
    empty = get(client, h, "/api/v1/reports/summary?from=2026-11-24&to=2026-11-24&by=team")
    assert empty["rows"] == [] and empty["total"] is None
    by_day = get(client, h, f"/api/v1/reports/summary?from={DAY}&to=2026-11-30&by=day")
    assert [r["key"] for r in by_day["rows"]] == [DAY]
    month = get(client, h, "/api/v1/reports/monthly?month=2026-11")
    assert month["total"]["issued"] == len(rec)
    assert sum(t["issued"] for t in month["teams"]) == len(rec)
    assert sum(f["issued"] for f in month["fields"]) == len(rec)
    waits = get(client, h, f"/api/v1/reports/waits?from={DAY}&by=counter")
    assert {r["key"] for r in waits["rows"]} >= {1, 2, 7, 11}


def test_exports_read_back(day):
    import csv
    import io

    import openpyxl

    app, clock, rec, client, h = day
    res = client.get(f"/api/v1/reports/export?report=summary&by=team&format=csv&from={DAY}",
                     headers=h)
    rows = list(csv.reader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert rows[0][0].startswith("Nhóm") and rows[-1][0].startswith("Tổng cộng")
    assert int(rows[-1][2]) == len(rec)
    res = client.get(f"/api/v1/reports/journeys?format=xlsx&from={DAY}", headers=h)
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    sheet = list(wb.worksheets[0].iter_rows(values_only=True))
    head = sheet.index(next(r for r in sheet if r[0] == "ticket_id"))
    assert len(sheet) - head - 1 == len(rec)


def test_incremental_fold_matches_full_refold(day):
    """Folding event by event across many refreshes equals one fold from scratch."""
    from server.reports.engine import ReportEngine

    app, clock, rec, client, h = day
    q = app.extensions["qms"]
    get(client, h, f"/api/v1/reports/summary?from={DAY}&to={DAY}")
    before = q.store.journeys_between(DAY, DAY)
    assert len(before) == len(rec)
    with q.store.write():
        q.store.db.conn.execute("DELETE FROM journeys")
        q.store.db.conn.execute("DELETE FROM report_cursor")
    ReportEngine(q.store, q.config, clock).refresh(chunk=7)
    assert q.store.journeys_between(DAY, DAY) == before


def test_sparse_histograms_round_trip():
    """Aggregates keep histograms as sparse BLOBs; counts above 2^24 - 1 are split."""
    import numpy as np

    from server.reports import stats as rs

    values = np.array([0, 0.001, 59.9, 60, 60.001, 7199.9, 7200, 7200.5, 28800, 90000, 3e6])
    assert rs.buckets(values).tolist() == [rs.bucket(v) for v in values]
    h = np.zeros((3, rs.NB))
    h[0, 5] = 1
    h[2, 0] = 7
    h[2, rs.NB - 1] = 40_000_000
    blobs = rs.encode_dense(h)
    assert blobs[1] == b"" and len(blobs[0]) == 4
    back = rs.dense(blobs + blobs, np.array([0, 1, 2, 0, 1, 2]), 3)
    assert (back == 2 * h).all()
    assert rs.within(h[2], 60) == 7


def test_aggregates_rebuilt_from_scratch_match(day):
    """A migrated database (no aggregates yet) is rebuilt on the next refresh; month rows
    add up the day rows."""
    from server.reports.engine import ReportEngine

    app, clock, rec, client, h = day
    q = app.extensions["qms"]
    url = "/api/v1/reports/summary?from=2026-11-01&to=2026-11-30&by={}&precision=fast"
    before = {by: get(client, h, url.format(by)) for by in ("team", "procedure", "day")}
    with q.store.write():
        q.store.db.conn.execute("DELETE FROM report_agg")
    ReportEngine(q.store, q.config, clock).refresh()
    for by, data in before.items():
        assert get(client, h, url.format(by)) == data
        assert data["total"]["issued"] == len(rec)
    assert q.store.stats_rows("all", ["2026-11"], []) == []  # the month still runs
    clock.t = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # it closed: its month rows appear
    ReportEngine(q.store, q.config, clock).refresh()
    months = q.store.stats_rows("all", ["2026-11"], [])
    assert months
    days = q.store.stats_rows("all", [], [("2026-11-01", "2026-11-30")])
    assert [m[5:11] for m in months] == [d[5:11] for d in days]
