"""HTTP API of appointments (issue #15): slots, booking, look-up, cancel, change (public,
rate-limited per client address) and check-in (kiosk device tokens and officers).
Thin: the rules are in `server/bookings.py`."""

from __future__ import annotations

from flask import current_app, request

from .. import limits
from ..bookings import (
    CODE_GUESS_WINDOW_S,
    CODE_GUESSES,
    PUBLIC_WRITE_WINDOW_S,
    PUBLIC_WRITES,
    BookingService,
)
from ..boundary import client_address
from ..errors import QMSError, TooManyRequests, ValidationFailed
from . import bp
from .helpers import body, current_principal, idem, qms, requires, result, site_arg
from .openapi import OBJ, op, path_param, query_param, register_paths

EXTENSION = "qms_bookings"
LIMITS = "qms_booking_limits"


def bookings() -> BookingService:
    """The app's booking service (made on first use, bound to the one write path)."""
    app = current_app
    svc = app.extensions.get(EXTENSION)
    if svc is None or svc.service is not qms().service:
        svc = app.extensions[EXTENSION] = BookingService(qms().service)
    return svc


def _limiters():
    app = current_app
    pair = app.extensions.get(LIMITS)
    if pair is None:
        url = app.config.get("REDIS_URL")
        namespace = app.config.get("REDIS_NAMESPACE") or "qms"
        pair = app.extensions[LIMITS] = (
            limits.rate_limiter(int(app.config.get("BOOKING_WRITES") or PUBLIC_WRITES),
                                PUBLIC_WRITE_WINDOW_S, name="booking-write", url=url,
                                namespace=namespace),
            limits.rate_limiter(int(app.config.get("BOOKING_GUESSES") or CODE_GUESSES),
                                CODE_GUESS_WINDOW_S, name="booking-guess", url=url,
                                namespace=namespace))
    return pair


def public_write() -> None:
    """A public booking write (book, cancel, change) counted per client address: 429."""
    if not _limiters()[0].hit(client_address()):
        raise TooManyRequests("Quá nhiều lượt đặt lịch từ địa chỉ này, vui lòng thử lại sau "
                              "10 phút (too many booking requests from this address)")


def guarded(fn, *args):
    """A look-up by code: an unknown code or a wrong phone is a guess, counted per client
    address (429 over the limit)."""
    limiter = _limiters()[1]
    if not limiter.allow(client_address()):
        raise TooManyRequests("Tra cứu sai quá nhiều lần, vui lòng thử lại sau 1 phút "
                              "(too many wrong booking look-ups)")
    try:
        return fn(*args)
    except QMSError as err:
        if err.code in ("booking_not_found", "booking_phone_wrong", "booking_code_invalid"):
            limiter.hit(client_address())
        raise


def public_idem() -> tuple[str, str, str] | None:
    """An anonymous request's Idempotency-Key, scoped by the client address (the rules of
    `helpers.idem`)."""
    return idem(f"public:{client_address()}")


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{key} phải là chữ ({key} must be a string)")
    return value


# -- public ------------------------------------------------------------------------------------
@bp.get("/bookings/slots")
def booking_slots():
    a = request.args
    return bookings().slots(a.get("site") or None, a.get("procedure_code") or None,
                            a.get("field") or None, a.get("day"))


@bp.post("/bookings")
def book():
    data = body()
    public_write()
    status, payload = bookings().book(
        site=_text(data, "site"), procedure_code=_text(data, "procedure_code"),
        field=_text(data, "field"), day=_text(data, "day"), start=_text(data, "start"),
        phone=_text(data, "phone"), id_number=_text(data, "id_number"), idem=public_idem())
    return result(status, payload)


@bp.get("/bookings/<code>")
def booking(code):
    return guarded(bookings().lookup, code, request.args.get("phone"))


@bp.post("/bookings/<code>/cancel")
def cancel_booking(code):
    data = body()
    public_write()
    status, payload = guarded(bookings().cancel, code, _text(data, "phone"), None,
                              public_idem())
    return result(status, payload)


@bp.post("/bookings/<code>/change")
def change_booking(code):
    data = body()
    public_write()
    status, payload = guarded(bookings().change, code, _text(data, "phone"),
                              _text(data, "day"), _text(data, "start"), None, public_idem())
    return result(status, payload)


# -- kiosks and officers -----------------------------------------------------------------------
@bp.post("/bookings/checkin")
@requires("tickets.issue")
def checkin():
    data = body()
    p = current_principal()
    site = None if p.role == "admin" else p.site
    status, payload = bookings().checkin(code=_text(data, "code"),
                                         id_number=_text(data, "id_number"), site=site,
                                         actor=p.actor, idem=idem())
    return result(status, payload)


# -- managers ---------------------------------------------------------------------------------
@bp.get("/reports/bookings")
@requires("reports.read")
def booking_report():
    """Per team and day: booked, checked in (on time), late, no-shows, cancelled and the
    punctuality (the manager's reports page, section "Lịch hẹn")."""
    from ..reports.figures import day_range

    q = qms()
    site = site_arg(current_principal())
    d0, d1 = day_range(request.args.get("from"), request.args.get("to"), q.config.tz,
                       q.service.clock().astimezone(q.config.tz).date())
    rows = bookings().report(site, d0.isoformat(), d1.isoformat())
    keys = ("total", "booked", "checked_in", "late", "no_show", "cancelled", "due")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["punctuality"] = (round(100 * total["checked_in"] / total["due"])
                            if total["due"] else None)
    return {"site": site, "from": d0.isoformat(), "to": d1.isoformat(), "rows": rows,
            "total": total}


CODE = path_param("code", {"type": "string", "minLength": 6, "maxLength": 40})
PHONE = {"type": "string", "pattern": r"^(\+84|0)[0-9 .-]{9,14}$"}
DAY = {"type": "string", "format": "date"}
HHMM = {"type": "string", "pattern": r"^[0-2][0-9]:[0-5][0-9]$"}
ID_NUMBER = {"type": "string", "pattern": r"^[0-9]{12}$"}
register_paths({
    "/api/v1/bookings/slots": {"get": op(
        "A team's slots on a day with the places left (full slots: left 0; past slots of "
        "today left out)", secure=False, errors=(404, 409, 422),
        params=[query_param("site", {"type": "string"}),
                query_param("procedure_code", {"type": "string"}),
                query_param("field", {"type": "string"}),
                query_param("day", DAY, required=True)])},
    "/api/v1/bookings": {"post": op(
        "Book a slot (public, rate-limited per client address): 409 slot_full, 409 "
        "booking_limit (per person and day, per field), 422 validation",
        ok={201: ("Booked: code, day, start, end, team, url, qr_url", OBJ)}, secure=False,
        errors=(400, 404, 409, 422, 429), idempotent=True,
        body={"type": "object", "required": ["day", "start", "phone"], "properties": {
            "site": {"type": "string"}, "procedure_code": {"type": "string"},
            "field": {"type": "string"}, "day": DAY, "start": HHMM, "phone": PHONE,
            "id_number": ID_NUMBER}})},
    "/api/v1/bookings/{code}": {"get": op(
        "One booking, for the phone that booked it (403 booking_phone_wrong)", secure=False,
        errors=(403, 404, 422, 429), params=[CODE, query_param("phone", PHONE, True)])},
    "/api/v1/bookings/{code}/cancel": {"post": op(
        "Cancel a booking (the phone that booked it)", secure=False,
        errors=(400, 403, 404, 409, 422, 429), params=[CODE], idempotent=True,
        body={"type": "object", "required": ["phone"], "properties": {"phone": PHONE}})},
    "/api/v1/bookings/{code}/change": {"post": op(
        "Move a booking to another day or slot (the phone that booked it)", secure=False,
        errors=(400, 403, 404, 409, 422, 429), params=[CODE], idempotent=True,
        body={"type": "object", "required": ["phone", "day", "start"], "properties": {
            "phone": PHONE, "day": DAY, "start": HHMM}})},
    "/api/v1/reports/bookings": {"get": op(
        "Appointments per team and day: booked, checked in on time, late, no-shows, "
        "cancelled, punctuality (% on time of those due); managers",
        params=[query_param("from", DAY), query_param("to", DAY),
                query_param("site", {"type": "string"})])},
    "/api/v1/bookings/checkin": {"post": op(
        "Check a booking in (kiosk device token or officer) by code or scanned CCCD number: "
        "the ticket view plus booking {code, late, start, end}; 409 checkin_too_early, "
        "booking_used, booking_cancelled, booking_expired, person_limit",
        ok={201: ("Ticket issued", OBJ)}, errors=(400, 401, 403, 404, 409, 422),
        idempotent=True,
        body={"type": "object", "properties": {"code": {"type": "string"},
                                               "id_number": ID_NUMBER}})},
})
