"""Server core benchmark: ticket issue and call-next throughput and latency at concurrency 1
and 16 (wrk, a C load generator, against the real `qms serve` process), and the latency from
a call-next request to a Socket.IO client receiving the event with 200 other clients
connected.

    .venv/bin/python -m bench.bench_server [--duration 5] [--clients 200] [--write]

Needs Debian's `wrk`. Results go to the "## Server core" section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import requests
import socketio
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs import write_section  # noqa: E402
from tools.testing import LiveServer  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local n = 0
request = function()
  n = n + 1
  {body}
end
"""
ISSUE = 'return wrk.format(nil, "/api/v1/tickets", nil, \'{"team_id": \' .. (n % 6 + 1) .. "}")'
CALL = 'return wrk.format(nil, "/api/v1/counters/" .. (n % 23 + 1) .. "/call-next", nil, "")'
# a hall in steady state: every other request issues a ticket, the others call one
MIX = ('if n % 2 == 0 then return wrk.format(nil, "/api/v1/tickets", nil, '
       '\'{"team_id": \' .. (math.floor(n / 2) % 6 + 1) .. "}") else return wrk.format(nil, '
       '"/api/v1/counters/" .. (math.floor(n / 2) % 23 + 1) .. "/call-next", nil, "") end')


def make_data_dir() -> Path:
    from server.setup import init_demo_centre

    path = Path(tempfile.mkdtemp(prefix="qms-bench-"))
    init_demo_centre(str(path))
    cfg_path = path / "centre.toml"
    cfg = tomllib.loads(cfg_path.read_text())
    for team in cfg["teams"]:  # wide bands: the benchmark issues far more than a day's tickets
        team["band"] = [team["id"] * 100_000, team["id"] * 100_000 + 99_999]
    cfg_path.write_text(tomli_w.dumps(cfg))
    return path


def wrk(url: str, token: str, body: str, conc: int, duration: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA.format(token=token, body=body))
    threads = 1 if conc == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conc}", f"-d{duration}s", "--latency",
                          "-s", fh.name, url], capture_output=True, text=True, check=True).stdout
    os.unlink(fh.name)

    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0}


def steady_hall(server: LiveServer, admin: str, duration: int) -> dict:
    """Issue and call-next alternating at concurrency 16 on a fresh day with 200 waiting,
    so the queue stays at a real hall's size (the runs above let it grow to thousands,
    and counting who is ahead costs time in proportion)."""
    data_dir = make_data_dir()
    hall = LiveServer(data_dir).start()
    try:
        token = hall.login("admin")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        for i in range(200):
            session.post(hall.url + "/api/v1/tickets", json={"team_id": 1 + i % 6})
        out = wrk(hall.url, token, MIX, 16, duration)
        out["waiting_after"] = sum(t["waiting"] for t in hall.get("/state", token)
                                   .json()["teams"])
        return out
    finally:
        hall.stop()


def call_to_event(server: LiveServer, admin: str, clients: int, calls: int,
                  mode: str = "site") -> dict:
    crowd = subprocess.Popen([sys.executable, "-m", "bench.sio_crowd", server.url,
                              server.tokens["display-1"], str(clients), mode], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert crowd.stdout.readline().startswith("ready"), "crowd failed to connect"
    arrivals: dict[int, float] = {}
    cond = threading.Condition()
    probe = socketio.Client()

    def on_event(evt):
        if evt["type"] == "ticket.called":
            with cond:
                arrivals[evt["ticket_id"]] = time.perf_counter()
                cond.notify_all()

    probe.on("event", on_event)
    probe.connect(server.url, auth={"token": server.tokens["display-1"]},
                  transports=["websocket"])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {admin}"
    kiosk = requests.Session()
    kiosk.headers["Authorization"] = f"Bearer {server.tokens['kiosk-1']}"
    for _ in range(calls):
        kiosk.post(server.url + "/api/v1/tickets", json={"team_id": 1}).raise_for_status()
    latencies, http = [], []
    for i in range(calls):
        t0 = time.perf_counter()
        res = session.post(server.url + f"/api/v1/counters/{1 + i % 5}/call-next")
        t1 = time.perf_counter()
        assert res.status_code == 200, res.text
        tid = res.json()["id"]
        with cond:
            cond.wait_for(lambda tid=tid: tid in arrivals, timeout=5)
        latencies.append((arrivals[tid] - t0) * 1000)
        http.append((t1 - t0) * 1000)
        time.sleep(0.01)
    probe.disconnect()
    crowd.stdin.close()
    received = crowd.stdout.readline().strip()
    crowd.wait(10)
    q = statistics.quantiles(latencies, n=100)
    return {"clients": clients, "calls": calls, "p50": statistics.median(latencies),
            "p99": q[98], "max": max(latencies), "http_p50": statistics.median(http),
            "crowd": received}


def run(duration: int, clients: int, async_mode: str = "gevent") -> dict:
    data_dir = make_data_dir()
    server = LiveServer(data_dir, env={"QMS_ASYNC_MODE": async_mode}).start()
    try:
        kiosk = server.tokens["kiosk-1"]
        admin = server.login("admin")
        results = {"issue": {}, "call": {}}
        for conc in (1, 16):
            results["issue"][conc] = wrk(server.url, kiosk, ISSUE, conc, duration)
        for conc in (1, 16):
            results["call"][conc] = wrk(server.url, admin, CALL, conc, duration)
        results["mix"] = steady_hall(server, admin, duration)
        waiting = sum(t["waiting"] for t in server.get("/state", admin).json()["teams"])
        results["waiting_after"] = waiting
        results["event"] = call_to_event(server, admin, clients, 300)
        results["event_phones"] = call_to_event(server, admin, clients, 300, "phones")
        return results
    finally:
        server.stop()


def report(r: dict, duration: int) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Server core",
        "",
        f"`python -m bench.bench_server --duration {duration}` on this machine "
        f"({os.cpu_count()} cores, {cpu}, Python {platform.python_version()}), the real "
        "`qms serve` process (gevent) on 127.0.0.1 with the demo centre and an SQLite file "
        "in WAL mode; load from `wrk` (C) so the client does not steal the server's CPU.",
        "",
        "| operation | concurrency | requests/s | p50 ms | p99 ms | requests | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for op, label in (("issue", "POST /tickets"), ("call", "POST /counters/n/call-next")):
        for conc, x in r[op].items():
            lines.append(f"| {label} | {conc} | {x['rps']:.0f} | {x['p50']:.2f} | "
                         f"{x['p99']:.2f} | {x['requests']} | {x['errors']} |")
    m = r["mix"]
    lines.append(f"| issue + call-next alternating, ~200 waiting (steady hall) | 16 | "
                 f"{m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['requests']} | "
                 f"{m['errors']} |")
    e = r["event"]
    lines += [
        "",
        f"Tickets still waiting after the call-next runs: {r['waiting_after']} (the queues "
        "never ran dry, so every call-next really called a ticket).",
        "",
        f"Call → event: {e['calls']} call-next requests, each timed from sending the request "
        f"to a Socket.IO client receiving `ticket.called`, with {e['clients']} other clients "
        f"connected to the same room ({e['crowd']} events at the crowd): "
        f"**p50 {e['p50']:.1f} ms, p99 {e['p99']:.1f} ms, max {e['max']:.1f} ms** "
        f"(HTTP round trip alone p50 {e['http_p50']:.1f} ms). That is the worst case: all "
        "200 follow the whole site like hall boards, so every event goes to each of them.",
        "",
        "With the 200 as citizens' phones (each in its own team's room, as `/t/<token>` "
        "connects) and the measuring client as a hall board: "
        f"**p50 {r['event_phones']['p50']:.1f} ms, p99 {r['event_phones']['p99']:.1f} ms, "
        f"max {r['event_phones']['max']:.1f} ms**.",
        "",
        "Targets (issue 2): issue ≥ 600 requests/s at concurrency 16 with p99 ≤ 25 ms; "
        "call → event p99 ≤ 20 ms.",
        "",
        ANALYSIS,
    ]
    return "\n".join(lines)


ANALYSIS = """What the figures say, honestly: the targets are **not met** on this machine. One server
process spends about 2 ms of CPU per command (Flask, auth, one SQLite transaction with the
ticket row, the event row and the idempotency record, the push); at concurrency 16 the
other 15 requests queue behind it, so p99 is 16 × that plus scheduling, far above 25 ms,
and throughput is bounded by one core (~350–500 commands/s). Counting who is ahead and the
waiting totals grow with the queue (the first rows let it grow to thousands). Fixes already
made while measuring: TCP_NODELAY (every answer waited ~40 ms for a delayed ACK), a fair
turn for each keep-alive connection (p99 was > 1 s), partial indexes for the heads of the
queue (call-next 145 → 240 /s), the wait estimator reading finished tickets incrementally.
Next steps: waiting counts kept per team instead of counted, and several server processes
(they already share one SQLite file safely, `tests/test_concurrency.py`) with the Socket.IO
message queue for the fan-out. For scale: Bắc Ninh's peak day is ~2,000 tickets, i.e. a few
commands per second at the busiest minute, two orders of magnitude below these figures.
"""


def compare(threading_r: dict, gevent_r: dict) -> str:
    rows = ["", "Async mode chosen by measurement (same run, same machine):", "",
            "| async mode | issue req/s c16 | issue p99 ms c16 | call-next req/s c16 | "
            "call → event p99 ms |", "| --- | --- | --- | --- | --- |"]
    for name, r in (("gevent (chosen)", gevent_r), ("threading", threading_r)):
        rows.append(f"| {name} | {r['issue'][16]['rps']:.0f} | {r['issue'][16]['p99']:.1f} | "
                    f"{r['call'][16]['rps']:.0f} | {r['event']['p99']:.1f} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--compare", action="store_true",
                    help="also run the threading async mode for comparison")
    args = ap.parse_args()
    results = run(args.duration, args.clients)
    text = report(results, args.duration)
    if args.compare:
        text += compare(run(args.duration, args.clients, "threading"), results)
    print(text)
    if args.write:
        write_section(text)
