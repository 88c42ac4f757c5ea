"""The kiosk's link to the server: HTTP API v1 calls and the Socket.IO live feed.

No Kivy here. Every call raises `KioskError` with a stable `code` (the server's error code,
or ``server_unreachable`` / ``server_error`` / ``unauthorized``) so the screens can explain
it in Vietnamese (`kiosk.i18n.error_text`). Calls block: the app runs them off the UI thread.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

log = logging.getLogger("qms.kiosk.client")


class KioskError(Exception):
    def __init__(self, code: str, message: str = "", status: int | None = None):
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}" if message else code)


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class ServerClient:
    """Thread-safe enough for the kiosk: one requests.Session per thread."""

    def __init__(self, server: str, token: str, timeout: float = 5.0):
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {self.token}"
            self._local.session = s
        return s

    def request(self, method: str, path: str, *, json_body=None, params=None,
                headers=None, timeout: float | None = None) -> dict:
        url = f"{self.server}/api/v1{path}"
        try:
            res = self._session().request(method, url, json=json_body, params=params,
                                          headers=headers, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise KioskError("server_unreachable", str(exc)) from exc
        if res.status_code == 204:
            return {}
        try:
            data = res.json()
        except ValueError:
            data = {}
        if res.status_code >= 400:
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict) and err.get("code"):
                code = str(err["code"])
            elif res.status_code in (401, 403):
                code = "unauthorized"
            else:
                code = "server_error"
            if res.status_code == 401:
                code = "unauthorized"
            message = str((err or {}).get("message") or res.reason or "")
            raise KioskError(code, message, res.status_code)
        return data

    # -- catalogue ---------------------------------------------------------------------------
    def catalogue(self) -> list[dict]:
        """The whole procedure catalogue (one request; the kiosk searches locally)."""
        data = self.request("GET", "/procedures", params={"limit": 5000}, timeout=30)
        items = data.get("items") or []
        if data.get("total", len(items)) > len(items):
            log.warning("catalogue has %s procedures, the kiosk got %d",
                        data.get("total"), len(items))
        return items

    def procedure(self, code: str) -> dict:
        return self.request("GET", f"/procedures/{code}")

    def state(self) -> dict:
        return self.request("GET", "/state")

    def events_since(self, seq: int) -> dict:
        return self.request("GET", "/events", params={"since": seq})

    # -- commands ----------------------------------------------------------------------------
    def issue_ticket(self, procedure_code: str | None, priority: str | None,
                     key: str, team_id: int | None = None) -> dict:
        body: dict = {"channel": "kiosk"}
        if procedure_code:
            body["procedure_code"] = procedure_code
        if team_id is not None:
            body["team_id"] = team_id
        if priority:
            body["priority"] = priority
        return self.request("POST", "/tickets", json_body=body,
                            headers={"Idempotency-Key": key})

    def report_device(self, part: str, online: bool, detail: str = "") -> dict:
        return self.request("POST", "/devices/status",
                            json_body={"part": part, "online": online, "detail": detail[:200]})


class CatalogueCache:
    """The last downloaded catalogue on disk, so a restarted kiosk works before the server."""

    def __init__(self, directory: str | Path | None):
        self.path = Path(directory) / "catalogue.json" if directory else None

    def load(self) -> list[dict] | None:
        if not self.path or not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, list) else None

    def save(self, procedures: list[dict]) -> None:
        if not self.path:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(procedures, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            log.warning("cannot write catalogue cache %s", self.path)


class LiveFeed:
    """Socket.IO push with catch-up: `on_state(snapshot)` after every (re)connect and after
    a gap in `seq`; `on_event(event)` for each pushed event in order.

    Callbacks run on the Socket.IO client's threads; the app hops to the UI thread.
    """

    def __init__(self, client: ServerClient, on_state: Callable[[dict], None],
                 on_event: Callable[[dict], None],
                 on_link: Callable[[bool], None] | None = None):
        self.client = client
        self.on_state = on_state
        self.on_event = on_event
        self.on_link = on_link or (lambda up: None)
        self.seq = 0
        self._sio = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kiosk-live", daemon=True)
        self._thread.start()

    def refresh(self) -> bool:
        """Fetch /state (catch-up); False when the server cannot be reached."""
        try:
            snap = self.client.state()
        except KioskError as exc:
            log.info("state refresh failed: %s", exc)
            return False
        with self._lock:
            self.seq = max(self.seq, int(snap.get("seq") or 0))
        self.on_state(snap)
        return True

    def _handle(self, evt: dict) -> None:
        seq = int(evt.get("seq") or 0)
        with self._lock:
            gap = self.seq and seq > self.seq + 1
            stale = seq and seq <= self.seq
            if not gap and not stale:
                self.seq = max(self.seq, seq)
        if stale:
            return
        if gap:
            self.refresh()
            return
        self.on_event(evt)

    def _run(self) -> None:
        import socketio

        sio = socketio.Client(reconnection=True, reconnection_delay=0.5,
                              reconnection_delay_max=3, logger=False, engineio_logger=False)
        self._sio = sio

        @sio.event
        def connect():
            self.on_link(True)
            threading.Thread(target=self.refresh, daemon=True).start()

        @sio.event
        def disconnect(*_):
            self.on_link(False)

        @sio.on("event")
        def on_event(data):
            if isinstance(data, dict):
                self._handle(data)

        while not self._stop.is_set():
            try:
                sio.connect(self.client.server, auth={"token": self.client.token},
                            transports=["websocket", "polling"], wait_timeout=5)
                sio.wait()  # returns after disconnect() or when reconnection gives up
            except Exception as exc:  # server down at start: try again
                log.info("live feed connect failed: %s", exc)
                self.on_link(False)
            if self._stop.wait(2.0):
                break

    def stop(self) -> None:
        self._stop.set()
        sio = self._sio
        if sio is not None:
            threading.Thread(target=sio.disconnect, daemon=True).start()
