"""Every limit the server puts on what a client sends, in one place, and the bounded rate
limiter. Plain Python (no Flask): `server/boundary.py` applies these numbers to each request,
`server/auth.py` and the ticket-guess check use `RateLimiter`. docs/security.md ("Limits")
lists the same numbers for operators.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections import OrderedDict

KB = 1024
MB = 1024 * KB

# -- request bodies --------------------------------------------------------------------------
MAX_BODY = 64 * KB                 # any request (API JSON, pages), unless below
MAX_IMPORT_BODY = 20 * MB          # the procedure catalogue upload (CSV / XLSX)
BODY_LIMITS = {                    # Flask endpoint -> its own, larger limit
    "admin.start_import": MAX_IMPORT_BODY,
}
DRAIN_AFTER_REFUSAL = 256 * KB     # bytes of a refused body still read so the 413 is seen
MAX_SOCKET_MESSAGE = 64 * KB       # one Socket.IO / Engine.IO message (default was 1 MB)

# -- JSON and text ----------------------------------------------------------------------------
MAX_DEPTH = 8                      # objects/arrays nested deeper: 400 bad_json
MAX_KEY_LENGTH = 64                # object keys and query parameter names
TEXT_CAP = 500                     # any text field or query value without an entry below
TEXT_CAPS = {                      # field name -> at most this many characters
    "note": 500,                   # transfer note
    "reason": 500,                 # pause / call-number / rating reason
    "detail": 200,                 # device status detail
    "part": 64,                    # device part name (printer, paper, ledbus...)
    "name": 200,                   # device, team, counter, centre names
    "name_en": 200,
    "full_name": 200,
    "username": 64,
    "password": 256,
    "procedure_code": 64,
    "code": 64,
    "channel": 32,
    "priority": 32,
    "role": 32,
    "kind": 32,
    "site": 64,
    "notice": 1000,                # the hall notice on the display board
    "q": 200,                      # procedure search (query string)
}
ENDPOINT_TEXT_CAPS = {             # Flask endpoint -> overrides for that route only
    # a procedure's official name can be long (the sample catalogue has 1,094 characters;
    # the importer accepts 2,000): the same cap as the importer when edited by hand
    "admin.edit_procedure": {"name": 2000, "fee": 1000, "documents": 1000, "agency": 500},
}
MULTILINE_FIELDS = {"notice", "note"}  # keep line breaks (as "\n"); elsewhere they become spaces

# -- rates -----------------------------------------------------------------------------------
LIMITER_MAX_KEYS = 10_000          # per limiter; the key hit least recently is evicted first
LIMITER_MAX_KEY_CHARS = 128        # longer keys are stored as their SHA-256
TICKET_GUESSES = 30                # unknown ticket tokens per client address per window
TICKET_GUESS_WINDOW_S = 60
TICKET_TOKEN_MAX = 128             # longer tokens are guesses without a database look-up


def format_size(n: int) -> str:
    if n >= MB and n % MB == 0:
        return f"{n // MB} MB"
    if n >= KB and n % KB == 0:
        return f"{n // KB} KB"
    return f"{n} bytes"


def text_cap(field: str | None, endpoint: str | None = None) -> int:
    """How many characters the text in `field` may have (on `endpoint`)."""
    if field is None:
        return TEXT_CAP
    override = ENDPOINT_TEXT_CAPS.get(endpoint or "", {})
    if field in override:
        return override[field]
    return TEXT_CAPS.get(field, TEXT_CAP)


class RateLimiter:
    """Hits per key in a sliding window (in memory, per process), with bounded memory.

    At most `max_keys` keys are kept: when a new key arrives and the table is full, keys whose
    hits have all expired are dropped first, then the key hit least recently. Each key keeps
    at most `limit + 1` timestamps, and a key longer than `LIMITER_MAX_KEY_CHARS` is stored as
    its SHA-256, so memory stays bounded whatever keys clients make up (30,000 made-up
    usernames used to stay in memory for good).

    Eviction can forget a blocked key once `max_keys` other keys were hit after it; a client
    that does that has sent `max_keys` requests to gain `limit` more tries.
    """

    def __init__(self, limit: int, window_s: float, max_keys: int = LIMITER_MAX_KEYS,
                 clock=time.monotonic):
        if limit < 1 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1")
        self.limit, self.window, self.max_keys = limit, window_s, max_keys
        self.clock = clock
        self.hits: OrderedDict[str, list[float]] = OrderedDict()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.hits)

    @staticmethod
    def _key(key) -> str:
        key = str(key)
        if len(key) <= LIMITER_MAX_KEY_CHARS:
            return key
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    def _recent(self, key: str, now: float) -> list[float] | None:
        stamps = self.hits.get(key)
        if stamps and stamps[0] < now - self.window:
            del stamps[:bisect.bisect_left(stamps, now - self.window)]
        return stamps

    def _make_room(self, now: float) -> None:
        cutoff = now - self.window
        while self.hits:  # least recently hit first: drop keys with nothing left in the window
            stamps = next(iter(self.hits.values()))
            if stamps and stamps[-1] >= cutoff:
                break
            self.hits.popitem(last=False)
        while len(self.hits) >= self.max_keys:
            self.hits.popitem(last=False)

    def allow(self, key) -> bool:
        """Whether `key` is under its limit now (does not count a hit, adds no key)."""
        with self.lock:
            stamps = self._recent(self._key(key), self.clock())
            return not stamps or len(stamps) < self.limit

    def hit(self, key) -> bool:
        """Count one hit for `key`; False when it is over the limit."""
        with self.lock:
            now = self.clock()
            key = self._key(key)
            stamps = self._recent(key, now)
            if stamps is None:
                self._make_room(now)
                stamps = self.hits[key] = []
            else:
                self.hits.move_to_end(key)
            stamps.append(now)
            if len(stamps) > self.limit + 1:
                del stamps[0]
            return len(stamps) <= self.limit

    def clear(self) -> None:
        with self.lock:
            self.hits.clear()
