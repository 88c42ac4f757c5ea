"""Central server benchmarks (issue #13), on a real PostgreSQL (fsync on) started here:

1. ingest: sites' batches of 500 events through HTTP (waitress) into PostgreSQL, folded
   into journeys and day aggregates as they arrive — events per second;
2. catch-up: a hall offline for a week (its SQLite events table filled with a week of
   events at a commune desk's volume, then at the province centre's) shipped by the real
   sync loop (`sync.shipper.Shipper`) — seconds until the centre holds everything;
3. reports over a province-sized history: 135 sites (the centre ~235 tickets a day and
   2,000+ on peak days, 8 branches ~100, 126 communes ~25) for `--months` months
   generated inside PostgreSQL with their aggregates built by the server's own code, and
   `--copies` copies of them, each a span earlier (`bench.bench_central_history`; default
   12 months and 4 copies: five years), then every central report timed through HTTP.

    python -m bench.bench_central [--months 12] [--copies 4] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from bench import bench_central_history as history
from bench.docs import write_section
from central.admin import add_user, enrol_site, init, open_store
from tools.postgres import TempPostgres
from tools.province import CentralProcess, init_site, write_sync_settings


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
def report_cases(months: int) -> list[tuple[str, str]]:
    """(name, path under /api/v1/) of every central report timed; the history ends
    2026-10-31 (see bench_central_history)."""
    first = history.months_of(months)[0][0].isoformat()
    span = f"{months // 12} years" if months % 12 == 0 and months > 12 else f"{months} months"
    year = "from=2025-11-01&to=2026-10-31"
    all_ = f"from={first}&to=2026-10-31"
    nine = ",".join([history.CENTRE] + history.BRANCHES)
    cases = []
    for by in ("site", "team", "hour", "field", "procedure"):
        cases.append((f"{span}, all sites, by {by}", f"reports/waits?{all_}&by={by}"))
    cases += [
        ("a year, all sites, by procedure", f"reports/waits?{year}&by=procedure"),
        ("13 months across a month edge, all sites, by team",
         "reports/waits?from=2025-10-15&to=2026-10-31&by=team"),
        ("a month, all sites, by day", "reports/waits?from=2026-10-01&to=2026-10-31&by=day"),
        (f"{span}, the centre, by procedure",
         f"reports/waits?{all_}&by=procedure&site={history.CENTRE}"),
        ("a year, the centre, by team", f"reports/waits?{year}&by=team&site={history.CENTRE}"),
        ("a year, a branch, by team", f"reports/waits?{year}&by=team&site=huyen-01"),
        ("a month, the centre, by team",
         f"reports/waits?from=2026-10-01&to=2026-10-31&by=team&site={history.CENTRE}"),
        ("a quarter, a commune, by team",
         "reports/waits?from=2026-08-01&to=2026-10-31&by=team&site=xa-001"),
        ("compare 9 sites side by side, a year, totals",
         f"reports/compare?{year}&by=all&site={nine}"),
        ("compare 9 sites side by side, a year, by team",
         f"reports/compare?{year}&by=team&site={nine}"),
        (f"compare 9 sites side by side, {span}, by field",
         f"reports/compare?{all_}&by=field&site={nine}"),
        (f"heatmap, {span}, all sites", f"reports/heatmap?{all_}"),
        ("low ratings, a month, all sites",
         "reports/low-ratings?from=2026-10-01&to=2026-10-31"),
        ("dashboard (every site)", "sites"),
    ]
    return cases


def bench_reports(central, headers, months: int, repeat: int = 3) -> list[dict]:
    out = []
    for name, path in report_cases(months):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = requests.get(f"{central.url}/api/v1/{path}", headers=headers, timeout=300)
            times.append(time.perf_counter() - t0)
            assert res.status_code == 200, res.text
        body = res.json()
        total = body.get("total") if isinstance(body, dict) else None
        out.append({"report": name, "best_s": min(times), "worst_s": max(times),
                    "exact": body.get("exact"),
                    "tickets": total["issued"] if total else None})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--months", type=int, default=12,
                    help="months of province history generated (ending 2026-10)")
    ap.add_argument("--copies", type=int, default=4,
                    help="copies of the generated months, each a span earlier (12 + 4: "
                         "five years)")
    ap.add_argument("--ingest-sites", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--from-log", type=Path,
                    help="write the section from a run's printed output instead of running")
    args = ap.parse_args(argv)
    if args.from_log:
        write_section(render(*from_log(args.from_log)))
        return 0
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
        print(f"generating a province-sized history ({args.months} months, "
              f"{args.copies} copies) ...", flush=True)
        loaded = history.load(store, args.months, ZoneInfo("Asia/Ho_Chi_Minh"),
                              lambda m: print(m, flush=True), copies=args.copies)
        print(loaded, flush=True)
        add_user(store, "bench", "province_manager", "bench-password", None)
        token = requests.post(central.url + "/api/v1/auth/login",
                              json={"username": "bench", "password": "bench-password"},
                              timeout=10).json()["token"]
        loaded["load"] = os.getloadavg()[0]
        print(f"load {loaded['load']:.2f}", flush=True)
        reports = bench_reports(central, {"Authorization": f"Bearer {token}"},
                                args.months * (1 + args.copies))
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


def from_log(path: Path) -> tuple:
    """(ingest, catch, loaded, reports) from the lines a run printed."""
    import ast

    ingest = catch = loaded = None
    reports = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("{'events'"):
            ingest = ast.literal_eval(line)
        elif line.startswith("[{'site'"):
            catch = ast.literal_eval(line)
        elif line.startswith("{'sites'"):
            loaded = ast.literal_eval(line)
        elif line.startswith("{'report'"):
            reports.append(ast.literal_eval(line))
        elif line.startswith("load "):
            loaded["load"] = float(line.split()[1])
    return ingest, catch, loaded, reports


def render(ingest, catch, loaded, reports) -> str:
    lines = ["## Central server (province)", "",
             "`python -m bench.bench_central` (12 months generated, 4 copies: five years) on "
             "this machine (2 cores shared with the other engineers' test runs: load average "
             f"{loaded.get('load', 0):.1f} during the reports), "
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
    gb = loaded["db_bytes"] / 1e9
    lines += ["", f"**Reports over a province**: {loaded['sites']} sites (the centre ~235 "
              "tickets a working day and 2,000–2,400 on the first Monday of each month, 8 "
              "branches ~100, 126 communes ~25; Saturdays 40 %, no Sundays), "
              f"{loaded['from']} – {loaded['to']}: {loaded['journeys']:,} tickets. "
              f"{loaded['months']} months generated inside PostgreSQL "
              "(`bench/bench_central_history.py`: one `INSERT … SELECT` over "
              f"`generate_series` a month, {loaded['generate_s']:.0f} s), their aggregates "
              "built by the server's own ingest code (`rebuild_stats`: day rows, site month "
              f"rows; {loaded['aggregate_s']:.0f} s) and the province month roll-up "
              f"(`roll_up_province`, {loaded['province_s']:.0f} s); then {loaded['copies']} "
              "copies of those months, each a span earlier (`replicate`, inside PostgreSQL, "
              f"{loaded['copy_s']:.0f} s; the same rows and keys, so the copies' weekday "
              "keys are those of the original dates); "
              f"{loaded['agg_rows']:,} "
              f"site aggregate rows, {loaded['province_rows']:,} province rows, database "
              f"{gb:.1f} GB, {loaded['load_s'] / 60:.0f} min in all. Best (worst) of 3 "
              "through HTTP, every site's report read by a province manager:", "",
              "| report | best | worst | path | tickets |", "| --- | --- | --- | --- | --- |"]
    for r in reports:
        tickets = f"{r['tickets']:,}" if r["tickets"] is not None else ""
        path = {True: "exact (journeys)", False: "aggregates", None: ""}[r["exact"]]
        lines.append(f"| {r['report']} | {r['best_s'] * 1000:.0f} ms | "
                     f"{r['worst_s'] * 1000:.0f} ms | {path} | {tickets} |")
    slow = [r for r in reports if r["best_s"] >= 1.0]
    worst = max(reports, key=lambda r: r["best_s"])
    lines += ["", (f"**Every report under 1 s**: yes at best of 3; the slowest is "
                   f"{worst['report']} ({worst['best_s'] * 1000:.0f} ms best, "
                   f"{worst['worst_s'] * 1000:,.0f} ms worst of its 3 runs)." if not slow else
                   "**Not every report is under 1 s**: " + "; ".join(
                       f"{r['report']} {r['best_s'] * 1000:.0f} ms" for r in slow) + "."),
              "", HOW]
    return "\n".join(lines) + "\n"


HOW = """How (issue #13, item "central reports over a province-sized history"). Before, over
**one** year of the province, a year of all sites took 2.0 s by team, 2.4 s by hour, 3.6 s
by field, 7.4 s by procedure, the heatmap 1.7 s and nine sites side by side 9.3 s: a report
over every site added up 135 sites' month rows per key and fetched every histogram row to
Python, scanned the day rows of whole months only to find them covered, and the
side-by-side view counted each site's tickets over an index led by the day. Now:

- a province roll-up (`province_agg`, Alembic migration `0002_province_rollup`): each closed
  month added up over every site, per dimension and key, by the same `month_rows` as a
  site's month. A cache with one rule: whatever changes a site's rows of a month deletes
  that month's province rows in the same transaction (under the month's advisory lock), and
  the roll-up loop adds the month up again; a report reads the province rows of the months
  present and the sites' own rows for the others, in one snapshot, so a figure never
  changes because of it (`tests/test_central.py`: the rolled-up figures equal the sites'
  rows and, for counts and means, the exact fold, before and after a late batch);
- one grouped statement per report: sums and maxima in SQL, the sparse histograms of a
  group concatenated in SQL (`string_agg`), one row per key to Python;
- indexes `journeys (site, day)` and `report_agg (site, dim, period, day)` for one site's
  ranges;
- sites side by side take one path for all of them (one count over the sites together);
- `precision=auto` folds a range exactly only up to 5,000 tickets centrally (the exact fold
  costs ~30–70 µs a ticket in Python here); above, counts, means, maxima and within-target
  shares are the same and p50/p90 come from one-minute histogram buckets.

The five years are one generated year and four copies of it moved a year back each (see
`bench/bench_central_history.py`): the aggregates of a generated month take 20 s to 3 min
to build on this shared machine depending on the others' load (here ~40 s), so sixty of
them would have taken 40 min to 3 h of the session's time; the copies give
the reports exactly the rows and keys a real five years would (12 more months of rows per
key and site per year), only their weekday keys are those of the original dates."""


if __name__ == "__main__":
    raise SystemExit(main())
