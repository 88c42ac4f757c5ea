"""What a manager reads in a report (issue #16): names, not codes; Vietnamese dates, not ISO.

The report engine answers with keys (a procedure's code, a site's id, ISO days and UTC
times); `label_report` adds the words a person reads, for the page and for the CSV/XLSX
files alike (`server.reports.worker.compute` calls it on every report):

- a procedure's name beside its code (summary and satisfaction by procedure, low ratings);
- a day as "30/11/2026", a month as "tháng 11/2026", a moment as "30/11/2026 lúc 16:29"
  in the centre's time zone;
- a site's name ("Trụ sở chính"), never its id ("main").

The keys stay as they were (filters, links and the files' key columns use them).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

#: the grouping dimensions in Vietnamese (the XLSX sheet "Theo tổ", the page's headings)
DIMS_VI = {"team": "tổ", "counter": "quầy", "officer": "cán bộ", "procedure": "thủ tục",
           "field": "lĩnh vực", "hour": "giờ trong ngày", "weekday": "thứ", "day": "ngày",
           "priority": "ưu tiên", "priority_class": "đối tượng ưu tiên", "site": "điểm",
           "all": "toàn bộ"}
#: the reports' names in Vietnamese (the files' titles: "Báo cáo tổng hợp")
REPORTS_VI = {"summary": "tổng hợp", "satisfaction": "mức độ hài lòng",
              "heatmap": "lượt đến theo giờ và thứ", "occupancy": "số người chờ cao nhất",
              "priority": "đối tượng ưu tiên", "low-ratings": "đánh giá thấp",
              "monthly": "tháng", "journeys": "hành trình từng số", "waits": "thời gian chờ",
              "steps": "theo bước của hồ sơ"}
MAX_NAME = 200  # a procedure's name in a report cell (the catalogue allows longer)


def vi_day(day: str | None) -> str:
    """"2026-11-30" -> "30/11/2026" (anything else unchanged)."""
    try:
        return date.fromisoformat(str(day)).strftime("%d/%m/%Y")
    except ValueError:
        return "" if day is None else str(day)


def vi_month(month: str) -> str:
    """"2026-11" -> "tháng 11/2026"."""
    year, _, mon = str(month).partition("-")
    return f"tháng {mon}/{year}" if year.isdigit() and mon.isdigit() else str(month)


def vi_moment(at: str | None, tz: ZoneInfo) -> str:
    """A UTC ISO time -> "30/11/2026 lúc 16:29" in the centre's zone ("" for none)."""
    if not at:
        return ""
    try:
        local = datetime.fromisoformat(at).astimezone(tz)
    except ValueError:
        return str(at)
    return local.strftime("%d/%m/%Y lúc %H:%M")


def procedure_names(store, codes) -> dict[str, str]:
    """The catalogue's names of the given procedure codes (codes not found are left out)."""
    names = {}
    with store.read():
        for code in sorted({c for c in codes if c}):
            proc = store.procedure(code)
            if proc:
                names[code] = proc["name"][:MAX_NAME]
    return names


def _label_rows(rows: list[dict], by: str, store) -> None:
    if by == "procedure":
        names = procedure_names(store, [r["key"] for r in rows])
        for r in rows:
            if r["key"] in names:
                r["label"] = names[r["key"]]
    elif by == "day":
        for r in rows:
            r["label"] = vi_day(r["key"])


def label_report(name: str, data, store, config):
    """Add the readable words to a report payload (in place; returned for convenience)."""
    if name in ("summary", "satisfaction") and isinstance(data, dict):
        _label_rows(data["rows"], data.get("by") or "", store)
    elif name == "occupancy":
        sites = config.sites
        for d in [*data["days"], *([data["peak"]] if data.get("peak") else [])]:
            d["site_name"] = sites.get(d["site"], d["site"])
            d["day_label"] = vi_day(d["day"])
            d["at_label"] = vi_moment(d.get("at"), config.tz)
    elif name == "low-ratings":
        names = procedure_names(store, [i["procedure_code"] for i in data["items"]])
        for i in data["items"]:
            i["procedure_name"] = names.get(i["procedure_code"], "")
            i["day_label"] = vi_day(i["day"])
            i["rated_label"] = vi_moment(i.get("rated_at"), config.tz)
    return data


def heading(centre: str, name: str, d0: date, d1: date, month: str | None = None) -> list[str]:
    """The first lines of an exported file: the centre, then "Báo cáo tổng hợp từ 01/11/2026
    đến 30/11/2026" (a monthly report: "Báo cáo tháng 11/2026")."""
    if name == "monthly" and month:
        return [centre, f"Báo cáo {vi_month(month)}"]
    title = REPORTS_VI.get(name, name)
    span = (f"ngày {d0.strftime('%d/%m/%Y')}" if d0 == d1 else
            f"từ {d0.strftime('%d/%m/%Y')} đến {d1.strftime('%d/%m/%Y')}")
    return [centre, f"Báo cáo {title} {span}"]
