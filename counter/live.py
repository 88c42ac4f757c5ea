"""The Python twin of `server/static/js/qms-live.js` for device bridges, plus commands that
are retried with one Idempotency-Key.

`LiveClient` loads the snapshot (GET /api/v1/state), connects to Socket.IO with a device
token and hands events to `on_event` strictly in `seq` order, in one worker thread. After
a reconnect, or on a gap in `seq`, it first catches up through GET /api/v1/events?since=
and only then delivers anything newer.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

import requests
import socketio

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Api:
    """HTTP calls with the bearer token; one requests.Session per thread."""

    def __init__(self, server: str, token: str, timeout: float = 5.0):
        self.base = server.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers["Authorization"] = f"Bearer {self.token}"
        return s

    def request(self, method: str, path: str, json_body=None, headers=None):
        """(status, body) or ApiError for 4xx/5xx; requests exceptions on network failure."""
        res = self._session().request(method, self.base + path, json=json_body,
                                      headers=headers or {}, timeout=self.timeout)
        if res.status_code == 204:
            return 204, None
        try:
            body = res.json()
        except ValueError:
            body = {}
        if res.status_code >= 400:
            err = (body or {}).get("error") or {}
            raise ApiError(res.status_code, err.get("code", f"http_{res.status_code}"),
                           err.get("message", res.reason or ""))
        return res.status_code, body

    def get(self, path: str):
        return self.request("GET", path)[1]

    def command(self, path: str, body: dict | None = None, *, retry_for: float = 30.0,
                stop: threading.Event | None = None, key: str | None = None):
        """POST a command; network errors and 5xx are retried with the SAME Idempotency-Key
        until `retry_for` seconds have passed. Returns (status, body) or raises."""
        key = key or uuid.uuid4().hex
        deadline = time.monotonic() + retry_for
        delay = 0.2
        while True:
            try:
                return self.request("POST", path, body or {}, {"Idempotency-Key": key})
            except ApiError as err:
                if err.status < 500 and err.status != 429:
                    raise
                failure: Exception = err
            except requests.RequestException as exc:
                failure = exc
            if time.monotonic() + delay > deadline or (stop is not None and stop.is_set()):
                raise failure
            log.info("retrying %s (same key) after %s", path, failure)
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, 2.0)


class LiveClient:
    def __init__(self, api: Api, server: str, *, on_event: Callable[[dict], None],
                 on_snapshot: Callable[[dict], None] | None = None,
                 on_status: Callable[[bool], None] | None = None, site: str = "main"):
        self.api, self.server, self.site = api, server, site
        self.on_event = on_event
        self.on_snapshot = on_snapshot or (lambda state: None)
        self.on_status = on_status or (lambda online: None)
        self.seq: int | None = None
        self.online = False
        self.stats = {"events": 0, "catchups": 0, "snapshots": 0, "reconnects": 0}
        self._pending: list[tuple[int, int, dict]] = []
        self._n = 0
        self._work: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5,
                                   reconnection_delay_max=2, handle_sigint=False)
        self.sio.on("connect", lambda: self._work.put(("connect", None)))
        self.sio.on("disconnect", self._disconnected)
        self.sio.on("event", lambda evt: self._work.put(("event", evt)))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LiveClient:
        for target in (self._worker, self._connector):
            t = threading.Thread(target=target, name=f"live-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._work.put(("stop", None))
        try:
            self.sio.disconnect()
        except Exception:  # never connected
            pass
        for t in self._threads:
            t.join(timeout=5)

    def _connector(self) -> None:
        """First connection (python-socketio reconnects by itself afterwards)."""
        delay = 0.3
        while not self._stop.is_set():
            try:
                self.sio.connect(self.server, auth={"token": self.api.token,
                                                    "rooms": [f"site:{self.site}"]},
                                 transports=["websocket"], wait_timeout=5)
                return
            except socketio.exceptions.ConnectionError as exc:
                log.info("socket connect failed: %s", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _disconnected(self, *args) -> None:
        self._work.put(("disconnect", None))

    # -- one worker thread: ordered delivery ----------------------------------------------
    def _worker(self) -> None:
        while not self._stop.is_set():
            kind, item = self._work.get()
            try:
                if kind == "stop":
                    return
                if kind == "disconnect":
                    self._set_online(False)
                elif kind in ("connect", "resync"):
                    if kind == "connect":
                        self._set_online(True)
                    if self.seq is None:
                        self._snapshot()
                    else:
                        self.stats["reconnects"] += kind == "connect"
                        self._catch_up()
                    self._drain()
                elif kind == "event":
                    if item.get("site", self.site) == self.site:
                        self._n += 1
                        heapq.heappush(self._pending, (item["seq"], self._n, item))
                    self._drain()
            except Exception:
                log.exception("live client: %s failed; retrying", kind)
                self._stop.wait(1.0)
                self._work.put(("resync", None))

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            try:
                self.on_status(online)
            except Exception:
                log.exception("on_status failed")

    def _snapshot(self) -> None:
        state = self.api.get(f"/state?site={self.site}")
        self.seq = state["seq"]
        self.stats["snapshots"] += 1
        self.on_snapshot(state)

    def _catch_up(self) -> None:
        self.stats["catchups"] += 1
        while True:
            page = self.api.get(f"/events?site={self.site}&since={self.seq}&limit=1000")
            for evt in page["items"]:
                if evt["seq"] == self.seq + 1:
                    self._apply(evt)
            if page["seq"] < self.seq:  # database was reset
                self._snapshot()
                return
            if not page["more"]:
                return

    def _drain(self) -> None:
        if self.seq is None:
            return
        while self._pending:
            seq, _, evt = self._pending[0]
            if seq <= self.seq:
                heapq.heappop(self._pending)
                continue
            if seq > self.seq + 1:
                self._catch_up()
                if self._pending and self._pending[0][0] > self.seq + 1:
                    return  # the server has not stored it yet; wait for the next event
                continue
            heapq.heappop(self._pending)
            self._apply(evt)

    def _apply(self, evt: dict) -> None:
        self.seq = evt["seq"]
        self.stats["events"] += 1
        try:
            self.on_event(evt)
        except Exception:
            log.exception("on_event failed for %s", evt.get("type"))
