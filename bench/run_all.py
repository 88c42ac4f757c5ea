"""Rerun every benchmark and rewrite its section of docs/benchmarks.md (`make bench`).

    .venv/bin/python -m bench.run_all [--quick] [--only NAME ...]

Each benchmark is its own process (they start real servers, browsers and emulators);
`--quick` shrinks the long ones (report data set, fuzz case counts) for a smoke run.
Run it on a quiet machine: the figures are only as good as the machine is idle."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (module, arguments, quick arguments)
BENCHES = {
    "server": ("bench.bench_server", ["--write", "--compare"], ["--write", "--duration", "2"]),
    "printer": ("bench.bench_printer", ["--write"], ["--write", "--no-pty"]),
    "search": ("bench.bench_search", ["--write"], ["--write"]),
    "kiosk": ("bench.bench_kiosk", ["--write"], ["--write", "--total", "2000"]),
    "console": ("bench.bench_console_latency", ["--write"], ["--write", "-n", "50"]),
    "display": ("bench.bench_display_latency", ["--write"], ["--write", "--calls", "50"]),
    "wait-estimate": ("bench.bench_wait_estimate", ["--write"], ["--write", "--days", "1"]),
    # these three print their tables; copy them into docs/benchmarks.md by hand
    "reports": ("bench.bench_reports", [], ["--tickets", "200000"]),
    "fuzz-serial": ("bench.fuzz_serial", [], ["--cases", "5000"]),
    "fuzz-api": ("bench.fuzz_api", ["--max-examples", "60"], ["--max-examples", "10"]),
    "soak": ("bench.soak", ["--write"], ["--tickets", "2350", "--minutes", "1", "--kills",
                                         "3"]),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run_all")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES))
    args = ap.parse_args(argv)
    failed = []
    for name in args.only or BENCHES:
        module, full, quick = BENCHES[name]
        cmd = [sys.executable, "-m", module, *(quick if args.quick else full)]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.monotonic()
        code = subprocess.call(cmd, cwd=ROOT)
        print(f"== {name}: exit {code} in {time.monotonic() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
