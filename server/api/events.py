"""Socket.IO handlers: authenticate at connect and join only the rooms the client may see.

Two audiences (docs/security.md, "What each principal receives over Socket.IO"):

- **staff**: a device or signed-in user connects with `auth={"token": ..., "rooms": [...]}`
  (rooms `site:<id>`, `team:<id>`, `counter:<n>`; default its own site). Each room must
  exist and lie in a site the principal may follow: a device and an officer only their own
  site, a manager or an admin any site. It receives the staff view of every event
  (`staff_event`: everything but the command's idempotency key).
- **public**: a citizen's phone connects with `auth={"ticket": <ticket token>}` and joins
  only its ticket's team (the internal room `public:team:<id>`); it may `subscribe` to the
  team its ticket is in *now* (after a transfer) and to nothing else. It receives only the
  public projection of ticket events (`public_event`): no notes, reasons, device details,
  ticket ids, priority class or idempotency keys, and no counter or device events at all.

Every pushed message is an event `{"type", "seq", "at", ...}` on the "event" channel.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, disconnect, emit, join_room, leave_room, rooms

from .. import socketio
from ..auth import Principal
from ..errors import Forbidden, QMSError, Unauthorized, ValidationFailed

log = logging.getLogger("qms.socket")

MAX_ROOMS = 64
MAX_TOKEN = 200
REVALIDATE_EVERY_S = 5.0  # an expired session's socket is dropped within this time

# -- what each audience receives ---------------------------------------------------------------
# never pushed to anyone: the command's Idempotency-Key (kept in the events table for tracing)
STAFF_HIDDEN = frozenset({"request"})
# the ticket events a waiting citizen's phone is told about (it re-reads its own ticket)
PUBLIC_TYPES = frozenset({"ticket.issued", "ticket.called", "ticket.recalled",
                          "ticket.started", "ticket.finished", "ticket.no_show",
                          "ticket.transferred", "ticket.cancelled",
                          "ticket.step_moved"})  # on to a visit's next step (issue #15)
PUBLIC_FIELDS = ("type", "seq", "at", "site", "team_id", "counter")
PUBLIC_MOVE_FIELDS = ("from_team", "to_team", "to_counter")
PUBLIC_TICKET_FIELDS = ("number", "team_id", "status", "counter", "recalls")


def staff_event(event: dict) -> dict:
    """What devices and signed-in staff receive: the event without the idempotency key."""
    return {k: v for k, v in event.items() if k not in STAFF_HIDDEN}


def public_event(event: dict) -> dict | None:
    """What a citizen's phone may receive of an event, or None for nothing at all: which
    number moved where, and the waiting and open-counter counts per team (0 open: no wait
    can be estimated, issue #16); never free text (transfer notes,
    pause or rating reasons), device details, actors, ticket ids or priority classes."""
    if event.get("type") not in PUBLIC_TYPES:
        return None
    out = {k: event.get(k) for k in PUBLIC_FIELDS}
    for k in PUBLIC_MOVE_FIELDS:
        if event.get(k) is not None:
            out[k] = event[k]
    ticket = event.get("ticket")
    if isinstance(ticket, dict):
        out["ticket"] = {k: ticket.get(k) for k in PUBLIC_TICKET_FIELDS}
    for key in ("waiting", "counters_open"):  # per team: people waiting, counters open
        counts = event.get(key)
        if isinstance(counts, dict):
            out[key] = {str(k): v for k, v in counts.items() if isinstance(v, int)}
    return out


# -- who is on each socket -----------------------------------------------------------------------
@dataclass
class Member:
    audience: str  # "staff" | "public"
    token: str  # the device/user token or the ticket token, re-checked on `subscribe`
    principal: Principal | None = None


_members: dict[str, Member] = {}
_members_lock = threading.Lock()


def member(sid: str) -> Member | None:
    with _members_lock:
        return _members.get(sid)


def _qms():
    return current_app.extensions["qms"]


def _room_site(room) -> str:
    """The site of a staff room (`site:`, `team:`, `counter:`); ValidationFailed if unknown."""
    q = _qms()
    kind, _, ident = str(room).partition(":")
    try:
        if kind == "site" and ident in q.config.sites:
            return ident
        if kind == "team":
            return q.config.team(int(ident)).site
        if kind == "counter":
            return q.config.counter(int(ident)).site
    except (ValueError, QMSError):
        pass
    raise ValidationFailed(f"unknown room {str(room)[:40]!r}", code="bad_room")


def _check_room(room, principal: Principal) -> str:
    site = _room_site(room)
    if not principal.may_follow_site(site):
        raise Forbidden(f"Không được theo dõi {room} (room not allowed)", code="forbidden_room")
    return str(room)


def _wanted(value) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ROOMS:
        raise ValidationFailed(f"rooms must be a list of at most {MAX_ROOMS} rooms",
                               code="bad_room")
    return value


def _plain_token(token) -> bool:
    """Tokens are URL-safe ASCII; anything else (a lone surrogate, a control character) is no
    token at all, refused before it reaches the store."""
    return isinstance(token, str) and token.isascii() and token.isprintable()


def _ticket(token) -> object | None:
    if not _plain_token(token) or not 20 <= len(token) <= MAX_TOKEN:
        return None
    store = _qms().store
    with store.read():
        return store.ticket_by_token(token)


def _public_rooms(ticket, wanted: list) -> list[str]:
    """A ticket socket's rooms: only its ticket's team (asked as `team:<id>`)."""
    own = f"team:{ticket.team_id}"
    for room in wanted:
        if str(room) not in (own, f"public:{own}"):
            raise Forbidden("Điện thoại chỉ theo dõi được tổ của số mình (room not allowed)",
                            code="forbidden_room")
    return [own]


def _principal(token) -> Principal | None:
    if not _plain_token(token) or len(token) > MAX_TOKEN:
        return None
    return _qms().accounts.principal(token)


def _set_rooms(internal: list[str]) -> None:
    for room in rooms():
        if room != request.sid and room not in internal:
            leave_room(room)
    for room in internal:
        join_room(room)


@socketio.on("connect")
def on_connect(auth=None):
    """Refuse, never accept, a connection whose check fails in any way: Flask-SocketIO would
    take the error answer of `on_error_default` as consent."""
    try:
        _connect(auth)
    except ConnectionRefusedError:
        raise
    except Exception as err:  # noqa: BLE001 - a refused connection, whatever went wrong
        log.exception("socket connect check failed")
        raise ConnectionRefusedError({"code": "internal_error"}) from err


def _connect(auth) -> None:
    auth = auth if isinstance(auth, dict) else {}
    if auth.get("ticket"):
        ticket = _ticket(auth["ticket"])
        if ticket is None:
            raise ConnectionRefusedError({"code": "unknown_ticket"})
        try:
            joined = _public_rooms(ticket, _wanted(auth.get("rooms")))
        except QMSError as err:
            raise ConnectionRefusedError(err.body()["error"]) from err
        _set_rooms([f"public:{r}" for r in joined])
        with _members_lock:
            _members[request.sid] = Member("public", auth["ticket"])
        emit("hello", {"rooms": joined, "seq": _seq(ticket.site), "audience": "public"})
        return
    principal = _principal(auth.get("token"))
    if principal is None or not principal.has("events.read"):
        raise ConnectionRefusedError({"code": "unauthorized"})
    try:
        joined = [_check_room(r, principal)
                  for r in (_wanted(auth.get("rooms")) or [f"site:{principal.site}"])]
    except QMSError as err:
        raise ConnectionRefusedError(err.body()["error"]) from err
    _set_rooms(joined)
    with _members_lock:
        _members[request.sid] = Member("staff", auth["token"], principal)
    emit("hello", {"rooms": joined, "seq": _seq(principal.site), "role": principal.role,
                   "audience": "staff"})


@socketio.on("subscribe")
def on_subscribe(data):
    """Change rooms after connect: `{"rooms": [...]}`; answers with the rooms joined. The
    same rights as at connect, checked again now (a revoked token is disconnected)."""
    wanted = _wanted((data if isinstance(data, dict) else {}).get("rooms"))
    who = member(request.sid)
    if who is None:
        raise Unauthorized("not connected")
    if who.audience == "public":
        ticket = _ticket(who.token)
        if ticket is None:
            disconnect()
            raise Unauthorized("unknown ticket", code="unknown_ticket")
        joined = _public_rooms(ticket, wanted)  # its team now, e.g. after a transfer
        _set_rooms([f"public:{r}" for r in joined])
        return {"rooms": joined}
    principal = _principal(who.token)
    if principal is None:
        disconnect()
        raise Unauthorized("Phiên đăng nhập đã hết hạn (session ended)")
    joined = [_check_room(r, principal) for r in wanted]
    _set_rooms(joined)
    return {"rooms": joined}


def revalidate(app=None) -> int:
    """Disconnect every staff socket whose token no longer holds: signed out, expired, the
    password changed, the user deactivated or the device token revoked (issue #12, 7). Runs
    after every change of users or devices and every few seconds (sessions also expire).
    Returns how many sockets were disconnected."""
    app = app or current_app._get_current_object()
    with _members_lock:
        staff = [(sid, m.token) for sid, m in _members.items() if m.audience == "staff"]
    gone = []
    accounts = app.extensions["qms"].accounts
    for sid, token in staff:
        if accounts.principal(token) is None:
            gone.append(sid)
    for sid in gone:
        with _members_lock:
            _members.pop(sid, None)
        try:
            socketio.server.disconnect(sid, namespace="/")
        except Exception:  # noqa: BLE001 - already gone
            log.debug("socket %s already gone", sid)
    return len(gone)


def start_revalidation(app, every_s: float = REVALIDATE_EVERY_S) -> None:
    """A background task that re-checks the staff sockets' tokens every `every_s` seconds."""
    def loop():
        while True:
            socketio.sleep(every_s)
            try:
                with app.app_context():
                    revalidate(app)
            except Exception:  # noqa: BLE001 - keep the loop alive
                log.exception("socket revalidation failed")

    socketio.start_background_task(loop)


@socketio.on("disconnect")
def on_disconnect(*_reason):
    with _members_lock:
        _members.pop(request.sid, None)


@socketio.on_error_default
def on_error(err):
    if isinstance(err, QMSError):
        return err.body()
    log.exception("socket handler failed")
    return {"error": {"code": "internal_error", "message": "internal error"}}


def _seq(site: str) -> int:
    store = _qms().store
    with store.read():
        return store.current_seq(site)
