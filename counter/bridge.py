"""The counter device bridge: keypads, counter LED displays and rating pads on the PC they
are plugged into, translated to and from the server's API.

* A keypad press performs the officer's action for its counter through the API with the
  bridge's device token (one Idempotency-Key per press, reused on every retry).
* The counter LED shows the number being served, driven by pushed events (with catch-up
  after a reconnect); errors show as a code for `error_show_s` seconds:
  E-01 no officer signed in at the counter, E-02 server unreachable, E-03 action not
  possible now, E-04 bridge not allowed at this counter, E-05 no such ticket; "----" for
  a moment when nobody is waiting.
* A rating pad lights up when a ticket is finished at its counter (for `rating_window_s`)
  and its press becomes that ticket's rating.
* Serial faults (unplugged, reconnected) are reported with POST /api/v1/devices/status.

Run: `qms bridge --server URL --token T --config bridge.toml` (or `python -m counter.bridge`).
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from common.vocabulary import CALL_TYPES, TICKET_STARTED
from hardware.keypad import Key, Keypad, KeyPress
from hardware.ledboard import LedBus
from hardware.ratingpad import RatingPad, RatingPress
from qmsclient import Client, EventStream, ServerError

from . import bridge_config
from .bridge_config import BridgeConfig

log = logging.getLogger("qms.bridge")

E_NO_OFFICER, E_OFFLINE, E_REFUSED, E_FORBIDDEN, E_UNKNOWN = "E-01", "E-02", "E-03", "E-04", "E-05"
NOBODY = "----"
ACTIONS = {Key.NEXT: "call-next", Key.RECALL: "recall", Key.START: "start",
           Key.FINISH: "finish", Key.NO_SHOW: "no-show", Key.TRANSFER: "transfer",
           Key.DIGITS: "call-number"}
PAUSE_REASON = "Tạm dừng (bàn phím)"


@dataclass
class CounterView:
    """What the bridge knows of one counter, from events."""

    number: int
    status: str = "closed"
    ticket_id: int | None = None
    ticket_number: int | None = None
    ticket_status: str | None = None
    shown_error: str | None = None
    error_gen: int = 0
    rate_ticket: int | None = None
    rate_until: float = 0.0


class CounterBridge:
    def __init__(self, server: str, token: str, config: BridgeConfig, *,
                 backoff_max: float = 5.0):
        self.config = config
        self.api = Client(server, token)
        self.server = server
        self.view = {n: CounterView(n) for n in config.counters()}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._offset = 0.0  # server clock - local clock, seconds
        self.keypads: dict[str, Keypad] = {}
        self.leds: dict[str, LedBus] = {}
        self.pads: dict[str, RatingPad] = {}
        self._kp_counter: dict[tuple[str, int], int] = {}
        self._pad_counter: dict[tuple[str, int], int] = {}
        self._outputs: dict[int, list[tuple[str, object, int]]] = {n: [] for n in self.view}
        self._workers: dict[int, queue.Queue] = {}
        self._status: dict[str, tuple[bool, str]] = {}
        self._status_cond = threading.Condition()
        self._backoff_max = backoff_max
        self.live = EventStream(self.api, on_event=self._on_event,
                                on_snapshot=self._on_snapshot, site=config.site,
                                reconnect_delay_max=2.0, name="bridge-live")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> CounterBridge:
        threading.Thread(target=self._reporter, name="bridge-status", daemon=True).start()
        common = {"listener": self._device_state, "backoff_max": self._backoff_max}
        for p in self.config.keypads:
            transfer = p.transfer_to
            kp = Keypad(p.port, lambda press, name=p.name, t=transfer: self._on_key(name, press, t),
                        protocol=p.protocol, name=p.name, baudrate=p.baudrate, **common)
            self.keypads[p.name] = kp
            for addr, n in p.addresses.items():
                self._kp_counter[(p.name, addr)] = n
                self._outputs[n].append(("keypad", kp, addr))
        for p in self.config.ledboards:
            bus = LedBus(p.port, name=p.name, baudrate=p.baudrate, **common)
            self.leds[p.name] = bus
            for addr, n in p.addresses.items():
                self._outputs[n].append(("led", bus, addr))
        for p in self.config.ratingpads:
            pad = RatingPad(p.port, lambda press, name=p.name: self._on_rating(name, press),
                            name=p.name, baudrate=p.baudrate, **common)
            self.pads[p.name] = pad
            for addr, n in p.addresses.items():
                self._pad_counter[(p.name, addr)] = n
                self._outputs[n].append(("pad", pad, addr))
        self.live.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.live.stop()
        with self._status_cond:
            self._status_cond.notify_all()
        for q in self._workers.values():
            q.put(None)
        for dev in [*self.keypads.values(), *self.leds.values(), *self.pads.values()]:
            dev.close()

    def __enter__(self) -> CounterBridge:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- device faults --------------------------------------------------------------------
    def _device_state(self, name: str, online: bool, detail: str) -> None:
        with self._status_cond:
            self._status[name] = (online, detail)
            self._status_cond.notify_all()

    def _reporter(self) -> None:
        """Send the latest state of each serial port to the server, retrying until it lands."""
        while not self._stop.is_set():
            with self._status_cond:
                self._status_cond.wait_for(lambda: self._status or self._stop.is_set())
                if self._stop.is_set():
                    return
                name, (online, detail) = next(iter(self._status.items()))
            try:
                self.api.post("/devices/status",
                              {"part": name, "online": online, "detail": detail[:200]})
            except ServerError as exc:
                log.warning("device status for %s not sent (%s); retrying", name, exc)
                self._stop.wait(1.0)
                continue
            with self._status_cond:
                if self._status.get(name) == (online, detail):
                    del self._status[name]

    # -- key presses ----------------------------------------------------------------------
    def _on_key(self, port: str, press: KeyPress, transfer_to: str) -> None:
        counter = self._kp_counter.get((port, press.address))
        if counter is None:
            log.warning("%s: keypad address %d is not mapped to a counter", port, press.address)
            return
        self._worker(counter).put(("key", press, transfer_to))

    def _on_rating(self, port: str, press: RatingPress) -> None:
        counter = self._pad_counter.get((port, press.address))
        if counter is None:
            log.warning("%s: rating pad address %d is not mapped", port, press.address)
            return
        with self._lock:
            v = self.view[counter]
            ticket, v.rate_ticket = v.rate_ticket, None
            live = ticket is not None and time.monotonic() < v.rate_until
        self._pads_off(counter)
        if not live:
            log.info("counter %d: rating %d with no ticket to rate; ignored", counter, press.score)
            return
        self._worker(counter).put(("rate", ticket, press.score))

    def _worker(self, counter: int) -> queue.Queue:
        """One queue and thread per counter: its presses run in order, others don't wait."""
        with self._lock:
            q = self._workers.get(counter)
            if q is None:
                q = self._workers[counter] = queue.Queue()
                threading.Thread(target=self._work, args=(counter, q), daemon=True,
                                 name=f"bridge-counter-{counter}").start()
            return q

    def _work(self, counter: int, q: queue.Queue) -> None:
        while not self._stop.is_set():
            job = q.get()
            if job is None:
                return
            try:
                if job[0] == "key":
                    self._do_key(counter, job[1], job[2])
                else:
                    self._do_rate(counter, job[1], job[2])
            except Exception:
                log.exception("counter %d: %s failed", counter, job[0])

    def _do_key(self, counter: int, press: KeyPress, transfer_to: str) -> None:
        body: dict = {}
        if press.key == Key.PAUSE:
            with self._lock:
                action = "resume" if self.view[counter].status == "paused" else "pause"
            if action == "pause":
                body = {"reason": PAUSE_REASON}
        else:
            action = ACTIONS[press.key]
            if press.key == Key.TRANSFER:
                if not press.digits:
                    self._error(counter, E_REFUSED)
                    return
                body = {"team_id" if transfer_to == "team" else "counter": int(press.digits)}
            elif press.key == Key.DIGITS:
                body = {"number": int(press.digits), "reason": "Gọi số từ bàn phím"}
        try:
            status, result = self.api.command(f"/counters/{counter}/{action}", body,
                                               retry_for=self.config.retry_for_s,
                                               stop=self._stop)
        except ServerError as err:
            self._error(counter, _code_for(err))
            return
        if status == 204:
            with self._lock:
                self._clear_ticket(self.view[counter])
            self._error(counter, NOBODY)
            return
        with self._lock:
            v = self.view[counter]
            if action in ("pause", "resume"):
                v.status = result["status"]
            elif result.get("counter") == counter and result["status"] in ("called", "serving"):
                self._set_ticket(v, result)
                v.status = "open"
            elif v.ticket_id == result.get("id"):
                self._clear_ticket(v)
        self._render(counter, blink=action in ("call-next", "call-number", "recall"))

    def _do_rate(self, counter: int, ticket_id: int, score: int) -> None:
        try:
            self.api.command(f"/tickets/{ticket_id}/rating", {"score": score},
                             retry_for=max(self.config.retry_for_s, 60), stop=self._stop)
            log.info("counter %d: ticket %d rated %d", counter, ticket_id, score)
        except ServerError as exc:
            log.warning("counter %d: rating of ticket %d not recorded: %s", counter,
                        ticket_id, exc)

    # -- state from the server ------------------------------------------------------------
    def _on_snapshot(self, state: dict) -> None:
        self._offset = datetime.fromisoformat(state["at"]).timestamp() - time.time()
        with self._lock:
            for c in state["counters"]:
                v = self.view.get(c["number"])
                if v is None:
                    continue
                v.status = c["status"]
                if c["ticket"]:
                    self._set_ticket(v, c["ticket"])
                else:
                    self._clear_ticket(v)
        for n in self.view:
            self._render(n)

    def _on_event(self, evt: dict) -> None:
        n = evt.get("counter")
        if n not in self.view:
            return
        kind, blink, finished = evt["type"], False, None
        with self._lock:
            v = self.view[n]
            if kind in (*CALL_TYPES, TICKET_STARTED):
                self._set_ticket(v, evt["ticket"])
                v.status = "open"
                blink = kind != "ticket.started"
            elif kind in ("ticket.finished", "ticket.no_show", "ticket.transferred",
                          "ticket.step_moved"):
                if v.ticket_id == evt["ticket_id"]:
                    self._clear_ticket(v)
                if kind == "ticket.finished":
                    finished = evt["ticket"]
            elif kind == "counter.opened":
                v.status = "open"
            elif kind == "counter.paused":
                v.status = "paused"
            elif kind == "counter.closed":
                v.status = "closed"
                self._clear_ticket(v)
            else:
                return
        self._render(n, blink=blink)
        if finished is not None:
            self._offer_rating(n, finished, evt["at"])

    def _offer_rating(self, n: int, ticket: dict, at: str) -> None:
        age = time.time() + self._offset - datetime.fromisoformat(at).timestamp()
        window = self.config.rating_window_s
        if age > window:
            return  # caught up late: the citizen has gone
        until = time.monotonic() + window - max(0.0, age)
        with self._lock:
            v = self.view[n]
            v.rate_ticket, v.rate_until = ticket["id"], until
        for kind, dev, addr in self._outputs[n]:
            if kind == "pad":
                dev.enable(addr, str(ticket["number"]))
        timer = threading.Timer(window - max(0.0, age), self._rating_expired,
                                args=(n, ticket["id"]))
        timer.daemon = True
        timer.start()

    def _rating_expired(self, n: int, ticket_id: int) -> None:
        with self._lock:
            v = self.view[n]
            if v.rate_ticket != ticket_id:
                return
            v.rate_ticket = None
        self._pads_off(n)

    def _pads_off(self, n: int) -> None:
        for kind, dev, addr in self._outputs[n]:
            if kind == "pad":
                dev.disable(addr)

    @staticmethod
    def _set_ticket(v: CounterView, t: dict) -> None:
        v.ticket_id, v.ticket_number, v.ticket_status = t["id"], t["number"], t["status"]

    @staticmethod
    def _clear_ticket(v: CounterView) -> None:
        v.ticket_id = v.ticket_number = v.ticket_status = None

    # -- outputs --------------------------------------------------------------------------
    def _error(self, n: int, code: str) -> None:
        with self._lock:
            v = self.view[n]
            v.shown_error = code
            v.error_gen += 1
            gen = v.error_gen
        log.info("counter %d shows %s", n, code)
        self._render(n)
        timer = threading.Timer(self.config.error_show_s, self._clear_error, args=(n, gen))
        timer.daemon = True
        timer.start()

    def _clear_error(self, n: int, gen: int) -> None:
        with self._lock:
            v = self.view[n]
            if v.error_gen != gen:
                return
            v.shown_error = None
        self._render(n)

    def _render(self, n: int, blink: bool = False) -> None:
        with self._lock:
            v = self.view[n]
            if v.shown_error:
                text, blink = v.shown_error, True
            elif v.ticket_number is not None:
                text = str(v.ticket_number)
            else:
                text = None
        for kind, dev, addr in self._outputs[n]:
            if kind == "led":
                if text is None:
                    dev.clear_counter(addr)
                else:
                    dev.show_counter(addr, text, n, blink)
            elif kind == "keypad":
                dev.show(addr, text or "")


def _code_for(err: ServerError) -> str:
    if not err.answered or err.status >= 500:
        return E_OFFLINE
    if err.code == "no_officer":
        return E_NO_OFFICER
    if err.status in (401, 403):
        return E_FORBIDDEN
    if err.status == 404:
        return E_UNKNOWN
    return E_REFUSED


# -- command line --------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="the server's URL (default: [bridge] server)")
    parser.add_argument("--token", help="the bridge's device token "
                        "(default: $QMS_BRIDGE_TOKEN or [bridge] token)")
    parser.add_argument("--config", required=True, help="bridge.toml")


def run(server: str | None, token: str | None, config_path: str,
        stop: threading.Event | None = None) -> int:
    """Run the bridge until SIGINT/SIGTERM (or `stop` is set). The `qms bridge` entry."""
    try:
        cfg = bridge_config.load(config_path)
    except (OSError, bridge_config.BridgeConfigError) as exc:
        print(f"bridge: {exc}")
        return 2
    server = server or cfg.server
    token = token or os.environ.get("QMS_BRIDGE_TOKEN") or cfg.token
    if not server or not token:
        print("bridge: give --server and --token (or [bridge] server/token in the config)")
        return 2
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    ports = ", ".join(f"{p.name}={p.port}" for p in cfg.ports())
    print(f"bridge: {server}, counters {sorted(cfg.counters())}, ports {ports}", flush=True)
    with CounterBridge(server, token, cfg):
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qms bridge", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run(args.server, args.token, args.config)


if __name__ == "__main__":
    raise SystemExit(main())
