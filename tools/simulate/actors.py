"""The simulated people and devices, all acting on a live server over its public API.

* `Kiosk` issues tickets over HTTP with the kiosk's device token, one Idempotency-Key per
  ticket (reused on retries).
* `Officer` signs in at its counter and works a ticket from call to finish: call-next,
  recall when the citizen is slow, start, finish or transfer, no-show, breaks (pause /
  resume). Its hands are either the HTTP API (`HttpHands`) or an emulated keypad on a
  pseudo-terminal read by the real counter bridge (`KeypadHands`, with `--devices`).
* `Citizen` choices (procedure, priority, no-show, transfer, rating) are drawn at issue.
* `DisplayClient` follows the event stream with the display's token (`qmsclient.EventStream`,
  as the LED wall bridge does) and records every event it was shown, in `seq` order.

Actors are driven by the runner's single scheduler thread: `sim.now` is the simulated
time (seconds since local midnight), `sim.at(t, fn)` schedules, `sim.rng` draws.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from common.vocabulary import CALL_TYPES
from qmsclient import Client, EventStream, ServerError, login, new_key

log = logging.getLogger("qms.simulate")



@dataclass
class Citizen:
    """One ticket and what its holder will do (drawn when the ticket is issued)."""

    procedure_code: str
    team_id: int
    priority: str | None
    no_show: bool
    slow: bool  # comes only after a recall
    transfer_to: int | None
    rating: int | None
    arrived: float
    id: int | None = None
    number: int | None = None
    state: str = "waiting"  # waiting | called | serving | done | no_show
    recalls: int = 0
    id_number: str | None = None  # the CCCD number the kiosk scanned (issue #15)
    foreign: bool = False  # not issued by this run (a person's in the demo, an earlier run's)


# -- kiosks ----------------------------------------------------------------------------------
class Kiosk:
    def __init__(self, server: str, token: str, name: str = "kiosk-1"):
        self.api = Client(server, token)
        self.name = name
        self.issued = 0
        self.errors = 0

    def issue(self, citizen: Citizen) -> dict | None:
        body = {"procedure_code": citizen.procedure_code, "channel": "kiosk"}
        if citizen.priority:
            body["priority"] = citizen.priority
        if citizen.id_number:
            body["id_number"] = citizen.id_number
        try:
            _, res = self.api.command("/tickets", body, key=f"sim-{new_key()}",
                                      retry_for=10)
        except ServerError as exc:
            self.errors += 1
            log.warning("%s: ticket not issued: %s", self.name, exc)
            return None
        self.issued += 1
        citizen.id, citizen.number, citizen.team_id = res["id"], res["number"], res["team_id"]
        return res


# -- an officer's hands ------------------------------------------------------------------------
def rating_screen(server: str, counter: int, username: str, password: str, *,
                  timeout: float = 10) -> Client:
    """The counter's citizen rating screen (`/rate/<n>`, counter/static/rate.js), switched on
    by the counter's officer: their name and password buy a rating token (`POST
    /counters/<n>/rating-token`) that may rate the ticket just finished at that counter and
    nothing else. The officer's own session may not rate (403)."""
    anonymous = Client(server, timeout=timeout)
    try:
        _, answer = anonymous.request("POST", f"/counters/{counter}/rating-token",
                                      {"username": username, "password": password})
    finally:
        anonymous.close()
    return Client(server, (answer or {})["token"], timeout=timeout)


class HttpHands:
    """Counter actions straight over HTTP with the officer's token (the web console); the
    citizens rate on the counter's rating screen (`rating`: a `rating_screen` client)."""

    kind = "http"

    def __init__(self, api: Client, counter: int, rating: Client | None = None):
        self.api, self.counter, self.rating = api, counter, rating

    def act(self, action: str, body: dict | None = None):
        return self.api.command(f"/counters/{self.counter}/{action}", body or {}, retry_for=10)

    def rate(self, ticket_id: int, score: int):
        if self.rating is None:
            raise ServerError("no_rating_screen",
                              f"counter {self.counter} has no rating screen switched on")
        return self.rating.command(f"/tickets/{ticket_id}/rating", {"score": score},
                                   retry_for=10)


class RecordingApi:
    """Wraps the bridge's Client: every command's outcome is queued per path, so the simulated
    officer knows when its key press has been carried out and what the server answered."""

    def __init__(self, api: Client):
        self._api = api
        self.results: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()

    def box(self, path: str) -> queue.Queue:
        with self._lock:
            return self.results.setdefault(path, queue.Queue())

    def command(self, path, body=None, **kw):
        try:
            out = self._api.command(path, body, **kw)
        except Exception as exc:
            self.box(path).put(exc)
            raise
        self.box(path).put(out)
        return out

    def __getattr__(self, name):
        return getattr(self._api, name)


class DeviceRig:
    """Emulated keypads, LED displays and rating pads on ptys, driven by a real
    `CounterBridge` (in this process) with the bridge's device token."""

    def __init__(self, server: str, token: str, counters: list[int]):
        from counter import bridge_config
        from counter.bridge import CounterBridge
        from hardware.emulators.serial_devices import (
            KeypadEmulator,
            LedBoardEmulator,
            RatingPadEmulator,
        )

        self.counters = counters
        self.keypad = KeypadEmulator(name="sim-keypads").start()
        self.leds = LedBoardEmulator(name="sim-leds").start()
        self.pads = RatingPadEmulator(name="sim-pads", only_when_enabled=True).start()
        cfg = bridge_config.from_dict({
            "bridge": {"rating_window_s": 30, "error_show_s": 0.5, "retry_for_s": 10},
            "keypads": [{"name": "sim-keypads", "port": self.keypad.path,
                         "counters": counters}],
            "ledboards": [{"name": "sim-leds", "port": self.leds.path, "counters": counters}],
            "ratingpads": [{"name": "sim-pads", "port": self.pads.path, "counters": counters}],
        })
        self.bridge = CounterBridge(server, token, cfg, backoff_max=0.5)
        self.api = self.bridge.api = RecordingApi(self.bridge.api)
        self.bridge.start()
        deadline = time.monotonic() + 10
        devices = [*self.bridge.keypads.values(), *self.bridge.leds.values(),
                   *self.bridge.pads.values()]
        while time.monotonic() < deadline:
            if self.bridge.live.seq is not None and all(d.online for d in devices):
                return
            time.sleep(0.02)
        raise RuntimeError("the counter bridge did not come up")

    def stop(self) -> None:
        self.bridge.stop()
        for dev in (self.keypad, self.leds, self.pads):
            dev.stop()


KEYS = {"call-next": "next", "recall": "recall", "start": "start", "finish": "finish",
        "no-show": "no_show", "transfer": "transfer", "pause": "pause", "resume": "pause"}


class KeypadHands:
    """Counter actions as key presses on the counter's emulated keypad: pty -> bridge ->
    server. Waits (bounded) until the bridge has carried the press out."""

    kind = "keypad"

    def __init__(self, rig: DeviceRig, counter: int, timeout: float = 15.0):
        self.rig, self.counter, self.timeout = rig, counter, timeout

    def _wait(self, path: str):
        try:
            out = self.rig.api.box(path).get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"the bridge did not carry out {path}") from None
        if isinstance(out, Exception):
            raise out
        return out

    def act(self, action: str, body: dict | None = None):
        digits = None
        if action == "transfer":
            digits = str((body or {})["team_id"])
        path = f"/counters/{self.counter}/{action}"
        _drain(self.rig.api.box(path))
        self.rig.keypad.press(self.counter, KEYS[action], digits)
        return self._wait(path)

    def rate(self, ticket_id: int, score: int):
        pads = self.rig.pads
        if not pads.wait_for(lambda: pads.enabled.get(self.counter) is not None, 5):
            raise TimeoutError(f"rating pad {self.counter} was not lit")
        path = f"/tickets/{ticket_id}/rating"
        _drain(self.rig.api.box(path))
        pads.press(self.counter, score)
        return self._wait(path)


def _drain(box: queue.Queue) -> None:
    """Forget outcomes of earlier presses that were waited for in vain."""
    while True:
        try:
            box.get_nowait()
        except queue.Empty:
            return


# -- officers --------------------------------------------------------------------------------
class Officer:
    """One officer at one counter, working the queue like a person would."""

    def __init__(self, sim, counter: int, teams: list[int], username: str, password: str):
        self.sim, self.counter, self.teams = sim, counter, teams
        self.username, self.password = username, password
        self.hands: HttpHands | KeypadHands | None = None
        self.api: Client | None = None
        self.state = "off"  # off | idle | busy | paused
        self.citizen: Citizen | None = None
        self.breaks = sorted(sim.profile.breaks(sim.rng))
        self.next_call: float | None = None
        self._gen = 0
        self.served = 0
        self.errors = 0

    # -- sign in / out ------------------------------------------------------------------------
    def sign_in(self, rig: DeviceRig | None = None) -> None:
        try:
            self.api = login(self.sim.server, self.username, self.password, self.counter,
                             timeout=10)
        except ServerError as err:
            raise RuntimeError(f"{self.username} cannot sign in at counter {self.counter}: "
                               f"{err}") from err
        if rig:  # ratings come from the bridge's rating pad
            self.hands = KeypadHands(rig, self.counter)
        else:  # the officer switches the counter's rating screen on with their credentials
            try:
                screen = rating_screen(self.sim.server, self.counter, self.username,
                                       self.password)
            except ServerError as err:
                raise RuntimeError(f"{self.username} cannot switch on the rating screen of "
                                   f"counter {self.counter}: {err}") from err
            self.hands = HttpHands(self.api, self.counter, screen)
        try:
            HttpHands(self.api, self.counter).act("resume")
        except ServerError as err:
            if err.code != "counter_open":
                raise
        self.state = "idle"

    def sign_out(self) -> None:
        if self.api is None:
            return
        try:
            self.api.command(f"/counters/{self.counter}/close", retry_for=5)
            self.api.command("/auth/logout", retry_for=5)
        except ServerError as exc:
            log.warning("counter %d: sign-out failed: %s", self.counter, exc)
        self.state = "off"

    # -- the work loop --------------------------------------------------------------------------
    def _do(self, action: str, body: dict | None = None):
        try:
            return self.hands.act(action, body)
        except (ServerError, TimeoutError) as exc:
            self.errors += 1
            self.sim.note_error(f"counter {self.counter} {action}: {exc}")
            return None

    def wake(self, delay: float) -> None:
        """A ticket may be waiting for one of my teams: look at the queue soon."""
        if self.state == "idle" and (self.next_call is None
                                     or self.next_call > self.sim.now + delay):
            self._call_in(delay)

    def _call_in(self, delay: float) -> None:
        """Press "next" after `delay`; replaces any earlier plan to do so."""
        self._gen += 1
        gen, self.next_call = self._gen, self.sim.now + delay
        self.sim.at(self.next_call, lambda: self.call_next(gen))

    def call_next(self, gen: int | None = None) -> None:
        if gen is not None and gen != self._gen:
            return
        self.next_call = None
        if self.state != "idle" or self.sim.stopping:
            return
        if self.breaks and self.sim.now >= self.breaks[0][0]:
            start, length = self.breaks.pop(0)
            if self._do("pause", {"reason": "Nghỉ giải lao"}) is not None:
                self.state = "paused"
                self.sim.at(self.sim.now + length, self.resume)
                return
        out = self._do("call-next")
        if out is None:
            self._poll_later()
            return
        status, ticket = out
        if status == 204 or not ticket:
            self._poll_later()
            return
        self.state = "busy"
        c = self.sim.citizens.get(ticket["id"])
        if c is None:  # a ticket the simulation did not issue: serve it plainly
            c = Citizen("", ticket["team_id"], None, False, False, None, None, self.sim.now,
                        id=ticket["id"], number=ticket["number"], foreign=True)
            self.sim.citizens[c.id] = c
        c.state = "called"
        self.citizen = c
        self.sim.call_times.setdefault(c.id, self.sim.now)
        if c.no_show or c.slow:
            self.sim.at(self.sim.now + self.sim.draw(self.sim.profile.recall_after_s),
                        self.recall)
        else:
            self.sim.at(self.sim.now + self.sim.draw(self.sim.profile.walk_s), self.start)

    def _poll_later(self) -> None:
        self.state = "idle"
        self._call_in(120)

    def recall(self) -> None:
        c = self.citizen
        self._do("recall")
        c.recalls += 1
        if c.no_show and c.recalls >= 2:
            self.sim.at(self.sim.now + self.sim.draw(self.sim.profile.recall_after_s),
                        self.no_show)
        elif c.no_show:
            self.sim.at(self.sim.now + self.sim.draw(self.sim.profile.recall_after_s),
                        self.recall)
        else:
            self.sim.at(self.sim.now + self.sim.draw(self.sim.profile.walk_s), self.start)

    def no_show(self) -> None:
        self._do("no-show")
        self.citizen.state = "no_show"
        self._free()

    def start(self) -> None:
        c = self.citizen
        self._do("start")
        c.state = "serving"
        length = self.sim.profile.service_s(self.sim.rng, c.team_id)
        if c.transfer_to is not None:
            length = min(length, self.sim.rng.uniform(60, 180))  # wrong team: sent on soon
        self.sim.at(self.sim.now + length, self.finish)

    def finish(self) -> None:
        c = self.citizen
        if c.transfer_to is not None:
            team, c.transfer_to = c.transfer_to, None
            self._do("transfer", {"team_id": team})
            c.state, c.team_id = "waiting", team
            self.sim.transferred(c)
        else:
            out = self._do("finish")
            answer = out[1] if out is not None else None
            if answer and answer.get("status") == "waiting":
                # a visit of several steps (issue #15): on to its next step's team
                c.state, c.team_id = "waiting", answer["team_id"]
                self.sim.transferred(c)
                self._free()
                return
            c.state = "done"
            self.served += 1
            if c.rating is not None:
                self.sim.pending_ratings += 1
                self.sim.at(self.sim.now + self.sim.rng.uniform(3, 15),
                            lambda c=c: self.rate(c))
        self._free()

    def rate(self, c: Citizen) -> None:
        self.sim.pending_ratings -= 1
        try:
            self.hands.rate(c.id, c.rating)
        except (ServerError, TimeoutError) as exc:
            self.sim.note_error(f"rating of ticket {c.id}: {exc}")

    def _free(self) -> None:
        self.citizen = None
        self.state = "idle"
        self._call_in(self.sim.rng.uniform(5, 20))

    def resume(self) -> None:
        self._do("resume")
        self.state = "idle"
        self._call_in(1)


# -- display ---------------------------------------------------------------------------------
class DisplayClient:
    """A hall display's view of the event stream (`qmsclient.EventStream`): events strictly
    in `seq` order, each once. An early push waits in a buffer; a gap still open after
    `gap_s` is filled from GET /events, as is everything missed over a reconnect.
    `delivered` is what the display showed; the counters come from the stream."""

    def __init__(self, server: str, token: str, gap_s: float = 1.0):
        self.delivered: list[dict] = []
        self.calls: list[int] = []
        self.stream = EventStream(Client(server, token), on_event=self._on_event,
                                  gap_grace=gap_s, name="sim-display")

    def _on_event(self, evt: dict) -> None:
        self.delivered.append(evt)
        if evt["type"] in CALL_TYPES:
            self.calls.append(evt["seq"])

    @property
    def seq(self) -> int | None:
        return self.stream.seq

    @property
    def pushed(self) -> int:
        return self.stream.stats["pushed"]

    @property
    def overtaken(self) -> int:
        """Pushes that arrived before an earlier seq."""
        return self.stream.stats["overtaken"]

    @property
    def duplicates(self) -> int:
        return self.stream.stats["duplicates"]

    @property
    def caught_up(self) -> int:
        """Events fetched from GET /events to fill a gap or a reconnect."""
        return self.stream.stats["caught_up"]

    @property
    def connects(self) -> int:
        return self.stream.stats["connects"]

    def connect(self, timeout: float = 10) -> DisplayClient:
        """Start following; returns once connected and caught up."""
        self.stream.start()
        if not self.stream.wait_until(lambda s: s.synced, timeout):
            self.stream.stop()
            raise RuntimeError(f"the display client did not connect in {timeout:g} s")
        return self

    def last_seq(self) -> int:
        return self.stream.seq or 0

    def wait_for_seq(self, seq: int, timeout: float = 10) -> bool:
        return self.stream.wait_for_seq(seq, timeout)

    def close(self) -> None:
        self.stream.stop()
