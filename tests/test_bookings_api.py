"""Appointments over HTTP (issue #15): slots, booking, limits, cancel, change, check-in on
time / early / late, expiry, the per-person limit on numbers, nothing personal on the
ticket and board views, bad codes. The real app on a real SQLite file; the clock is the
app's own (`CLOCK`), moved by the tests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from common import booking_code
from tests.conftest import bearer, login

PROC = "1.001193"  # Hộ tịch, team 1
PROC_SAME_FIELD = "1.000894"  # Hộ tịch too
DAY = "2026-12-01"  # a Tuesday
NEXT = "2026-12-02"
PHONE = "0912345678"
CCCD = "001234567890"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội

    def __call__(self):
        return self.now

    def local(self, day: str, hhmm: str) -> None:
        """Set the clock to a local (UTC+7) time."""
        self.now = datetime.fromisoformat(f"{day}T{hhmm}:00+07:00").astimezone(UTC)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(data_dir, clock):
    from qms.app import create_app

    application = create_app({"DATA_DIR": str(data_dir), "TESTING": True,
                              "ASYNC_MODE": "threading", "CLOCK": clock})
    yield application
    application.extensions["qms"].store.close()


def book(client, start="10:00", phone=PHONE, day=DAY, **extra):
    body = {"procedure_code": PROC, "day": day, "start": start, "phone": phone, **extra}
    return client.post("/api/v1/bookings", json=body)


def checkin(client, token, **body):
    return client.post("/api/v1/bookings/checkin", json=body, headers=bearer(token))


def left(client, day=DAY, proc=PROC) -> dict[str, int]:
    res = client.get(f"/api/v1/bookings/slots?procedure_code={proc}&day={day}")
    assert res.status_code == 200, res.get_json()
    return {s["start"]: s["left"] for s in res.get_json()["slots"]}


def error(res) -> str:
    return res.get_json()["error"]["code"]


def test_codes_have_no_look_alikes():
    for bad in "0OQ1IL2Z5S8BG":
        assert bad not in booking_code.ALPHABET
    assert len(set(booking_code.ALPHABET)) == len(booking_code.ALPHABET) == 23
    code = booking_code.generate()
    assert booking_code.normalise(code.lower()) == code
    assert booking_code.normalise(f" {code[:3]}-{code[3:]} ") == code
    for bad in ("K7M3P0", "K7M3PXX", "", "K7M 3P", "ĐK7M3P", None, "K7M3PX" * 10):
        assert booking_code.normalise(bad) is None
    assert booking_code.from_scan(f"https://qms.example.gov.vn/dat-lich/{code}") == code
    assert booking_code.from_scan(f"https://qms.example.gov.vn/dat-lich/{code}/") == code
    assert booking_code.from_scan("https://example.org/t/abc") is None


def test_slots_book_and_full_slot(client):
    slots = left(client)
    assert "08:00" not in slots and "07:30" not in slots  # already begun
    assert slots["08:30"] == 2 and slots["16:30"] == 2  # capacity 4, half kept for walk-ins
    assert "11:30" not in slots and "13:30" in slots  # within opening hours only
    res = book(client)
    assert res.status_code == 201, res.get_json()
    b = res.get_json()
    assert re.fullmatch(f"[{booking_code.ALPHABET}]{{6}}", b["code"])
    assert (b["day"], b["start"], b["end"], b["team_id"]) == (DAY, "10:00", "10:30", 1)
    assert b["url"].endswith(f"/dat-lich/{b['code']}") and b["qr_url"].endswith("/qr.svg")
    assert b["phone"] == "••• ••• 678" and PHONE not in json.dumps(b)
    assert (b["checkin_from"], b["checkin_until"]) == ("09:30", "10:15")
    assert left(client)["10:00"] == 1
    assert book(client, phone="0987654321").status_code == 201
    assert left(client)["10:00"] == 0
    res = book(client, phone="0911111111")
    assert res.status_code == 409 and error(res) == "slot_full"
    assert "10:00" in res.get_json()["error"]["message"]


def test_bad_booking_input(client):
    for body, code in (
            ({"day": DAY, "start": "10:00", "phone": PHONE}, "missing_procedure"),
            ({"procedure_code": PROC, "day": "2026-13-01", "start": "10:00", "phone": PHONE},
             "bad_day"),
            ({"procedure_code": PROC, "day": "2026-12-20", "start": "10:00", "phone": PHONE},
             "bad_day"),  # beyond days_ahead
            ({"procedure_code": PROC, "day": "2026-12-06", "start": "10:00", "phone": PHONE},
             "bad_day"),  # a Sunday
            ({"procedure_code": PROC, "day": DAY, "start": "10:10", "phone": PHONE},
             "bad_slot"),
            ({"procedure_code": PROC, "day": DAY, "start": "07:30", "phone": PHONE},
             "bad_slot"),  # over
            ({"procedure_code": PROC, "day": DAY, "start": "10:00", "phone": "12345"},
             "phone_invalid"),
            ({"procedure_code": PROC, "day": DAY, "start": "10:00", "phone": PHONE,
              "id_number": "12345"}, "id_number_invalid"),
            ({"procedure_code": PROC, "day": DAY, "start": 10, "phone": PHONE},
             "validation_failed")):
        res = client.post("/api/v1/bookings", json=body)
        assert res.status_code == 422 and error(res) == code, (body, res.get_json())
        assert "(" in res.get_json()["error"]["message"]  # Vietnamese (English)
    res = client.post("/api/v1/bookings", json={"procedure_code": "9.999", "day": DAY,
                                                "start": "10:00", "phone": PHONE})
    assert res.status_code == 404 and error(res) == "unknown_procedure"


def test_limits_per_person(client):
    assert book(client, "08:30").status_code == 201
    res = book(client, "09:00", procedure_code=PROC_SAME_FIELD)  # same field, same day
    assert res.status_code == 409 and error(res) == "booking_limit"
    # another field: allowed up to 2 a day
    other = client.post("/api/v1/bookings", json={"field": "Chứng thực", "day": DAY,
                                                  "start": "09:00", "phone": "+84 912 345 678"})
    assert other.status_code == 201, other.get_json()
    third = client.post("/api/v1/bookings", json={"field": "Công chứng", "day": DAY,
                                                  "start": "09:30", "phone": PHONE})
    assert third.status_code == 409 and error(third) == "booking_limit"
    # another day is another day
    assert book(client, "08:30", day=NEXT).status_code == 201
    # by CCCD too, whatever the phone
    assert book(client, "13:30", phone="0900000001", id_number=CCCD).status_code == 201
    res = book(client, "14:00", phone="0900000002", id_number=CCCD)
    assert res.status_code == 409 and error(res) == "booking_limit"


def test_cancel_and_change(client):
    b = book(client).get_json()
    code = b["code"]
    res = client.get(f"/api/v1/bookings/{code}?phone=0999999999")
    assert res.status_code == 403 and error(res) == "booking_phone_wrong"
    res = client.get(f"/api/v1/bookings/{code.lower()}?phone={PHONE}")
    assert res.status_code == 200 and res.get_json()["status"] == "booked"
    res = client.post(f"/api/v1/bookings/{code}/change",
                      json={"phone": PHONE, "day": NEXT, "start": "14:00"})
    assert res.status_code == 200, res.get_json()
    assert (res.get_json()["day"], res.get_json()["start"]) == (NEXT, "14:00")
    assert left(client)["10:00"] == 2 and left(client, NEXT)["14:00"] == 1
    res = client.post(f"/api/v1/bookings/{code}/cancel", json={"phone": "0999999999"})
    assert res.status_code == 403
    res = client.post(f"/api/v1/bookings/{code}/cancel", json={"phone": PHONE})
    assert res.status_code == 200 and res.get_json()["status"] == "cancelled"
    assert left(client, NEXT)["14:00"] == 2
    for path, body in (("cancel", {"phone": PHONE}),
                       ("change", {"phone": PHONE, "day": DAY, "start": "10:00"})):
        res = client.post(f"/api/v1/bookings/{code}/{path}", json=body)
        assert res.status_code == 409 and error(res) == "booking_cancelled"
    # the freed place can be booked again, also by the same person
    assert book(client, "14:00", day=NEXT).status_code == 201


def test_bad_codes(client, tokens):
    for code in ("K7M3P0", "K7M3PXQ", "OOOOOO"):
        res = client.get(f"/api/v1/bookings/{code}?phone={PHONE}")
        assert res.status_code == 422 and error(res) == "booking_code_invalid", code
        res = checkin(client, tokens["kiosk-1"], code=code)
        assert res.status_code == 422 and error(res) == "booking_code_invalid"
    res = client.get(f"/api/v1/bookings/AAAAAA?phone={PHONE}")
    assert res.status_code == 404 and error(res) == "booking_not_found"
    res = checkin(client, tokens["kiosk-1"], code="AAAAAA")
    assert res.status_code == 404 and error(res) == "booking_not_found"
    res = checkin(client, tokens["kiosk-1"], id_number="1234")
    assert res.status_code == 422 and error(res) == "id_number_invalid"
    res = checkin(client, tokens["kiosk-1"], id_number=CCCD)
    assert res.status_code == 404 and error(res) == "booking_not_found"
    assert checkin(client, tokens["kiosk-1"]).status_code == 422


def test_checkin_early_on_time_used(client, tokens, clock):
    code = book(client, "10:00", id_number=CCCD).get_json()["code"]
    kiosk = tokens["kiosk-1"]
    res = checkin(client, kiosk, code=code)  # 08:00: opens at 09:30
    assert res.status_code == 409 and error(res) == "checkin_too_early"
    assert "09:30" in res.get_json()["error"]["message"]
    # a walk-in at 09:50 comes before; one at 10:05 after the booked citizen
    clock.local(DAY, "09:50")
    before = client.post("/api/v1/tickets", json={"team_id": 1}, headers=bearer(kiosk))
    clock.local(DAY, "09:45")
    key = {**bearer(kiosk), "Idempotency-Key": "checkin-1"}
    res = client.post("/api/v1/bookings/checkin", json={"code": code}, headers=key)
    assert res.status_code == 201, res.get_json()
    t = res.get_json()
    retry = client.post("/api/v1/bookings/checkin", json={"code": code}, headers=key)
    assert retry.status_code == 201 and retry.get_json()["id"] == t["id"]  # one number
    assert t["booking"] == {"code": code, "late": False, "start": "10:00", "end": "10:30"}
    assert t["channel"] == "appointment" and t["team_id"] == 1 and t["token"]
    assert datetime.fromisoformat(t["wait_from"]) == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    clock.local(DAY, "10:05")
    after = client.post("/api/v1/tickets", json={"team_id": 1}, headers=bearer(kiosk))
    res = checkin(client, kiosk, code=code)
    assert res.status_code == 409 and error(res) == "booking_used"
    res = checkin(client, kiosk, id_number=CCCD)
    assert res.status_code == 409 and error(res) == "booking_used"
    # the officer calls: the 09:50 walk-in, then the booked citizen, then the 10:05 walk-in
    officer = login(client, "canbo01", 1)
    order = []
    for _ in range(3):
        clock.now += timedelta(seconds=10)
        res = client.post("/api/v1/counters/1/call-next", headers=bearer(officer))
        assert res.status_code == 200, res.get_json()
        order.append(res.get_json()["id"])
    assert order == [before.get_json()["id"], t["id"], after.get_json()["id"]]
    res = client.get(f"/api/v1/bookings/{code}?phone={PHONE}")
    assert res.get_json()["status"] == "checked_in"


def test_checkin_by_cccd_and_late(client, tokens, clock):
    a = book(client, "08:30", id_number=CCCD).get_json()["code"]
    other = client.post("/api/v1/bookings", json={"field": "Chứng thực", "day": DAY,
                                                  "start": "10:00", "phone": "0933333333",
                                                  "id_number": CCCD}).get_json()["code"]
    b = book(client, "09:00", phone="0987654321").get_json()["code"]
    clock.local(DAY, "08:20")
    res = checkin(client, tokens["kiosk-1"], id_number=CCCD)  # the 08:30 one, not 10:00
    assert res.status_code == 201 and res.get_json()["booking"]["code"] == a
    assert res.get_json()["booking"]["late"] is False
    clock.local(DAY, "09:40")
    res = checkin(client, tokens["kiosk-1"], id_number=CCCD)
    assert res.status_code == 201 and res.get_json()["booking"]["code"] == other
    res = checkin(client, tokens["kiosk-1"], id_number=CCCD)
    assert res.status_code == 409 and error(res) == "booking_used"
    clock.local(DAY, "09:16")  # 16 minutes after the slot start: late
    officer = login(client, "canbo01", 1)
    res = checkin(client, officer, code=b)
    assert res.status_code == 201
    t = res.get_json()
    assert t["booking"]["late"] is True and t["channel"] == "kiosk"
    assert datetime.fromisoformat(t["wait_from"]) == clock.now
    status = client.get(f"/api/v1/bookings/{b}?phone=0987654321").get_json()
    assert status["status"] == "late"
    # the display may not check in, nor anonymous
    assert checkin(client, tokens["display-1"], code=b).status_code == 403
    assert client.post("/api/v1/bookings/checkin", json={"code": b}).status_code == 401


def test_unused_booking_expires_as_no_show(client, tokens, clock, app):
    code = book(client, "10:00", id_number=CCCD).get_json()["code"]
    clock.local(NEXT, "08:00")
    res = checkin(client, tokens["kiosk-1"], code=code)
    assert res.status_code == 409 and error(res) == "booking_expired"
    res = client.get(f"/api/v1/bookings/{code}?phone={PHONE}")
    assert res.get_json()["status"] == "no_show"
    store = app.extensions["qms"].store
    with store.read():
        row = store.booking(code)
        events = store.events_since("main", 0, 1000)
    assert row["status"] == "no_show" and row["id_hash"] is None  # forgotten
    expired = [e for e in events if e["type"] == "booking.expired"]
    assert [e["booking_id"] for e in expired] == [row["id"]]
    assert code not in json.dumps(events)  # the code alone checks in: never in an event
    # the next day's booking for tomorrow: too early says the day
    tomorrow = book(client, "09:00", day="2026-12-03").get_json()["code"]
    res = checkin(client, tokens["kiosk-1"], code=tomorrow)
    assert res.status_code == 409 and error(res) == "checkin_too_early"
    assert "03/12/2026" in res.get_json()["error"]["message"]


def test_person_limit_on_tickets(client, tokens):
    kiosk = bearer(tokens["kiosk-1"])
    first = client.post("/api/v1/tickets", json={"procedure_code": PROC, "id_number": CCCD},
                        headers=kiosk)
    assert first.status_code == 201
    res = client.post("/api/v1/tickets", json={"procedure_code": PROC_SAME_FIELD,
                                               "id_number": CCCD}, headers=kiosk)
    assert res.status_code == 409 and error(res) == "person_limit"
    assert "lĩnh vực" in res.get_json()["error"]["message"]
    # another field, another person, no CCCD: fine
    assert client.post("/api/v1/tickets", json={"team_id": 3, "id_number": CCCD},
                       headers=kiosk).status_code == 201
    assert client.post("/api/v1/tickets", json={"procedure_code": PROC,
                                                "id_number": "001234567891"},
                       headers=kiosk).status_code == 201
    assert client.post("/api/v1/tickets", json={"procedure_code": PROC},
                       headers=kiosk).status_code == 201
    for bad in ("12345678901", "00123456789a", 1234):
        res = client.post("/api/v1/tickets", json={"procedure_code": PROC, "id_number": bad},
                          headers=kiosk)
        assert res.status_code == 422, bad
    # a cancelled number does not count
    manager = login(client, "giamdoc")
    client.post(f"/api/v1/tickets/{first.get_json()['id']}/cancel", headers=bearer(manager))
    assert client.post("/api/v1/tickets", json={"procedure_code": PROC, "id_number": CCCD},
                       headers=kiosk).status_code == 201


def test_nothing_personal_in_ticket_and_board_views(client, tokens, clock, app):
    code = book(client, "08:30", id_number=CCCD).get_json()["code"]
    clock.local(DAY, "08:20")
    t = checkin(client, tokens["kiosk-1"], code=code).get_json()
    store = app.extensions["qms"].store
    with store.read():
        row = store.booking(code)
    secrets_ = (PHONE, PHONE[1:], CCCD, row["phone_hash"], row["id_hash"],
                store.person_salt())
    citizen = client.get(f"/api/v1/tickets/{t['token']}").get_json()
    state = client.get("/api/v1/state", headers=bearer(tokens["display-1"])).get_json()
    events = client.get("/api/v1/events", headers=bearer(tokens["display-1"])).get_json()
    board = client.get("/").get_data(as_text=True)
    for view in (json.dumps(t), json.dumps(citizen), json.dumps(state), json.dumps(events),
                 board):
        for secret in secrets_:
            assert secret not in view
    for view in (json.dumps(citizen), json.dumps(state), json.dumps(events), board):
        assert code not in view  # the code alone checks in: only the kiosk's answer has it
    issued = [e for e in events["items"] if e["type"] == "ticket.issued"]
    assert issued[-1]["booking"] == {"late": False, "start": "08:30", "end": "09:00"}
    assert "booking" not in citizen
    with store.read():
        marks = store.conn.execute("SELECT hash FROM person_marks").fetchall()
    assert [m[0] for m in marks] == [row["id_hash"]]
    # the raw numbers are nowhere in the database file
    raw = (app.extensions["qms"].data_dir / "qms.db").read_bytes()
    wal = app.extensions["qms"].data_dir / "qms.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert CCCD.encode() not in raw and PHONE.encode() not in raw


def test_manager_sees_punctuality(client, tokens, clock, app):
    on_time = book(client, "08:30").get_json()["code"]
    late = book(client, "09:00", phone="0987654321").get_json()["code"]
    book(client, "09:30", phone="0911111111")  # never comes
    cancelled = book(client, "10:00", phone="0922222222").get_json()["code"]
    client.post(f"/api/v1/bookings/{cancelled}/cancel", json={"phone": "0922222222"})
    clock.local(DAY, "08:25")
    checkin(client, tokens["kiosk-1"], code=on_time)
    clock.local(DAY, "09:20")
    checkin(client, tokens["kiosk-1"], code=late)
    clock.local(NEXT, "08:00")
    with app.test_request_context():
        from server.api.bookings import bookings as svc
        app.preprocess_request()
        rows = svc().report("main", DAY, DAY)
    assert rows == [{"day": DAY, "team_id": 1, "total": 4, "booked": 0, "checked_in": 1,
                     "late": 1, "no_show": 1, "cancelled": 1, "team_name": rows[0]["team_name"],
                     "due": 3, "punctuality": 33}]
    manager = bearer(login(client, "giamdoc"))
    res = client.get(f"/api/v1/reports/bookings?from={DAY}&to={NEXT}", headers=manager)
    assert res.status_code == 200
    assert res.get_json()["rows"] == rows
    assert res.get_json()["total"]["punctuality"] == 33
    assert client.get("/api/v1/reports/bookings",
                      headers=bearer(tokens["kiosk-1"])).status_code == 403
    page = client.get("/manager").get_data(as_text=True)
    assert 'id="sec-bookings"' in page and "manager-bookings.js" in page


def test_public_writes_are_rate_limited_and_idempotent(data_dir, clock):
    from qms.app import create_app

    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading",
                      "CLOCK": clock, "BOOKING_WRITES": 3, "BOOKING_GUESSES": 2})
    try:
        client = app.test_client()
        key = {"Idempotency-Key": "booking-1"}
        body = {"procedure_code": PROC, "day": DAY, "start": "10:00", "phone": PHONE}
        first = client.post("/api/v1/bookings", json=body, headers=key)
        again = client.post("/api/v1/bookings", json=body, headers=key)
        assert first.status_code == again.status_code == 201
        assert first.get_json()["code"] == again.get_json()["code"]  # booked once
        assert left(client)["10:00"] == 1
        other = client.post("/api/v1/bookings", json={**body, "start": "10:30"}, headers=key)
        assert other.status_code == 422 and error(other) == "idempotency_key_reused"
        res = client.post("/api/v1/bookings", json={**body, "start": "11:00"})
        assert res.status_code == 429 and error(res) == "rate_limited"
        # wrong codes and phones are guesses: limited per address
        for _ in range(2):
            assert client.get(f"/api/v1/bookings/AAAAAA?phone={PHONE}").status_code == 404
        res = client.get(f"/api/v1/bookings/{first.get_json()['code']}?phone={PHONE}")
        assert res.status_code == 429
        assert client.get("/dat-lich/AAAAAA").status_code == 429
    finally:
        app.extensions["qms"].store.close()


def test_booking_pages_answer_bad_codes(client):
    res = client.get("/dat-lich/K7M3P0")
    assert res.status_code == 422 and "không đúng" in res.get_data(as_text=True)
    res = client.get("/dat-lich/AAAAAA")
    assert res.status_code == 404 and "không đúng" in res.get_data(as_text=True)
    assert client.get("/dat-lich/AAAAAA/qr.svg").status_code == 404
    code = book(client).get_json()["code"]
    page = client.get(f"/dat-lich/{code.lower()}").get_data(as_text=True)
    assert code in page and "<svg" in page and "••• •••" not in page and PHONE not in page
    res = client.post("/dat-lich", data={"procedure_code": PROC, "day": DAY, "start": "10:30",
                                         "phone": PHONE, "nonce": "n1"})
    assert res.status_code == 422 and 'data-code="consent_missing"' in res.get_data(as_text=True)


def test_booking_configuration_is_checked():
    from server.config import from_dict
    from server.errors import ValidationFailed

    assert from_dict({"booking": {"capacity": 10, "walk_in_percent": 30}}).booking.bookable == 7
    for bad, field in (({"capacity": 0}, "booking.capacity"),
                       ({"capacity": 1, "walk_in_percent": 50}, "booking.walk_in_percent"),
                       ({"slot_minutes": "30"}, "booking.slot_minutes"),
                       ({"per_day": 11}, "booking.per_day"),
                       ({"unknown": 1}, "booking.unknown")):
        with pytest.raises(ValidationFailed) as err:
            from_dict({"booking": bad})
        assert err.value.details["field"] == field
        assert "Đặt lịch hẹn" in err.value.message


def test_change_on_the_booking_page(client):
    code = book(client).get_json()["code"]
    page = client.get(f"/dat-lich/{code}?day={NEXT}").get_data(as_text=True)
    assert 'id="change"' in page and 'data-start="14:00"' in page
    res = client.post(f"/dat-lich/{code}/doi", data={"phone": "0999999999", "day": NEXT,
                                                     "start": "14:00"})
    assert res.status_code == 403 and 'data-code="booking_phone_wrong"' in \
        res.get_data(as_text=True)
    res = client.post(f"/dat-lich/{code}/doi", data={"phone": PHONE, "day": NEXT,
                                                     "start": "14:00"})
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/dat-lich/{code}?doi=1")
    page = client.get(f"/dat-lich/{code}?doi=1").get_data(as_text=True)
    assert "Đã đổi lịch hẹn" in page and "14:00–14:30" in page and "02/12/2026" in page
    assert left(client)["10:00"] == 2 and left(client, NEXT)["14:00"] == 1
