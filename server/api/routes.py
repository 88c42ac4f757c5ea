"""HTTP API v1 routes: thin, every rule lives in the service and the queue module."""

from __future__ import annotations

from flask import jsonify, request

from ..auth import ticket_scope
from ..boundary import client_address, ticket_read
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from . import bp
from .events import revalidate, staff_event
from .helpers import body, current_principal, idem, int_arg, qms, requires, result, site_arg
from .openapi import spec

MAX_ID = 2**62  # larger ids overflow SQLite integers: nothing has them


def _optional(data: dict, key: str, kind: type, what: str):
    """`data[key]` if it is absent/null or of `kind` (bool is not an int), else 422."""
    value = data.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValidationFailed(f"{key} must be {what}")
    return value


def _ticket_id(ticket_id: int) -> int:
    if ticket_id > MAX_ID:
        raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
    return ticket_id


COUNTER_ACTIONS = ("call-next", "call-number", "call-back", "recall", "start", "finish",
                   "next-step", "no-show", "transfer", "pause", "resume", "close")


# -- auth ------------------------------------------------------------------------------------
@bp.post("/auth/login")
def login():
    data = body()
    counter = data.get("counter")
    if counter is not None:
        if not isinstance(counter, int):
            raise ValidationFailed("counter must be an integer")
        qms().config.counter(counter)
    out = qms().accounts.login(str(data.get("username", "")), str(data.get("password", "")),
                               counter, client_address())
    if counter is not None:
        qms().service.sit(counter, out["user"]["username"])
    return out


@bp.post("/auth/logout")
def logout():
    p = current_principal()
    session = qms().accounts.logout(p)
    if session and session.get("counter") is not None:
        qms().service.sit(session["counter"], None)
    revalidate()  # the signed-out token's sockets go too
    return {"ok": True}


@bp.get("/auth/me")
def me():
    p = current_principal()
    return {"kind": p.kind, "name": p.name, "role": p.role, "site": p.site,
            "counters": p.counters, "counter": p.seated}


# -- procedures -------------------------------------------------------------------------------
@bp.get("/procedures")
@requires("procedures.read")
def procedures():
    from ..procedure_search import answer  # the one search engine, cached per store

    limit = int_arg("limit", 20, 1, 5000)
    q = request.args.get("q", "")
    field = request.args.get("field") or None
    return answer(qms().store, qms().service.today(), q, field, limit)


@bp.get("/procedures/fields")
@requires("procedures.read")
def procedure_fields():
    with qms().store.read():
        return {"items": qms().store.fields()}


@bp.get("/procedures/<code>")
@requires("procedures.read")
def procedure(code):
    with qms().store.read():
        proc = qms().store.procedure(code)
    if proc is None:
        raise NotFound(f"Không có thủ tục {code} (unknown procedure)", code="unknown_procedure")
    return proc


# -- tickets ---------------------------------------------------------------------------------
@bp.post("/tickets")
@requires("tickets.issue")
def issue_ticket():
    data = body()
    p = current_principal()
    team_id = data.get("team_id")
    if team_id is not None and not isinstance(team_id, int):
        raise ValidationFailed("team_id must be an integer")
    _optional(data, "procedure_code", str, "a string")
    channel = data.get("channel") or ("kiosk" if p.role == "kiosk" else "counter")
    status, payload = qms().service.issue(
        procedure_code=data.get("procedure_code"), team_id=team_id,
        priority=data.get("priority"), channel=channel, actor=p.actor, idem=idem(),
        id_number=_optional(data, "id_number", str, "a string of 12 digits"))
    return result(status, payload)


@bp.get("/tickets/<token>")
def citizen_ticket(token):
    # a ticket that exists is never rate limited (phones share the hall Wi-Fi's address);
    # unknown tokens are guesses, limited per client address (server/boundary.py)
    return ticket_read(token, qms().service.citizen_view)


@bp.post("/tickets/<int:ticket_id>/rating")
@requires("tickets.rate")
def rate_ticket(ticket_id):
    data = body()
    p = current_principal()  # a rating pad's bridge or a rating page: their counters only
    status, payload = qms().service.rate(_ticket_id(ticket_id), data.get("score"),
                                         _optional(data, "reason", str, "a string"),
                                         actor=p.actor, counters=list(p.counters), idem=idem())
    return result(status, payload)


@bp.post("/tickets/<int:ticket_id>/cancel")
@requires("tickets.cancel")
def cancel_ticket(ticket_id):
    p = current_principal()
    status, payload = qms().service.cancel(_ticket_id(ticket_id), actor=p.actor, idem=idem(),
                                           scope=ticket_scope(p, qms().config))
    return result(status, payload)


# -- counters --------------------------------------------------------------------------------
def _counter_action(n: int, action: str):
    p = current_principal()
    p.require("counter.act")
    qms().config.counter(n)
    if not p.may_act_at(n):
        raise Forbidden(f"Không được thao tác tại quầy {n} (not your counter)",
                        code="not_your_counter")
    if p.kind == "device" and not qms().accounts.counter_staffed(n):
        raise Conflict(f"Chưa có cán bộ đăng nhập tại quầy {n} (no officer signed in)",
                       code="no_officer")
    data = body()
    kwargs = {}
    if action == "transfer":
        kwargs = {"team_id": _optional(data, "team_id", int, "an integer"),
                  "to_counter": _optional(data, "counter", int, "an integer"),
                  "note": _optional(data, "note", str, "a string")}
    elif action == "call-number":
        number = _optional(data, "number", int, "an integer")
        if number is not None and not 0 <= number <= MAX_ID:
            raise ValidationFailed("number is out of range", code="bad_number")
        kwargs = {"number": number, "reason": _optional(data, "reason", str, "a string"),
                  "team_id": _optional(data, "team_id", int, "an integer")}
    elif action == "call-back":
        ticket_id = _optional(data, "ticket_id", int, "an integer")
        if ticket_id is None:
            raise ValidationFailed("ticket_id is required", code="bad_ticket")
        kwargs = {"ticket_id": _ticket_id(ticket_id)}
    elif action == "pause":
        kwargs = {"reason": _optional(data, "reason", str, "a string")}
    elif action == "finish" and data.get("end_visit") is not None:
        if not isinstance(data["end_visit"], bool):
            raise ValidationFailed("end_visit must be true or false")
        kwargs = {"end_visit": data["end_visit"]}
    elif action == "next-step" and data.get("ticket_id") is not None:
        kwargs = {"ticket_id": _ticket_id(_optional(data, "ticket_id", int, "an integer"))}
    status, payload = qms().service.counter_action(n, action, actor=p.actor, idem=idem(),
                                                   **kwargs)
    return result(status, payload)


def _make_counter_route(action: str):
    def view(n):
        return _counter_action(n, action)
    view.__name__ = "counter_" + action.replace("-", "_")
    view.right = "counter.act"
    bp.add_url_rule(f"/counters/<int:n>/{action}", view_func=view, methods=["POST"])


for _action in COUNTER_ACTIONS:
    _make_counter_route(_action)


@bp.get("/counters/<int:n>")
@requires("state.read")
def counter_state(n):
    q = qms()
    q.config.counter(n)
    with q.store.read():
        return q.service.counter_view(q.store.counter_state(n),
                                      with_officer=current_principal().has("reports.read"))


# -- state and events ------------------------------------------------------------------------
@bp.get("/state")
@requires("state.read")
def state():
    p = current_principal()
    site = site_arg(p)
    return qms().service.snapshot(site, with_officer=p.has("reports.read"))


@bp.get("/events")
@requires("events.read")
def events():
    since = int_arg("since", 0, 0, 2**62)
    limit = int_arg("limit", 1000, 1, 5000)
    site = site_arg(current_principal())
    store = qms().store
    with store.read():
        items = [staff_event(e) for e in store.events_since(site, since, limit)]
        seq = store.current_seq(site)
    return {"items": items, "seq": seq, "more": bool(items) and items[-1]["seq"] < seq}


@bp.post("/devices/status")
@requires("devices.report")
def device_status():
    data = body()
    part = _optional(data, "part", str, "a string") or "device"
    if not isinstance(data.get("online"), bool):
        raise ValidationFailed("online must be true or false")
    return qms().service.report_device(current_principal().name, part, data["online"],
                                       str(data.get("detail") or "")[:200])


@bp.get("/devices/status")
@requires("reports.read")
def device_statuses():
    with qms().store.read():
        return {"items": qms().store.device_statuses()}


# -- reports ---------------------------------------------------------------------------------
@bp.get("/reports/waits")
@requires("reports.read")
def report_waits():
    """Kept for API v1 clients; the manager's report engine answers it (`by` also takes
    officer, field, weekday, priority, site)."""
    from flask import current_app

    from ..reports.figures import day_range
    from ..reports.refresher import engine_for

    q = qms()
    eng = engine_for(current_app)  # reads only: the report writer keeps the data
    d0, d1 = day_range(request.args.get("from"), request.args.get("to"), q.config.tz,
                       q.service.clock().astimezone(q.config.tz).date())
    return eng.summary(d0, d1, request.args.get("by", "team"))


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
