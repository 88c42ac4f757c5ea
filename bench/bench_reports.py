"""Manager reports over a year of a province's tickets.

Generates N ticket journeys (default 5,000,000) over 365 days and 11 sites straight into
the `journeys` table (executemany), builds the per-day/per-month stats with the report
engine's own code, then times report queries over the whole year (pre-aggregated path)
and over one site-month (exact path).

    .venv/bin/python bench/bench_reports.py --tickets 1000000 [--write]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.demo import COUNTER_TEAMS, demo_config  # noqa: E402
from server.reports.engine import ReportEngine  # noqa: E402
from server.reports.fold import JOURNEY_COLUMNS  # noqa: E402
from server.storage import Store  # noqa: E402

SITES = ["main"] + [f"branch{i:02d}" for i in range(1, 11)]
YEAR0 = date(2025, 1, 1)


def generate(store: Store, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    per_day = n / 365
    procs = [f"1.{i:06d}" for i in range(1000)]
    fields = [f"Lĩnh vực {i % 80}" for i in range(1000)]
    weights = [1 / (i + 1) for i in range(1000)]
    tid = 0
    batch = []
    for d in range(365):
        day = YEAR0 + timedelta(days=d)
        if day.weekday() == 6:
            continue
        count = int(per_day * 7 / 6)
        proc_idx = rnd.choices(range(1000), weights, k=count)
        for k in range(count):
            tid += 1
            site = SITES[k % len(SITES)]
            hour = rnd.choice((7, 8, 8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 15, 16))
            issued = datetime(day.year, day.month, day.day, hour - 7, rnd.randrange(60),
                              rnd.randrange(60), tzinfo=UTC)
            team = rnd.randint(1, 6)
            counter = rnd.choice([c for c, ts in COUNTER_TEAMS.items() if team in ts])
            roll = rnd.random()
            wait = rnd.expovariate(1 / 600)
            service = rnd.expovariate(1 / 420) + 30
            status = "done" if roll < 0.9 else ("no_show" if roll < 0.96 else "cancelled")
            called = None if status == "cancelled" else issued + timedelta(seconds=wait)
            rating = rnd.choice((4, 4, 4, 3, 3, 2, 1)) if status == "done" and roll < 0.5 else None
            finished = called + timedelta(seconds=service) if status == "done" else None
            p = proc_idx[k]
            row = {"ticket_id": tid, "site": site, "day": day.isoformat(), "hour": hour,
                   "weekday": day.weekday(), "number": 1000 * team + k, "team_id": team,
                   "issued_at": issued.isoformat(timespec="milliseconds"),
                   "serve_team": team, "counter": counter, "officer": f"canbo{counter:02d}",
                   "procedure_code": procs[p], "field": fields[p],
                   "priority": "elderly" if roll < 0.05 else None, "channel": "kiosk",
                   "status": status,
                   "first_called_at": called.isoformat(timespec="milliseconds") if called
                   else None, "wait_s": round(wait, 3) if called else None,
                   "started_at": None,
                   "finished_at": finished.isoformat(timespec="milliseconds") if finished
                   else None,
                   "service_s": round(service, 3) if status == "done" else None,
                   "left_queue_at": (called or issued + timedelta(seconds=wait))
                   .isoformat(timespec="milliseconds"),
                   "transfers": 1 if roll < 0.02 else 0, "recalls": 0, "rating": rating,
                   "rating_reason": "chờ lâu" if rating and rating <= 2 else None,
                   "rated_at": finished.isoformat(timespec="milliseconds") if rating
                   else None}
            batch.append(tuple(row[c] for c in JOURNEY_COLUMNS))
            if len(batch) >= 50_000:
                flush(store, batch)
    flush(store, batch)


def flush(store, batch):
    with store.write():
        store.db.conn.executemany(
            f"INSERT INTO journeys ({', '.join(JOURNEY_COLUMNS)}) VALUES "
            f"({', '.join('?' for _ in JOURNEY_COLUMNS)})", batch)
    batch.clear()


def timed(fn, runs=3):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=5_000_000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="keep the journeys already in --dir; only rebuild the aggregates")
    args = ap.parse_args(argv)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="qms-bench-reports-"))
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(folder / "qms.db")
    cfg = demo_config()
    cfg.sites = {s: s for s in SITES}
    eng = ReportEngine(store, cfg, lambda: datetime(2026, 1, 2, tzinfo=UTC))
    t0 = time.perf_counter()
    if not (args.reuse and store.journey_count("2025-01-01", "2025-12-31", upto=1)):
        generate(store, args.tickets)
    t1 = time.perf_counter()
    built = store.db.conn.execute("SELECT EXISTS (SELECT 1 FROM report_agg)").fetchone()[0]
    if not (args.reuse and built):
        eng.rebuild_stats(store.journey_days())
    t2 = time.perf_counter()
    total = store.journey_count("2025-01-01", "2025-12-31")
    n_agg = store.db.conn.execute("SELECT COUNT(*) FROM report_agg").fetchone()[0]
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"tickets: {total:,}; generate {t1 - t0:.0f} s; build day/month aggregates "
          f"{t2 - t1:.0f} s ({n_agg:,} report_agg rows); db "
          f"{(folder / 'qms.db').stat().st_size / 1e9:.2f} GB", flush=True)
    y0, y1 = date(2025, 1, 1), date(2025, 12, 31)
    m0, m1 = date(2025, 6, 1), date(2025, 6, 30)
    rows = []
    for site in (None, "branch03"):
        where = "all sites" if site is None else "one site"
        for by in ("team", "counter", "officer", "procedure", "field", "hour", "weekday",
                   "day", "priority", "site"):
            rows.append((f"year, {where}, by {by}",
                         timed(lambda by=by, site=site: eng.summary(y0, y1, by, site))))
        rows.append((f"year, {where}, satisfaction by officer",
                     timed(lambda site=site: eng.summary(y0, y1, "officer", site))))
        rows.append((f"year, {where}, heat map", timed(lambda site=site: eng.heatmap(y0, y1, site))))
        rows.append((f"year, {where}, peak occupancy",
                     timed(lambda site=site: eng.occupancy(y0, y1, site))))
        rows.append((f"year, {where}, priority", timed(lambda site=site: eng.priority(y0, y1, site))))
        rows.append((f"year, {where}, monthly (team + field)",
                     timed(lambda site=site: eng.monthly(y0, y1, site))))
        rows.append((f"year, {where}, low ratings (500 newest)",
                     timed(lambda site=site: eng.low_ratings(y0, y1, site))))
    rows.append(("one month, all sites, monthly", timed(lambda: eng.monthly(m0, m1))))
    rows.append(("18 Mar-9 Oct (partial months), all sites, by team",
                 timed(lambda: eng.summary(date(2025, 3, 18), date(2025, 10, 9), "team"))))
    rows.append(("18 Mar-9 Oct, all sites, by procedure",
                 timed(lambda: eng.summary(date(2025, 3, 18), date(2025, 10, 9), "procedure"))))
    n_month = store.journey_count(m0.isoformat(), m1.isoformat(), "branch03")
    rows.append((f"one site, one month ({n_month:,} tickets), by officer, exact path",
                 timed(lambda: eng.summary(m0, m1, "officer", "branch03", "exact"))))
    rows.append(("one site, one day, by team (exact)",
                 timed(lambda: eng.summary(m0, m0, "team", "main", "exact"))))
    t = time.perf_counter()
    eng.rebuild_stats([(s, "2025-06-02") for s in SITES])
    rows.append(("incremental rebuild of one day (11 sites) and its closed month",
                 (time.perf_counter() - t) * 1000))
    t = time.perf_counter()
    ReportEngine(store, cfg, lambda: datetime(2025, 6, 3, 9, tzinfo=UTC)).rebuild_stats(
        [(s, "2025-06-02") for s in SITES])
    rows.append(("same day, month still running (what a live refresh does)",
                 (time.perf_counter() - t) * 1000))
    print("| report | median of 3 (ms) |\n| --- | ---: |")
    for name, ms in rows:
        print(f"| {name} | {ms:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
