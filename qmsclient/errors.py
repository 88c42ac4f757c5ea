"""The client's one error class.

Every call of `qmsclient` that does not get a successful answer raises `ServerError`:

* the server answered 4xx/5xx: `status` is the HTTP status, `code` the server's stable
  machine code from `{"error": {"code", "message"}}` (e.g. ``unknown_procedure``,
  ``no_officer``, ``illegal_move``) and `message` the server's message as it wrote it
  (Vietnamese, for people). An answer without such a body (a proxy's 502, say) gets a code
  derived from the status: ``unauthorized``, ``forbidden``, ``not_found``,
  ``rate_limited``, ``server_error`` or ``http_<status>``;
* no answer came (connection refused or reset, DNS failure, timeout): the subclass
  `ServerUnreachable`, with ``status=None`` and ``code="server_unreachable"``; the
  underlying `requests` exception is its ``__cause__``. Such a command may or may not have
  reached the server: send it again with the same Idempotency-Key (`Client.command` does).

So callers catch one class; ``err.answered`` tells a refusal from silence and
``err.retryable`` says whether repeating the same request may succeed.
"""

from __future__ import annotations

import email.utils
import time

UNREACHABLE = "server_unreachable"
_BY_STATUS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited"}


class ServerError(Exception):
    """The server refused a request (`status` set) or could not be reached (`status` None).

    Arguments are ``(code, message="", status=None)``: code first, so that the edges can
    build one themselves (``ServerError("server_unreachable")``) without inventing a status.
    """

    def __init__(self, code: str, message: str = "", status: int | None = None, *,
                 details: dict | None = None, retry_after: float | None = None):
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.retry_after = retry_after  # seconds, from a 429/503 answer's Retry-After
        head = f"{status} {code}" if status is not None else code
        super().__init__(f"{head}: {message}" if message else head)

    @property
    def answered(self) -> bool:
        """The server answered (and so did not carry the request out, or refused it)."""
        return self.status is not None

    @property
    def retryable(self) -> bool:
        """Repeating the same request (same Idempotency-Key) may succeed: no answer, a 5xx
        or a 429."""
        return self.status is None or self.status >= 500 or self.status == 429


class ServerUnreachable(ServerError):
    """No answer from the server: not connected, connection lost, or timed out."""

    def __init__(self, message: str = ""):
        super().__init__(UNREACHABLE, message)


def error_for(status: int, body, reason: str = "", retry_after: str | None = None) -> ServerError:
    """The `ServerError` for an HTTP answer with status >= 400 and its decoded JSON body
    (or None when it had none)."""
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = str(err.get("code") or "") or _BY_STATUS.get(status) or (
        "server_error" if status >= 500 else f"http_{status}")
    message = str(err.get("message") or reason or "")
    details = err.get("details") if isinstance(err.get("details"), dict) else None
    return ServerError(code, message, status, details=details,
                       retry_after=parse_retry_after(retry_after))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
