"""What visitors and managers see (issue #16, pages), in headless Chromium against one real
server process for the module:

- honest waits: with no counter of a team open, the board says "Chưa có quầy mở" instead of
  a wait, the phone says no wait can be estimated, the manager's dashboard alerts; once a
  counter opens, all three show a wait again;
- reports in words: procedure and site names, Vietnamese dates, "đã phục vụ", a one-day
  chart of hourly bars, whole team names on the chart, Vietnamese XLSX title and sheets;
- the admin page: teams chosen by name, whole team names, a refused change explained in
  Vietnamese first with no uncaught JavaScript error, the audit log as old -> new;
- no page asks for anything that answers 404 (the favicon included).
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import requests
from test_display_routes import open_display
from test_manager_browser import sign_in

from tools.testing import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TEAM = 4  # "Tổ Xây dựng – Giao thông": counters 10, 15, 16, 17
TEAM_NAME = "Tổ Xây dựng – Giao thông"
KHAI_SINH = ("1.001193", "Thủ tục đăng ký khai sinh")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.fixture(scope="module")
def server(demo_template, tmp_path_factory):
    data = tmp_path_factory.mktemp("pages16") / "data"
    shutil.copytree(demo_template, data)
    live = LiveServer(data).start()
    yield live
    live.stop()


@pytest.fixture
def watched(browser):
    """A browser context whose pages' uncaught errors and 404 answers are collected."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    errors: list[str] = []
    missing: list[str] = []

    def watch(page):
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    context.on("page", watch)
    yield context, errors, missing
    context.close()


def test_no_open_counter_shows_no_wait_on_board_phone_and_dashboard(server, watched):
    context, errors, missing = watched
    kiosk = server.tokens["kiosk-1"]
    for _ in range(2):
        res = server.post("/tickets", kiosk, {"team_id": TEAM})
        assert res.status_code == 201
    mine = res.json()
    assert mine["no_counter_open"] is True and mine["estimated_wait_s"] is None

    board = context.new_page()
    open_display(board, server)
    row = f'#teams tr[data-team="{TEAM}"]'
    board.wait_for_selector(f"{row}.no-counter")
    assert board.inner_text(f"{row} td.w") == "2"
    assert board.inner_text(f"{row} td.est") == "Chưa có quầy mở"
    assert "phút" not in board.inner_text("#teams")  # no team has a counter open yet
    clipped = board.evaluate("[...document.querySelectorAll('#teams td.est')]"
                             ".filter(e => e.scrollWidth > e.clientWidth + 1).length")
    assert clipped == 0  # the words fit their column

    phone = context.new_page()
    phone.goto(f"{server.url}/t/{mine['token']}")
    phone.wait_for_function("window.qmsTicket && window.qmsTicket.mode === 'socket'")
    assert phone.is_visible("#noCounter") and not phone.is_visible("#waitCard")
    assert ("Hiện chưa có quầy nào của tổ này mở — thời gian chờ chưa ước tính được"
            in phone.inner_text("#noCounter"))

    manager = context.new_page()
    sign_in(manager, server.url + "/manager", "giamdoc", "demo-manager")
    manager.wait_for_selector("#alerts li.no_counter")
    alerts = manager.locator("#alerts li.no_counter").all_inner_texts()
    assert f"{TEAM_NAME}: 2 người chờ, không có quầy nào mở" in "\n".join(alerts), alerts
    assert "Không có cảnh báo" not in manager.inner_text("#alerts")
    team_row = f'#team-table tr[data-team="{TEAM}"]'
    assert "no-counter" in manager.get_attribute(team_row, "class")
    assert "(0 mở · open)" in manager.inner_text(team_row)

    # counter 15 opens: its officer calls the first number; the second waits with a wait
    officer = server.login("canbo15", 15)
    assert server.post("/counters/15/call-next", officer).status_code == 200
    board.wait_for_function(
        f"!document.querySelector('{row}').classList.contains('no-counter') && "
        f"/~\\d+ phút/.test(document.querySelector('{row} td.est').textContent)")
    phone.wait_for_function("document.getElementById('noCounter').hidden && "
                            "/~\\d+ phút/.test(document.getElementById('wait').textContent)")
    assert phone.is_visible("#waitCard")
    manager.wait_for_function("!document.querySelector('#alerts li.no_counter')")
    assert "(1 mở · open)" in manager.inner_text(team_row)
    # the board's other teams still say so (none of their counters is open)
    assert board.locator("#teams tr.no-counter").count() == 7
    assert errors == [] and missing == []


def hall_day(server) -> None:
    """Two citizens for the birth registration, one rating it low; one for team 2."""
    kiosk = server.tokens["kiosk-1"]
    officer = server.login("canbo01", 1)
    for _ in range(2):
        assert server.post("/tickets", kiosk,
                           {"procedure_code": KHAI_SINH[0]}).status_code == 201
    assert server.post("/tickets", kiosk, {"team_id": 2}).status_code == 201
    for score in (2, 4):
        t = server.post("/counters/1/call-next", officer).json()
        server.post("/counters/1/start", officer)
        server.post("/counters/1/finish", officer)
        server.post(f"/tickets/{t['id']}/rating", server.tokens["bridge-1"],
                    {"score": score, "reason": "Chờ lâu" if score == 2 else ""})


def test_reports_speak_in_names_and_vietnamese_dates(server, watched, tmp_path):
    context, errors, missing = watched
    hall_day(server)
    page = context.new_page()
    sign_in(page, server.url + "/manager", "giamdoc", "demo-manager")
    page.wait_for_selector("#live-status:has-text('Trực tuyến')")
    page.click("#tabs button[data-tab=reports]")
    page.select_option("#r-by", "procedure")
    page.click("#r-load")
    page.wait_for_selector("body[data-loaded='1']")
    row = page.locator(f'#summary-table tr[data-key="{KHAI_SINH[0]}"] td').first
    assert row.inner_text() == KHAI_SINH[1]
    assert KHAI_SINH[1] in page.inner_text("#low-table")
    text = page.inner_text("#reports")
    assert not ISO_DAY.search(text), ISO_DAY.search(text)
    assert re.match(r"Báo cáo ngày \d{2}/\d{2}/\d{4}$", page.text_content("#print-title"))
    assert re.search(r"người chờ cùng lúc ngày \d{2}/\d{2}/\d{4} lúc \d{2}:\d{2}",
                     page.inner_text("#occupancy-peak"))
    assert "Trụ sở chính" in page.inner_text("#occupancy-table")
    assert "main" not in page.inner_text("#occupancy-table")
    monthly = page.inner_text("#monthly")
    assert re.search(r"tháng \d{2}/\d{4}", monthly) and "đã phục vụ" in monthly
    assert "giải quyết" not in monthly.lower()
    # one day: the day chart is hour by hour in bars, not a single dot on a line
    chart = page.evaluate("(() => { const c = Chart.getChart('chart-days'); return "
                          "{type: c.config.type, labels: c.data.labels}; })()")
    assert chart["type"] == "bar"
    assert chart["labels"] and all(re.fullmatch(r"\d{1,2}h", x) for x in chart["labels"])

    # by team: whole team names on the bar chart, and the XLSX in Vietnamese
    page.select_option("#r-by", "team")
    page.evaluate("delete document.body.dataset.loaded")
    page.click("#r-load")
    page.wait_for_selector("body[data-loaded='1']")
    labels = page.evaluate("Chart.getChart('chart-bars').data.labels.map(l => "
                           "Array.isArray(l) ? l.join(' ') : l)")
    assert "Tổ Tư pháp – Hộ tịch – Chứng thực" in labels, labels
    with page.expect_download() as dl:
        page.click(".exp[data-report=summary] button[data-fmt=xlsx]")
    book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    assert book.sheetnames == ["Theo tổ"]
    cells = [c for r in book.worksheets[0].iter_rows(values_only=True) for c in r if c]
    assert any(str(c).startswith("Báo cáo tổng hợp ngày ") for c in cells), cells[:4]
    with page.expect_download() as dl:
        page.click(".exp[data-report=monthly] button[data-fmt=xlsx]")
    book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    heading = book.worksheets[0]["A2"].value
    assert re.fullmatch(r"Báo cáo tháng \d{2}/\d{4}", heading), heading
    assert errors == [] and missing == []


def test_admin_chooses_teams_by_name_and_reads_the_audit(server, watched):
    context, errors, missing = watched
    page = context.new_page()
    sign_in(page, server.url + "/admin", "admin", "demo-admin")
    page.wait_for_selector("body[data-loaded='1']")
    # whole team names, in their inputs and in the counters' team choices
    cut = page.evaluate("[...document.querySelectorAll('#teams input[name=name]')]"
                        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.value)")
    assert cut == []
    counter5 = page.locator("#counters tbody tr").nth(4)
    picks = counter5.locator("select.team-pick")
    assert picks.count() == 1
    assert picks.first.evaluate("s => s.selectedOptions[0].textContent") == \
        "Tổ Tư pháp – Hộ tịch – Chứng thực"
    counter5.locator(".pick-add").click()
    picks.nth(1).select_option(label="Tổ Lao động – Xã hội – Y tế – Giáo dục")
    page.click("#counters-save")
    page.wait_for_selector("#msg:has-text('Đã lưu: quầy')")
    cfg = server.get("/admin/config", server.login("admin")).json()
    assert next(c for c in cfg["counters"] if c["number"] == 5)["teams"] == [1, 5]
    audit = page.locator("#audit tr[data-action='config.update']").first
    audit.wait_for()
    line = audit.locator("ul.changes li").first.inner_text()
    assert line == ("Quầy 5 – các tổ phục vụ: Tổ Tư pháp – Hộ tịch – Chứng thực → Tổ Tư pháp "
                    "– Hộ tịch – Chứng thực, Tổ Lao động – Xã hội – Y tế – Giáo dục"), line
    assert "{" not in page.inner_text("#audit")  # no raw JSON
    assert re.match(r"\d{2}/\d{2}/\d{4} lúc \d{2}:\d{2}", audit.locator("td").first.inner_text())

    # a refused change: the reason in Vietnamese first, and no uncaught error
    page.fill("#teams tbody tr:nth-child(2) input[name=b0]", "1500")
    page.click("#teams-save")
    page.wait_for_selector("#msg.offline")
    msg = page.inner_text("#msg")
    assert msg.startswith("Cấu hình không hợp lệ") and "(invalid configuration" in msg, msg
    assert msg.index("chồng lên") < msg.index("(invalid configuration")
    page.wait_for_timeout(300)
    assert errors == [] and missing == []
    # the icon every page's browser asks for: a real small image, not a 404
    icon = requests.get(server.url + "/favicon.ico", timeout=5)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/")
    assert 0 < len(icon.content) < 4096
