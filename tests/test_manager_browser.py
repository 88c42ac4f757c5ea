"""The manager and admin pages in headless Chromium against the real server process:
sign in, the dashboard updates by push, every report loads, CSV/XLSX exports read back,
an admin change applies live. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def busy_morning(server):
    kiosk = server.tokens["kiosk-1"]
    officers = {n: server.login(f"canbo{n:02d}", n) for n in (1, 2, 7, 11, 18)}
    for team in (1, 1, 1, 2, 2, 3, 5, 1, 2, 3, 5, 6, 6):
        assert server.post("/tickets", kiosk, {"team_id": team}).status_code == 201
    server.post("/tickets", kiosk, {"team_id": 1, "priority": "elderly"})
    for n in (1, 7, 11):
        t = server.post(f"/counters/{n}/call-next", officers[n]).json()
        server.post(f"/counters/{n}/start", officers[n])
        server.post(f"/counters/{n}/finish", officers[n])
        server.post(f"/tickets/{t['id']}/rating", server.tokens["bridge-1"],
                    {"score": 2 if n == 7 else 4, "reason": "Chờ lâu" if n == 7 else ""})
    for n in (1, 2, 7, 18):
        server.post(f"/counters/{n}/call-next", officers[n])
    server.post("/counters/2/pause", officers[2], {"reason": "Họp giao ban"})
    server.post("/devices/status", server.tokens["bridge-1"],
                {"part": "keypad-3", "online": False, "detail": "/dev/ttyUSB2"})
    return officers


def book(download):
    assert download.suggested_filename.endswith(".xlsx")
    return openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))


def sign_in(page, url, user, password):
    page.goto(url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_manager_dashboard_reports_and_exports(live_server, page, tmp_path):
    busy_morning(live_server)
    sign_in(page, live_server.url + "/manager", "giamdoc", "demo-manager")
    page.wait_for_selector("#live-status:has-text('Trực tuyến')")
    page.wait_for_function("document.querySelector('#d-waiting').textContent !== '0'")
    before = int(page.text_content("#d-waiting"))
    assert page.locator("#alerts li.device").count() == 1
    assert "canbo02" in page.text_content("[data-counter='2']")
    live_server.post("/tickets", live_server.tokens["kiosk-1"], {"team_id": 4})
    page.wait_for_function(f"Number(document.querySelector('#d-waiting').textContent) === "
                           f"{before + 1}", timeout=5000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "manager-dashboard.png"), full_page=True)

    page.click("#tabs button[data-tab=reports]")
    page.click("#r-load")
    page.wait_for_selector("body[data-loaded='1']")
    total = page.locator("#summary-table tr.total td").nth(1).text_content()
    assert int(total) == 15
    assert page.locator("#low-table tbody tr").count() == 1
    assert "Chờ lâu" in page.text_content("#low-table")
    assert page.locator("#heatmap-table td[style*='0.']").count() + \
        page.locator("#heatmap-table td[style*='1.00']").count() > 0
    assert "thời gian chờ" in page.text_content("#definitions").lower()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=str(SHOTS / "manager-reports.png"), full_page=True)

    with page.expect_download() as dl:
        page.click(".exp[data-report=summary] button[data-fmt=csv]")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text("utf-8-sig"))))
    assert rows[-1][0].startswith("Tổng cộng") and int(rows[-1][2]) == 15
    with page.expect_download() as dl:
        page.click(".exp[data-report=summary] button[data-fmt=xlsx]")
    wb = book(dl.value)
    cells = [r for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert any(r[0] == "Tổng cộng (total)" and r[2] == 15 for r in cells)
    with page.expect_download() as dl:
        page.click(".exp[data-report=journeys] button[data-fmt=xlsx]")
    sheet = list(book(dl.value).worksheets[0].iter_rows(values_only=True))
    head = next(i for i, r in enumerate(sheet) if r[0] == "ticket_id")
    assert len(sheet) - head - 1 == 15
    with page.expect_download() as dl:
        page.click(".exp[data-report=monthly] button[data-fmt=xlsx]")
    wb = book(dl.value)
    assert len(wb.worksheets) == 2


def test_admin_page_changes_apply_live(live_server, page):
    sign_in(page, live_server.url + "/admin", "admin", "demo-admin")
    page.wait_for_selector("body[data-loaded='1']")
    page.fill("#general textarea[name=notice]", "Chiều nay trung tâm làm việc đến 17h30")
    page.click("#general button[type=submit]")
    page.wait_for_selector("#msg:has-text('Đã lưu')")
    state = live_server.get("/state", live_server.tokens["display-1"]).json()
    assert state["notice"] == "Chiều nay trung tâm làm việc đến 17h30"
    page.wait_for_selector("#audit td:has-text('config.update')")
    page.screenshot(path=str(SHOTS / "admin.png"), full_page=True)
