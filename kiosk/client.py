"""The kiosk's calls to the server and its live feed, built on `qmsclient`.

No Kivy here. Every call raises `qmsclient.ServerError` (here also named `KioskError`) with a
stable `code` - the server's error code, or ``server_unreachable`` / ``server_error`` /
``unauthorized`` - so the screens can explain it in Vietnamese (`kiosk.i18n.error_text`).
Calls block: the app runs them off the UI thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from qmsclient import Client, EventStream, ServerError, new_key

log = logging.getLogger("qms.kiosk.client")

# qmsclient's one error class under the kiosk's old name: KioskError(code, message, status)
KioskError = ServerError
new_idempotency_key = new_key


class ServerClient(Client):
    """`qmsclient.Client` with the kiosk's calls (thread-safe: one session per thread)."""

    def __init__(self, server: str, token: str, timeout: float = 5.0):
        super().__init__(server, token, timeout=timeout)

    # -- catalogue ---------------------------------------------------------------------------
    def catalogue(self) -> list[dict]:
        """The whole procedure catalogue (one request; the kiosk searches locally)."""
        data = self.get("/procedures", {"limit": 5000}, timeout=30)
        items = data.get("items") or []
        if data.get("total", len(items)) > len(items):
            log.warning("catalogue has %s procedures, the kiosk got %d",
                        data.get("total"), len(items))
        return items

    def procedure(self, code: str) -> dict:
        return self.get(f"/procedures/{code}")

    def state(self) -> dict:
        return self.get("/state")

    # -- commands ----------------------------------------------------------------------------
    def issue_ticket(self, procedure_code: str | None, priority: str | None,
                     key: str, team_id: int | None = None, id_number: str | None = None) -> dict:
        """One attempt: the citizen's "Thử lại" sends it again with the same `key`.
        `id_number`: a scanned CCCD number, for the server's per-person limit (409
        `person_limit`); the server keeps only a salted hash of it."""
        body: dict = {"channel": "kiosk"}
        if procedure_code:
            body["procedure_code"] = procedure_code
        if team_id is not None:
            body["team_id"] = team_id
        if priority:
            body["priority"] = priority
        if id_number:
            body["id_number"] = id_number
        return self.command("/tickets", body, key=key, retry_for=0)[1] or {}

    # -- the visit (issue #15): check-in, dossier lookup ----------------------------------------
    def checkin(self, key: str, code: str | None = None, id_number: str | None = None) -> dict:
        """Check in for today's booking by its code or by a scanned CCCD number: the ticket
        view plus ``booking {code, late, start, end}``. One attempt per tap (same `key` on
        "Thử lại")."""
        body = {"code": code} if code else {"id_number": id_number}
        return self.command("/bookings/checkin", body, key=key, retry_for=0)[1] or {}

    def dossier(self, code: str, lookup_key: str) -> dict:
        """A dossier's status (`code` canonical, the lookup key printed on the receipt)."""
        return self.get(f"/dossiers/{quote(code, safe='')}", {"key": lookup_key})

    def dossier_ticket(self, code: str, lookup_key: str, key: str) -> dict:
        """A number at the result-return team for a dossier whose result is ready."""
        return self.command(f"/dossiers/{quote(code, safe='')}/ticket", {"key": lookup_key},
                            key=key, retry_for=0)[1] or {}

    def report_device(self, part: str, online: bool, detail: str = "") -> dict:
        return self.post("/devices/status",
                         {"part": part, "online": online, "detail": detail[:200]}) or {}


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
    """The queue figures, live: `qmsclient.EventStream` set up for the kiosk.

    `on_state(snapshot)` at start, after every reconnect (once the missed events have been
    delivered) and after `refresh()`; `on_event(event)` for each event in `seq` order;
    `on_link(up)` when the socket connects or drops. All of them run on the stream's one
    worker thread; the app hops to the UI thread.
    """

    def __init__(self, client: ServerClient, on_state: Callable[[dict], None],
                 on_event: Callable[[dict], None],
                 on_link: Callable[[bool], None] | None = None):
        self.client = client
        self.stream = EventStream(client, on_event=on_event, on_snapshot=on_state,
                                  on_status=on_link, snapshot_on_reconnect=True,
                                  reconnect_delay=0.5, reconnect_delay_max=3.0,
                                  transports=("websocket", "polling"), name="kiosk-live")

    @property
    def seq(self) -> int | None:
        return self.stream.seq

    def start(self) -> None:
        self.stream.start()

    def refresh(self) -> None:
        """Fetch /state again (fresh waiting estimates); delivered through `on_state`."""
        self.stream.resnapshot()

    def stop(self) -> None:
        self.stream.stop()
