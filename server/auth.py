"""Who may do what, and the accounts service.

Officers, managers and admins sign in with a password (hashed with scrypt through
Werkzeug) and get a bearer token that expires; devices (kiosk, display, bridge) hold a
long-lived token created by `qms device add`, carrying only their own rights. Tokens are
stored hashed (SHA-256), so a stolen database does not give working tokens.

`Accounts` is the accounts service: every change of users, devices and sessions is a
command run through the queue service's one write path (`QueueService.run`): its rows, its
audit row and its `config.changed` events in one transaction, idempotent under an
Idempotency-Key. Routes and the command line only parse, authorise and call it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from .limits import RateLimiter
from .service import QueueService, iso

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
    """Users, devices and sign-in sessions: reads, and every change as a command.

    The commands need the write path, `queue` (a `QueueService`): give it at construction
    or later with `bind` (the app binds its own when it is created)."""

    def __init__(self, store, clock, queue: QueueService | None = None):
        self.store = store
        self.clock = clock
        self.queue = queue
        self.limiter = RateLimiter(limit=10, window_s=60)
        self.public_limiter = RateLimiter(limit=120, window_s=60)

    def bind(self, queue: QueueService) -> None:
        self.queue = queue

    def _run(self, fn, idem=None) -> tuple[int, dict | None]:
        if self.queue is None:
            raise RuntimeError("Accounts has no write path: pass queue= or call bind()")
        return self.queue.run(fn, idem)

    def _now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    def _changed(self, events, now, actor: str, action: str, detail: dict, what: str,
                 announce: bool) -> None:
        """The audit row and (unless a new centre is being seeded) the events of a change."""
        self.store.audit(iso(now), actor, action, detail)
        if announce:
            self.queue.config_changed(events, now, what=what, action=action, actor=actor)

    def _public_user(self, username: str) -> dict:
        user = self.store.user(username)
        if user is None:
            raise NotFound(f"Không có người dùng {username} (unknown user)", code="unknown_user")
        user.pop("password_hash", None)
        return user

    # -- users ----------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password: str, counters=(),
                 full_name: str = "", *, actor: str = "cli", idem=None,
                 announce: bool = True) -> tuple[int, dict]:
        """Add (or replace) a user. `announce=False` only while `qms init` seeds a new
        centre: nobody listens yet and its event log starts with the first ticket."""
        if role not in USER_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}")
        if not username or not username.replace("_", "").replace(".", "").isalnum():
            raise ValidationFailed("username: letters, digits, '.' and '_' only")
        hashed = off_event_loop(hash_password, password)

        def cmd(now, events):
            self.store.add_user(username, role, hashed, list(counters), full_name, iso(now))
            self._changed(events, now, actor, "user.add", {"username": username, "role": role},
                          "users", announce)
            return 201, {"user": self._public_user(username)}

        return self._run(cmd, idem)

    def edit_user(self, username: str, *, role: str | None = None,
                  full_name: str | None = None, counters: list[int] | None = None,
                  password: str | None = None, active: bool | None = None,
                  actor: str, idem=None) -> tuple[int, dict]:
        """Change a user's role, name, counters, password or active flag; a new password or
        deactivation ends their sessions. The change and its audit row: one transaction."""
        if role is not None and role not in USER_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}")
        if active is not None and not isinstance(active, bool):
            raise ValidationFailed("active must be true or false")
        hashed = off_event_loop(hash_password, str(password)) if password else None
        fields = sorted(k for k, v in (("role", role), ("full_name", full_name),
                                       ("counters", counters), ("active", active))
                        if v is not None) + (["password"] if password else [])

        def cmd(now, events):
            if not self.store.update_user(username, role=role, full_name=full_name,
                                          counters=counters, password_hash=hashed,
                                          active=active):
                raise NotFound(f"Không có người dùng {username} (unknown user)",
                               code="unknown_user")
            self._changed(events, now, actor, "user.edit",
                          {"username": username, "fields": fields}, "users", True)
            return 200, {"user": self._public_user(username)}

        return self._run(cmd, idem)

    # -- devices --------------------------------------------------------------------------
    def add_device(self, name: str, kind: str, counters=(), site: str = "main", *,
                   actor: str = "cli", idem=None, announce: bool = True) -> tuple[int, dict]:
        """A device and its token; the answer carries the token once. A retry under the same
        Idempotency-Key answers without it (tokens are only ever stored hashed): revoke and
        add the device again if the first answer was lost."""
        name = (name or "").strip()
        if not name or kind not in DEVICE_KINDS:
            raise ValidationFailed(f"name and kind ({', '.join(DEVICE_KINDS)}) are required")
        token = new_device_token()
        issued = []

        def cmd(now, events):
            self.store.add_device(name, kind, hash_token(token), site, list(counters),
                                  iso(now))
            self._changed(events, now, actor, "device.token", {"device": name, "kind": kind},
                          "devices", announce)
            issued.append(token)
            return 201, {"name": name, "kind": kind, "token": None}

        status, body = self._run(cmd, idem)
        return status, ({**body, "token": token} if issued else body)

    def revoke_device(self, name: str, *, actor: str, idem=None) -> tuple[int, dict]:
        def cmd(now, events):
            if not self.store.revoke_device(name):
                raise NotFound(f"Không có thiết bị {name} (unknown device)",
                               code="unknown_device")
            self._changed(events, now, actor, "device.revoke", {"device": name}, "devices",
                          True)
            return 200, {"name": name, "active": False}

        return self._run(cmd, idem)

    # -- sessions -------------------------------------------------------------------------
    def login(self, username: str, password: str, counter: int | None, client: str) -> dict:
        """Check the password and open a session; signed in at a counter, the officer is
        seated there in the same transaction."""
        if not self.limiter.allow(f"{client}:{username}"):
            raise TooManyRequests("Đăng nhập sai quá nhiều lần, thử lại sau 1 phút "
                                  "(too many failed sign-ins)")
        with self.store.read():
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

        def cmd(now, events):
            expires = now + timedelta(hours=SESSION_HOURS)
            self.store.prune_sessions(iso(now))
            self.store.add_session(hash_token(token), username, counter, iso(now),
                                   iso(expires))
            if counter is not None:
                self.queue.seat(counter, username)
            return 200, {"token": token, "expires_at": expires.isoformat(timespec="seconds"),
                         "user": {"username": username, "role": user["role"],
                                  "full_name": user["full_name"],
                                  "counters": user["counters"], "counter": counter}}

        return self._run(cmd)[1]

    def logout(self, principal: Principal) -> dict | None:
        """End a user's session (and their seat at the counter they signed in at)."""
        if principal.kind != "user" or not principal.token_hash:
            return None

        def cmd(now, events):
            session = self.store.end_session(principal.token_hash)
            if session and session.get("counter") is not None:
                self.queue.seat(session["counter"], None)
            return 200, session

        return self._run(cmd)[1]

    # -- reads ----------------------------------------------------------------------------
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
