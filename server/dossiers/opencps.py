"""An adapter for an OpenCPS-style REST interface of a province's one-stop information system.

The call: `GET <base_url>/dossiers/<dossier code, URL-quoted>` with `Accept: application/json`
(and `Authorization: Bearer <QMS_DOSSIER_TOKEN>` when that environment variable is set: the
token is a secret and never lives in centre.toml). The answer: 404 for an unknown code, or 200
with the dossier as a JSON object, or OpenCPS's list form `{"total": n, "data": [dossier]}`:

    {"dossierNo": "000.00.12.H99-251103-0004", "dossierStatus": "releasing",
     "dossierStatusText": "Chờ trả kết quả", "serviceName": "Cấp bản sao trích lục hộ tịch",
     "receiveDate": "03/11/2025 08:15:00", "dueDate": "10/11/2025 17:00:00",
     "password": "K7M3PX", ...}

`dossierStatus` is OpenCPS's vocabulary (`SOURCE_STATUSES`; our six words are accepted too);
`password` (or `lookupKey`) is the lookup key printed on the receipt; dates are
`dd/MM/yyyy[ HH:mm[:ss]]`, ISO `yyyy-mm-dd...` or epoch milliseconds. Anything else in the
object (the applicant's name, address...) is ignored and never leaves this module.

Bounded: one request takes at most `timeout_s` in all (connect, headers and body: the socket's
timeout is set to the time left before every read; under gevent a `gevent.Timeout` with the same
deadline also covers the name lookup), and at most `MAX_RESPONSE` bytes are read. Every failure
(refused, reset, timeout, a 5xx, invalid JSON, a missing field, an unknown status, too large)
raises `DossierUnavailable`.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

from common.dossier import normalise_code, normalise_key

from ..storage import _gevent_patched
from . import STATUSES, Adapter, Dossier, DossierNotFound, DossierUnavailable

log = logging.getLogger("qms.dossiers")

MAX_RESPONSE = 64 * 1024        # bytes of one answer; more is a broken or hostile system
MAX_PROCEDURE_CHARS = 300       # characters of the procedure name shown
TOKEN_ENV = "QMS_DOSSIER_TOKEN"
VN_TIME = timezone(timedelta(hours=7))  # epoch milliseconds are read as dates in Vietnam

#: OpenCPS's dossierStatus -> ours
SOURCE_STATUSES = {
    "new": "received", "receiving": "received",
    "processing": "processing", "handover": "processing", "paying": "processing",
    "correcting": "processing",
    "waiting": "supplement",
    "releasing": "ready",
    "done": "returned",
    "denied": "rejected", "cancelled": "rejected",
    **{s: s for s in STATUSES},
}


class _Deadline(Exception):
    pass


def parse_date(value) -> date | None:
    """A date in one of the forms above, or None (absent or unreadable)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, VN_TIME).date()
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()[:40]
    for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def to_dossier(code: str, item: dict) -> Dossier:
    """Our `Dossier` from one OpenCPS dossier object (DossierUnavailable if it is not one)."""
    if normalise_code(str(item.get("dossierNo") or "")) != code:
        raise DossierUnavailable(details={"reason": "other dossier in answer"})
    raw = str(item.get("dossierStatus") or "").strip().lower()
    status = SOURCE_STATUSES.get(raw)
    if status is None:
        log.warning("dossier %s: unknown dossierStatus %r (add it to SOURCE_STATUSES)",
                    code, raw[:40])
        raise DossierUnavailable(details={"reason": "unknown status"})
    key = normalise_key(str(item.get("password") or item.get("lookupKey") or "")) or ""
    procedure = str(item.get("serviceName") or "").strip()[:MAX_PROCEDURE_CHARS]
    return Dossier(code=code, status=status, key=key, procedure=procedure,
                   received_on=parse_date(item.get("receiveDate")),
                   due_on=parse_date(item.get("dueDate")), source_status=raw)


class OpenCpsAdapter(Adapter):
    name = "opencps"

    def __init__(self, base_url: str, timeout_s: float, token: str | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None

    def __repr__(self) -> str:
        scheme = "https" if self.https else "http"
        return f"<OpenCpsAdapter {scheme}://{self.host}:{self.port}{self.prefix}>"

    # -- HTTP ------------------------------------------------------------------------------
    def _get(self, path: str) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout_s

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline()
            return remaining

        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        headers = {"Accept": "application/json", "User-Agent": "qms-hcc dossier lookup"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn.connect()
            conn.sock.settimeout(left())
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            if length and length.isdigit() and int(length) > MAX_RESPONSE:
                raise DossierUnavailable(details={"reason": "answer too large"})
            chunks, size = [], 0
            while True:
                conn.sock.settimeout(left())
                chunk = resp.read1(16 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_RESPONSE:
                    raise DossierUnavailable(details={"reason": "answer too large"})
                chunks.append(chunk)
            return resp.status, b"".join(chunks)
        finally:
            conn.close()

    def _get_bounded(self, path: str) -> tuple[int, bytes]:
        try:
            if _gevent_patched():
                import gevent

                with gevent.Timeout(self.timeout_s, _Deadline):
                    return self._get(path)
            return self._get(path)
        except DossierUnavailable:
            raise
        except _Deadline as exc:
            raise DossierUnavailable(details={"reason": "timeout"}) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # refused, reset, socket timeout, TLS failure, a garbled status line or header
            raise DossierUnavailable(details={"reason": type(exc).__name__}) from exc

    # -- the interface ---------------------------------------------------------------------
    def lookup(self, code: str) -> Dossier:
        status, raw = self._get_bounded(f"{self.prefix}/dossiers/{quote(code, safe='')}")
        if status == 404:
            raise DossierNotFound()
        if status != 200:
            raise DossierUnavailable(details={"reason": f"HTTP {status}"})
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DossierUnavailable(details={"reason": "invalid JSON"}) from exc
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            items = [d for d in data["data"] if isinstance(d, dict)
                     and normalise_code(str(d.get("dossierNo") or "")) == code]
            if not items:
                raise DossierNotFound()
            data = items[0]
        if not isinstance(data, dict):
            raise DossierUnavailable(details={"reason": "not a dossier"})
        return to_dossier(code, data)
