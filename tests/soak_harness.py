"""A whole day in the hall under load and faults, against the real server process.

Kiosks issue tickets and print them on an emulated network printer, officers at every
counter call/start/finish/no-show/transfer, display clients follow the event stream, while
the server is killed (SIGKILL) and restarted, the printer runs out of paper and a display
loses its network. Every client retries a command with the same Idempotency-Key until it
gets an answer, as the real kiosk and console do. `check()` then asserts the invariants
from the database and from every client's log. Used by tests/test_soak.py (short) and
bench/soak.py (long).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import requests
import socketio

from hardware.emulators.printer_server import PrinterEmulator
from hardware.printer import PrinterError, TicketPrinter
from hardware.ticket_layout import TicketPrint
from qmsclient import ServerError
from server.demo import COUNTER_TEAMS
from tools.simulate.actors import DeviceRig
from tools.testing import OFFICER_PASSWORD

KEYPAD_COUNTERS = [21, 22, 23]  # these officers work with the keypad alone

# event type -> ticket status it leads to (None: no status change)
LEGAL = {
    None: {"ticket.issued"},
    "waiting": {"ticket.called", "ticket.cancelled"},
    "called": {"ticket.recalled", "ticket.started", "ticket.finished", "ticket.no_show",
               "ticket.transferred"},
    "serving": {"ticket.finished", "ticket.transferred"},
    "done": {"ticket.rated"},
    "no_show": {"ticket.called"},
    "cancelled": set(),
}
NEXT = {"ticket.issued": "waiting", "ticket.called": "called", "ticket.recalled": "called",
        "ticket.started": "serving", "ticket.finished": "done", "ticket.no_show": "no_show",
        "ticket.transferred": "waiting", "ticket.cancelled": "cancelled",
        "ticket.rated": "done"}


@dataclass
class Ack:
    key: str
    action: str
    status: int
    body: dict | None


@dataclass
class Log:
    acks: list[Ack] = field(default_factory=list)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, a: Ack) -> None:
        with self.lock:
            self.acks.append(a)


class Client:
    """Sends a command until it is answered, always with the same Idempotency-Key."""

    def __init__(self, run: SoakRun, token: str):
        self.run = run
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def command(self, action: str, path: str, body=None) -> Ack | None:
        key = uuid.uuid4().hex
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                res = self.session.post(self.run.url + "/api/v1" + path, json=body,
                                        headers={"Idempotency-Key": key}, timeout=3)
            except requests.RequestException:
                self.run.log.retries += 1
                time.sleep(0.05)
                continue
            if res.status_code >= 500:
                self.run.log.errors.append(f"{action} {res.status_code} {res.text[:200]}")
                time.sleep(0.05)
                continue
            ack = Ack(key, action, res.status_code, res.json() if res.content else None)
            self.run.log.ack(ack)
            return ack
        self.run.log.errors.append(f"{action} never answered")
        return None


class KeyTrackingApi:
    """Wraps the counter bridge's Client to learn the Idempotency-Key of every command it
    sends and whether it was answered."""

    def __init__(self, api):
        self._api = api
        self.answered: dict[str, tuple[str, int]] = {}  # key -> (path, status)
        self.unanswered: set[str] = set()
        self._lock = threading.Lock()

    def command(self, path, body=None, **kw):
        key = kw.setdefault("key", uuid.uuid4().hex)
        try:
            out = self._api.command(path, body, **kw)
        except Exception as exc:
            with self._lock:  # a 4xx was answered (nothing written); else unknown
                if isinstance(exc, ServerError) and exc.answered and exc.status < 500:
                    pass
                else:
                    self.unanswered.add(key)
            raise
        with self._lock:
            self.answered[key] = (path, out[0] if isinstance(out, tuple) else 200)
        return out

    def __getattr__(self, name):
        return getattr(self._api, name)


class Display:
    """A display client: applies events strictly in seq order, catches up on reconnect or
    on a gap, and can lose its network on purpose."""

    def __init__(self, run: SoakRun, token: str):
        self.run, self.token = run, token
        self.seq = 0
        self.applied: list[int] = []
        self.status: dict[int, str] = {}
        self.lock = threading.RLock()
        self.sio: socketio.Client | None = None
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def connect(self) -> None:
        sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                              reconnection_delay_max=1)
        sio.on("event", self.on_event)
        sio.on("connect", self.catch_up)
        while not self.run.stop.is_set():
            try:
                sio.connect(self.run.url, auth={"token": self.token}, transports=["websocket"],
                            wait_timeout=5)
                break
            except socketio.exceptions.ConnectionError:
                time.sleep(0.2)
        self.sio = sio

    def disconnect(self) -> None:
        if self.sio:
            self.sio.disconnect()
            self.sio = None

    def apply(self, evt: dict) -> None:
        self.seq = evt["seq"]
        self.applied.append(evt["seq"])
        if evt.get("ticket_id") is not None and evt["type"] in NEXT:
            self.status[evt["ticket_id"]] = NEXT[evt["type"]]

    def on_event(self, evt: dict) -> None:
        with self.lock:
            if evt["seq"] <= self.seq:
                return
            if evt["seq"] == self.seq + 1:
                self.apply(evt)
            else:
                self.catch_up()

    def catch_up(self) -> None:
        with self.lock:
            while True:
                try:
                    page = self.http.get(self.run.url + "/api/v1/events",
                                         params={"since": self.seq, "limit": 1000},
                                         timeout=3).json()
                except (requests.RequestException, ValueError):
                    return  # the next event or reconnect tries again
                for evt in page["items"]:
                    if evt["seq"] == self.seq + 1:
                        self.apply(evt)
                if not page["more"]:
                    return


class SoakRun:
    def __init__(self, server, *, tickets: int, seconds: float, kills: int, kiosks: int = 4,
                 displays: int = 2, seed: int = 1):
        self.server = server
        self.url = server.url
        self.tickets, self.seconds, self.kills = tickets, seconds, kills
        self.kiosks, self.displays = kiosks, displays
        self.rng = random.Random(seed)
        self.log = Log()
        self.stop = threading.Event()
        self.issued = 0
        self.issue_lock = threading.Lock()
        self.printed: list[int] = []
        self.reprinted: list[int] = []
        self.printer_faults = 0
        self.rss: list[int] = []
        self.restarts = 0
        self.screens: dict[int, str | None] = {}  # counter -> its rating screen's token

    # -- actors ---------------------------------------------------------------------------
    def kiosk(self, index: int, printer: TicketPrinter) -> None:
        client = Client(self, self.server.tokens["kiosk-1"])
        interval = self.seconds / (self.tickets / self.kiosks)
        pending_print: list[dict] = []
        while not self.stop.is_set():
            with self.issue_lock:
                if self.issued >= self.tickets:
                    break
                self.issued += 1
            team = 1 + self.rng.randrange(6)
            ack = client.command("issue", "/tickets", {"team_id": team})
            if ack and ack.status == 201:
                pending_print.append(ack.body)
                pending_print = self.print_all(printer, pending_print, client)
            time.sleep(interval * self.rng.uniform(0.5, 1.5))
        deadline = time.monotonic() + 10
        while pending_print and time.monotonic() < deadline:
            pending_print = self.print_all(printer, pending_print, client)
            time.sleep(0.1)

    def print_all(self, printer: TicketPrinter, queue: list[dict], client: Client) -> list[dict]:
        """Print what is pending; on a printer fault keep it for a reprint and report."""
        while queue:
            t = queue[0]
            try:
                printer.print_ticket(TicketPrint(
                    centre="Trung tâm Phục vụ Hành chính công", team=t["team_name"],
                    number=t["number"], procedure="", issued_at=datetime.fromisoformat(
                        t["issued_at"]), waiting_ahead=t["waiting_ahead"],
                    estimated_wait_s=t["estimated_wait_s"], status_url=t["status_url"]))
            except PrinterError as err:
                self.printer_faults += 1
                t["_failed"] = True
                client.command("device", "/devices/status",
                               {"part": "printer", "online": False, "detail": str(err)})
                return queue
            (self.reprinted if t.get("_failed") else self.printed).append(t["number"])
            queue.pop(0)
        return queue

    def rating_token(self, counter: int) -> str | None:
        """The counter's citizen rating screen, switched on by its officer with their name
        and password (`POST /counters/<n>/rating-token`, as counter/static/rate.js does):
        citizens rate there; the officer's own session may not rate."""
        while not self.stop.is_set():
            try:
                res = requests.post(f"{self.url}/api/v1/counters/{counter}/rating-token",
                                    json={"username": f"canbo{counter:02d}",
                                          "password": OFFICER_PASSWORD}, timeout=30)
            except requests.RequestException:
                time.sleep(0.2)  # the server may be restarting
                continue
            if res.status_code == 200:
                return res.json()["token"]
            if res.status_code < 500:
                self.log.errors.append(f"rating token of counter {counter}: "
                                       f"{res.status_code} {res.text[:200]}")
                return None
            time.sleep(0.2)
        return None

    def officer(self, counter: int) -> None:
        token = None
        while token is None and not self.stop.is_set():
            try:
                token = self.server.login(f"canbo{counter:02d}", counter)
            except (requests.RequestException, AssertionError):
                time.sleep(0.2)  # the server may be restarting
        client = Client(self, token)
        screen_token = self.screens.get(counter)
        screen = Client(self, screen_token) if screen_token else None
        rng = random.Random(counter)
        while not self.stop.is_set():
            ack = client.command("call-next", f"/counters/{counter}/call-next")
            if not ack or ack.status != 200:
                time.sleep(0.3)  # nobody waiting: look again in a moment
                continue
            roll = rng.random()
            if roll < 0.05:
                client.command("recall", f"/counters/{counter}/recall")
            if roll < 0.05:
                client.command("no-show", f"/counters/{counter}/no-show")
                continue
            client.command("start", f"/counters/{counter}/start")
            time.sleep(rng.uniform(0.0, 0.05))
            if roll > 0.97:
                team = 1 + rng.randrange(6)
                client.command("transfer", f"/counters/{counter}/transfer", {"team_id": team})
            else:
                done = client.command("finish", f"/counters/{counter}/finish")
                if done and done.status == 200 and screen and rng.random() < 0.3:
                    # the citizen rates on the counter's rating screen
                    screen.command("rate", f"/tickets/{done.body['id']}/rating",
                                   {"score": rng.choice([4, 4, 3, 3, 2, 1])})

    def keypad_operator(self, counter: int, rig) -> None:
        """An officer who works only with the keypad: next, start, finish, through the
        emulated keypad on a pty, the real counter bridge and the server."""
        while not self.stop.is_set():
            try:
                self.server.login(f"canbo{counter:02d}", counter)  # the bridge needs them
                break
            except (requests.RequestException, AssertionError):
                time.sleep(0.2)
        box = rig.api.box(f"/counters/{counter}/call-next")
        while not self.stop.is_set():
            for key in ("next", "start", "finish"):
                try:
                    rig.keypad.press(counter, key)
                except OSError:
                    pass  # unplugged: the press goes nowhere, as on a real keypad
                time.sleep(0.05)
            try:
                box.get(timeout=2)
            except Exception:  # noqa: BLE001 - unplugged or server down: press again later
                pass

    def killer(self, printer_emu: PrinterEmulator, displays: list[Display], rig) -> None:
        step = self.seconds / (self.kills + 1)
        for i in range(self.kills):
            if self.stop.wait(step):
                return
            if i == 0:
                printer_emu.paper = "out"  # the printer runs out of paper...
            if i == 1:
                printer_emu.paper = "ok"  # ...and is refilled
                displays[0].disconnect()  # a display loses its network for a while
                rig.keypad.garbage()  # a keypad sends garbage...
                rig.keypad.unplug()  # ...and is unplugged
            self.server.kill()
            time.sleep(0.3)
            self.server.start()
            self.restarts += 1
            if i == 1:
                displays[0].connect()
                rig.keypad.replug()

    def sample_memory(self) -> None:
        while not self.stop.wait(0.5):
            try:
                with open(f"/proc/{self.server.proc.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            self.rss.append((self.server.proc.pid, int(line.split()[1])))
            except (OSError, AttributeError):
                pass

    # -- the day --------------------------------------------------------------------------
    def run(self) -> SoakRun:
        displays = [Display(self, self.server.tokens["display-1"]) for _ in range(self.displays)]
        for d in displays:
            d.connect()
        rig = DeviceRig(self.url, self.server.tokens["bridge-1"], KEYPAD_COUNTERS)
        self.keys = rig.bridge.api = KeyTrackingApi(rig.bridge.api)
        # the officers switch their counters' rating screens on before the doors open, one
        # after the other (each is a password check; not on top of the sign-in rush)
        self.screens = {n: self.rating_token(n) for n in COUNTER_TEAMS
                        if n not in KEYPAD_COUNTERS}
        with PrinterEmulator() as printer_emu:
            printer = TicketPrinter(printer_emu.url + "?timeout=2", profile="TM-T20II",
                                    mode="cp1258")
            threads = [threading.Thread(target=self.kiosk, args=(i, printer), daemon=True)
                       for i in range(self.kiosks)]
            threads += [threading.Thread(target=self.officer, args=(n,), daemon=True)
                        for n in COUNTER_TEAMS if n not in KEYPAD_COUNTERS]
            threads += [threading.Thread(target=self.keypad_operator, args=(n, rig),
                                         daemon=True) for n in KEYPAD_COUNTERS]
            killer = threading.Thread(target=self.killer, args=(printer_emu, displays, rig),
                                      daemon=True)
            memory = threading.Thread(target=self.sample_memory, daemon=True)
            for t in threads + [killer, memory]:
                t.start()
            for t in threads[: self.kiosks]:
                t.join(self.seconds * 3)
            killer.join(self.seconds)
            self.drain_queues()
            self.stop.set()
            for t in threads[self.kiosks:] + [memory]:
                t.join(30)
            printer.close()
            self.printer_jobs = len(printer_emu.jobs)
        self.bridge_online = [d.online for d in rig.bridge.keypads.values()]
        rig.stop()
        time.sleep(0.5)
        for d in displays:
            d.catch_up()
            d.disconnect()
        self.display_logs = displays
        return self

    def drain_queues(self, timeout: float = 60) -> None:
        """Let the officers serve everyone still waiting."""
        admin = self.server.login("admin")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.server.get("/state", admin).json()
            if sum(t["waiting"] for t in state["teams"]) == 0:
                return
            time.sleep(0.2)

    # -- invariants -----------------------------------------------------------------------
    def check(self) -> dict:
        conn = sqlite3.connect(self.server.data_dir / "qms.db")
        tickets = conn.execute("SELECT id, token, number, origin_team_id FROM tickets").fetchall()
        events = conn.execute("SELECT seq, type, ticket_id, data FROM events ORDER BY seq"
                              ).fetchall()
        conn.close()
        import json

        assert not self.log.errors, self.log.errors[:5]
        # no ticket duplicated or skipped: numbers contiguous per team band
        by_team = defaultdict(list)
        for _, _, number, team in tickets:
            by_team[team].append(number)
        import tomllib

        cfg = tomllib.loads((self.server.data_dir / "centre.toml").read_text())
        band_start = {t["id"]: t["band"][0] for t in cfg["teams"]}
        for team, numbers in by_team.items():
            start = band_start[team]
            assert sorted(numbers) == list(range(start, start + len(numbers))), \
                f"gap in team {team}"
        # seq contiguous
        assert [e[0] for e in events] == list(range(1, len(events) + 1))
        # every acknowledged command present exactly once (traced by its key)
        by_key = defaultdict(Counter)
        for _, type_, _, data in events:
            key = json.loads(data).get("request")
            if key:
                by_key[key][type_] += 1
        token_numbers = {tok: num for _, tok, num, _ in tickets}
        expected = {"issue": "ticket.issued", "call-next": "ticket.called",
                    "recall": "ticket.recalled", "start": "ticket.started",
                    "finish": "ticket.finished", "no-show": "ticket.no_show",
                    "transfer": "ticket.transferred", "rate": "ticket.rated"}
        acked = {a.key for a in self.log.acks}
        for a in self.log.acks:
            if a.action == "issue" and a.status == 201:
                assert token_numbers.get(a.body["token"]) == a.body["number"], "ticket lost"
            kind = expected.get(a.action)
            if kind and a.status in (200, 201):
                assert by_key[a.key][kind] == 1, (a.action, a.key, dict(by_key[a.key]))
        assert set(by_key) <= acked | self.bridge_keys(), \
            "an event was written for a command nobody saw answered"
        # key presses carried out by the bridge: each answered press wrote exactly one event
        for key, (path, code) in self.keys.answered.items():
            action = path.rsplit("/", 1)[1]
            if code == 200 and action in expected:
                assert by_key[key][expected[action]] == 1, (path, key, dict(by_key[key]))
        # every ticket's history is a legal sequence
        status: dict[int, str | None] = defaultdict(lambda: None)
        for seq, type_, tid, _ in events:
            if tid is None or type_ not in NEXT:
                continue
            assert type_ in LEGAL[status[tid]], f"seq {seq}: {type_} after {status[tid]}"
            status[tid] = NEXT[type_]
        # every display converged to the server's state
        final = {tid: s for tid, s in status.items()}
        for d in self.display_logs:
            assert d.applied == list(range(1, len(events) + 1)), "display missed events"
            assert d.status == final
        issued = sum(1 for a in self.log.acks if a.action == "issue" and a.status == 201)
        keypad_calls = self.bridge_answers().get(f"/counters/{KEYPAD_COUNTERS[0]}/call-next", 0)
        return {"tickets": len(tickets), "issued_acked": issued, "events": len(events),
                "keypad_calls_first_counter": keypad_calls,
                "keypads_online_at_end": all(self.bridge_online),
                "commands_acked": len(self.log.acks), "retries": self.log.retries,
                "rated": sum(1 for a in self.log.acks if a.action == "rate" and a.status == 200),
                "restarts": self.restarts, "printed": len(self.printed),
                "printer_faults": self.printer_faults, "printer_jobs": self.printer_jobs,
                "reprinted": len(self.reprinted), "rss_kb": self.memory_growth()}

    def bridge_keys(self) -> set[str]:
        return set(self.keys.answered) | self.keys.unanswered

    def bridge_answers(self) -> dict[str, int]:
        """Key presses the bridge carried out (answered 200) per command path."""
        out: Counter = Counter()
        for path, code in self.keys.answered.values():
            if code == 200:
                out[path] += 1
        return out

    def memory_growth(self) -> tuple[int, int]:
        """RSS (kB) of the last server process after its warm-up, first and peak."""
        last = [kb for pid, kb in self.rss if pid == self.rss[-1][0]]
        settled = last[len(last) // 4:] or last
        return settled[0], max(settled)
