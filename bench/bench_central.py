"""Central server benchmarks (issue #13), on a real PostgreSQL (fsync on) started here:

1. ingest: sites' batches of 500 events through HTTP (waitress) into PostgreSQL, folded
   into journeys and day aggregates as they arrive — events per second;
2. catch-up: a hall offline for a week (its SQLite events table filled with a week of
   events at a commune desk's volume, then at the province centre's) shipped by the real
   sync loop (`sync.shipper.Shipper`) — seconds until the centre holds everything;
3. reports over a province-sized history: 135 sites (the centre ~235 tickets a day, 8
   branches ~100, 126 communes ~25) for `--years` years of synthetic journeys and their
   day/month aggregates written straight into the central store, then every central report
   timed through HTTP.

    python -m bench.bench_central [--years 1] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import requests

from bench.docs import write_section
from central.admin import add_user, enrol_site, init, open_store
from server.reports import stats as rs
from server.reports.fold import JOURNEY_COLUMNS
from tools.postgres import TempPostgres
from tools.province import CentralProcess, init_site, write_sync_settings

FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Doanh nghiệp", "Cư trú", "Xây dựng",
          "Lao động", "Giáo dục", "Giao thông", "Y tế"]


def ticket_events(seq: int, tid: int, at: datetime, day: str) -> list[dict]:
    def t(offset):
        return (at + timedelta(seconds=offset)).isoformat(timespec="milliseconds")

    ticket = {"day": day, "number": 1000 + tid % 900, "procedure_code": "1.001193",
              "channel": "kiosk", "priority": None}
    return [{"seq": seq, "type": "ticket.issued", "at": t(0), "ticket_id": tid, "team_id": 1,
             "counter": None, "actor": "device:kiosk-1", "data": {"ticket": ticket}},
            {"seq": seq + 1, "type": "ticket.called", "at": t(420), "ticket_id": tid,
             "team_id": 1, "counter": 2, "actor": "user:canbo02", "data": {}},
            {"seq": seq + 2, "type": "ticket.started", "at": t(450), "ticket_id": tid,
             "team_id": 1, "counter": 2, "actor": "user:canbo02", "data": {}},
            {"seq": seq + 3, "type": "ticket.finished", "at": t(900), "ticket_id": tid,
             "team_id": 1, "counter": 2, "actor": "user:canbo02", "data": {}},
            {"seq": seq + 4, "type": "ticket.rated", "at": t(930), "ticket_id": tid,
             "team_id": 1, "counter": 2, "actor": "device:bridge-1", "data": {"score": 4}}]


def site_log(n_tickets: int, start: datetime, per_day: int) -> list[dict]:
    out = []
    for i in range(n_tickets):
        at = start + timedelta(days=i // per_day, seconds=60 * (i % per_day))
        day = at.date().isoformat()
        out += ticket_events(len(out) + 1, i + 1, at, day)
    return out


# -- 1. ingest ---------------------------------------------------------------------------------
def bench_ingest(central, tokens: dict[str, str], events_per_site: int, threads: int) -> dict:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    logs = {s: site_log(events_per_site // 5, start, 235) for s in tokens}
    latencies: list[float] = []

    def push(sites):
        session = requests.Session()
        for site in sites:
            log = logs[site]
            for i in range(0, len(log), 500):
                body = {"site": site, "epoch": "0123456789abcdef", "events": log[i:i + 500]}
                t0 = time.perf_counter()
                res = session.post(central.url + "/api/v1/ingest", json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {tokens[site]}"})
                latencies.append(time.perf_counter() - t0)
                assert res.status_code == 200, res.text

    sites = sorted(tokens)
    t0 = time.perf_counter()
    workers = [threading.Thread(target=push, args=(sites[k::threads],))
               for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    total = sum(len(v) for v in logs.values())
    latencies.sort()
    return {"events": total, "sites": len(sites), "threads": threads, "wall_s": wall,
            "events_per_s": total / wall, "batch_p50_ms": 1000 * statistics.median(latencies),
            "batch_p95_ms": 1000 * latencies[int(0.95 * len(latencies)) - 1]}


# -- 2. catch-up after a week offline ----------------------------------------------------------
def fill_week(hall_dir: Path, per_day: int) -> int:
    """A week of events in the hall's own events table (as the hall would have written them
    while the WAN was down)."""
    start = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - \
        timedelta(days=7)
    log = site_log(per_day * 7, start, per_day)
    conn = sqlite3.connect(hall_dir / "qms.db")
    with conn:
        conn.executemany(
            "INSERT INTO events (site, seq, type, at, ticket_id, team_id, counter, actor, "
            "data) VALUES ('main',?,?,?,?,?,?,?,?)",
            [(e["seq"], e["type"], e["at"], e["ticket_id"], e["team_id"], e["counter"],
              e["actor"], json.dumps(e["data"], ensure_ascii=False)) for e in log])
    conn.close()
    return len(log)


def bench_catch_up(folder: Path, central, store, site: str, per_day: int) -> dict:
    from sync.settings import load
    from sync.shipper import Shipper

    token = enrol_site(store, site, site, "commune")
    hall_dir = folder / site
    init_site(hall_dir, site)
    n = fill_week(hall_dir, per_day)
    write_sync_settings(hall_dir, central.url, token, idle_s=0.01)
    t0 = time.perf_counter()
    shipper = Shipper(hall_dir, load(hall_dir), say=lambda _m: None)
    shipper.run(once=True)
    wall = time.perf_counter() - t0
    held = store.site(site)["next_seq"] - 1
    assert held == n, (held, n)
    return {"site": site, "tickets_per_day": per_day, "events": n, "wall_s": wall}


# -- 3. reports over a province ----------------------------------------------------------------
def province_sites() -> list[tuple[str, str, int]]:
    sites = [("tinh-trungtam", "centre", 235)]
    sites += [(f"huyen-{i:02d}", "branch", 100) for i in range(1, 9)]
    sites += [(f"xa-{i:03d}", "commune", 25) for i in range(1, 127)]
    return sites


def synth_month(rng, sites, month_days: list[date], tid: int) -> dict[str, list]:
    """Journey columns (JOURNEY_COLUMNS) for every site and day of a month; ticket ids
    after `tid`."""
    cols: dict[str, list] = {c: [] for c in JOURNEY_COLUMNS}
    for site, _kind, volume in sites:
        counts = rng.poisson(volume, len(month_days))
        for d, n in zip(month_days, counts, strict=True):
            if d.weekday() == 6 or n == 0:
                continue
            n = int(n * (0.4 if d.weekday() == 5 else 1.0))
            hour = rng.integers(1, 10, n)  # UTC 01-09 = 08-16 local
            minute = rng.integers(0, 60, n)
            wait = rng.exponential(600, n).round(3)
            service = rng.exponential(420, n).round(3)
            status = rng.choice(["done", "no_show", "cancelled"], n, p=[0.88, 0.08, 0.04])
            rating = rng.choice([0, 1, 2, 3, 4], n, p=[0.6, 0.02, 0.03, 0.15, 0.2])
            team = rng.integers(1, 7, n)
            field = rng.integers(0, len(FIELDS), n)
            prio = rng.random(n) < 0.1
            day = d.isoformat()
            for i in range(n):
                tid += 1
                issued = f"{day}T{int(hour[i]):02d}:{int(minute[i]):02d}:00.000+00:00"
                called = status[i] != "cancelled"
                left = (datetime.fromisoformat(issued) + timedelta(seconds=float(wait[i])))\
                    .isoformat(timespec="milliseconds")
                row = {
                    "ticket_id": tid, "site": site, "day": day, "hour": int(hour[i]) + 7,
                    "weekday": d.weekday(), "number": 1000 + i, "issued_at": issued,
                    "team_id": int(team[i]), "serve_team": int(team[i]),
                    "counter": int(team[i]) * 2, "officer": f"canbo{int(team[i]) * 2:02d}",
                    "procedure_code": f"P{int(field[i]):02d}{i % 30:02d}",
                    "field": FIELDS[int(field[i])], "priority": "elderly" if prio[i] else None,
                    "channel": "kiosk", "status": status[i],
                    "first_called_at": left if called else None,
                    "wait_s": float(wait[i]) if called else None, "started_at": None,
                    "finished_at": None,
                    "service_s": float(service[i]) if status[i] == "done" else None,
                    "left_queue_at": left, "transfers": 0, "recalls": 0,
                    "rating": int(rating[i]) or None if status[i] == "done" else None,
                    "rating_reason": "", "rated_at": left if rating[i] else None}
                for c in JOURNEY_COLUMNS:
                    cols[c].append(row[c])
    return cols


def load_province(store, years: int, say) -> dict:
    rng = np.random.default_rng(5)
    sites = province_sites()
    with store.tx() as conn:
        for site, kind, _v in sites:
            conn.execute("INSERT INTO sites (id, name, kind, epoch, next_seq) VALUES "
                         "(%s, %s, %s, 'bench', 1) ON CONFLICT DO NOTHING", (site, site, kind))
    end = date(2026, 10, 31)
    first = date(end.year - years, end.month + 1 if end.month < 12 else 1, 1)
    month = first
    journeys = 0
    t0 = time.perf_counter()
    while month <= end:
        nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        days = [month + timedelta(days=i) for i in range((nxt - month).days)]
        cols = synth_month(rng, sites, days, journeys)
        n = len(cols["site"])
        journeys += n
        source = {c: cols[c] for c in rs.SOURCE_COLUMNS}
        now = "2026-11-30T00:00:00.000+00:00"
        day_rows = rs.day_rows(source, now, lambda d: d + "T17:00:00.000+00:00")
        month_source = dict(source, day=[month.strftime("%Y-%m")] * n)
        month_rows = [(r[0], "m", *r[2:]) for r in
                      rs.day_rows(month_source, now, lambda d: d + "-31T17:00:00.000+00:00")]
        with store.tx() as conn:
            with conn.cursor() as cur, cur.copy(
                    f"COPY journeys (epoch, {', '.join(JOURNEY_COLUMNS)}) FROM STDIN") as cp:
                for i in range(n):
                    cp.write_row(("bench", *(cols[c][i] for c in JOURNEY_COLUMNS)))
            store.replace_stats(conn, "d", [], day_rows)
            store.replace_stats(conn, "m", [], month_rows)
            for site, _k, _v in sites:
                store.mark_month(conn, site, month.strftime("%Y-%m"))
        say(f"  {month:%Y-%m}: {n} journeys ({journeys} so far, "
            f"{time.perf_counter() - t0:.0f} s)")
        month = nxt
    with store.tx() as conn:
        conn.execute("ANALYZE")
    return {"sites": len(sites), "years": years, "journeys": journeys,
            "load_s": time.perf_counter() - t0, "from": first.isoformat(),
            "to": end.isoformat()}


def bench_reports(central, headers, repeat: int = 3) -> list[dict]:
    cases = [
        ("a year, all sites, by site", "from=2025-11-01&to=2026-10-31&by=site"),
        ("a year, all sites, by team", "from=2025-11-01&to=2026-10-31&by=team"),
        ("a year, all sites, by hour", "from=2025-11-01&to=2026-10-31&by=hour"),
        ("a year, all sites, by field", "from=2025-11-01&to=2026-10-31&by=field"),
        ("a year, all sites, by procedure", "from=2025-11-01&to=2026-10-31&by=procedure"),
        ("a month, all sites, by day", "from=2026-10-01&to=2026-10-31&by=day"),
        ("a year, the centre, by team", "from=2025-11-01&to=2026-10-31&by=team"
                                        "&site=tinh-trungtam"),
        ("a month, the centre, exact", "from=2026-10-01&to=2026-10-31&by=team"
                                       "&site=tinh-trungtam"),
        ("a quarter, a commune, exact", "from=2026-08-01&to=2026-10-31&by=team&site=xa-001"),
        ("13 months across a month edge, all sites", "from=2025-10-15&to=2026-10-31&by=site"),
    ]
    out = []
    for name, q in cases:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = requests.get(f"{central.url}/api/v1/reports/waits?{q}", headers=headers,
                               timeout=300)
            times.append(time.perf_counter() - t0)
            assert res.status_code == 200, res.text
        body = res.json()
        out.append({"report": name, "best_s": min(times), "exact": body["exact"],
                    "tickets": body["total"]["issued"] if body["total"] else 0})
    for name, path in (("compare 9 sites side by side, a year",
                        "compare?from=2025-11-01&to=2026-10-31&by=all&site=" +
                        ",".join(["tinh-trungtam"] + [f"huyen-{i:02d}" for i in range(1, 9)])),
                       ("heatmap, a year, all sites", "heatmap?from=2025-11-01&to=2026-10-31"),
                       ("dashboard (135 sites)", None)):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            url = (f"{central.url}/api/v1/reports/{path}" if path
                   else f"{central.url}/api/v1/sites")
            res = requests.get(url, headers=headers, timeout=300)
            times.append(time.perf_counter() - t0)
            assert res.status_code == 200, res.text
        out.append({"report": name, "best_s": min(times), "exact": False, "tickets": None})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--years", type=int, default=1)
    ap.add_argument("--ingest-sites", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="qms-bench-central-"))
    pg = TempPostgres(folder / "pg", fsync=True)
    central = None
    try:
        pg.start()
        init(folder / "central", pg.dsn)
        store, _ = open_store(folder / "central", pg.dsn)
        central = CentralProcess(folder / "central", pg.dsn).start()
        print("ingest ...", flush=True)
        tokens = {f"ingest-{i:02d}": enrol_site(store, f"ingest-{i:02d}", "x", "commune")
                  for i in range(args.ingest_sites)}
        ingest = bench_ingest(central, tokens, 5000, threads=4)
        print(ingest, flush=True)
        print("catch-up after a week offline ...", flush=True)
        catch = [bench_catch_up(folder, central, store, "catchup-xa", 25),
                 bench_catch_up(folder, central, store, "catchup-tinh", 235)]
        print(catch, flush=True)
        print(f"loading a province-sized history ({args.years} year(s)) ...", flush=True)
        loaded = load_province(store, args.years, lambda m: print(m, flush=True))
        add_user(store, "bench", "province_manager", "bench-password", None)
        token = requests.post(central.url + "/api/v1/auth/login",
                              json={"username": "bench", "password": "bench-password"},
                              timeout=10).json()["token"]
        reports = bench_reports(central, {"Authorization": f"Bearer {token}"})
        for r in reports:
            print(r, flush=True)
        store.close()
    finally:
        if central:
            central.stop()
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if not args.no_write:
        write_section(render(ingest, catch, loaded, reports))
    return 0


def render(ingest, catch, loaded, reports) -> str:
    lines = ["## Central server (province)", "",
             "`python -m bench.bench_central --years N` on this machine (2 shared cores), "
             "PostgreSQL 15 started by the benchmark (fsync on), the central server as its "
             "real process (waitress, 8 threads) behind HTTP.", "",
             "**Ingest** (batches of 500 events; each batch is inserted with `INSERT … ON "
             "CONFLICT DO NOTHING`, folded into journeys and day aggregates in the same "
             "transaction):", "",
             "| sites | client threads | events | wall | events/s | batch p50 | batch p95 |",
             "| --- | --- | --- | --- | --- | --- | --- |",
             f"| {ingest['sites']} | {ingest['threads']} | {ingest['events']:,} | "
             f"{ingest['wall_s']:.1f} s | {ingest['events_per_s']:,.0f} | "
             f"{ingest['batch_p50_ms']:.0f} ms | {ingest['batch_p95_ms']:.0f} ms |", "",
             "**A hall back after a week offline** (the real sync loop reading the hall's "
             "SQLite events table, over HTTP; target under 10 s):", "",
             "| hall | tickets a day | events in the week | caught up in |",
             "| --- | --- | --- | --- |"]
    for c in catch:
        lines.append(f"| {c['site']} | {c['tickets_per_day']} | {c['events']:,} | "
                     f"{c['wall_s']:.2f} s |")
    lines += ["", f"**Reports over a province**: {loaded['sites']} sites (the centre ~235 "
              "tickets a day, 8 branches ~100, 126 communes ~25; Saturdays 40 %, no Sundays), "
              f"{loaded['years']} year(s) of synthetic journeys ({loaded['from']} – "
              f"{loaded['to']}: {loaded['journeys']:,} tickets) with their day and month "
              f"aggregates, written straight into the central store in "
              f"{loaded['load_s']:.0f} s. Best of 3 through HTTP:", "",
              "| report | time | path | tickets |", "| --- | --- | --- | --- |"]
    for r in reports:
        tickets = f"{r['tickets']:,}" if r["tickets"] is not None else ""
        path = "exact (journeys)" if r["exact"] else "aggregates"
        lines.append(f"| {r['report']} | {r['best_s'] * 1000:.0f} ms | {path} | {tickets} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
