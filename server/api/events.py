"""Socket.IO handlers: authenticate at connect and join the rooms the client may see.

A client connects with `auth={"token": <device or user token>, "rooms": [...]}` (rooms
`site:<id>`, `team:<id>`, `counter:<n>`; default its site) or, on a citizen's phone,
`auth={"ticket": <ticket token>}`, which joins the ticket's team room. Every pushed
message is an event `{"type", "seq", "at", ...}` on the "event" channel.
"""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room, rooms

from .. import socketio
from ..errors import QMSError, ValidationFailed

log = logging.getLogger("qms.socket")


def _qms():
    return current_app.extensions["qms"]


def _check_room(room: str) -> str:
    q = _qms()
    kind, _, ident = str(room).partition(":")
    try:
        if kind == "site" and ident in q.config.sites:
            return room
        if kind == "team":
            q.config.team(int(ident))
            return room
        if kind == "counter":
            q.config.counter(int(ident))
            return room
    except (ValueError, QMSError):
        pass
    raise ValidationFailed(f"unknown room {room!r}", code="bad_room")


@socketio.on("connect")
def on_connect(auth=None):
    auth = auth if isinstance(auth, dict) else {}
    q = _qms()
    if auth.get("ticket"):
        with q.store.read():
            ticket = q.store.ticket_by_token(str(auth["ticket"]))
        if ticket is None:
            raise ConnectionRefusedError({"code": "unknown_ticket"})
        join_room(f"team:{ticket.team_id}")
        emit("hello", {"rooms": [f"team:{ticket.team_id}"], "seq": _seq(ticket.site)})
        return
    principal = q.accounts.principal(auth.get("token"))
    if principal is None:
        raise ConnectionRefusedError({"code": "unauthorized"})
    wanted = auth.get("rooms") or [f"site:{principal.site}"]
    try:
        joined = [_check_room(r) for r in wanted]
    except QMSError as err:
        raise ConnectionRefusedError(err.body()["error"]) from err
    for room in joined:
        join_room(room)
    emit("hello", {"rooms": joined, "seq": _seq(principal.site), "role": principal.role})


@socketio.on("subscribe")
def on_subscribe(data):
    """Change rooms after connect: `{"rooms": [...]}`; answers with the rooms joined."""
    wanted = (data or {}).get("rooms") or []
    joined = [_check_room(r) for r in wanted]
    for room in rooms():
        if room != request.sid:
            leave_room(room)
    for room in joined:
        join_room(room)
    return {"rooms": joined}


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
