"""Who may do what, and the accounts service.

Officers, managers and admins sign in with a password (hashed with scrypt through
Werkzeug) and get a bearer token that expires; devices (kiosk, display, bridge) hold a
long-lived token created by `qms device add`, carrying only their own rights. A counter's
citizen rating page holds a rating token (`r_...`, role "rating"): created when the
counter's officer opens the page, it may rate the ticket just finished at that counter and
read the queue, nothing else (the page never holds the officer's session). Tokens are
stored hashed (SHA-256), so a stolen database does not give working tokens.

Sign-in takes the same time whether or not the username exists (the password is always
checked, against a dummy hash for an unknown or inactive user), and failures are limited
per (address, username), per address over all usernames and per username over all
addresses, in bounded memory (`server.limits.rate_limiter`: shared by every server process
through Redis when several run, docs/scaling.md).

`Accounts` is the accounts service: every change of users, devices and sessions is a
command run through the queue service's one write path (`QueueService.run`): its rows, its
audit row and its `config.changed` events in one transaction, idempotent under an
Idempotency-Key. Routes and the command line only parse, authorise and call it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from . import rules
from .errors import Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from .limits import RateLimiter, rate_limiter
from .service import QueueService, iso

USER_ROLES = ("officer", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display", "bridge")
SESSION_HOURS = 12
RATING_TOKEN_HOURS = 12
# a checked token is trusted this long without a look-up (other processes' sign-outs and
# revocations take effect within it); at most this many are remembered
PRINCIPAL_TTL_S = 2.0
PRINCIPAL_CACHE_SIZE = 1024
# failed sign-ins per minute: one address and one username / one address, any username /
# one username, from any address (guesses spread over accounts or over addresses)
FAILURES_PER_PAIR = 10
FAILURES_PER_ADDRESS = 30
FAILURES_PER_USERNAME = 20
LOGIN_WINDOW_S = 60
TOO_MANY_SIGN_INS = ("Đăng nhập sai quá nhiều lần, thử lại sau 1 phút "
                     "(too many failed sign-ins)")

# right -> roles that hold it (counter rights are further limited to the principal's counters)
RIGHTS: dict[str, set[str]] = {
    "procedures.read": {"officer", "manager", "admin", "kiosk", "display", "bridge"},
    "state.read": {"officer", "manager", "admin", "kiosk", "display", "bridge", "rating"},
    "events.read": {"officer", "manager", "admin", "kiosk", "display", "bridge", "rating"},
    "tickets.issue": {"officer", "admin", "kiosk"},
    # scoped further by `ticket_scope`: an officer the teams of the counter they sit at, a
    # manager their site; kiosks cannot cancel
    "tickets.cancel": {"officer", "manager", "admin"},
    # the citizen's side only: the counter's rating pad (bridge) or rating page (rating);
    # never the officer who served (nor an admin) — and only at their own counters
    "tickets.rate": {"bridge", "rating"},
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

    def may_follow_site(self, site: str) -> bool:
        """Whose data of `site` this principal may read (`?site=`, Socket.IO rooms): a
        manager or an admin any site of this server, a device or an officer only its own."""
        return site == self.site or (self.kind == "user" and self.has("reports.read"))

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def ticket_scope(p: Principal, config) -> rules.TicketScope:
    """The tickets `p` may act on by id (cancel): an admin any; a manager those of their
    site; an officer those in the queues (teams) of the counter where they are signed in
    now, if they are still assigned to it; nobody else any."""
    if p.role == "admin":
        return rules.TicketScope()
    if p.role == "manager":
        return rules.TicketScope(sites=frozenset({p.site}))
    if p.role == "officer" and p.kind == "user":
        if p.seated is None or p.seated not in p.counters:
            raise Forbidden("Cán bộ phải đăng nhập tại quầy mình được phân công để huỷ số "
                            "(sign in at your counter to cancel tickets)", code="not_seated")
        counter = config.counter(p.seated)
        return rules.TicketScope(sites=frozenset({counter.site}),
                                 teams=frozenset(counter.teams))
    raise Forbidden(f"{p.role} may not act on tickets", code="forbidden")


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


def new_rating_token() -> str:
    return "r_" + secrets.token_urlsafe(32)


_dummy_hash: str | None = None


def dummy_password_hash() -> str:
    """A hash made like every user's (same method and cost), of a random password: checked
    when the username is unknown or inactive, so a failed sign-in always costs one full
    password check. Made once per process, by the first sign-in, before it looks anybody
    up (so that one costs the same whoever it names)."""
    global _dummy_hash
    if _dummy_hash is None:  # two first sign-ins at once may both make one: harmless
        _dummy_hash = off_event_loop(generate_password_hash, secrets.token_urlsafe(16))
    return _dummy_hash


class Accounts:
    """Users, devices and sign-in sessions: reads, and every change as a command.

    The commands need the write path, `queue` (a `QueueService`): give it at construction
    or later with `bind` (the app binds its own when it is created)."""

    def __init__(self, store, clock, queue: QueueService | None = None, *,
                 limiter_url: str | None = None, namespace: str = "qms"):
        """`limiter_url`: a Redis shared by several server processes, so that their rate
        limits count together (`server.limits.rate_limiter`); None: in this process."""
        self.store = store
        self.clock = clock
        self.queue = queue

        def limiter(name: str, limit: int, window_s: float):
            return rate_limiter(limit, window_s, name=name, url=limiter_url,
                                namespace=namespace)

        self.limiter = limiter("signin-pair", FAILURES_PER_PAIR, LOGIN_WINDOW_S)
        self.address_limiter = limiter("signin-address", FAILURES_PER_ADDRESS, LOGIN_WINDOW_S)
        self.username_limiter = limiter("signin-user", FAILURES_PER_USERNAME, LOGIN_WINDOW_S)
        self.public_limiter = limiter("public", 120, 60)

        # token hash -> (monotonic deadline, principal, session expiry): a token checked
        # less than PRINCIPAL_TTL_S ago is not looked up again (two queries and a row →
        # principal were ~10 % of a command's CPU, issue #14). Dropped at once on every
        # accounts command of this process (sign-out, password change, deactivation,
        # revocation), on every users/devices `config.changed` it publishes, and whenever
        # the database's accounts version (bumped by triggers on sessions, users and
        # devices, whoever writes: another process, `qms user add`) changes: one tiny
        # query per request instead of two. The TTL bounds what a missed bump could cost.
        self._principals: OrderedDict[str, tuple[float, Principal, str | None]] = \
            OrderedDict()
        self._principals_version: int | None = None

    def bind(self, queue: QueueService) -> None:
        self.queue = queue

    def forget_principals(self, token_hash: str | None = None) -> None:
        """Drop one cached principal (by token hash), or all of them."""
        if token_hash is None:
            self._principals.clear()
        else:
            self._principals.pop(token_hash, None)

    def _run(self, fn, idem=None) -> tuple[int, dict | None]:
        if self.queue is None:
            raise RuntimeError("Accounts has no write path: pass queue= or call bind()")
        try:
            return self.queue.run(fn, idem)
        finally:
            self._principals.clear()

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
    def _limit_keys(self, username: str, client: str) -> list[tuple[RateLimiter, str]]:
        return [(self.limiter, f"{client}:{username}"), (self.address_limiter, client),
                (self.username_limiter, username)]

    def check_password(self, username: str, password: str, client: str) -> dict:
        """The active user `username` if `password` is theirs; else 401 (429 once the
        failures of this pair, this address or this username are over their limit). Takes
        one password check whatever the outcome, so timing does not tell whether a username
        exists."""
        dummy = dummy_password_hash()  # the first call makes it, before any look-up
        keys = self._limit_keys(username, client)
        if not all(limiter.allow(key) for limiter, key in keys):
            raise TooManyRequests(TOO_MANY_SIGN_INS)
        with self.store.read():
            user = self.store.user(username) if username else None
        usable = bool(user and user["active"])
        ok = off_event_loop(check_password_hash, user["password_hash"] if usable else dummy,
                            password or "")
        if not (ok and usable):
            for limiter, key in keys:
                limiter.hit(key)
            raise Unauthorized("Sai tên đăng nhập hoặc mật khẩu (wrong username or password)",
                               code="bad_credentials")
        return user

    def login(self, username: str, password: str, counter: int | None, client: str) -> dict:
        """Check the password and open a session; signed in at a counter, the officer is
        seated there in the same transaction."""
        user = self.check_password(username, password, client)
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

    def rating_token(self, username: str, password: str, counter: int, client: str,
                     site: str = "main") -> dict:
        """A token for the citizen rating page of `counter`, given the credentials of an
        officer assigned to that counter (or an admin setting the page up): it may read the
        queue and rate the ticket just finished at that counter, nothing else. The officer
        is not signed in or seated by it."""
        user = self.check_password(username, password, client)
        if not (user["role"] == "admin"
                or (user["role"] == "officer" and counter in user["counters"])):
            raise Forbidden(f"Chỉ cán bộ được phân công quầy {counter} mới bật được màn hình "
                            f"đánh giá của quầy (only an officer of counter {counter})",
                            code="not_your_counter")
        token = new_rating_token()

        def cmd(now, events):
            expires = now + timedelta(hours=RATING_TOKEN_HOURS)
            self.store.prune_sessions(iso(now))
            self.store.add_rating_token(hash_token(token), counter, username, iso(now),
                                        iso(expires))
            self.store.audit(iso(now), f"user:{username}", "rating.token",
                             {"counter": counter})
            return 200, {"counter": counter, "site": site,
                         "expires_at": expires.isoformat(timespec="seconds")}

        status, body = self._run(cmd)
        return {**body, "token": token}

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
    def principal(self, token: str | None, fresh: bool = False) -> Principal | None:
        """Who holds `token` (None: nobody). Answers from a short cache (PRINCIPAL_TTL_S)
        unless `fresh`."""
        if not token:
            return None
        digest = hash_token(token)
        if token.startswith("r_"):  # a rating pad's narrow token: never cached
            with self.store.read():
                return self._rating_principal(digest)
        with self.store.read():
            version = self.store.accounts_version()
        if version != self._principals_version:
            self._principals.clear()
            self._principals_version = version
        if not fresh:
            hit = self._principals.get(digest)
            if hit is not None:
                deadline, principal, expires = hit
                if time.monotonic() < deadline and (expires is None or self._now() < expires):
                    return principal
                self._principals.pop(digest, None)
        found = self._lookup(token, digest)
        if found is not None:
            principal, expires = found
            if len(self._principals) >= PRINCIPAL_CACHE_SIZE:
                self._principals.popitem(last=False)
            self._principals[digest] = (time.monotonic() + PRINCIPAL_TTL_S, principal, expires)
            return principal
        return None

    def _lookup(self, token: str, digest: str) -> tuple[Principal, str | None] | None:
        """(principal, session expiry) of a user's or device's token, from the database."""
        with self.store.read():
            if token.startswith("d_"):
                dev = self.store.device_by_token(digest)
                if dev:
                    return Principal("device", dev["name"], dev["kind"], dev["site"],
                                     dev["counters"], token_hash=digest), None
                return None
            sess = self.store.session(digest, self._now())
            if not sess:
                return None
            user = self.store.user(sess["username"])
            if not user or not user["active"]:
                return None
            site = self._user_site(user["counters"], sess["counter"])
            return (Principal("user", user["username"], user["role"], site,
                              user["counters"], seated=sess["counter"], token_hash=digest),
                    sess.get("expires_at"))

    def _user_site(self, counters, seated: int | None) -> str:
        """A user's site on this server: the site of the counter they sit at, else of the
        first counter assigned to them; "main" for users with no counter (managers and
        admins read every site of the server: `Principal.may_follow_site`)."""
        if self.queue is not None:
            for number in ([seated] if seated is not None else []) + list(counters or ()):
                try:
                    return self.queue.config.counter(number).site
                except ValidationFailed:
                    continue  # a counter removed from the configuration
        return "main"

    def _rating_principal(self, digest: str) -> Principal | None:
        row = self.store.rating_token(digest, self._now())
        if not row:
            return None
        user = self.store.user(row["username"])
        counter = row["counter"]
        if not user or not user["active"] or not (
                user["role"] == "admin"
                or (user["role"] == "officer" and counter in user["counters"])):
            return None  # its officer left the counter (or the service)
        site = "main"
        if self.queue is not None:
            try:
                site = self.queue.config.counter(counter).site
            except ValidationFailed:
                return None  # the counter was removed
        return Principal("device", f"rating-{counter}", "rating", site, [counter],
                         token_hash=digest)

    def default_passwords_in_use(self, known: dict[str, str]) -> list[str]:
        """Accounts still signing in with a published demo password."""
        with self.store.read():
            users = {u: self.store.user(u) for u in known}
        for name, row in users.items():  # one match is enough to refuse; hashes are slow
            if row and row["active"] and check_password_hash(row["password_hash"], known[name]):
                return [name]
        return []

    def counter_staffed(self, counter: int) -> bool:
        """An officer (role officer, active, assigned to `counter` now) has a live session
        opened at that counter: what a bridge needs before it acts there."""
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
