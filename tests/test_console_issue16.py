"""Console and pages (issue #16): a favicon on every page (no 404), a paused counter's empty
card says how to carry on, the ticket card names its team once."""

from __future__ import annotations

from test_counter_console import console, issue


def test_favicon_and_paused_card_and_team_once(live_server, page):
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    issue(live_server, 1, team_id=1)
    console(page, live_server, "canbo01", 1)
    page.keyboard.press("p")
    page.click("#pause-reasons button:has-text('Họp')")
    page.wait_for_selector("#counter-status.status-paused")
    page.wait_for_selector("#ticket.empty")
    state = page.inner_text("#t-state")
    assert "Gọi số tiếp theo" not in state and "Tiếp tục" in state, state
    page.keyboard.press("p")
    page.wait_for_selector("#counter-status.status-open")
    assert "Gọi số tiếp theo" in page.inner_text("#t-state")
    page.click("#btn-next")
    page.wait_for_function("document.querySelector('#t-number').textContent === '1001'")
    team = page.inner_text("#t-team")
    assert team.startswith("Tổ ") and team.count("Tổ") == 1, team
    for path in ("/display", "/counter", "/favicon.ico"):
        res = page.goto(live_server.url + path)
        assert res.status == 200, path
    page.wait_for_timeout(500)
    assert not missing, missing
