"""HTTP calls to the server's API v1 with a bearer token.

`Client(server, token)` is safe to share between threads: each thread gets its own
`requests.Session` (connection reuse without sharing a session across threads). Every call
has a timeout. Answers:

* `request()` -> ``(status, body)``; a 204 gives ``(204, None)``;
* `get()` / `post()` -> the body;
* `command()` POSTs a state-changing command with an Idempotency-Key and, on no answer, a
  5xx or a 429, sends it again with the SAME key (back-off 0.2 s doubling to 2 s, or the
  server's Retry-After) until `retry_for` seconds have passed: the server carries a key out
  at most once, so a retried command never happens twice. -> ``(status, body)``.

Failures raise `qmsclient.errors.ServerError` (no answer: its subclass `ServerUnreachable`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
import weakref

import requests

from .errors import ServerError, ServerUnreachable, error_for

log = logging.getLogger("qms.client")

DEFAULT_TIMEOUT = 5.0
RETRY_FIRST, RETRY_MAX = 0.2, 2.0


def new_key() -> str:
    """A fresh Idempotency-Key: one per intent (a tap, a key press), reused on its retries."""
    return uuid.uuid4().hex


class Client:
    """The server's HTTP API v1 for one token (device or signed-in user)."""

    def __init__(self, server: str, token: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT):
        self.server = server.rstrip("/")
        self.base = self.server + "/api/v1"
        self.token = token
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<qmsclient.Client {self.server}>"

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            if self.token:
                s.headers["Authorization"] = f"Bearer {self.token}"
            with self._lock:
                self._sessions.add(s)
        return s

    def close(self) -> None:
        """Close every thread's session (they reopen on the next call)."""
        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for s in sessions:
            s.close()
        self._local = threading.local()

    # -- one request ---------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, *, params=None, headers=None,
                timeout: float | None = None) -> tuple[int, dict | None]:
        """One HTTP request to ``/api/v1<path>``: ``(status, body)`` for a 2xx/3xx answer
        (``(204, None)`` for No Content); `ServerError` otherwise."""
        try:
            res = self._session().request(method, self.base + path, json=body, params=params,
                                          headers=headers,
                                          timeout=self.timeout if timeout is None else timeout)
        except requests.RequestException as exc:
            raise ServerUnreachable(f"{method} {path}: {exc}") from exc
        if res.status_code == 204:
            return 204, None
        try:
            data = res.json() if res.content else None
        except ValueError:
            data = None
        if res.status_code >= 400:
            raise error_for(res.status_code, data, res.reason or "",
                            res.headers.get("Retry-After"))
        return res.status_code, data

    def get(self, path: str, params: dict | None = None, *,
            timeout: float | None = None) -> dict:
        """GET; the answer's body ({} when it had none)."""
        return self.request("GET", path, params=params, timeout=timeout)[1] or {}

    def post(self, path: str, body: dict | None = None, *, headers: dict | None = None,
             timeout: float | None = None) -> dict | None:
        """One POST, not retried (for reports such as /devices/status); the answer's body."""
        return self.request("POST", path, body if body is not None else {}, headers=headers,
                            timeout=timeout)[1]

    def ping(self, timeout: float = 0.5) -> bool:
        """True when the server answers (its OpenAPI document, no token needed)."""
        try:
            self.request("GET", "/openapi.json", timeout=timeout)
        except ServerError:
            return False
        return True

    # -- commands ------------------------------------------------------------------------------
    def command(self, path: str, body: dict | None = None, *, key: str | None = None,
                retry_for: float = 30.0, stop: threading.Event | None = None,
                timeout: float | None = None) -> tuple[int, dict | None]:
        """POST a command with an Idempotency-Key (`key`, or a new one), retried with the
        same key on no answer, 5xx or 429 until `retry_for` seconds have passed or `stop`
        is set. ``retry_for=0`` sends it once. Returns ``(status, body)``: ``(204, None)``
        when there was nothing to do (call-next with nobody waiting)."""
        key = key or new_key()
        headers = {"Idempotency-Key": key}
        deadline = time.monotonic() + retry_for
        delay = RETRY_FIRST
        while True:
            try:
                return self.request("POST", path, body if body is not None else {},
                                    headers=headers, timeout=timeout)
            except ServerError as err:
                if not err.retryable:
                    raise
                failure = err
            wait = max(delay, failure.retry_after or 0.0) * random.uniform(0.8, 1.2)
            if time.monotonic() + wait > deadline or (stop is not None and stop.is_set()):
                raise failure
            log.info("retrying %s (same key) in %.1f s after %s", path, wait, failure)
            if stop is not None:
                if stop.wait(wait):
                    raise failure
            else:
                time.sleep(wait)
            delay = min(delay * 2, RETRY_MAX)


def login(server: str, username: str, password: str, counter: int | None = None, *,
          timeout: float = DEFAULT_TIMEOUT) -> Client:
    """Sign a user in (at `counter` for an officer) and return a `Client` with their token.
    A wrong password or a counter they may not serve raises `ServerError` (401/403)."""
    body: dict = {"username": username, "password": password}
    if counter is not None:
        body["counter"] = counter
    anonymous = Client(server, timeout=timeout)
    try:
        _, answer = anonymous.request("POST", "/auth/login", body)
    finally:
        anonymous.close()
    return Client(server, (answer or {})["token"], timeout=timeout)
