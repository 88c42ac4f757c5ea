"""Reports in words (issue #16, server/reports/labels.py and the exports): procedure and
site names beside the codes, Vietnamese dates, Vietnamese titles and sheet names, in the
JSON and in the CSV/XLSX files (in-process app on a real SQLite file)."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

import openpyxl

from server.reports import exports, labels
from tests.conftest import bearer, login

KHAI_SINH = ("1.001193", "Thủ tục đăng ký khai sinh")


def test_vietnamese_dates_and_headings():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    assert labels.vi_day("2026-11-30") == "30/11/2026"
    assert labels.vi_month("2026-11") == "tháng 11/2026"
    assert labels.vi_moment("2026-11-30T09:29:38.000+00:00", tz) == "30/11/2026 lúc 16:29"
    assert labels.vi_moment(None, tz) == ""
    d = date(2026, 11, 30)
    assert labels.heading("TT", "summary", d, d) == ["TT", "Báo cáo tổng hợp ngày 30/11/2026"]
    assert labels.heading("TT", "heatmap", date(2026, 11, 1), d)[1] == \
        "Báo cáo lượt đến theo giờ và thứ từ 01/11/2026 đến 30/11/2026"
    assert labels.heading("TT", "monthly", d, d, "2026-11")[1] == "Báo cáo tháng 11/2026"
    data = {"by": "team", "rows": [], "total": None}
    assert exports.tables("summary", data)[0][0] == "Theo tổ"


def test_reports_and_files_name_procedures_and_sites(client, tokens):
    kiosk = bearer(tokens["kiosk-1"])
    officer = bearer(login(client, "canbo01", 1))
    for _ in range(2):
        client.post("/api/v1/tickets", json={"procedure_code": KHAI_SINH[0]}, headers=kiosk)
    t = client.post("/api/v1/counters/1/call-next", headers=officer).get_json()
    client.post("/api/v1/counters/1/finish", headers=officer)
    res = client.post(f"/api/v1/tickets/{t['id']}/rating", json={"score": 1, "reason": "Lâu"},
                      headers=bearer(tokens["bridge-1"]))
    assert res.status_code == 200, res.get_json()
    h = bearer(login(client, "giamdoc"))

    rows = client.get("/api/v1/reports/summary?by=procedure", headers=h).get_json()["rows"]
    row = next(r for r in rows if r["key"] == KHAI_SINH[0])
    assert row["label"] == KHAI_SINH[1] and row["issued"] == 2
    days = client.get("/api/v1/reports/summary?by=day", headers=h).get_json()["rows"]
    assert days[0]["label"] == labels.vi_day(days[0]["key"]) and "/" in days[0]["label"]
    low = client.get("/api/v1/reports/low-ratings", headers=h).get_json()["items"]
    assert low[0]["procedure_name"] == KHAI_SINH[1] and "/" in low[0]["day_label"]
    occ = client.get("/api/v1/reports/occupancy", headers=h).get_json()
    assert occ["peak"]["site_name"] == "Trụ sở chính" and " lúc " in occ["peak"]["at_label"]

    res = client.get("/api/v1/reports/export?report=summary&by=procedure&format=xlsx",
                     headers=h)
    book = openpyxl.load_workbook(io.BytesIO(res.data))
    assert book.sheetnames == ["Theo thủ tục"]
    cells = list(book.worksheets[0].iter_rows(values_only=True))
    assert cells[1][0].startswith("Báo cáo tổng hợp ngày ")
    assert any(r[0] == KHAI_SINH[1] and r[1] == KHAI_SINH[0] for r in cells)
    res = client.get("/api/v1/reports/export?report=occupancy&format=csv", headers=h)
    table = list(csv.reader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert table[0][:2] == ["Ngày (day)", "Điểm (site)"]
    assert table[1][1] == "Trụ sở chính" and " lúc " in table[1][3]
    res = client.get("/api/v1/reports/export?report=low-ratings&format=csv", headers=h)
    table = list(csv.reader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert "Thủ tục (procedure)" in table[0]
    assert table[1][table[0].index("Thủ tục (procedure)")] == KHAI_SINH[1]
