"""`qms simulate`: a working day of a service centre, compressed in time, against a live
server: kiosks issue tickets, 23 officers call and serve them (some through the counter
bridge and emulated keypads), citizens rate the service, a display client watches. The
whole visit of issue #15 mixes in (visits.py): appointments booked through the public API
beforehand and checked in at the kiosk on time, late or never (expiring as no-shows the
next morning), walk-ins who scan their CCCD (a few try a second number in the same field
and must be refused), and visits of several steps (receive -> fee -> result) followed from
team to team under one number.

One scheduler thread runs every actor in simulated time; simulated time advances `speed`
seconds per real second (the loop sleeps until each event is due and runs late, never
early, when the server is slow). Without `--server` a `qms serve` process is started on a
free port on the data folder (a demo centre is created in it if it has none), living in
the simulated time (clock.py): bookings are then made the evening before, checked in at
their slot times and expired the next morning. With `--server` the server keeps its own
clock unless `--clock-file` names the file that server's clock follows.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from qmsclient import Client, ServerError
from tools.testing import free_port

from . import report
from .actors import Citizen, DeviceRig, DisplayClient, Kiosk, Officer
from .clock import ClockFile
from .clock import command as clock_server_command
from .profiles import PROFILES, ProcedureMix, clock_text, get_profile, hhmm
from .visits import Visits, local_dt, simulated_day

ROOT = Path(__file__).resolve().parents[2]


class Sim:
    """The scheduler and the shared world the actors see."""

    def __init__(self, server: str, profile, rng: random.Random, speed: float,
                 start_s: int, end_s: int, drain_s: int):
        self.server, self.profile, self.rng, self.speed = server, profile, rng, speed
        self.start_s, self.end_s, self.deadline = start_s, end_s, end_s + drain_s
        self.now = float(start_s)
        self.stopping = False
        self.citizens: dict[int, Citizen] = {}
        self.call_times: dict[int, float] = {}
        self.officers: list[Officer] = []
        self.pending_ratings = 0
        self.arrivals_left = 0
        self.errors: list[str] = []
        self.lag_max = 0.0
        self._heap: list = []
        self._n = 0
        self.real_start = 0.0

    def at(self, t: float, fn) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t, self._n, fn))

    def draw(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span)

    def note_error(self, msg: str) -> None:
        self.errors.append(f"{clock_text(self.now)} {msg}")

    def wake_team(self, team_id: int) -> None:
        for o in self.officers:
            if team_id in o.teams:
                o.wake(self.draw(self.profile.reaction_s))

    def transferred(self, c: Citizen) -> None:
        self.wake_team(c.team_id)

    def done(self) -> bool:
        if self.now >= self.deadline:
            return True
        if self.arrivals_left or self.now < self.end_s or self.pending_ratings:
            return False
        return all(c.state in ("done", "no_show") for c in self.citizens.values()) and all(
            o.state != "busy" for o in self.officers)

    def run(self, anchor: float | None = None) -> None:
        """Run the calendar; simulated `start_s` is wall-clock `anchor` (default now)."""
        self.real_start = time.time() if anchor is None else anchor
        t0 = time.monotonic() - (time.time() - self.real_start)
        while self._heap and not self.done():
            t, _, fn = heapq.heappop(self._heap)
            due = t0 + (t - self.start_s) / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self.lag_max = max(self.lag_max, -delay)
            self.now = max(self.now, t)
            fn()
        self.stopping = True


def start_server(data_dir: Path, clock: ClockFile | None = None) -> tuple[subprocess.Popen, str]:
    """`qms serve` on a free port; a demo centre is created first if the folder has none.
    With `clock` the server's clock is that file's simulated time (clock.py)."""
    if not (data_dir / "demo-tokens.json").exists():
        from server.setup import init_demo_centre

        init_demo_centre(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if clock is not None:
        argv = clock_server_command(data_dir, port, clock.path)
        env["QMS_ASYNC_MODE"] = "gevent"
    else:
        argv = [sys.executable, "-m", "qms", "--data-dir", str(data_dir), "serve", "--port",
                str(port)]
    log = open(data_dir / "simulate-server.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    probe = Client(url)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited; see {data_dir / 'simulate-server.log'}")
        if probe.ping(timeout=0.5):
            probe.close()
            return proc, url
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the server did not start in 30 s")


def counter_spec(text: str) -> list[int]:
    """'1-4,7' -> [1, 2, 3, 4, 7]."""
    out: set[int] = set()
    try:
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a counter list: {text!r}") from exc
    return sorted(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qms simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="bac-ninh", choices=sorted(PROFILES))
    p.add_argument("--speed", type=float, default=60,
                   help="simulated seconds per real second (default 60)")
    p.add_argument("--server", help="a running server's URL (tokens from --data-dir)")
    p.add_argument("--data-dir", help="data folder with demo-tokens.json (default ./var, "
                   "or a temporary demo centre when no --server is given)")
    p.add_argument("--day-load", default="average",
                   help="average | busy | peak | number of tickets in the whole day")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", default=None, help="simulated start time HH:MM (default opening)")
    p.add_argument("--hours", type=float, default=None,
                   help="simulate only this many hours of arrivals (default the whole day)")
    p.add_argument("--drain-min", type=float, default=90,
                   help="after the last arrival, serve those waiting for at most this long")
    p.add_argument("--devices", type=int, nargs="?", const=4, default=0, metavar="N",
                   help="counters 1..N act through emulated keypads, the counter bridge "
                        "and rating pads (default N=4 when given bare)")
    p.add_argument("--counters", type=counter_spec, default=None, metavar="LIST",
                   help="staff only these counters, e.g. 1-4,7 (default all); tickets are "
                        "then issued only for the teams they serve")
    p.add_argument("--password", default="demo1234", help="the officers' password")
    v = p.add_argument_group("the whole visit (issue #15)")
    v.add_argument("--bookings", type=share, default=0.12, metavar="SHARE",
                   help="appointments booked through the public API beforehand, as a share "
                        "of the day's walk-ins (default 0.12; 0: none); against a server on "
                        "the wall clock at most 4, for today's slots whose check-in is open")
    v.add_argument("--late", type=share, default=0.2, metavar="SHARE",
                   help="of the bookings, those checking in after the window (default 0.2)")
    v.add_argument("--never", type=share, default=0.1, metavar="SHARE",
                   help="of the bookings, those never coming: they expire as no-shows when "
                        "the next morning's first check-in sweeps the day (default 0.1)")
    v.add_argument("--booking-cccd", type=share, default=0.5, metavar="SHARE",
                   help="bookings made with a CCCD number; half of them check in by "
                        "scanning the card, the others by the code (default 0.5)")
    v.add_argument("--cccd", type=share, default=0.3, metavar="SHARE",
                   help="walk-ins who scan their CCCD at the kiosk (default 0.3)")
    v.add_argument("--hoard", type=share, default=0.1, metavar="SHARE",
                   help="of those, the ones who then ask for a second number in the same "
                        "field: refused with 409 person_limit (default 0.1)")
    v.add_argument("--field", type=field_weight, action="append", metavar="NAME=WEIGHT",
                   help="weigh a field (lĩnh vực) differently from the profile, e.g. "
                        "'Bảo trợ xã hội=15' for more visits of receive -> result; repeatable")
    v.add_argument("--day", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="the simulated day on a simulated clock (default today; Saturday "
                        "on a Sunday)")
    v.add_argument("--clock-file", default=None, metavar="PATH",
                   help="with --server: the clock file that server follows (a server "
                        "started by tools.simulate.clock); the simulator sets its time")
    p.add_argument("--report", help="write a report (.md, .html or .json)")
    p.add_argument("--quiet", action="store_true")
    return p


def field_weight(text: str) -> tuple[str, float]:
    """'Bảo trợ xã hội=15' -> ('Bảo trợ xã hội', 15.0)."""
    name, _, weight = text.rpartition("=")
    try:
        value = float(weight)
    except ValueError:
        value = -1.0
    if not name.strip() or not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"not NAME=WEIGHT (0 to 1000): {text!r}")
    return name.strip(), value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share from 0 to 1, not {text!r}")
    return value


def run(argv: list[str] | None = None) -> int:
    """The `qms simulate` entry: 0 when every check passed, 1 when one failed, 2 on a
    setup error."""
    args = build_parser().parse_args(argv)
    try:
        profile = get_profile(args.profile)
        profile.day_total(args.day_load)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    proc = None
    tmp = None
    clock = ClockFile(Path(args.clock_file)) if args.clock_file else None
    try:
        if args.server:
            data_dir = Path(args.data_dir or os.environ.get("QMS_DATA_DIR", "var"))
            server = args.server.rstrip("/")
        else:
            if args.data_dir:
                data_dir = Path(args.data_dir)
                data_dir.mkdir(parents=True, exist_ok=True)
            else:
                tmp = tempfile.TemporaryDirectory(prefix="qms-sim-")
                data_dir = Path(tmp.name)
            clock = ClockFile(data_dir / "simulate-clock.json")
            clock.set(datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(days=2), 0)
            proc, server = start_server(data_dir, clock)
        tokens = json.loads((data_dir / "demo-tokens.json").read_text())
        summary = simulate(server, tokens, profile, args, clock)
    except (OSError, RuntimeError, KeyError, ServerError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
    print(report.text(summary), flush=True)
    if args.report:
        report.write(args.report, summary)
        print(f"report written to {args.report}")
    ok = summary["display"]["ok"] and not summary["illegal"]
    return 0 if ok else 1


def simulate(server: str, tokens: dict, profile, args, clock: ClockFile | None = None) -> dict:
    """Run the day; returns the summary (see report.summarise). With `clock` the server
    lives in the simulated time: the evening before (bookings), the day, the next
    morning (the never-comers' bookings expire)."""
    rng = random.Random(args.seed)
    opening, closing = profile.opening()
    start_s = hhmm(args.start) if args.start else opening
    end_s = int(start_s + args.hours * 3600) if args.hours else closing
    sim = Sim(server, profile, rng, args.speed, start_s, end_s, int(args.drain_min * 60))
    reader = Client(server, tokens["display-1"])
    state = reader.get("/state")
    tz = ZoneInfo(state.get("timezone") or "Asia/Ho_Chi_Minh")
    day = (args.day or simulated_day(datetime.now(tz).date())) if clock else \
        datetime.now(tz).date()
    if clock:  # the evening before: the citizens book
        clock.set(local_dt(day - timedelta(days=1), hhmm("18:00"), tz), 0)
    teams = {t["id"]: t["name"] for t in state["teams"]}
    counters = {c["number"]: c["teams"] for c in state["counters"]
                if args.counters is None or c["number"] in args.counters}
    if not counters:
        raise RuntimeError("none of the --counters exists in this centre")
    staffed = {t for ts in counters.values() for t in ts}
    procedures = Client(server, tokens["kiosk-1"]).get("/procedures", {"limit": 5000})["items"]
    fields = {**profile.fields, **dict(args.field or [])}
    mix = ProcedureMix([p for p in procedures if p.get("team_id") in staffed], fields)
    kiosk = Kiosk(server, tokens["kiosk-1"])
    display = DisplayClient(server, tokens["display-1"]).connect()
    since = reader.get("/events?since=0&limit=1")["seq"]
    visits = Visits(sim, tokens["kiosk-1"], mix, args, tz, day, clock is not None)
    rig = None
    device_counters = sorted(counters)[: max(0, args.devices)]
    try:
        shares = ProcedureMix(procedures, fields).team_shares()
        load = round(profile.day_total(args.day_load) * sum(shares.get(t, 0) for t in staffed))
        visits.book_all(round(load * args.bookings), start_s, end_s)
        if clock:  # just before opening: the officers sign in
            clock.set(local_dt(day, start_s - 300, tz), 0)
        if device_counters:
            rig = DeviceRig(server, tokens["bridge-1"], device_counters)
        for n, team_ids in sorted(counters.items()):
            o = Officer(sim, n, team_ids, f"canbo{n:02d}", args.password)
            o.sign_in(rig if n in device_counters else None)
            sim.officers.append(o)
        arrivals = profile.arrivals(rng, load, start_s, end_s)  # the staffed teams' share
        sim.arrivals_left = len(arrivals) + visits.schedule(start_s, end_s)
        team_ids = sorted(staffed)
        for t in arrivals:
            sim.at(t, lambda t=t: _arrive(sim, kiosk, mix, team_ids, t, visits))
        for o in sim.officers:
            o.wake(rng.uniform(1, 30))
        if not args.quiet:
            print(f"simulating {len(arrivals)} walk-ins and {len(visits.stats.bookings)} "
                  f"bookings {clock_text(start_s)}–{clock_text(end_s)} on {day} at "
                  f"x{args.speed:g} on {server}"
                  f"{' (simulated clock)' if clock else ''}", flush=True)
        anchor = time.time()
        if clock:
            clock.set(local_dt(day, start_s, tz), args.speed, real=anchor)
        sim.run(anchor)
        for o in sim.officers:
            o.sign_out()
    finally:
        if rig is not None:
            rig.stop()
    real_s = time.time() - sim.real_start
    if clock:  # the next morning: the bookings never used expire as no-shows
        clock.set(local_dt(day + timedelta(days=1), hhmm("07:00"), tz), 1)
        visits.expire_never_comers()
    events = report.fetch_events(reader, since)
    # the run's own tickets: one issued before it (or by a person, in the demo) and served
    # by its officers has events before `since` and is not this run's to check
    ids = {c.id for c in sim.citizens.values() if c.id is not None and not c.foreign}
    logged_calls = [e["seq"] for e in events if e["type"] in report.CALL_TYPES_LOGGED]
    display.wait_for_seq(max((e["seq"] for e in events), default=since), timeout=10)
    display.close()
    seen = [s for s in display.calls if s > since]
    missed = len(set(logged_calls) - set(seen))
    in_order = all(a["seq"] + 1 == b["seq"] for a, b in pairwise(display.delivered))
    if clock:  # the events are stamped in simulated time already
        summary = report.summarise(events, ids, speed=1.0, start_s=start_s,
                                   real_start=local_dt(day, start_s, tz).timestamp(),
                                   teams=teams)
    else:
        summary = report.summarise(events, ids, speed=args.speed, start_s=start_s,
                                   real_start=sim.real_start, teams=teams)
    visit = visits.stats.summary()
    visit["several_steps"] = len({e["ticket_id"] for e in events
                                  if e["type"] == "ticket.step_moved" and e["ticket_id"] in ids})
    visit["simulated_clock"] = clock is not None
    summary.update(
        visit=visit, day=day.isoformat(),
        profile=profile.name, title=profile.title, day_load=args.day_load, seed=args.seed,
        speed=args.speed, start_s=start_s, end_s=int(sim.now), real_s=real_s,
        devices=len(device_counters), since_seq=since, kiosk_errors=kiosk.errors,
        lag_max_s=round(sim.lag_max, 3), errors=sim.errors,
        illegal=report.check_sequences(events, ids),
        display={"calls_seen": len(seen), "calls_logged": len(logged_calls), "missed": missed,
                 "pushed": display.pushed, "overtaken": display.overtaken,
                 "caught_up": display.caught_up, "duplicates": display.duplicates,
                 "in_order": in_order, "ok": missed == 0 and in_order})
    return summary


def _arrive(sim: Sim, kiosk: Kiosk, mix: ProcedureMix, team_ids: list[int], t: float,
            visits: Visits | None = None) -> None:
    sim.arrivals_left -= 1
    p = sim.profile
    rng = sim.rng
    proc = mix.pick(rng)
    no_show = rng.random() < p.no_show
    transfer = None
    others = [x for x in team_ids if x != proc["team_id"]]
    if not no_show and others and rng.random() < p.transfer:
        transfer = rng.choice(others)
    c = Citizen(proc["code"], proc["team_id"], p.priority_class(rng), no_show,
                slow=rng.random() < p.recall, transfer_to=transfer,
                rating=p.rating(rng), arrived=t)
    if visits is not None:
        visits.walk_in_card(c)
    if kiosk.issue(c) is None:
        sim.note_error(f"ticket for {proc['code']} not issued")
        return
    sim.citizens[c.id] = c
    sim.wake_team(c.team_id)
    if visits is not None:
        visits.second_try(c)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
