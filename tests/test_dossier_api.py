"""Dossier lookup API (server/api/dossiers.py, server/dossiers/): the real `qms serve` process
pointed at the OpenCPS-style emulator (tools/dossier_emulator.py) run as a real process.

One server and one emulator for the module. Every test speaks from its own client address
(X-Forwarded-For from the trusted 127.0.0.1), so the per-address rate limit of one test does
not touch another; the tests that break the emulator run last and put it back."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import requests

from tests.conftest import LiveServer, bearer
from tools.dossier_emulator import DEMO_DOSSIERS, DEMO_KEYS, DossierEmulator, point_hall_at

TIMEOUT_S = 1.0
BREAKER_OPEN_S = 1
RATE = 12
RESULT_TEAM = 8

BY_STATUS = {  # our status -> a demo dossier in it
    "received": "000.00.12.H99-251103-0001", "processing": "000.00.12.H99-251103-0002",
    "supplement": "000.00.12.H99-251104-0003", "ready": "000.00.12.H99-251104-0004",
    "returned": "000.00.12.H99-251105-0005", "rejected": "000.00.12.H99-251105-0006",
}
VI = {"received": "Đã tiếp nhận", "processing": "Đang xử lý", "supplement": "Chờ bổ sung",
      "ready": "Đã có kết quả / chờ trả", "returned": "Đã trả kết quả", "rejected": "Từ chối"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    em = DossierEmulator(tmp_path_factory.mktemp("emulator") / "emulator.log").start()
    yield em
    em.stop()


@pytest.fixture(scope="module")
def hall(demo_template, tmp_path_factory, emulator):
    data = tmp_path_factory.mktemp("dossier-hall") / "data"
    shutil.copytree(demo_template, data)
    point_hall_at(data, emulator.base_url, result_team=RESULT_TEAM, timeout_s=TIMEOUT_S,
                  rate_per_minute=RATE, cache_s=0, breaker_failures=2,
                  breaker_open_s=BREAKER_OPEN_S)
    server = LiveServer(data, env={"QMS_TRUSTED_PROXIES": "127.0.0.1"}).start()
    yield server
    server.stop()


_addresses = iter(range(1, 250))


@pytest.fixture
def addr():
    """A fresh client address for this test."""
    return {"X-Forwarded-For": f"198.51.100.{next(_addresses)}"}


def lookup(hall, code, key=None, headers=None, timeout=10):
    params = {"key": key} if key is not None else {}
    return requests.get(f"{hall.url}/api/v1/dossiers/{code}", params=params,
                        headers=headers or {}, timeout=timeout)


def take(hall, code, key, headers=None):
    return requests.post(f"{hall.url}/api/v1/dossiers/{code}/ticket", json={"key": key},
                         headers=headers or {}, timeout=10)


def error_code(res) -> str:
    return res.json()["error"]["code"]


# -- statuses --------------------------------------------------------------------------------
@pytest.mark.parametrize("status", list(BY_STATUS))
def test_every_status(hall, addr, status):
    code = BY_STATUS[status]
    res = lookup(hall, code, DEMO_KEYS[code].lower(), addr)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body == {
        "code": code, "status": status, "status_vi": VI[status], "status_en": body["status_en"],
        "procedure": DEMO_DOSSIERS[code]["serviceName"], "received_on": body["received_on"],
        "due_on": body["due_on"], "result_ready": status == "ready",
        "can_take_number": status == "ready"}
    assert body["received_on"] == f"20{code[14:16]}-{code[16:18]}-{code[18:20]}"
    assert res.headers["Cache-Control"] == "no-store"
    # nothing personal ever leaves the hall: the applicant's name is not in the answer
    assert DEMO_DOSSIERS[code]["applicantName"] not in res.text


def test_code_typed_loosely_is_normalised(hall, addr):
    res = lookup(hall, "ooo.oo.12.h99 251104 ooo4", "e9px-4k", addr)
    assert res.status_code == 200
    assert res.json()["code"] == BY_STATUS["ready"]


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, "", "WRONG1", "E9PX4", "E9PX4KK"])
def test_wrong_or_missing_key_is_403_and_shows_nothing(hall, addr, key):
    code = BY_STATUS["ready"]
    res = lookup(hall, code, key, addr)
    assert res.status_code == 403
    assert error_code(res) == "dossier_key_wrong"
    assert "Mã tra cứu không đúng" in res.json()["error"]["message"]
    for secret in ("Cấp bản sao", "E9PX4K", "releasing", "2025"):
        assert secret not in res.text


@pytest.mark.parametrize("code", ["K7M3PX", "000.00.12.H99-251131-0001",
                                  "000.00.12.H99-251103-001", "000.00.12.H99-991231-0001",
                                  "x" * 81])
def test_invalid_code_is_422(hall, addr, code):
    res = lookup(hall, code, "A7KM3P", addr)
    assert res.status_code == 422
    assert error_code(res) == "dossier_code_invalid"
    assert res.json()["error"]["message"].startswith("Mã hồ sơ không hợp lệ")


def test_unknown_code_is_404(hall, addr):
    res = lookup(hall, "000.00.12.H99-251103-0999", "A7KM3P", addr)
    assert res.status_code == 404
    assert error_code(res) == "dossier_not_found"


def test_rate_limited_per_client_address(hall, addr):
    code = BY_STATUS["received"]
    codes = [lookup(hall, code, DEMO_KEYS[code], addr).status_code for _ in range(RATE + 2)]
    assert codes[:RATE] == [200] * RATE
    assert codes[RATE:] == [429, 429]
    res = lookup(hall, code, DEMO_KEYS[code], addr)
    assert error_code(res) == "rate_limited" and res.headers.get("Retry-After")
    # another address is not limited by this one
    other = {"X-Forwarded-For": "203.0.113.77"}
    assert lookup(hall, code, DEMO_KEYS[code], other).status_code == 200


def test_wrong_keys_for_one_dossier_are_limited_from_any_address(hall):
    code = BY_STATUS["rejected"]
    codes = [lookup(hall, code, f"GUES{i:02d}", {"X-Forwarded-For": f"192.0.2.{i}"}).status_code
             for i in range(11)]
    assert codes == [403] * 10 + [429]
    # even the right key waits now: the guesser cannot learn it by trying on
    res = lookup(hall, code, DEMO_KEYS[code], {"X-Forwarded-For": "192.0.2.200"})
    assert res.status_code == 429


# -- the result-return number ----------------------------------------------------------------
def test_result_ticket_from_the_phone_then_the_kiosk_is_one_ticket(hall, addr):
    code = "000.00.12.H99-251106-0007"
    res = take(hall, code, DEMO_KEYS[code], addr)
    assert res.status_code == 201, res.text
    ticket = res.json()
    assert ticket["team_id"] == RESULT_TEAM and ticket["channel"] == "web"
    assert 8001 <= ticket["number"] <= 8999 and ticket["token"]
    again = take(hall, code, DEMO_KEYS[code],
                 {**addr, **bearer(hall.tokens["kiosk-1"])})
    assert again.status_code == 201
    assert again.json()["number"] == ticket["number"]
    # the ticket is a real one: the phone page of the number answers
    assert requests.get(f"{hall.url}/api/v1/tickets/{ticket['token']}", timeout=5).ok


def test_result_ticket_from_the_kiosk(hall, addr):
    code = "000.00.12.H99-251110-0011"
    res = take(hall, code, DEMO_KEYS[code], {**addr, **bearer(hall.tokens["kiosk-1"])})
    assert res.status_code == 201, res.text
    assert res.json()["channel"] == "kiosk" and res.json()["team_id"] == RESULT_TEAM


def test_result_ticket_refused(hall, addr):
    code = BY_STATUS["processing"]
    res = take(hall, code, DEMO_KEYS[code], addr)
    assert res.status_code == 409 and error_code(res) == "dossier_not_ready"
    ready = BY_STATUS["ready"]
    res = take(hall, ready, "WRONG1", addr)
    assert res.status_code == 403 and error_code(res) == "dossier_key_wrong"
    res = take(hall, ready, DEMO_KEYS[ready], {**addr, "Authorization": "Bearer nope"})
    assert res.status_code == 401


def test_openapi_lists_the_routes(hall):
    paths = requests.get(hall.url + "/api/v1/openapi.json", timeout=5).json()["paths"]
    assert "get" in paths["/api/v1/dossiers/{code}"]
    assert "post" in paths["/api/v1/dossiers/{code}/ticket"]


# -- the information system failing (last: these switch the emulator) ------------------------
def _wait_breaker_closed(hall, emulator):
    """The emulator back to normal and the breaker closed (a successful trial)."""
    emulator.control(mode="normal")
    time.sleep(BREAKER_OPEN_S + 0.2)
    code = BY_STATUS["received"]
    res = lookup(hall, code, DEMO_KEYS[code], {"X-Forwarded-For": "203.0.113.200"})
    assert res.status_code == 200


@pytest.mark.parametrize("mode", ["down", "drop", "malformed", "huge"])
def test_system_failing_is_503(hall, emulator, addr, mode):
    emulator.control(mode=mode)
    try:
        code = BY_STATUS["processing"]
        started = time.monotonic()
        res = lookup(hall, code, DEMO_KEYS[code], addr)
        assert res.status_code == 503
        assert error_code(res) == "dossier_service_unavailable"
        assert res.json()["error"]["message"].startswith("Hệ thống tra cứu hồ sơ tạm thời")
        assert time.monotonic() - started < TIMEOUT_S
    finally:
        _wait_breaker_closed(hall, emulator)


def test_slow_system_is_503_within_the_timeout_and_the_queue_keeps_serving(hall, emulator,
                                                                           addr):
    emulator.control(mode="slow", delay_s=8)
    kiosk = bearer(hall.tokens["kiosk-1"])
    answers: list[tuple[int, float]] = []

    def slow_lookup():
        started = time.monotonic()
        code = BY_STATUS["supplement"]
        res = lookup(hall, code, DEMO_KEYS[code], addr)
        answers.append((res.status_code, time.monotonic() - started))

    try:
        worker = threading.Thread(target=slow_lookup)
        worker.start()
        time.sleep(0.1)
        issue_times = []
        while worker.is_alive():  # the hall issues numbers while the lookup waits
            started = time.monotonic()
            res = requests.post(hall.url + "/api/v1/tickets", json={"team_id": 1},
                                headers=kiosk, timeout=5)
            assert res.status_code == 201
            issue_times.append(time.monotonic() - started)
            time.sleep(0.05)
        worker.join()
        (status, took), = answers
        assert status == 503
        assert TIMEOUT_S - 0.1 < took < TIMEOUT_S + 0.5
        assert len(issue_times) >= 5 and max(issue_times) < 0.5, issue_times
        # a second failure opens the breaker: the next lookup is refused at once, without
        # calling the system
        lookup(hall, BY_STATUS["supplement"], "D6HJ7N", addr)
        before = emulator.control()["lookups"]
        started = time.monotonic()
        res = lookup(hall, BY_STATUS["supplement"], "D6HJ7N", addr)
        assert res.status_code == 503 and time.monotonic() - started < 0.3
        assert emulator.control()["lookups"] == before
        # after breaker_open_s the system is tried again, and it is back
        _wait_breaker_closed(hall, emulator)
        assert lookup(hall, BY_STATUS["supplement"], "D6HJ7N", addr).status_code == 200
    finally:
        emulator.control(mode="normal")


def test_list_form_answer(hall, emulator, addr):
    emulator.control(mode="list")
    try:
        code = BY_STATUS["returned"]
        res = lookup(hall, code, DEMO_KEYS[code], addr)
        assert res.status_code == 200 and res.json()["status"] == "returned"
    finally:
        emulator.control(mode="normal")


def test_demo_starts_the_emulator_and_points_the_hall_at_it(demo_template, tmp_path):
    """`qms demo`'s first step (tools/demo_run.py): the emulator process, and `[dossier]`
    of the demo centre pointed at it, with the result-return team 8."""
    from server import config as centre_config
    from tools.demo_run import Demo

    data = tmp_path / "demo"
    shutil.copytree(demo_template, data)
    demo = Demo(data, "127.0.0.1", 5999, simulate=False, kiosk=False)
    try:
        demo.start_dossier_emulator()
        settings = centre_config.load(data).dossier
        assert settings.adapter == "emulator" and settings.result_team == RESULT_TEAM
        assert settings.base_url == demo.dossier_url + "/o/rest/v2"
        code = BY_STATUS["ready"]
        res = requests.get(f"{settings.base_url}/dossiers/{code}", timeout=5)
        assert res.json()["password"] == DEMO_KEYS[code]
        # found by its data folder like the demo's other processes (pid file, command line)
        pid = int((data / "dossier-emulator.pid").read_text())
        assert pid == demo.children["dossier-emulator"].pid
    finally:
        demo.stop()
    assert demo.children["dossier-emulator"].poll() is not None
    assert not (data / "dossier-emulator.pid").exists()
