"""Supervision: run a serial device under a reconnect loop and report its state.

`SupervisedDevice` owns one background thread per device (or per RS-485 bus). The
thread opens the link, marks the device online, then alternates between reading (with
a short timeout) and writing queued frames with the pacing the device needs. Any
`LinkError` marks the device offline, closes the link and retries with exponential
back-off (`backoff_initial` doubling up to `backoff_max`). Every state change is
reported once to `listener(device_name, online, detail)`.

Subclasses implement the protocol through three hooks: `on_open()` (e.g. resend the
current display state), `on_data(bytes)` (decode and dispatch) and `on_idle()`.
`close()` is idempotent and returns within about one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from .serial_link import Link, LinkError, open_link

log = logging.getLogger(__name__)

Listener = Callable[[str, bool, str], None]


class SupervisedDevice:
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
        self.name, self.url, self.listener = name, url, listener
        self.baudrate, self.frame_gap = baudrate, frame_gap
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.poll_interval, self.write_timeout = poll_interval, write_timeout
        self.link_factory = link_factory
        self.online = False
        self.detail = "not started"
        self.reconnects = 0
        self._reported: bool | None = None
        self._outbox: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._state = threading.Condition()
        self._stop = threading.Event()
        self._link: Link | None = None
        self._thread: threading.Thread | None = None
        if autostart:
            self.start()

    # ------------------------------------------------------------------ hooks
    def on_open(self) -> None:
        """Called in the loop thread after each (re)connection."""

    def on_data(self, data: bytes) -> None:
        """Called in the loop thread with bytes read from the device."""

    def on_idle(self) -> None:
        """Called in the loop thread after every read timeout."""

    # ------------------------------------------------------------------ public
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"device-{self.name}", daemon=True)
            self._thread.start()

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

    def wait_online(self, online: bool = True, timeout: float = 5.0) -> bool:
        """Block until the device is (or is not) online; True if it happened in time."""
        with self._state:
            return self._state.wait_for(lambda: self.online == online, timeout)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued frame has been written."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._set_state(False, "closed", report=self._reported is not None and self._reported)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ loop
    def _set_state(self, online: bool, detail: str, report: bool = True) -> None:
        with self._state:
            self.online, self.detail = online, detail
            self._state.notify_all()
        if report and online != self._reported:
            self._reported = online
            log.info("device %s %s: %s", self.name, "online" if online else "offline", detail)
            if self.listener:
                try:
                    self.listener(self.name, online, detail)
                except Exception:
                    log.exception("state listener failed for %s", self.name)

    def _backoff(self, failures: int) -> float:
        return min(self.backoff_max, self.backoff_initial * (2 ** max(0, failures - 1)))

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                link = self.link_factory(self.url, baudrate=self.baudrate, write_timeout=self.write_timeout)
            except (LinkError, OSError) as exc:
                failures += 1
                self._set_state(False, str(exc))
                self._stop.wait(self._backoff(failures))
                continue
            self._link = link
            if failures or self._reported is not None:
                self.reconnects += 1
            failures = 0
            try:
                self.on_open()
                self._set_state(True, f"connected to {self.url}")
                self._serve(link)
            except (LinkError, OSError) as exc:
                failures = 1
                self._set_state(False, str(exc))
            except Exception as exc:  # a protocol bug must not kill the supervisor
                failures = 1
                log.exception("device %s loop error", self.name)
                self._set_state(False, f"internal error: {exc}")
            finally:
                self._link = None
                link.close()
            if not self._stop.is_set():
                self._stop.wait(self._backoff(failures))

    def _serve(self, link: Link) -> None:
        while not self._stop.is_set():
            data = link.read(self.poll_interval)
            if data:
                self.on_data(data)
            self.on_idle()
            self._flush(link)

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
