"""The counter console at 1024x768 and the rating tablet at 1280x800 (issue #16, demo and
console): the queue on screen without scrolling, a no-show soon after the call asks first and
explains, the rating tablet's Vietnamese lines never smaller than the English ones and its
faces filling most of the screen. Headless Chromium against the real server process."""

from __future__ import annotations

import shutil

import pytest
from test_counter_console import SHOTS, WRITE_SHOTS, console, events, issue, sign_in

from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def live_server(demo_template, tmp_path_factory):
    data = tmp_path_factory.mktemp("layout") / "data"
    shutil.copytree(demo_template, data)
    server = LiveServer(data).start()
    yield server
    server.stop()


def sized(browser, width, height):
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    return ctx, ctx.new_page()


def box(page, selector):
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); "
                                           "return {top: r.top, bottom: r.bottom, left: r.left,"
                                           " right: r.right}; }")


def font_px(page, selector):
    return page.eval_on_selector_all(
        selector, "els => els.filter(e => e.offsetParent !== null || "
                  "getComputedStyle(e).position === 'fixed')"
                  ".map(e => parseFloat(getComputedStyle(e).fontSize))")


def test_console_at_1024x768_shows_the_queue_and_asks_before_a_quick_no_show(live_server,
                                                                             browser):
    ctx, page = sized(browser, 1024, 768)
    try:
        issue(live_server, 3, team_id=3)
        console(page, live_server, "canbo11", 11)
        page.wait_for_selector("#queues tr[data-team='3']")
        page.wait_for_function(
            "document.querySelector('#queues tr[data-team=\"3\"] td.n').textContent === '3'")
        # everything on one screen: no scrolling, the queue card and the big button visible
        assert page.evaluate("document.scrollingElement.scrollHeight") <= 768
        assert box(page, "table.queues")["bottom"] <= 768
        assert box(page, "#btn-next")["bottom"] <= 768
        assert box(page, "aside.side")["left"] > box(page, "section.serve")["left"]
        team = page.inner_text("#queues tr[data-team='3'] td")
        assert team.startswith("Tổ Đăng ký kinh doanh") and team.count("Tổ") == 1, team
        page.keyboard.press("F1")
        page.wait_for_function("document.querySelector('#t-number').textContent === '3001'")
        page.wait_for_function("!window.qmsConsole.state.busy")
        page.keyboard.press("n")  # at 0:00: a question and why, not a no-show
        page.wait_for_selector("#dlg-noshow:not([hidden])")
        why = page.inner_text("#noshow-why")
        assert "3001" in why and "Gọi lại" in why and "trên đường tới quầy" in why, why
        assert page.text_content("#dlg-noshow h2") == "Đánh dấu vắng mặt?"
        if WRITE_SHOTS:
            page.screenshot(path=str(SHOTS / "counter-noshow-confirm-1024.png"))
        page.click("#dlg-noshow .cancel")
        page.wait_for_selector("#dlg-noshow", state="hidden")
        assert not events(live_server, "ticket.no_show", [11])
        page.click("[data-action=no-show]")  # the button asks too
        page.wait_for_selector("#dlg-noshow:not([hidden])")
        page.click("#noshow-recall")  # the advised way: call again
        page.wait_for_function("!window.qmsConsole.state.busy")
        assert events(live_server, "ticket.recalled", [11])[-1]["ticket"]["number"] == 3001
        page.keyboard.press("n")
        page.wait_for_selector("#dlg-noshow:not([hidden])")
        page.click("#noshow-ok")
        page.wait_for_selector("#ticket.empty")
        assert events(live_server, "ticket.no_show", [11])[-1]["ticket"]["number"] == 3001
        if WRITE_SHOTS:
            page.screenshot(path=str(SHOTS / "counter-console-1024.png"))
    finally:
        ctx.close()


def test_rating_tablet_1280x800_vietnamese_first_and_big_faces(live_server, browser):
    ctx, page = sized(browser, 1280, 800)
    try:
        issue(live_server, 1, team_id=3)
        officer = live_server.login("canbo12", 12)
        sign_in(page, live_server, "canbo12", 12, path="/rate/12")
        page.wait_for_selector("#idle:not([hidden])")
        page.wait_for_function(
            "window.qmsRate.state.live && window.qmsRate.state.live.seq !== null")
        vi = font_px(page, "#idle h1, #idle p.vi")
        en = font_px(page, "#idle .en")
        assert vi and en and min(vi) >= max(en), (vi, en)
        live_server.post("/counters/12/call-next", officer)
        live_server.post("/counters/12/finish", officer)
        page.wait_for_selector("#ask:not([hidden])")
        assert min(font_px(page, "#ask h1")) >= max(font_px(page, "#ask .en"))
        assert min(font_px(page, ".face b")) >= max(font_px(page, ".face small"))
        faces = page.eval_on_selector_all(".face", "els => els.map(e => { "
                                          "const r = e.getBoundingClientRect(); "
                                          "return [r.left, r.top, r.right, r.bottom]; })")
        left, top = min(f[0] for f in faces), min(f[1] for f in faces)
        right, bottom = max(f[2] for f in faces), max(f[3] for f in faces)
        assert bottom <= 800 and top >= 0  # all on screen
        assert (right - left) >= 0.9 * 1280 and (bottom - top) >= 0.55 * 800, faces
        area = sum((f[2] - f[0]) * (f[3] - f[1]) for f in faces)
        assert area >= 0.5 * 1280 * 800, area
        if WRITE_SHOTS:
            page.screenshot(path=str(SHOTS / "counter-rate.png"))
        page.click(".face[data-score='4']")
        page.wait_for_selector("#thanks:not([hidden])")
    finally:
        ctx.close()
