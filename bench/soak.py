"""The long soak and chaos run for a release (the CI test is tests/test_soak.py).

    .venv/bin/python -m bench.soak [--tickets 21000] [--minutes 10] [--kills 10] [--write]

Default: a compressed peak day at 10x Bắc Ninh's peak (2,100 tickets) in 10 minutes with 10
SIGKILLs, paper out, a keypad sending garbage and unplugged, a display offline; every
invariant of tests/soak_harness.py asserted; figures to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_server import make_data_dir  # noqa: E402
from bench.docs import write_section  # noqa: E402
from tests.soak_harness import SoakRun  # noqa: E402
from tools.testing import LiveServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=21_000)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    server = LiveServer(make_data_dir()).start()  # wide number bands
    t0 = time.monotonic()
    try:
        run = SoakRun(server, tickets=args.tickets, seconds=args.minutes * 60,
                      kills=args.kills, kiosks=8).run()
        figures = run.check()
    finally:
        server.stop()
    wall = time.monotonic() - t0
    first, peak = figures["rss_kb"]
    text = (f"## Soak and chaos\n\n`python -m bench.soak --tickets {args.tickets} --minutes "
            f"{args.minutes:g} --kills {args.kills}`: {figures['tickets']} tickets, "
            f"{figures['events']} events, {figures['commands_acked']} acknowledged commands "
            f"({figures['retries']} retries across {figures['restarts']} SIGKILL restarts), "
            f"{figures['printer_faults']} printer faults and {figures['reprinted']} reprints, "
            f"in {wall:.0f} s. Every invariant held (no ticket lost, duplicated or skipped; "
            "every acknowledged command and key press exactly once; every display converged; "
            "every ticket's history legal). Server memory after warm-up: "
            f"{first / 1024:.0f} MB, peak {peak / 1024:.0f} MB. The CI version "
            "(tests/test_soak.py) compresses 2,350 tickets (10x an average day) into 60 s of "
            "arrivals with 3 restarts (about 2.5 min wall).\n")
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
