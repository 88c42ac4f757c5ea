"""The booking page on the citizen's phone (issue #15): server-rendered HTML forms, no app,
no script needed, Vietnamese first.

- `GET  /dat-lich`: choose the site (when several), the procedure (searched by name with the
  one search engine) or the field, the day and a slot (places left shown, full slots
  disabled); then the phone, the optional CCCD number and the consent line.
- `POST /dat-lich`: book (the same rules, limits and rate limit as `POST /api/v1/bookings`);
  on success a 303 to the booking's own page.
- `GET  /dat-lich/<CODE>`: the booking's own page (the QR's target): the code in large type,
  the QR, day, time, team and status; cancel and change forms (the phone that booked).
  Nothing personal is shown without the phone.
- `GET  /dat-lich/<CODE>/qr.svg`: the QR of `<public_url>/dat-lich/<CODE>`.
- `POST /dat-lich/<CODE>/huy`, `POST /dat-lich/<CODE>/doi`: cancel, change.
"""

from __future__ import annotations

import io
import secrets
from datetime import date

from flask import Blueprint, Response, redirect, render_template, request, url_for

from common import booking_code

from ..api.bookings import bookings, guarded, public_write
from ..api.helpers import qms
from ..errors import QMSError, ValidationFailed

bp = Blueprint("booking", __name__, template_folder="templates", static_folder="static",
               static_url_path="/dat-lich/static")

#: the longest value of each form field the page reads (anything longer is cut)
FORM_CAPS = {"q": 200, "site": 64, "procedure_code": 64, "field": 200, "day": 10, "start": 5,
             "phone": 20, "id_number": 20, "nonce": 64, "consent": 3}
SEARCH_RESULTS = 8


WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


@bp.app_template_filter("vi_day")
def vi_day(day: str) -> str:
    """"2026-12-01" -> "Thứ Ba, 01/12/2026"."""
    try:
        d = date.fromisoformat(day)
    except (TypeError, ValueError):
        return str(day)
    return f"{WEEKDAYS_VI[d.weekday()]}, {d:%d/%m/%Y}"


def _arg(source, name: str) -> str:
    value = source.get(name) or ""
    return value.strip()[:FORM_CAPS[name]]


def _choice(source) -> dict:
    return {k: _arg(source, k) for k in ("q", "site", "procedure_code", "field", "day",
                                         "start")}


def _form_page(choice: dict, error: QMSError | None = None, values: dict | None = None,
               status: int = 200):
    """The booking form for what is chosen so far (procedure matches, days, slots)."""
    from ..procedure_search import answer

    q = qms()
    svc = bookings()
    sites = q.config.sites
    matches, procedure, slots, slot_error = [], None, None, None
    if choice["q"] and not choice["procedure_code"]:
        matches = answer(q.store, q.service.today(), choice["q"], None,
                         SEARCH_RESULTS)["items"]
    if choice["procedure_code"]:
        with q.store.read():
            procedure = q.store.procedure(choice["procedure_code"])
    with q.store.read():
        fields = [f for f in q.store.fields() if f.get("team_id")]
    days = svc.days()
    if (choice["procedure_code"] or choice["field"]) and choice["day"]:
        try:
            slots = svc.slots(choice["site"] or None, choice["procedure_code"] or None,
                              choice["field"] or None, choice["day"])
        except QMSError as err:
            slot_error = err.message
    body = render_template("booking/book.html", choice=choice, sites=sites, matches=matches,
                           procedure=procedure, fields=fields, days=days, slots=slots,
                           slot_error=slot_error, error=error, values=values or {},
                           nonce=secrets.token_urlsafe(16), centre=q.config.name,
                           policy=q.config.booking)
    return body, status


@bp.get("/dat-lich")
def book_page():
    return _form_page(_choice(request.args))


@bp.post("/dat-lich")
def book_submit():
    form = request.form
    choice = _choice(form)
    values = {"phone": _arg(form, "phone"), "id_number": _arg(form, "id_number")}
    try:
        if _arg(form, "consent") != "yes":
            raise ValidationFailed("Hãy đánh dấu đồng ý để trung tâm dùng số điện thoại (và "
                                   "số CCCD nếu có) cho lịch hẹn này (please give your "
                                   "consent)", code="consent_missing")
        public_write()
        nonce = _arg(form, "nonce")
        idem = (f"page:{request.remote_addr}", nonce, None) if nonce else None
        _, view = bookings().book(
            site=choice["site"] or None, procedure_code=choice["procedure_code"] or None,
            field=choice["field"] or None, day=choice["day"], start=choice["start"],
            phone=values["phone"], id_number=values["id_number"] or None, idem=idem)
    except QMSError as err:
        return _form_page(choice, err, values, err.status)
    return redirect(url_for("booking.booking_page", code=view["code"], moi=1), 303)


def _booking_page(code: str, error: QMSError | None = None, status: int = 200,
                  change_day: str | None = None):
    svc = bookings()
    try:
        view = guarded(svc.public, code)
    except QMSError as err:
        return render_template("booking/missing.html", error=err, code=code[:40]), err.status
    slots, slot_error = None, None
    if change_day and view["status"] == "booked":
        try:
            slots = svc.slots(view["site"], view["procedure_code"],
                              None if view["procedure_code"] else view["field"], change_day)
        except QMSError as err:
            slot_error = err.message
    notice = {"1": "Đặt lịch thành công (booked)"}.get(request.args.get("moi", "")) or \
        {"1": "Đã huỷ lịch hẹn (booking cancelled)"}.get(request.args.get("huy", "")) or \
        {"1": "Đã đổi lịch hẹn (booking changed)"}.get(request.args.get("doi", ""))
    return render_template("booking/booking.html", b=view, qr=qr_svg(view["url"]),
                           error=error, notice=notice, days=svc.days(), slots=slots,
                           change_day=change_day, slot_error=slot_error,
                           centre=qms().config.name), status


@bp.get("/dat-lich/<code>")
def booking_page(code):
    return _booking_page(code, change_day=_arg(request.args, "day") or None)


@bp.get("/dat-lich/<code>/qr.svg")
def booking_qr(code):
    view = guarded(bookings().public, code)
    return Response(qr_svg(view["url"]), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.post("/dat-lich/<code>/huy")
def cancel_submit(code):
    phone = _arg(request.form, "phone")
    try:
        public_write()
        guarded(bookings().cancel, code, phone)
    except QMSError as err:
        return _booking_page(code, err, err.status)
    return redirect(url_for("booking.booking_page", code=booking_code.normalise(code),
                            huy=1), 303)


@bp.post("/dat-lich/<code>/doi")
def change_submit(code):
    form = request.form
    try:
        public_write()
        guarded(bookings().change, code, _arg(form, "phone"), _arg(form, "day"),
                _arg(form, "start"))
    except QMSError as err:
        return _booking_page(code, err, err.status, change_day=_arg(form, "day") or None)
    return redirect(url_for("booking.booking_page", code=booking_code.normalise(code),
                            doi=1), 303)


def qr_svg(url: str) -> str:
    """The QR code of `url` as an inline SVG (no image library needed)."""
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10,
                      border=2)
    out = io.BytesIO()
    img.save(out)
    text = out.getvalue().decode("utf-8")
    return text[text.index("<svg"):] if "<svg" in text else text
