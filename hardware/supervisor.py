"""Supervision: run a device under a reconnect loop and report its state.

Every device driver is a `Supervised`: the serial devices (keypads, LED boards, rating
pads) through `SupervisedDevice` below, and the ticket printer (`printer.TicketPrinter`).
A `Supervised` owns one background thread per device (or per RS-485 bus). The thread
connects, marks the device online, then serves the connection until it fails: any fault
marks the device offline, drops the connection and retries with exponential back-off
(`backoff_initial` doubling up to `backoff_max`). Every state change, whether the loop or
the driver's own work (a print job) noticed it, goes through `_set_state` and is reported
once to `listener(device_name, online, detail)`; `wait_online()` blocks until a state.

A driver fills in four hooks, all called in the loop thread: `_open_connection()` (returns
a connection or raises), `_on_connected(conn)` (default: mark online),
`_serve_connection(conn)` (returns when the loop is stopped, raises when the connection
breaks) and `_close_connection(conn)`. Exceptions in `faults` are device faults; anything
else is logged as a driver bug, and the device is marked offline and retried all the same.

`SupervisedDevice` is the serial flavour: a `Link` from `transports.open_link(url)`,
alternately read (with a short timeout) and written (queued frames, paced by `frame_gap`).
Its subclasses implement the protocol through three hooks: `on_open()` (e.g. resend the
current display state), `on_data(bytes)` (decode and dispatch) and `on_idle()`.

`close()` is idempotent and returns within about one poll interval; if the loop had
reported the device online, it reports it offline ("closed").
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .link import Link
from .transports import open_link

log = logging.getLogger(__name__)

Listener = Callable[[str, bool, str], None]


class Supervised:
    """A device under a reconnect loop with one state callback; see the module doc."""

    #: exceptions that mean "the device is gone or faulty"
    faults: tuple[type[BaseException], ...] = (OSError,)

    def __init__(
        self,
        name: str,
        url: str,
        *,
        listener: Listener | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        poll_interval: float = 0.05,
        autostart: bool = True,
    ):
        self.name, self.url, self.listener = name, url, listener
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.poll_interval = poll_interval
        self.online = False
        self.detail = "not started"
        self.reconnects = 0
        self._reported: bool | None = None
        self._state = threading.Condition()
        self._report_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if autostart:
            self.start()

    # ------------------------------------------------------------------ connection hooks
    def _open_connection(self) -> Any:
        """Connect to the device; return the connection or raise."""
        raise NotImplementedError

    def _on_connected(self, conn: Any) -> None:
        self._set_state(True, f"connected to {self.url}")

    def _serve_connection(self, conn: Any) -> None:
        """Use the connection until `self._stop` is set; raise when it breaks."""
        raise NotImplementedError

    def _close_connection(self, conn: Any) -> None:
        """Release the connection after `_serve_connection` (also after a failure)."""

    # ------------------------------------------------------------------ public
    def start(self) -> None:
        """Start the reconnect loop (once; `autostart` does it in the constructor)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"device-{self.name}", daemon=True)
            self._thread.start()

    @property
    def supervised(self) -> bool:
        """True while the reconnect loop runs."""
        return self._thread is not None

    def wait_online(self, online: bool = True, timeout: float = 5.0) -> bool:
        """Block until the device is (or is not) online; True if it happened in time."""
        with self._state:
            return self._state.wait_for(lambda: self.online == online, timeout)

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if thread is not threading.current_thread():
            thread.join(timeout=5)
        self._set_state(False, "closed", report=self._reported is True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ state
    def _set_state(self, online: bool, detail: str, report: bool = True) -> None:
        """Record the device's state; a change is reported once to the listener."""
        with self._report_lock:
            with self._state:
                self.online, self.detail = online, detail
                self._state.notify_all()
            if not report or online == self._reported:
                return
            self._reported = online
            log.info("device %s %s: %s", self.name, "online" if online else "offline", detail)
            if self.listener:
                try:
                    self.listener(self.name, online, detail)
                except Exception:
                    log.exception("state listener failed for %s", self.name)

    def _fault(self, exc: BaseException) -> None:
        if isinstance(exc, self.faults):
            self._set_state(False, str(exc))
        else:  # a driver bug must not kill the supervisor
            log.error("device %s loop error", self.name, exc_info=exc)
            self._set_state(False, f"internal error: {exc}")

    # ------------------------------------------------------------------ loop
    def _backoff(self, failures: int) -> float:
        return min(self.backoff_max, self.backoff_initial * (2 ** max(0, failures - 1)))

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                conn = self._open_connection()
            except Exception as exc:
                failures += 1
                self._fault(exc)
                self._stop.wait(self._backoff(failures))
                continue
            if failures or self._reported is not None:
                self.reconnects += 1
            failures = 0
            try:
                self._on_connected(conn)
                self._serve_connection(conn)
            except Exception as exc:
                failures = 1
                self._fault(exc)
            finally:
                self._close_connection(conn)
            if not self._stop.is_set():
                self._stop.wait(self._backoff(failures))


class SupervisedDevice(Supervised):
    """Base for every serial device driver; see the module doc."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        listener: Listener | None = None,
        baudrate: int = 9600,
        frame_gap: float = 0.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        poll_interval: float = 0.05,
        write_timeout: float = 2.0,
        link_factory: Callable[..., Link] = open_link,
        autostart: bool = True,
    ):
        self.baudrate, self.frame_gap = baudrate, frame_gap
        self.write_timeout = write_timeout
        self.link_factory = link_factory
        self._outbox: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._link: Link | None = None
        super().__init__(name, url, listener=listener, backoff_initial=backoff_initial,
                         backoff_max=backoff_max, poll_interval=poll_interval, autostart=autostart)

    # ------------------------------------------------------------------ hooks
    def on_open(self) -> None:
        """Called in the loop thread after each (re)connection."""

    def on_data(self, data: bytes) -> None:
        """Called in the loop thread with bytes read from the device."""

    def on_idle(self) -> None:
        """Called in the loop thread after every read timeout."""

    # ------------------------------------------------------------------ public
    def send(self, frame: bytes) -> None:
        """Queue bytes for the device; written in order by the loop thread, paced by frame_gap."""
        with self._lock:
            self._outbox.append(frame)

    def replace_outbox(self, frames: list[bytes]) -> None:
        with self._lock:
            self._outbox.clear()
            self._outbox.extend(frames)

    def pending(self) -> int:
        with self._lock:
            return len(self._outbox)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued frame has been written."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    # ------------------------------------------------------------------ connection hooks
    def _open_connection(self) -> Link:
        return self.link_factory(self.url, baudrate=self.baudrate, write_timeout=self.write_timeout)

    def _on_connected(self, link: Link) -> None:
        self._link = link
        self.on_open()
        super()._on_connected(link)

    def _serve_connection(self, link: Link) -> None:
        while not self._stop.is_set():
            data = link.read(self.poll_interval)
            if data:
                self.on_data(data)
            self.on_idle()
            self._flush(link)

    def _close_connection(self, link: Link) -> None:
        self._link = None
        link.close()

    def _flush(self, link: Link) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._outbox:
                    return
                frame = self._outbox[0]
            link.write(frame)  # on LinkError the frame stays queued for the next connection
            with self._lock:
                if self._outbox and self._outbox[0] is frame:
                    self._outbox.popleft()
            if self.frame_gap:
                self._stop.wait(self.frame_gap)
