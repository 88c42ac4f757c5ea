"""The kiosk's visit logic without Kivy (kiosk/visit.py): scan routing, the scanned card held
for one visit, one Idempotency-Key per intent, the booking code and dossier forms."""

from __future__ import annotations

from datetime import date
from itertools import count

import pytest

from common.cccd import classify_scan
from kiosk.settings import KioskSettings
from kiosk.visit import (
    BACKSPACE,
    CLEAR,
    CodeEntry,
    Command,
    DossierForm,
    FormError,
    Person,
    booking_line,
    dossier_lines,
    offers_elderly,
    route_scan,
)

TODAY = date(2026, 11, 30)
ELDER = "001058001234|012345678|Lê Văn Tư|00001958|Nam|Xã Đông Anh, Hà Nội|10102021"
YOUNG = "079303001122||Trần Thị B|15062003|Nữ|Phường 1, Quận 3|20042021"


def route(text: str, screen: str = "home"):
    return route_scan(classify_scan(text, TODAY), screen)


def test_scans_go_where_they_belong():
    assert route("K7M3PX") == ("checkin", {"code": "K7M3PX"})
    assert route("https://hcc.example.gov.vn/dat-lich/K7M3PX", "lookup") == (
        "checkin", {"code": "K7M3PX"})
    action, args = route(ELDER, "checkin")
    assert action == "checkin" and args == {"id_number": "001058001234"}
    action, args = route(ELDER, "home")
    assert action == "person" and args["card"].number == "001058001234"
    assert route("https://x.gov.vn/tra-cuu?ma=000.00.12.H99-251104-0004&key=e9px4k") == (
        "lookup", {"code": "000.00.12.H99-251104-0004", "key": "E9PX4K"})
    action, args = route(ELDER[:30], "checkin")
    assert action == "error" and args["error"].code == "partial"
    action, args = route("xin chào")
    assert action == "error" and args["error"].code == "not_cccd"


def test_the_person_line_is_masked_and_the_elderly_offer_follows_age_and_settings():
    elder = Person(classify_scan(ELDER, TODAY).card, TODAY, 60)
    assert elder.line("vi") == "Đã quét CCCD ********1234 · L** V** T** · 68 tuổi"
    assert elder.line("en") == "ID card scanned ********1234 · L** V** T** · age 68"
    assert offers_elderly(elder, ["elderly", "disabled"])
    assert not offers_elderly(elder, ["disabled"])          # the kiosk does not offer it
    assert not offers_elderly(Person(elder.card, TODAY, 70), ["elderly"])
    young = Person(classify_scan(YOUNG, TODAY).card, TODAY)
    assert not offers_elderly(young, ["elderly"]) and not offers_elderly(None, ["elderly"])


def test_elderly_age_setting_is_bounded():
    assert KioskSettings(token="t").elderly_age == 60
    KioskSettings(token="t", elderly_age=65).validate()
    with pytest.raises(ValueError):
        KioskSettings(token="t", elderly_age=12).validate()


def test_one_key_per_intent_reused_after_a_lost_answer():
    keys = count(1)
    cmd = Command(lambda: f"k{next(keys)}")
    assert cmd.begin(("code", "K7M3PX")) == "k1"
    assert cmd.begin(("code", "K7M3PX")) is None and cmd.ignored == 1   # a double tap
    cmd.failed(retry_same=True)                       # no answer: it may have happened
    assert cmd.begin(("code", "K7M3PX")) == "k1" and cmd.attempts == 2
    cmd.failed(retry_same=False)                      # refused (404, 409): a new intent
    assert cmd.begin(("code", "K7M3PX")) == "k2"
    cmd.failed(retry_same=True)
    assert cmd.begin(("id", "001058001234")) == "k3"  # another intent, another key
    cmd.succeeded()
    assert cmd.begin(("id", "001058001234")) == "k4"


def test_booking_code_entry_takes_only_the_code_alphabet():
    entry = CodeEntry()
    for key in "K7MB3O2PXY":        # B, O and 2 are not in the alphabet
        entry.press(key)
    assert entry.text == "K7M3PX" and entry.shown == "K7M-3PX" and entry.code == "K7M3PX"
    entry.press(BACKSPACE)
    assert entry.code is None and entry.shown == "K7M-3P"
    entry.press(CLEAR)
    assert entry.text == "" and entry.shown == ""


def test_dossier_form_checks_code_and_key():
    form = DossierForm()
    for ch in "ooo.00.12.h99-251104-ooo4":
        form.press(ch)
    with pytest.raises(FormError) as exc:
        form.check(TODAY)
    assert exc.value.key == "lookup_bad_key"
    form.field = "key"
    for ch in "e9px4k/":              # "/" is not a key character
        form.press(ch)
    assert form.check(TODAY) == ("000.00.12.H99-251104-0004", "E9PX4K")
    form.field = "code"
    form.press(CLEAR)
    form.press("X")
    with pytest.raises(FormError) as exc:
        form.check(TODAY)
    assert exc.value.key == "lookup_bad_code"
    form.fill("000.00.12.H99-251104-0004", None)       # a receipt QR without the key
    assert form.field == "key" and form.key_text == ""
    for _ in range(60):
        form.press("1")
    assert len(form.key_text) == 12


def test_wording_of_a_booking_and_a_dossier():
    ticket = {"booking": {"code": "K7M3PX", "start": "08:00", "end": "08:30", "late": False}}
    assert booking_line(ticket) == "Lịch hẹn 08:00–08:30"
    ticket["booking"]["late"] = True
    assert "đến muộn" in booking_line(ticket) and booking_line({}) == ""
    lines = dossier_lines({"status": "ready", "status_vi": "Đã có kết quả / chờ trả",
                           "status_en": "Result ready", "procedure": "Đăng ký kết hôn",
                           "received_on": "2025-11-06", "due_on": "2025-11-13"})
    assert lines == ["Tình trạng: Đã có kết quả / chờ trả", "Thủ tục: Đăng ký kết hôn",
                     "Ngày tiếp nhận: 06/11/2025", "Ngày hẹn trả: 13/11/2025"]
