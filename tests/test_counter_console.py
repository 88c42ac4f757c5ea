"""The officer's console and the rating screen in headless Chromium against the real
server process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import LiveServer

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
WRITE_SHOTS = os.environ.get("QMS_SCREENSHOTS") == "1"


def shot(page, name):
    if WRITE_SHOTS:
        page.screenshot(path=str(SHOTS / f"counter-{name}.png"))


def sign_in(page, server, user="canbo01", counter=1, path="/counter"):
    page.goto(f"{server.url}{path}?counter={counter}")
    page.fill("#username", user)
    page.fill("#password", "demo1234")
    if path == "/counter":
        page.fill("#counter-no", str(counter))
    page.click("#signin-form button[type=submit]")


def console(page, server, user="canbo01", counter=1):
    sign_in(page, server, user, counter)
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("window.qmsConsole.live && window.qmsConsole.live.seq !== null")
    page.wait_for_selector("#conn.ok")


def number(page):
    return page.inner_text("#t-number")


def events(server, kind=None, counters=None):
    items = server.get("/events?since=0", server.tokens["display-1"]).json()["items"]
    return [e for e in items if (kind is None or e["type"] == kind)
            and (counters is None or e["counter"] in counters)]


@pytest.fixture(scope="module")
def live_server(demo_template, tmp_path_factory):
    """One real server for the module: each test works at its own counters and teams."""
    data = tmp_path_factory.mktemp("console") / "data"
    shutil.copytree(demo_template, data)
    server = LiveServer(data).start()
    yield server
    server.stop()


def issue(server, n=1, **body):
    body = body or {"team_id": 1}
    return [server.post("/tickets", server.tokens["kiosk-1"], body).json() for _ in range(n)]


@pytest.fixture
def second_page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    yield ctx.new_page()
    ctx.close()


def test_serve_end_to_end_in_three_clicks_with_rating(live_server, page, second_page):
    t1 = issue(live_server, 1, procedure_code="1.001193")[0]
    issue(live_server, 3, team_id=1)
    rate = second_page
    sign_in(rate, live_server, path="/rate/1")
    rate.wait_for_selector("#idle:not([hidden])")
    console(page, live_server)
    assert page.inner_text("#queues tr[data-team='1'] td:nth-child(2)").startswith("4")
    shot(page, "idle")
    page.click("#btn-next")  # 1
    page.wait_for_function("document.querySelector('#t-number').textContent === '1001'")
    page.wait_for_function("document.querySelector('#t-proc').textContent.includes('khai sinh')")
    assert "Đã gọi" in page.inner_text("#t-state")
    shot(page, "called")
    page.click("[data-action=start]")  # 2
    page.wait_for_selector("#ticket.serving")
    shot(page, "serving")
    page.click("[data-action=finish]")  # 3
    page.wait_for_selector("#ticket.empty")
    rate.wait_for_selector("#ask:not([hidden])")
    assert rate.inner_text("#ask-number") == "1001"
    if WRITE_SHOTS:
        rate.screenshot(path=str(SHOTS / "counter-rate.png"))
    rate.click(".face[data-score='4']")
    rate.wait_for_selector("#thanks:not([hidden])")
    page.wait_for_function("document.querySelector('#d-ratings').textContent.includes('4.00')")
    assert page.inner_text("#d-served") == "1"
    rated = events(live_server, "ticket.rated", [1])
    assert [(e["ticket_id"], e["score"]) for e in rated] == [(t1["id"], 4)]
    # a priority ticket goes first (ratio policy); shortcut keys work
    issue(live_server, 1, team_id=1, priority="elderly")
    page.keyboard.press("F1")
    page.wait_for_function("document.querySelector('#t-number').textContent === '1005'")
    assert page.is_visible("#t-priority")
    page.keyboard.press("r")
    page.wait_for_function("document.querySelector('#msg').textContent.includes('gọi lại')")
    page.keyboard.press("s")  # serving: "next" then finishes at once (a bare call is guarded)
    page.wait_for_selector("#ticket.serving")
    page.wait_for_function("!window.qmsConsole.state.busy")  # the push can come first
    page.keyboard.press("Space")
    page.wait_for_function("document.querySelector('#t-number').textContent === '1002'")
    page.click(".lang >> nth=1")
    assert page.inner_text("#btn-next").startswith("Call next")
    shot(page, "english")


def test_transfer_no_show_pause_and_call_number(live_server, page):
    issue(live_server, 3, team_id=2)
    console(page, live_server, "canbo07", 7)
    page.keyboard.press("F1")
    page.wait_for_function("document.querySelector('#t-number').textContent === '2001'")
    # the push may show 2001 before the console's own call has answered; keys wait for it
    page.wait_for_function("!window.qmsConsole.state.busy")
    page.keyboard.press("t")
    page.select_option("#tr-team", "6")
    page.fill("#tr-note", "Hồ sơ đăng ký kinh doanh")
    shot(page, "transfer")
    page.click("[data-form=transfer] button[type=submit]")
    page.wait_for_selector("#ticket.empty")
    moved = events(live_server, "ticket.transferred", [7])[-1]
    assert (moved["to_team"], moved["note"]) == (6, "Hồ sơ đăng ký kinh doanh")
    page.click("#btn-next")
    page.wait_for_function("document.querySelector('#t-number').textContent === '2002'")
    page.wait_for_function("!window.qmsConsole.state.busy")
    page.keyboard.press("n")  # just called: the console asks first
    page.click("#noshow-ok")
    page.wait_for_selector("#ticket.empty")
    assert events(live_server, "ticket.no_show", [7])[-1]["ticket"]["number"] == 2002
    page.wait_for_function("document.querySelector('#d-noshow').textContent === '1'")
    page.keyboard.press("c")
    page.fill("#cn-number", "2002")
    page.click("[data-form=callnum] button[type=submit]")
    page.wait_for_function("document.querySelector('#t-number').textContent === '2002'")
    assert events(live_server, "ticket.called", [7])[-1]["out_of_order"] is True
    page.keyboard.press("p")
    page.click("#pause-reasons button:has-text('Họp')")
    page.wait_for_selector("#counter-status.status-paused")
    assert "Họp" in page.inner_text("#counter-status")
    assert page.is_disabled("#btn-next")
    shot(page, "paused")
    page.keyboard.press("p")
    page.wait_for_selector("#counter-status.status-open")


def test_two_consoles_never_call_the_same_ticket(live_server, page, second_page):
    issue(live_server, 12, team_id=3)
    console(page, live_server, "canbo11", 11)
    console(second_page, live_server, "canbo12", 12)
    seen = []
    for _ in range(5):
        for p in (page, second_page):  # both requests in flight at once
            p.evaluate("document.querySelector('#btn-next').click()")
        for p in (page, second_page):
            p.wait_for_function("!window.qmsConsole.state.busy")
        pair = (number(page), number(second_page))
        assert pair[0] != pair[1]
        seen.extend(pair)
        for p in (page, second_page):  # serving: the next "next" is not a double press
            p.click("[data-action=start]")
            p.wait_for_selector("#ticket.serving")
    called = [e["ticket"]["number"] for e in events(live_server, "ticket.called", [11, 12])]
    assert len(called) == len(set(called)) == 10
    assert sorted(int(n) for n in seen) == sorted(called)
    # each console also shows the other's calls in the queue count
    page.wait_for_function(
        "document.querySelector(\"#queues tr[data-team='3'] td:nth-child(2)\")"
        ".textContent.startsWith('2')")


def test_console_recovers_after_server_restart(live_server, page):
    issue(live_server, 2, team_id=4)
    console(page, live_server, "canbo15", 15)
    live_server.kill()
    page.wait_for_selector("#banner:not([hidden])")
    shot(page, "offline")
    page.click("#btn-next")  # retried with the same key while the server is down
    page.wait_for_function("document.querySelector('#msg').textContent.includes('gửi lại')")
    live_server.start()
    page.wait_for_function("document.querySelector('#t-number').textContent === '4001'",
                           timeout=15000)
    page.wait_for_selector("#banner[hidden]", state="attached", timeout=15000)
    assert len(events(live_server, "ticket.called", [15])) == 1
    issue(live_server, 1, team_id=4)  # pushed live after the reconnect
    page.wait_for_function(
        "document.querySelector(\"#queues tr[data-team='4'] td:nth-child(2)\")"
        ".textContent.startsWith('2')")


def test_rating_screen_low_score_asks_why(live_server, page):
    issue(live_server, 1, team_id=5)
    officer = live_server.login("canbo18", 18)
    sign_in(page, live_server, "canbo18", 18, path="/rate/18")
    page.wait_for_selector("#idle:not([hidden])")
    page.wait_for_function("window.qmsRate.state.live && window.qmsRate.state.live.seq !== null")
    live_server.post("/counters/18/call-next", officer)
    live_server.post("/counters/18/finish", officer)
    page.wait_for_selector("#ask:not([hidden])")
    page.click(".face[data-score='1']")
    page.wait_for_selector("#why:not([hidden])")
    shot(page, "rate-why")
    page.click(".reason:has-text('Chờ lâu')")
    page.wait_for_selector("#thanks:not([hidden])")
    page.wait_for_timeout(200)
    rated = events(live_server, "ticket.rated", [18])
    assert [(e["score"], e["reason"], e["counter"]) for e in rated] == [(1, "Chờ lâu", 18)]
