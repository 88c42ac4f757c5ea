"""CSV and XLSX exports of the manager reports and of raw ticket journeys.

A report payload becomes one or more tables (title, headers, rows); CSV writes the first
table (UTF-8 with BOM so Excel opens Vietnamese correctly), XLSX writes one sheet per table.

No text ever becomes a spreadsheet formula (CSV/formula injection: a citizen's rating reason
is free text). Text beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is written
inert: in CSV with a leading `'` (Excel and LibreOffice then show it as text), in XLSX as a
string cell with the quote-prefix style (the text itself unchanged). Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io

from .fold import JOURNEY_COLUMNS
from .labels import DIMS_VI

GROUP_HEADERS = [
    "Nhóm (group)", "Mã (key)", "Số phiếu (issued)", "Đã gọi (called)",
    "Đã phục vụ (served)", "Vắng mặt (no-show)", "Chuyển (transferred)", "Hủy (cancelled)",
    "Chờ TB giây (wait mean s)", "Chờ trung vị (wait p50)", "Chờ p90 (wait p90)",
    "Chờ lâu nhất (wait max)", "Phục vụ TB giây (service mean s)",
    "Phục vụ trung vị (service p50)", "Phục vụ p90 (service p90)",
    "Phục vụ lâu nhất (service max)", "Đúng hạn % (within target %)",
    "Rất hài lòng (4)", "Hài lòng (3)", "Bình thường (2)", "Không hài lòng (1)",
    "Hài lòng % (satisfied %)"]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def risky(value) -> bool:
    """Text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_safe(value):
    """A CSV cell value: risky text gets a leading single quote; anything else unchanged."""
    return "'" + value if risky(value) else value


def pct(x):
    return None if x is None else round(100 * x, 1)


def group_row(r: dict) -> list:
    w, s, rt = r["wait_s"], r["service_s"], r["ratings"]
    return [r.get("label", r["key"]), r["key"], r["issued"], r["called"], r["served"],
            r["no_show"], r["transferred"], r["cancelled"], w["mean"], w["p50"], w["p90"],
            w["max"], s["mean"], s["p50"], s["p90"], s["max"], pct(r["within_target"]),
            rt["4"], rt["3"], rt["2"], rt["1"], pct(r["satisfied_share"])]


def group_table(title: str, rows: list[dict], total: dict | None = None) -> tuple:
    body = [group_row(r) for r in rows]
    if total:
        body.append(group_row({**total, "label": "Tổng cộng (total)", "key": "all"}))
    return (title, GROUP_HEADERS, body)


def tables(report: str, data) -> list[tuple[str, list, list]]:
    """A report payload as (title, headers, rows) tables."""
    if report in ("summary", "satisfaction", "waits"):
        by = data.get("by") or ""
        return [group_table(f"Theo {DIMS_VI.get(by, by)}", data["rows"], data.get("total"))]
    if report == "priority":
        return [group_table("Ưu tiên và thông thường", data["rows"]),
                group_table("Theo đối tượng ưu tiên", data["classes"])]
    if report == "monthly":
        return [group_table("Theo tổ (by team)", data["teams"], data["total"]),
                group_table("Theo lĩnh vực (by field)", data["fields"])]
    if report == "heatmap":
        hours = [f"{h:02d}h" for h in range(24)]
        head = ["Thứ (weekday)", *hours]
        return [("Số lượt đến (arrivals)", head,
                 [[d, *row] for d, row in zip(data["weekdays"], data["arrivals"], strict=True)]),
                ("Chờ TB giây (mean wait s)", head,
                 [[d, *row] for d, row in zip(data["weekdays"], data["mean_wait_s"],
                                              strict=True)])]
    if report == "occupancy":
        return [("Số người chờ cao nhất (peak waiting)",
                 ["Ngày (day)", "Điểm (site)", "Cao nhất (peak)", "Lúc (at)"],
                 [[d.get("day_label", d["day"]), d.get("site_name", d["site"]), d["peak"],
                   d.get("at_label", d["at"])] for d in data["days"]])]
    if report == "low-ratings":
        cols = [("day_label", "day", "Ngày (day)"), ("number", None, "Số (number)"),
                ("team", None, "Tổ (team)"), ("counter", None, "Quầy (counter)"),
                ("officer", None, "Cán bộ (officer)"),
                ("procedure_code", None, "Mã thủ tục (procedure code)"),
                ("procedure_name", "procedure_code", "Thủ tục (procedure)"),
                ("score", None, "Điểm đánh giá (score)"), ("reason", None, "Lý do (reason)"),
                ("rated_label", "rated_at", "Lúc đánh giá (rated at)")]
        return [("Đánh giá thấp (low ratings)", [c[2] for c in cols],
                 [[i.get(c[0], i.get(c[1]) if c[1] else None) for c in cols]
                  for i in data["items"]])]
    if report == "steps":
        head = ["Bước (step)", "Tên bước (step name)", "Tổ (team)", "Số lượt đến (arrived)",
                "Đã gọi (called)", "Đã phục vụ (served)", "Chuyển bước sau (sent on)",
                "Kết thúc tại bước (finished)", "Vắng mặt (no-show)", "Hủy (cancelled)",
                "Chưa xong (open)", "Chờ TB giây (mean wait s)", "Chờ p90 giây (p90 wait s)",
                "Phục vụ TB giây (mean service s)", "Phục vụ p90 giây (p90 service s)"]
        return [("Theo bước của hồ sơ (by step)", head,
                 [[r["step_index"], r["step_name"], r.get("team", r["team_id"]), r["arrived"],
                   r["called"], r["served"], r["moved_on"], r["finished"], r["no_show"],
                   r["cancelled"], r["open"], r["wait_s"]["mean"], r["wait_s"]["p90"],
                   r["service_s"]["mean"], r["service_s"]["p90"]] for r in data["rows"]])]
    if report == "journeys":
        return [("Hành trình số (ticket journeys)", list(JOURNEY_COLUMNS),
                 [[j[c] for c in JOURNEY_COLUMNS] for j in data])]
    raise KeyError(report)


def to_csv(table: tuple) -> bytes:
    _, headers, rows = table
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_safe(h) for h in headers])
    writer.writerows([csv_safe(v) for v in row] for row in rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_csv(table: tuple, path, progress=lambda rows: None, every: int = 5000) -> None:
    """`to_csv` written to a file as it goes (the report worker's export jobs)."""
    _, headers, rows = table
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_safe(h) for h in headers])
        for i in range(0, len(rows), every):
            writer.writerows([csv_safe(v) for v in row] for row in rows[i:i + every])
            progress(min(i + every, len(rows)))


def write_xlsx(tabs: list[tuple], heading: list[str] | None, path,
               progress=lambda rows: None, every: int = 5000) -> None:
    """`to_xlsx` saved to a file, with the rows written so far reported every `every`."""
    done = [0]

    def counted(rows):
        for row in rows:
            yield row
            done[0] += 1
            if done[0] % every == 0:
                progress(done[0])

    with open(path, "wb") as fh:
        fh.write(to_xlsx([(t, h, counted(r)) for t, h, r in tabs], heading))
    progress(done[0])


def to_xlsx(tabs: list[tuple], heading: list[str] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def cell(ws, value, font=None):
        """A cell that is never a formula: risky text is a quote-prefixed string cell."""
        if not (font or risky(value)):
            return value
        c = WriteOnlyCell(ws, value=value)
        if risky(value):
            c.data_type = "s"  # openpyxl would make "=..." a formula
            c.quotePrefix = True
        if font:
            c.font = font
        return c

    for title, headers, rows in tabs:
        ws = wb.create_sheet(title=_sheet_name(title))
        for line in heading or []:
            ws.append([cell(ws, line, bold)])
        if heading:
            ws.append([cell(ws, title)])
        ws.append([cell(ws, h, bold) for h in headers])
        for row in rows:
            ws.append([cell(ws, v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_name(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31]
