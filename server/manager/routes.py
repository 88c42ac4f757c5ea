"""The manager's page (`/manager`: live dashboard and reports) and the report API.

Every report is derived from the event log through `ReportEngine` (journeys folded by seq,
then exact figures or pre-aggregated stats). Routes stay thin: parse the query, ask the
engine, render JSON or an export. Routes only read: the derived report data is written by
the report writer (`server.reports.refresher`, a worker thread started here, asked for a
pass after every command and waited for when a report finds it behind).

API (manager and admin):
- GET /api/v1/reports/summary?from=&to=&by=&site=&precision=auto|exact|fast
- GET /api/v1/reports/heatmap · /occupancy · /priority · /low-ratings · /satisfaction?by=
- GET /api/v1/reports/monthly?month=2026-11 (or from/to)
- GET /api/v1/reports/journeys?from=&to=&format=json|csv|xlsx
- GET /api/v1/reports/export?report=<name>&format=csv|xlsx&... (any report above)
- GET /api/v1/dashboard: queues, counters and who sits there, alerts
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request

from server import health
from server.api.helpers import qms, requires
from server.api.openapi import op, query_param, register_paths
from server.errors import NotFound, ValidationFailed
from server.reports import exports, refresher
from server.reports.engine import ReportEngine
from server.reports.figures import DIMS, day_range, month_range
from server.storage import DATABASE_MISSING_MESSAGE

bp = Blueprint("manager", __name__, template_folder="templates", static_folder="static",
               static_url_path="/manager-static")

REPORTS = ("summary", "satisfaction", "heatmap", "occupancy", "priority", "low-ratings",
           "monthly", "journeys")
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/manager")
def manager_page():
    resp = Response(render_template("manager/index.html"))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- helpers ---------------------------------------------------------------------------------
@bp.record_once
def _start_report_writer(state) -> None:
    refresher.install(state.app)


def engine() -> ReportEngine:
    """The engine, with the report writer caught up (read-only here)."""
    return refresher.engine_for(current_app)


def today() -> date:
    q = qms()
    return q.service.clock().astimezone(q.config.tz).date()


def args_range() -> tuple[date, date]:
    month = request.args.get("month")
    if month:
        return month_range(month)
    return day_range(request.args.get("from"), request.args.get("to"), qms().config.tz,
                     today())


def site_arg() -> str | None:
    site = request.args.get("site") or None
    if site and site not in qms().config.sites:
        raise NotFound(f"unknown site {site!r}", code="unknown_site")
    return site


def precision_arg() -> str:
    value = request.args.get("precision", "auto")
    if value not in ("auto", "exact", "fast"):
        raise ValidationFailed("precision must be auto, exact or fast")
    return value


def run_report(name: str):
    if name not in REPORTS:
        raise ValidationFailed(f"report must be one of {', '.join(REPORTS)}",
                               code="bad_report")
    eng = engine()
    d0, d1 = args_range()
    site, precision = site_arg(), precision_arg()
    if name in ("summary", "satisfaction"):
        default = "team" if name == "summary" else "officer"
        return eng.summary(d0, d1, request.args.get("by", default), site, precision)
    if name == "heatmap":
        return eng.heatmap(d0, d1, site, precision)
    if name == "occupancy":
        return eng.occupancy(d0, d1, site, precision)
    if name == "priority":
        return eng.priority(d0, d1, site, precision)
    if name == "low-ratings":
        return eng.low_ratings(d0, d1, site)
    if name == "monthly":
        return eng.monthly(d0, d1, site, precision)
    return eng.journeys(d0, d1, site)


def exported(name: str, data, fmt: str) -> Response:
    if fmt not in FORMATS:
        raise ValidationFailed("format must be csv or xlsx", code="bad_format")
    d0, d1 = args_range()
    tabs = exports.tables(name, data)
    stem = f"qms-{name}-{d0.isoformat()}_{d1.isoformat()}"
    if fmt == "csv":
        payload = exports.to_csv(tabs[0])
    else:
        heading = [qms().config.name,
                   f"Báo cáo {name} từ {d0.strftime('%d/%m/%Y')} đến {d1.strftime('%d/%m/%Y')}"]
        payload = exports.to_xlsx(tabs, heading)
    return Response(payload, mimetype=FORMATS[fmt].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
        "Content-Type": FORMATS[fmt]})


# -- report API ------------------------------------------------------------------------------
def _make_report_route(name: str):
    def view():
        return run_report(name) if name != "journeys" else journeys_view()
    view.__name__ = "report_" + name.replace("-", "_")
    bp.add_url_rule(f"/api/v1/reports/{name}", view_func=requires("reports.read")(view),
                    methods=["GET"])


def journeys_view():
    data = run_report("journeys")
    fmt = request.args.get("format", "json")
    if fmt == "json":
        return {"items": data, "count": len(data)}
    return exported("journeys", data, fmt)


for _name in REPORTS:
    _make_report_route(_name)


@bp.get("/api/v1/reports/export")
@requires("reports.read")
def report_export():
    name = request.args.get("report", "summary")
    return exported(name, run_report(name), request.args.get("format", "csv"))


# -- live dashboard --------------------------------------------------------------------------
@bp.get("/api/v1/dashboard")
@requires("reports.read")
def dashboard():
    q = qms()
    site = site_arg() or "main"
    snap = q.service.snapshot(site, with_officer=True)
    with q.store.read():
        devices = q.store.device_statuses()
        # number bands nearly (90 %) or wholly used today: before tickets are refused
        alerts = q.service.band_alerts(site, snap["day"])
    if q.store.missing:
        alerts.insert(0, {"kind": "database_missing",
                          "message": DATABASE_MISSING_MESSAGE.format(path=q.store.path)})
    # this process's health flags (a full disk: server/health.py)
    alerts[:0] = [{"kind": a["code"], **a} for a in health.alerts()]
    for team in snap["teams"]:
        cfg_team = q.config.team(team["id"])
        target = (cfg_team.target_wait_min or q.config.target_wait_min) * 60
        team["target_wait_s"] = target
        team["over_target"] = team["longest_wait_s"] > target
        if team["over_target"]:
            alerts.append({"kind": "wait", "team_id": team["id"],
                           "message": f"{team['name']}: chờ lâu nhất "
                                      f"{team['longest_wait_s'] // 60} phút, vượt mục tiêu "
                                      f"{target // 60} phút (wait over target)"})
    for d in devices:
        if not d["online"]:
            alerts.append({"kind": "device", "device": d["device"], "part": d["part"],
                           "message": f"Thiết bị {d['device']} ({d['part']}) mất kết nối "
                                      f"{d['detail']} (device offline)".replace("  ", " ")})
    counts = {"open": 0, "serving": 0, "idle": 0, "paused": 0, "closed": 0}
    for c in snap["counters"]:
        if c["status"] == "open":
            counts["open"] += 1
            counts["serving" if c["ticket"] else "idle"] += 1
        else:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
    eng = engine()
    t = today()
    day = eng.summary(t, t, "all", site)["total"]
    return {**snap, "devices": devices, "alerts": alerts, "counter_counts": counts,
            "waiting_total": sum(x["waiting"] for x in snap["teams"]),
            "longest_wait_s": max((x["longest_wait_s"] for x in snap["teams"]), default=0),
            "today": day}


# -- OpenAPI ---------------------------------------------------------------------------------
_RANGE = [query_param("from", {"type": "string", "format": "date"}),
          query_param("to", {"type": "string", "format": "date"}),
          query_param("site", {"type": "string"}),
          query_param("precision", {"type": "string", "enum": ["auto", "exact", "fast"]})]
_BY = query_param("by", {"type": "string", "enum": list(DIMS)})
_FMT = query_param("format", {"type": "string", "enum": ["csv", "xlsx"]})
register_paths({
    "/api/v1/reports/summary": {"get": op(
        "Counts, wait/service times, within-target share and ratings by a dimension",
        params=[*_RANGE, _BY])},
    "/api/v1/reports/satisfaction": {"get": op(
        "Ratings per level and satisfied share by officer, counter or team",
        params=[*_RANGE, _BY])},
    "/api/v1/reports/heatmap": {"get": op("Arrivals and mean wait by weekday x hour",
                                          params=_RANGE)},
    "/api/v1/reports/occupancy": {"get": op("Peak number waiting at once, per day",
                                            params=_RANGE)},
    "/api/v1/reports/priority": {"get": op("Priority tickets' waits against the others",
                                           params=_RANGE)},
    "/api/v1/reports/low-ratings": {"get": op("Low ratings (1-2) with reasons",
                                              params=_RANGE)},
    "/api/v1/reports/monthly": {"get": op(
        "Monthly summary for reporting upward (received, handled, on time, satisfied)",
        params=[*_RANGE, query_param("month", {"type": "string"})])},
    "/api/v1/reports/journeys": {"get": op(
        "Raw ticket journeys (JSON, CSV or XLSX)",
        params=[*_RANGE, query_param("format", {"type": "string",
                                                "enum": ["json", "csv", "xlsx"]})])},
    "/api/v1/reports/export": {"get": op(
        "Any report as CSV or XLSX",
        params=[*_RANGE, _BY, _FMT, query_param("month", {"type": "string"}),
                query_param("report", {"type": "string", "enum": list(REPORTS)})])},
    "/api/v1/dashboard": {"get": op(
        "Live dashboard: queues, counters and officers, devices, alerts",
        params=[query_param("site", {"type": "string"})])},
})
