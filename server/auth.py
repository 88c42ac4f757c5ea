"""Who may do what.

Officers, managers and admins sign in with a password (hashed with scrypt through
Werkzeug) and get a bearer token that expires; devices (kiosk, display, bridge) hold a
long-lived token created by `qms device add`, carrying only their own rights. Tokens are
stored hashed (SHA-256), so a stolen database does not give working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import Forbidden, TooManyRequests, Unauthorized, ValidationFailed

USER_ROLES = ("officer", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display", "bridge")
SESSION_HOURS = 12

# right -> roles that hold it (counter rights are further limited to the principal's counters)
RIGHTS: dict[str, set[str]] = {
    "procedures.read": {"officer", "manager", "admin", "kiosk", "display", "bridge"},
    "state.read": {"officer", "manager", "admin", "kiosk", "display", "bridge"},
    "events.read": {"officer", "manager", "admin", "kiosk", "display", "bridge"},
    "tickets.issue": {"officer", "admin", "kiosk"},
    "tickets.cancel": {"officer", "manager", "admin"},
    "tickets.rate": {"officer", "admin", "bridge"},
    "counter.act": {"officer", "admin", "bridge"},
    "devices.report": {"kiosk", "display", "bridge"},
    "reports.read": {"manager", "admin"},
    "admin": {"admin"},
}


@dataclass
class Principal:
    kind: str  # "user" | "device"
    name: str
    role: str
    site: str = "main"
    counters: list[int] = field(default_factory=list)
    seated: int | None = None
    token_hash: str | None = None

    def has(self, right: str) -> bool:
        return self.role in RIGHTS[right]

    def require(self, right: str) -> None:
        if not self.has(right):
            raise Forbidden(f"{self.role} may not {right}", code="forbidden")

    def may_act_at(self, counter: int) -> bool:
        return self.role == "admin" or counter in self.counters

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < 6:
        raise ValidationFailed("Mật khẩu phải có ít nhất 6 ký tự (password too short)",
                               code="weak_password")
    return generate_password_hash(password)


def new_user_token() -> str:
    return "u_" + secrets.token_urlsafe(32)


def new_device_token() -> str:
    return "d_" + secrets.token_urlsafe(32)


class Accounts:
    """Sign-in, tokens and principals over the store."""

    def __init__(self, store, clock):
        self.store = store
        self.clock = clock
        self.limiter = RateLimiter(limit=10, window_s=60)
        self.public_limiter = RateLimiter(limit=120, window_s=60)

    def _now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    def add_user(self, username: str, role: str, password: str, counters=(),
                 full_name: str = "") -> None:
        if role not in USER_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}")
        if not username or not username.replace("_", "").replace(".", "").isalnum():
            raise ValidationFailed("username: letters, digits, '.' and '_' only")
        hashed = off_event_loop(hash_password, password)
        with self.store.write():
            self.store.add_user(username, role, hashed, list(counters),
                                full_name, self._now())

    def add_device(self, name: str, kind: str, counters=(), site: str = "main") -> str:
        if kind not in DEVICE_KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(DEVICE_KINDS)}")
        token = new_device_token()
        with self.store.write():
            self.store.add_device(name, kind, hash_token(token), site, list(counters),
                                  self._now())
        return token

    def login(self, username: str, password: str, counter: int | None, client: str) -> dict:
        if not self.limiter.allow(f"{client}:{username}"):
            raise TooManyRequests("Đăng nhập sai quá nhiều lần, thử lại sau 1 phút "
                                  "(too many failed sign-ins)")
        user = self.store.user(username) if username else None
        if not user or not user["active"] or not off_event_loop(
                check_password_hash, user["password_hash"], password or ""):
            self.limiter.hit(f"{client}:{username}")
            raise Unauthorized("Sai tên đăng nhập hoặc mật khẩu (wrong username or password)",
                               code="bad_credentials")
        if counter is not None and user["role"] == "officer" and counter not in user["counters"]:
            raise Forbidden(f"Cán bộ không được phân công quầy {counter} "
                            "(not assigned to this counter)", code="not_your_counter")
        token = new_user_token()
        now = self.clock()
        expires = now + timedelta(hours=SESSION_HOURS)
        with self.store.write():
            self.store.prune_sessions(self._now())
            self.store.add_session(hash_token(token), username, counter,
                                   now.isoformat(timespec="milliseconds"),
                                   expires.isoformat(timespec="milliseconds"))
        return {"token": token, "expires_at": expires.isoformat(timespec="seconds"),
                "user": {"username": username, "role": user["role"],
                         "full_name": user["full_name"], "counters": user["counters"],
                         "counter": counter}}

    def logout(self, principal: Principal) -> dict | None:
        if principal.kind != "user" or not principal.token_hash:
            return None
        with self.store.write():
            return self.store.end_session(principal.token_hash)

    def principal(self, token: str | None) -> Principal | None:
        if not token:
            return None
        digest = hash_token(token)
        with self.store.read():
            if token.startswith("d_"):
                dev = self.store.device_by_token(digest)
                if dev:
                    return Principal("device", dev["name"], dev["kind"], dev["site"],
                                     dev["counters"], token_hash=digest)
                return None
            sess = self.store.session(digest, self._now())
            if not sess:
                return None
            user = self.store.user(sess["username"])
            if not user or not user["active"]:
                return None
            return Principal("user", user["username"], user["role"], "main", user["counters"],
                             seated=sess["counter"], token_hash=digest)

    def default_passwords_in_use(self, known: dict[str, str]) -> list[str]:
        """Accounts still signing in with a published demo password."""
        with self.store.read():
            users = {u: self.store.user(u) for u in known}
        for name, row in users.items():  # one match is enough to refuse; hashes are slow
            if row and row["active"] and check_password_hash(row["password_hash"], known[name]):
                return [name]
        return []

    def counter_staffed(self, counter: int) -> bool:
        with self.store.read():
            return bool(self.store.counter_officers(counter, self._now()))


def off_event_loop(fn, *args):
    """Run a CPU-heavy call (scrypt) in a real OS thread when the server runs on gevent,
    so one sign-in does not stall every other request and socket for ~100 ms."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn(*args)
    if monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


class RateLimiter:
    """Failures per key in a sliding window (in memory, per process)."""

    def __init__(self, limit: int, window_s: float):
        self.limit, self.window = limit, window_s
        self.hits: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque:
        q = self.hits[key]
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def allow(self, key: str) -> bool:
        with self.lock:
            return len(self._trim(key, time.monotonic())) < self.limit

    def hit(self, key: str) -> bool:
        with self.lock:
            now = time.monotonic()
            q = self._trim(key, now)
            q.append(now)
            return len(q) <= self.limit
