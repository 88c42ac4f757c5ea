"""The phone's dossier lookup page `/tra-cuu` (server/lookup/): headless Debian Chromium
(Playwright) on the real `qms serve` process, pointed at the emulator run as a real process."""

from __future__ import annotations

import shutil

import pytest
import requests

from tests.conftest import ROOT, LiveServer
from tools.dossier_emulator import DEMO_KEYS, DossierEmulator, point_hall_at

READY = "000.00.12.H99-251104-0004"
STATUS_VI = {"000.00.12.H99-251103-0001": "Đã tiếp nhận",
             "000.00.12.H99-251103-0002": "Đang xử lý",
             "000.00.12.H99-251104-0003": "Chờ bổ sung",
             READY: "Đã có kết quả / chờ trả",
             "000.00.12.H99-251105-0005": "Đã trả kết quả",
             "000.00.12.H99-251105-0006": "Từ chối"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    em = DossierEmulator(tmp_path_factory.mktemp("emulator") / "emulator.log").start()
    yield em
    em.stop()


@pytest.fixture(scope="module")
def hall(demo_template, tmp_path_factory, emulator):
    data = tmp_path_factory.mktemp("lookup-page") / "data"
    shutil.copytree(demo_template, data)
    point_hall_at(data, emulator.base_url, timeout_s=1.0, cache_s=0, breaker_failures=5)
    server = LiveServer(data).start()
    yield server
    server.stop()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN",
                                  is_mobile=True, has_touch=True)
    pg = context.new_page()
    yield pg
    context.close()


def test_look_up_and_take_a_result_number(hall, phone):
    res = phone.goto(hall.url + "/tra-cuu")
    assert res.status == 200
    assert "Tra cứu hồ sơ" in phone.locator("h1").inner_text()
    assert phone.locator(".demo").is_visible()  # the emulator's data is marked as such
    # typed the way people type: lower case, spaces, the letter O for zeros
    phone.fill("#ma", "ooo.oo.12.h99 251104 ooo4")
    phone.fill("#key", "e9px4k")
    phone.click("#lookup")
    assert phone.locator("#status").inner_text() == "Đã có kết quả / chờ trả"
    assert phone.locator("#procedure").inner_text() == "Cấp bản sao trích lục hộ tịch"
    assert READY in phone.locator("#dossier h2").inner_text()
    phone.click("#take-number")
    number = phone.locator("#ticket-number").inner_text()
    assert 8001 <= int(number) <= 8999
    assert "Trả kết quả" in phone.locator("#ticket").inner_text()
    assert phone.locator("#take-number").count() == 0
    phone.screenshot(path=str(ROOT / "docs" / "screenshots" / "dossier-lookup-phone.png"),
                     full_page=True)
    href = phone.locator("#ticket-link").get_attribute("href")
    assert href.startswith("/t/")
    ticket = requests.get(hall.url + "/api/v1/tickets/" + href[3:], timeout=5).json()
    assert str(ticket["number"]) == number and ticket["team_id"] == 8


def test_every_status_shown_in_vietnamese(hall, phone):
    for code, vi in STATUS_VI.items():
        res = phone.goto(f"{hall.url}/tra-cuu?ma={code}&key={DEMO_KEYS[code]}")
        assert res.status == 200
        assert phone.locator("#status").inner_text() == vi
        can_take = phone.locator("#take-number").count() == 1
        assert can_take == (code == READY)


def test_receipt_qr_link(hall, phone):
    code = "000.00.12.H99-251105-0006"
    res = phone.goto(f"{hall.url}/tra-cuu/{code}?key={DEMO_KEYS[code]}")
    assert res.status == 200
    assert phone.locator("#status").inner_text() == "Từ chối"


@pytest.mark.parametrize("query,status,code", [
    (f"ma={READY}&key=WRONG1", 403, "dossier_key_wrong"),
    ("ma=K7M3PX&key=ABCDEF", 422, "dossier_code_invalid"),
    ("ma=000.00.12.H99-251103-0999&key=ABCDEF", 404, "dossier_not_found"),
])
def test_bad_input_shows_a_clear_message(hall, phone, query, status, code):
    res = phone.goto(f"{hall.url}/tra-cuu?{query}")
    assert res.status == status
    error = phone.locator("#error")
    assert error.get_attribute("data-code") == code
    assert "Không tra cứu được" in error.inner_text()
    assert phone.locator("#dossier").count() == 0
    assert "Cấp bản sao" not in phone.content()


def test_system_down_shows_a_clear_message(hall, emulator, phone):
    emulator.control(mode="down")
    try:
        code = "000.00.12.H99-251103-0002"
        res = phone.goto(f"{hall.url}/tra-cuu?ma={code}&key={DEMO_KEYS[code]}")
        assert res.status == 503
        assert "tạm thời không trả lời" in phone.locator("#error").inner_text()
    finally:
        emulator.control(mode="normal")
