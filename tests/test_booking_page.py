"""The booking page on the phone (issue #15) in Debian Chromium against the real server
process: book, cancel, over the limit, full slot. One live server for the module."""

from __future__ import annotations

import re
import shutil

import pytest
import requests

from common import booking_code
from tools.testing import ROOT, LiveServer

SHOTS = ROOT / "docs" / "screenshots"
PHONE_SIZE = {"width": 412, "height": 915}


@pytest.fixture(scope="module")
def server(demo_template, tmp_path_factory):
    data = tmp_path_factory.mktemp("booking-page") / "data"
    shutil.copytree(demo_template, data)
    live = LiveServer(data).start()
    yield live
    live.stop()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE_SIZE, locale="vi-VN")
    pg = context.new_page()
    yield pg
    context.close()


def book_days(server) -> list[str]:
    html = requests.get(server.url + "/dat-lich", timeout=10).text
    return re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', html)


def api_book(server, day: str, start: str, phone: str, procedure="1.001193"):
    return requests.post(server.url + "/api/v1/bookings", timeout=10,
                         json={"procedure_code": procedure, "day": day, "start": start,
                               "phone": phone})


def choose(page, server, day: str, query="khai sinh", expect="Thủ tục đăng ký khai sinh"):
    """Search the procedure by name, pick the day, show the free times."""
    page.goto(server.url + "/dat-lich")
    page.fill("#q", query)
    page.click("#search")
    page.wait_for_selector("#matches")
    assert expect in page.inner_text("#matches li:first-child")
    page.select_option("#day", day)
    page.click("#show-slots")
    page.wait_for_selector("#slots")


def submit(page, start: str, phone: str, id_number: str = ""):
    page.check(f'.slot[data-start="{start}"] input')
    page.fill("#phone", phone)
    if id_number:
        page.fill("#id_number", id_number)
    page.check("#consent")
    page.click("#submit")


def test_book_then_cancel(server, phone):
    day = book_days(server)[1]  # tomorrow or later: slots left whatever the time now
    choose(phone, server, day)
    assert phone.locator(".slot").count() >= 10
    assert "còn 2 chỗ" in phone.inner_text('.slot[data-start="08:00"]')
    phone.screenshot(path=str(SHOTS / "booking-form.png"), full_page=True)
    submit(phone, "08:00", "0912 345 678", "001234567890")
    phone.wait_for_selector("#code")
    code = phone.inner_text("#code").strip()
    assert booking_code.normalise(code) == code
    assert phone.url.endswith(f"/dat-lich/{code}?moi=1")
    assert "Đặt lịch thành công" in phone.inner_text("#notice")
    assert "Đã đặt lịch" in phone.inner_text("#status")
    assert "08:00–08:30" in phone.inner_text("#time")
    assert phone.locator("#qr svg").count() == 1
    body = phone.inner_text("body")
    assert "0912" not in body and "345 678" not in body and "001234567890" not in body
    phone.screenshot(path=str(SHOTS / "booking-code.png"), full_page=True)
    # the QR's target is this page, and the image is served too
    svg = requests.get(f"{server.url}/dat-lich/{code}/qr.svg", timeout=10)
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg")
    # cancel: the wrong phone is refused, the right one cancels
    phone.fill("#cancel-phone", "0999999999")
    phone.click("#cancel-submit")
    assert "không khớp" in phone.inner_text("#error")
    phone.fill("#cancel-phone", "0912345678")
    phone.click("#cancel-submit")
    phone.wait_for_selector("#notice")
    assert "Đã huỷ lịch hẹn" in phone.inner_text("#notice")
    assert "Đã huỷ" in phone.inner_text("#status")
    assert phone.locator("#cancel").count() == 0
    # the place is free again
    choose(phone, server, day)
    assert "còn 2 chỗ" in phone.inner_text('.slot[data-start="08:00"]')


def test_over_the_limit(server, phone):
    day = book_days(server)[2]
    choose(phone, server, day)
    submit(phone, "09:00", "0977000111")
    phone.wait_for_selector("#code")
    # the same phone, the same field (Hộ tịch), the same day: refused, the form kept
    choose(phone, server, day, query="đăng ký kết hôn", expect="Thủ tục đăng ký kết hôn")
    submit(phone, "09:30", "0977000111")
    phone.wait_for_selector("#error")
    assert phone.get_attribute("#error", "data-code") == "booking_limit"
    assert "tối đa 1 lịch hẹn cho một lĩnh vực" in phone.inner_text("#error")
    assert phone.input_value("#phone") == "0977000111"
    phone.screenshot(path=str(SHOTS / "booking-limit.png"), full_page=True)


def test_full_slot(server, phone):
    day = book_days(server)[3]
    choose(phone, server, day)  # the page is open while two others take the last places
    for number in ("0966000001", "0966000002"):
        assert api_book(server, day, "10:00", number).status_code == 201
    submit(phone, "10:00", "0966000003")
    phone.wait_for_selector("#error")
    assert phone.get_attribute("#error", "data-code") == "slot_full"
    assert "đã hết chỗ" in phone.inner_text("#error")
    # shown again, the full slot is disabled and says so
    full = phone.locator('.slot[data-start="10:00"]')
    assert "Hết chỗ" in full.inner_text()
    assert full.locator("input").is_disabled()
    assert phone.locator('.slot[data-start="10:30"] input').is_enabled()
    phone.screenshot(path=str(SHOTS / "booking-full.png"), full_page=True)


def test_manager_sees_the_days_bookings(server, page):
    """The reports page's 'Lịch hẹn' section: bookings per team and day."""
    day = book_days(server)[4]
    for n, start in ((1, "13:30"), (2, "13:30"), (3, "14:00")):
        assert api_book(server, day, start, f"095500000{n}").status_code == 201
    cancelled = api_book(server, day, "14:30", "0955000009").json()["code"]
    assert requests.post(f"{server.url}/api/v1/bookings/{cancelled}/cancel", timeout=10,
                         json={"phone": "0955000009"}).status_code == 200
    page.goto(server.url + "/manager")
    page.fill("input[name=username]", "giamdoc")
    page.fill("input[name=password]", "demo-manager")
    page.click("button[type=submit]")
    page.wait_for_selector("#tabs:not([hidden])")
    page.click("#tabs button[data-tab=reports]")
    page.fill("#r-from", day)
    page.fill("#r-to", day)
    page.click("#r-load")
    page.wait_for_selector("#bookings-table tr.total")
    assert "Tổ Tư pháp" in page.inner_text("#bookings-table tbody tr:first-child")
    total = [c.strip() for c in page.locator("#bookings-table tr.total td").all_inner_texts()]
    assert total[2] == "3" and total[6] == "1" and total[7] == "–", total  # none due yet
