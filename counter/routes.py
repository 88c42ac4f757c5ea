"""Counter pages: the officer's console (`/counter`), the citizen rating screen
(`/rate/<counter>`) and the small API they need: `GET /api/v1/counters/<n>/today` (today's
figures for the counter and the state of the devices that serve it) and `POST
/api/v1/counters/<n>/rating-token` (the rating screen's own narrow token, made when the
counter's officer switches the screen on: it may rate the ticket just finished at that
counter and follow the queue, nothing else — the screen never holds the officer's
session)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from server.api.helpers import body, current_principal, qms
from server.api.openapi import op, path_param, register_paths
from server.boundary import client_address
from server.errors import Forbidden, QMSError

from .stats import counter_today, day_bounds

bp = Blueprint("counter", __name__, template_folder="templates", static_folder="static",
               static_url_path="/counter/static")

RATE_REASONS = [
    ("wait", "Chờ lâu", "Long wait"),
    ("attitude", "Thái độ chưa tốt", "Unfriendly staff"),
    ("guidance", "Hướng dẫn chưa rõ", "Unclear guidance"),
    ("other", "Khác", "Other"),
]


@bp.get("/counter")
@bp.get("/counter/")
def console():
    return render_template("counter/console.html")


@bp.get("/rate/<int:counter>")
def rate_page(counter: int):
    try:
        qms().config.counter(counter)
    except QMSError:
        abort(404)
    return render_template("counter/rate.html", counter=counter, reasons=RATE_REASONS)


@bp.post("/api/v1/counters/<int:n>/rating-token")
def rating_token(n: int):
    """The rating screen of counter n signs in with its officer's name and password and gets
    a rating token (role "rating"), not a session: the officer is not seated by it."""
    data = body()
    counter = qms().config.counter(n)
    return qms().accounts.rating_token(str(data.get("username", "")),
                                       str(data.get("password", "")), n, client_address(),
                                       site=counter.site)


@bp.get("/api/v1/counters/<int:n>/today")
def today(n: int):
    """Today's figures for counter n (officers of that counter, managers, admins, bridges)."""
    p = current_principal()
    p.require("state.read")
    q = qms()
    q.config.counter(n)
    if not (p.has("reports.read") or p.may_act_at(n)):
        raise Forbidden(f"Không được xem quầy {n} (not your counter)", code="not_your_counter")
    service = q.service
    day = service.today()
    start, end = day_bounds(service.day_start(day))
    with q.store.read():
        events = list(q.store.events_between(start, end))
        devices = {d["name"]: d for d in q.store.devices()
                   if d["kind"] == "bridge" and n in d["counters"]}
        statuses = [s for s in q.store.device_statuses() if s["device"] in devices]
    out = counter_today(events, n)
    out["day"] = day
    out["devices"] = statuses
    out["device_names"] = sorted(devices)
    return out


register_paths({
    "/api/v1/counters/{n}/rating-token": {"post": op(
        "A token for counter n's citizen rating screen, given the name and password of an "
        "officer of that counter: it may rate the ticket just finished there and read the "
        "queue, nothing else", secure=False, errors=(400, 401, 403, 404, 422, 429),
        params=[path_param("n", {"type": "integer", "minimum": 0})],
        body={"type": "object", "properties": {"username": {"type": "string"},
                                                "password": {"type": "string"}}})},
    "/api/v1/counters/{n}/today": {"get": op(
        "Today's figures for one counter (served, average service and wait time, ratings) "
        "and the state of the bridge devices that serve it",
        params=[path_param("n", {"type": "integer", "minimum": 0})])},
})
