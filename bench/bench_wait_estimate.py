"""Accuracy of the wait estimate printed on a ticket: simulated days of the demo centre
(6 teams, 23 counters, some serving two teams) driven through the real QueueService and a
real SQLite file, with an injected clock. For every ticket the estimate given at issue time
is compared with the wait it really had (issue -> first call).

Two estimators are compared on the same tickets:
- naive: people ahead x the team's mean service time (start -> finish) / open counters
  (`QueueService.estimate_naive`, the original formula);
- throughput: `server/estimate.py` (per-counter occupancy call -> finish/no-show, shared
  counters weighted by what they actually serve), what the service now uses.

The model: arrivals per team (Poisson, morning peak, 07:30-11:30 and 13:30-16:30), officers
with their own speed (x0.7..x1.4 of the team's mean), lognormal service times, a walk-up
time after each call, 6 % no-shows (marked after 60 s), a 15-minute break per counter,
three counters opening an hour late.

    .venv/bin/python -m bench.bench_wait_estimate [--days 3] [--write]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs import write_section as write_doc_section  # noqa: E402
from server.demo import demo_config  # noqa: E402
from server.service import QueueService  # noqa: E402
from server.storage import Store  # noqa: E402

TEAM_SHARE = {1: 0.34, 2: 0.16, 3: 0.12, 4: 0.10, 5: 0.13, 6: 0.15}
TEAM_SERVICE_S = {1: 330, 2: 600, 3: 540, 4: 480, 5: 420, 6: 300}
HOURS = [(7.5, 8, 0.9), (8, 9, 1.9), (9, 10, 1.7), (10, 11, 1.1), (11, 11.5, 0.5),
         (13.5, 14, 0.6), (14, 15, 1.0), (15, 16, 0.8), (16, 16.5, 0.4)]
LOADS = {"steady": 750, "peak": 1100}  # tickets per day (capacity ~1,100)


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def simulate(seed: int, per_day: int) -> list[dict]:
    rng = random.Random(seed)
    cfg = demo_config()
    tz = cfg.tz
    day0 = datetime(2026, 3, 2, tzinfo=tz)  # a Monday
    clock = Clock(day0.astimezone(UTC))
    tmp = Path(tempfile.mkdtemp(prefix="qms-west-"))
    store = Store(tmp / "qms.db")
    svc = QueueService(store, cfg, clock=clock)
    at = lambda h: (day0 + timedelta(hours=h)).astimezone(UTC)  # noqa: E731

    heap: list = []
    order = itertools.count()

    def push(when: datetime, kind: str, arg) -> None:
        heapq.heappush(heap, (when, next(order), kind, arg))

    # arrivals: thinning of a piecewise-constant rate
    weight = sum((b - a) * w for a, b, w in HOURS)
    for a, b, w in HOURS:
        lam = per_day * w / weight  # per hour
        t = a
        while True:
            t += rng.expovariate(lam)
            if t >= b:
                break
            team = rng.choices(list(TEAM_SHARE), weights=list(TEAM_SHARE.values()))[0]
            push(at(t), "arrive", team)
    speed = {c.number: rng.uniform(0.7, 1.4) for c in cfg.counters}
    late = set(rng.sample([c.number for c in cfg.counters], 3))
    breaks = {c.number: at(rng.uniform(8.5, 10.5)) for c in cfg.counters}
    on_break: set[int] = set()
    idle: set[int] = set()
    waiting = {t: 0 for t in TEAM_SHARE}
    records: dict[int, dict] = {}
    holding: dict[int, tuple[int, int]] = {}  # counter -> (ticket id, team)

    for c in cfg.counters:
        push(at(8.5 if c.number in late else 7.5) + timedelta(seconds=rng.uniform(0, 120)),
             "free", c.number)

    def act(counter: int, action: str):
        return svc.counter_action(counter, action, actor="sim")

    while heap:
        when, _, kind, arg = heapq.heappop(heap)
        clock.now = when
        if kind == "arrive":
            status, view = svc.issue(team_id=arg, channel="kiosk")
            naive = svc.estimate_naive(arg, view["waiting_ahead"], view["day"])
            records[view["id"]] = {"team": arg, "issued": when, "ahead": view["waiting_ahead"],
                                   "throughput": view["estimated_wait_s"], "naive": naive}
            waiting[arg] += 1
            for c in cfg.counters_for_team(arg):  # wake an idle officer
                if c.number in idle:
                    idle.discard(c.number)
                    push(when + timedelta(seconds=rng.uniform(3, 15)), "free", c.number)
                    break
        elif kind == "free":
            c = arg
            if c not in on_break and when >= breaks[c] and when < breaks[c] + timedelta(hours=1):
                on_break.add(c)
                if svc.store.counter_state(c).status == "open":
                    act(c, "pause")
                    push(when + timedelta(minutes=15), "resume", c)
                    continue
            status, ticket = act(c, "call-next")
            if status == 204:
                idle.add(c)
                continue
            rec = records[ticket["id"]]
            rec.setdefault("called", when)
            waiting[ticket["team_id"]] -= 1
            holding[c] = (ticket["id"], ticket["team_id"])
            if rng.random() < 0.06:
                push(when + timedelta(seconds=60), "no_show", c)
            else:
                walk = rng.uniform(20, 90)
                mean = TEAM_SERVICE_S[ticket["team_id"]] * speed[c]
                service = rng.lognormvariate(math.log(mean) - 0.125, 0.5)
                push(when + timedelta(seconds=walk), "start", c)
                push(when + timedelta(seconds=walk + service), "finish", c)
        elif kind == "start":
            act(arg, "start")
        elif kind in ("finish", "no_show"):
            act(arg, "finish" if kind == "finish" else "no-show")
            push(when + timedelta(seconds=rng.uniform(5, 20)), "free", arg)
        elif kind == "resume":
            act(arg, "resume")
            push(when, "free", arg)
    store.close()
    return [r for r in records.values() if "called" in r]


def summarise(records: list[dict]) -> dict:
    # a ticket issued while none of its team's counters was open has no estimate (null,
    # issue #16: honest waits); the estimators are compared on the others
    records = [r for r in records if r["throughput"] is not None]
    out = {}
    for name in ("naive", "throughput"):
        errs = [r[name] - (r["called"] - r["issued"]).total_seconds() for r in records]
        abs_errs = sorted(abs(e) for e in errs)
        out[name] = {"mae": statistics.fmean(abs_errs), "median": statistics.median(abs_errs),
                     "p90": abs_errs[int(0.9 * (len(abs_errs) - 1))],
                     "bias": statistics.fmean(errs)}
    waits = [(r["called"] - r["issued"]).total_seconds() for r in records]
    out["n"] = len(records)
    out["mean_wait"] = statistics.fmean(waits)
    return out


def run(days: int) -> dict:
    results = {}
    for load, per_day in LOADS.items():
        records = []
        for seed in range(days):
            records += simulate(1000 + seed, per_day)
        results[load] = summarise(records)
    return results


def table(results: dict) -> str:
    rows = ["| day | tickets | mean real wait | estimator | MAE | median AE | p90 AE | bias |",
            "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for load, r in results.items():
        for name in ("naive", "throughput"):
            s = r[name]
            rows.append(f"| {load} | {r['n']} | {r['mean_wait'] / 60:.1f} min | {name} | "
                        f"{s['mae'] / 60:.1f} min | {s['median'] / 60:.1f} min | "
                        f"{s['p90'] / 60:.1f} min | {s['bias'] / 60:+.1f} min |")
    return "\n".join(rows)


def write_section(results: dict, days: int, seconds: float) -> None:
    head = "## Display board: wait estimate"
    body = f"""{head}

`bench/bench_wait_estimate.py`: {days} simulated days per load of the demo centre (6 teams,
23 counters, 8 of them serving a second team) driven through the real `QueueService` and a
SQLite file with an injected clock: Poisson arrivals with a morning peak, officers with their
own speed (×0.7–1.4), lognormal service times, a walk-up time after each call, 6 % no-shows,
a 15-minute break per counter, three counters opening an hour late. Each ticket's estimate at
issue time against its real wait (issue → first call); AE = absolute error.

{table(results)}

"naive" is the original formula (ahead × team mean start→finish ÷ open counters);
"throughput" is `server/estimate.py` (per-counter occupancy call→finish/no-show, shared
counters weighted by what they serve), which `QueueService.estimate` now uses. Run time
{seconds:.0f} s. Machine: {os.cpu_count()} cores, Python {platform.python_version()}.
Re-run with `.venv/bin/python -m bench.bench_wait_estimate --write`.
"""
    write_doc_section(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    results = run(args.days)
    seconds = time.monotonic() - t0
    print(table(results))
    print(f"{seconds:.1f} s")
    if args.write:
        write_section(results, args.days, seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
