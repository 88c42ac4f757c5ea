"""Every limit the server puts on what a client sends, in one place, and the bounded rate
limiters. Plain Python (no Flask): `server/boundary.py` applies these numbers to each request,
`server/auth.py` and the ticket-guess check get their limiters from `rate_limiter()`: the
in-memory `RateLimiter` of one process, or, when several server processes share a Redis
(`QMS_REDIS_URL`, or `QMS_MESSAGE_QUEUE` when it is a redis:// URL), `RedisRateLimiter`, whose
hits every process counts together (docs/scaling.md). docs/security.md ("Limits") lists the
same numbers for operators.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict

log = logging.getLogger("qms.limits")

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


# -- shared by every server process (Redis) --------------------------------------------------
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
REDIS_CONNECT_TIMEOUT_S = 0.25     # Redis is on the same machine or LAN: a slow answer is down
REDIS_TIMEOUT_S = 0.5
REDIS_RETRY_AFTER_S = 2.0          # after a failure, in-memory only for this long


def redis_url(message_queue: str | None = None, env=os.environ) -> str | None:
    """The Redis the server processes share: `QMS_REDIS_URL`, else the Socket.IO message
    queue (`message_queue`, or env `QMS_MESSAGE_QUEUE`) when it is a Redis URL; None for a
    single process."""
    for url in (env.get("QMS_REDIS_URL"), message_queue or env.get("QMS_MESSAGE_QUEUE")):
        if url and url.startswith(REDIS_SCHEMES):
            return url
    return None


def redis_namespace(data_dir, env=os.environ) -> str:
    """The prefix of every Redis key and channel of one centre: `QMS_REDIS_PREFIX`, else
    derived from the data folder's real path, so the processes of one centre share it and
    two centres (or a test run) on one Redis never see each other's keys or pushes."""
    if env.get("QMS_REDIS_PREFIX"):
        return env["QMS_REDIS_PREFIX"]
    real = os.path.realpath(os.fspath(data_dir))
    return "qms:" + hashlib.sha256(real.encode("utf-8", "surrogatepass")).hexdigest()[:12]


_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def redis_client(url: str):
    """One client (a thread-safe connection pool) per URL, with short timeouts and no
    retries of its own: a Redis that does not answer at once counts as down."""
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
                                          socket_timeout=REDIS_TIMEOUT_S,
                                          retry=Retry(NoBackoff(), 0))
            _redis_clients[url] = client
        return client


class RedisRateLimiter:
    """`RateLimiter`'s sliding window, kept in Redis so that every server process counts
    the same hits (failed sign-ins spread over processes add up).

    Each key is one sorted set of hit times under `<namespace>:rl:<name>:<sha256 of key>`:
    a hit trims it to the window and to its newest `limit + 1` entries and sets its expiry
    to the window, in one MULTI/EXEC, so Redis holds at most `limit + 1` entries per key
    and only for keys hit in the last window (made-up keys expire on their own).

    Never fails a request because Redis is down: every hit is also counted in an in-memory
    `RateLimiter` of this process, which answers while Redis does not (for
    `REDIS_RETRY_AFTER_S` after each failure); the limits then hold per process.
    """

    def __init__(self, url: str, limit: int, window_s: float, *, name: str = "limit",
                 namespace: str = "qms", max_keys: int = LIMITER_MAX_KEYS,
                 clock=time.time, client=None):
        self.limit, self.window = limit, window_s
        self.local = RateLimiter(limit, window_s, max_keys)
        self.prefix = f"{namespace}:rl:{name}:"
        self.url, self.clock = url, clock
        self._client = client
        self._down_until = 0.0
        self._ttl_ms = max(1, math.ceil(window_s * 1000))

    def __len__(self) -> int:
        return len(self.local)

    def _redis(self):
        if time.monotonic() < self._down_until:
            return None
        if self._client is None:
            self._client = redis_client(self.url)
        return self._client

    def _failed(self, exc: Exception) -> None:
        if self._down_until == 0.0 or time.monotonic() >= self._down_until + 60:
            log.warning("rate limits: Redis at %s unreachable (%s); counting in this "
                        "process only until it is back", self.url, exc)
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER_S

    def _rkey(self, key) -> str:
        digest = hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).hexdigest()
        return self.prefix + digest[:40]

    def allow(self, key) -> bool:
        """Whether `key` is under its limit now (does not count a hit)."""
        client = self._redis()
        if client is not None:
            try:
                now = self.clock()
                return client.zcount(self._rkey(key), f"({now - self.window}", "+inf") \
                    < self.limit
            except Exception as exc:  # noqa: BLE001 - any Redis trouble: count locally
                self._failed(exc)
        return self.local.allow(key)

    def hit(self, key) -> bool:
        """Count one hit for `key` (in Redis and in this process); False when it is over
        the limit."""
        local = self.local.hit(key)
        client = self._redis()
        if client is None:
            return local
        rkey, now = self._rkey(key), self.clock()
        try:
            pipe = client.pipeline(transaction=True)
            pipe.zremrangebyscore(rkey, "-inf", now - self.window)
            pipe.zadd(rkey, {f"{now:.6f}:{secrets.token_hex(4)}": now})
            pipe.zremrangebyrank(rkey, 0, -(self.limit + 2))  # keep the newest limit + 1
            pipe.zcard(rkey)
            pipe.pexpire(rkey, self._ttl_ms)
            count = pipe.execute()[3]
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: count locally
            self._failed(exc)
            return local
        return count <= self.limit

    def clear(self) -> None:
        self.local.clear()
        client = self._redis()
        if client is not None:
            try:
                keys = list(client.scan_iter(match=self.prefix + "*", count=500))
                if keys:
                    client.delete(*keys)
            except Exception as exc:  # noqa: BLE001
                self._failed(exc)


def rate_limiter(limit: int, window_s: float, *, name: str, url: str | None = None,
                 namespace: str = "qms", max_keys: int = LIMITER_MAX_KEYS):
    """The one way the server makes a rate limiter: shared through Redis when `url` is a
    Redis URL (several server processes), else in this process's memory."""
    if url:
        try:
            import redis  # noqa: F401
        except ImportError:
            log.warning("QMS_REDIS_URL/QMS_MESSAGE_QUEUE is set but the redis package is "
                        "missing (pip install qms-hcc[multi]): rate limits are per process")
        else:
            return RedisRateLimiter(url, limit, window_s, name=name, namespace=namespace,
                                    max_keys=max_keys)
    return RateLimiter(limit, window_s, max_keys)
