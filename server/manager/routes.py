"""The manager's page (`/manager`: live dashboard and reports) and the report API.

Every report is derived from the event log through `ReportEngine` (journeys folded by seq,
then exact figures or pre-aggregated stats). Routes stay thin: parse the query, ask the
engine, render JSON or an export. Routes only read: the derived report data is written by
the report writer (`server.reports.refresher`, started by `create_app`: in the report worker
process under gevent, a thread otherwise), asked for a pass after every command and waited
for when a report finds it behind.

API (manager and admin):
- GET /api/v1/reports/summary?from=&to=&by=&site=&precision=auto|exact|fast
- GET /api/v1/reports/heatmap · /occupancy · /priority · /low-ratings · /satisfaction?by=
- GET /api/v1/reports/monthly?month=2026-11 (or from/to)
- GET /api/v1/reports/journeys?from=&to=&format=json|csv|xlsx
- GET /api/v1/reports/export?report=<name>&format=csv|xlsx&... (any report above)
- POST /api/v1/reports/exports {report, format, from, to, by, month, site} → 202 {job}: an
  export produced as a job; GET /api/v1/reports/exports/<id> → {job} (status queued |
  running | done | failed, progress 0-100, rows); GET /api/v1/reports/exports/<id>/file
- GET /api/v1/dashboard: queues, counters and who sits there, alerts

Under gevent (`qms serve`) every report and export is computed by the report worker process
(`server.reports.worker`, which is also the report writer): the serving process only waits
for the answer, its loop free, so a year report or a quarter's XLSX never stalls the hall.
The old export URLs still answer with the file (an export job waited for).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request, send_file

from server import health
from server.api.helpers import body, qms, requires
from server.api.openapi import OBJ, op, path_param, query_param, register_paths
from server.errors import Conflict, NotFound, QMSError, ValidationFailed
from server.reports import exports, labels, refresher
from server.reports import worker as report_worker
from server.reports.engine import ReportEngine
from server.reports.figures import DIMS, day_range, month_range
from server.storage import DATABASE_MISSING_MESSAGE

bp = Blueprint("manager", __name__, template_folder="templates", static_folder="static",
               static_url_path="/manager-static")

REPORTS = ("summary", "satisfaction", "heatmap", "occupancy", "priority", "low-ratings",
           "monthly", "journeys")
#: what the export routes take: the reports above and the visits' steps (its own route)
EXPORTABLE = (*REPORTS, "steps")
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/manager")
def manager_page():
    resp = Response(render_template("manager/index.html"))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- helpers ---------------------------------------------------------------------------------
WORKER = report_worker.EXTENSION


def worker() -> report_worker.WorkerClient | None:
    return current_app.extensions.get(WORKER)


def from_worker(call, *args):
    try:
        return call(*args)
    except report_worker.WorkerError as err:
        body = err.body
        e = body.get("error", {})
        raise QMSError(e.get("message"), code=e.get("code", "report_failed"),
                       status=body.get("status", 500)) from None


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


def report_spec(name: str) -> dict:
    if name not in EXPORTABLE:
        raise ValidationFailed(f"report must be one of {', '.join(EXPORTABLE)}",
                               code="bad_report")
    d0, d1 = args_range()
    return {"name": name, "from": d0.isoformat(), "to": d1.isoformat(),
            "by": request.args.get("by"), "site": site_arg(), "precision": precision_arg()}


def run_report(name: str):
    spec = report_spec(name)
    client = worker()
    if client is not None:
        return from_worker(client.report, spec)
    return report_worker.compute(engine(), spec)


def export_heading(spec: dict) -> list[str]:
    """"Báo cáo tổng hợp từ 01/11/2026 đến 30/11/2026", "Báo cáo tháng 11/2026"."""
    d0, d1 = date.fromisoformat(spec["from"]), date.fromisoformat(spec["to"])
    return labels.heading(qms().config.name, spec["name"], d0, d1,
                          request.args.get("month") or None)


def export_name(spec: dict, fmt: str) -> str:
    return f"qms-{spec['name']}-{spec['from']}_{spec['to']}.{fmt}"


def exported(name: str, data, fmt: str) -> Response:
    if fmt not in FORMATS:
        raise ValidationFailed("format must be csv or xlsx", code="bad_format")
    d0, d1 = args_range()
    tabs = exports.tables(name, data)
    stem = f"qms-{name}-{d0.isoformat()}_{d1.isoformat()}"
    if fmt == "csv":
        payload = exports.to_csv(tabs[0])
    else:
        heading = labels.heading(qms().config.name, name, d0, d1,
                                 request.args.get("month") or None)
        payload = exports.to_xlsx(tabs, heading)
    return Response(payload, mimetype=FORMATS[fmt].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
        "Content-Type": FORMATS[fmt]})


def export_response(name: str, fmt: str) -> Response:
    """An export answered with the file: made by the report worker when there is one (this
    greenlet waits, the loop serves everyone else), else here."""
    if fmt not in FORMATS:
        raise ValidationFailed("format must be csv or xlsx", code="bad_format")
    client = worker()
    if client is None:
        return exported(name, run_report(name), fmt)
    spec = report_spec(name)
    state = report_worker.new_job(qms().data_dir, spec, fmt, export_name(spec, fmt))
    from_worker(client.export, state["id"], spec, fmt, export_heading(spec), True)
    return job_file_response(state["id"])


def job_file_response(job_id: str) -> Response:
    state = report_worker.job_state(qms().data_dir, job_id)
    if state is None:
        raise NotFound("Không có tệp xuất này (unknown export job)", code="unknown_job")
    if state["status"] != "done":
        raise Conflict("Tệp xuất chưa xong (export not ready)", code="not_ready",
                       details={"job": state})
    path = report_worker.exports_dir(qms().data_dir) / f"{state['id']}.{state['format']}"
    resp = send_file(path, mimetype=FORMATS[state["format"]].split(";")[0],
                     as_attachment=True, download_name=state["filename"])
    resp.headers["Content-Type"] = FORMATS[state["format"]]
    resp.headers["Content-Disposition"] = f'attachment; filename="{state["filename"]}"'
    return resp


def job_view(state: dict) -> dict:
    return {**state, "url": f"/api/v1/reports/exports/{state['id']}",
            "file_url": f"/api/v1/reports/exports/{state['id']}/file"}


# -- report API ------------------------------------------------------------------------------
def _make_report_route(name: str):
    def view():
        return run_report(name) if name != "journeys" else journeys_view()
    view.__name__ = "report_" + name.replace("-", "_")
    bp.add_url_rule(f"/api/v1/reports/{name}", view_func=requires("reports.read")(view),
                    methods=["GET"])


def journeys_view():
    fmt = request.args.get("format", "json")
    if fmt == "json":
        data = run_report("journeys")
        return {"items": data, "count": len(data)}
    return export_response("journeys", fmt)


for _name in REPORTS:
    _make_report_route(_name)


@bp.get("/api/v1/reports/steps")
@requires("reports.read")
def report_steps():
    """Every step's wait and service time of the visits of several steps (issue #15):
    folded from the range's events (at most 31 days), in the report worker when there is
    one."""
    d0, d1 = args_range()
    spec = {"name": "steps", "from": d0.isoformat(), "to": d1.isoformat(), "by": None,
            "site": site_arg(), "precision": "exact"}
    client = worker()
    if client is not None:
        return from_worker(client.report, spec)
    return report_worker.compute(engine(), spec)


@bp.get("/api/v1/reports/export")
@requires("reports.read")
def report_export():
    return export_response(request.args.get("report", "summary"),
                           request.args.get("format", "csv"))


@bp.post("/api/v1/reports/exports")
@requires("reports.read")
def export_job_create():
    """An export as a job: 202 with the job at once; the report worker writes the file
    (here, without a worker, it is written before answering)."""
    data = body()
    if not isinstance(data, dict):
        raise ValidationFailed("a JSON object is expected")
    fmt = data.get("format", "csv")
    if fmt not in FORMATS:
        raise ValidationFailed("format must be csv or xlsx", code="bad_format")
    args = {k: v for k, v in data.items() if k in ("from", "to", "by", "month", "site",
                                                   "precision") and isinstance(v, str)}
    with current_app.test_request_context(query_string=args):  # the GET routes' parsing
        spec = report_spec(str(data.get("report", "summary")))
        heading = export_heading(spec)
    q = qms()
    state = report_worker.new_job(q.data_dir, spec, fmt, export_name(spec, fmt))
    client = worker()
    if client is not None:
        client.export(state["id"], spec, fmt, heading)
    else:
        out = report_worker.exports_dir(q.data_dir) / f"{state['id']}.{fmt}"
        rows = report_worker.export_file(engine(), spec, fmt, heading, out)
        state.update(status="done", phase="done", progress=100, rows=rows)
        report_worker.write_job(q.data_dir, state["id"], state)
    return {"job": job_view(state)}, 202


@bp.get("/api/v1/reports/exports/<job>")
@requires("reports.read")
def export_job_status(job: str):
    state = report_worker.job_state(qms().data_dir, job)
    if state is None:
        raise NotFound("Không có tệp xuất này (unknown export job)", code="unknown_job")
    return {"job": job_view(state)}


@bp.get("/api/v1/reports/exports/<job>/file")
@requires("reports.read")
def export_job_file(job: str):
    return job_file_response(job)


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
        if team["no_counter_open"] and team["waiting"]:
            alerts.append({"kind": "no_counter", "team_id": team["id"],
                           "waiting": team["waiting"],
                           "message": f"{team['name']}: {team['waiting']} người chờ, không có "
                                      f"quầy nào mở ({team['waiting']} waiting, no counter "
                                      f"open)"})
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
    t = today()
    spec = {"name": "summary", "from": t.isoformat(), "to": t.isoformat(), "by": "all",
            "site": site, "precision": "auto"}
    client = worker()
    day = (from_worker(client.report, spec) if client is not None
           else report_worker.compute(engine(), spec))["total"]
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
    "/api/v1/reports/steps": {"get": op(
        "Visits of several steps: each step's arrivals, served, absent, wait and service "
        "times (at most 31 days)", params=_RANGE)},
    "/api/v1/reports/journeys": {"get": op(
        "Raw ticket journeys (JSON, CSV or XLSX)",
        params=[*_RANGE, query_param("format", {"type": "string",
                                                "enum": ["json", "csv", "xlsx"]})])},
    "/api/v1/reports/export": {"get": op(
        "Any report as CSV or XLSX",
        params=[*_RANGE, _BY, _FMT, query_param("month", {"type": "string"}),
                query_param("report", {"type": "string", "enum": list(EXPORTABLE)})])},
    "/api/v1/reports/exports": {"post": op(
        "Start an export job (any report, CSV or XLSX; made outside the serving process): "
        "202 with the job", ok={202: ("Accepted: the job", OBJ)})},
    "/api/v1/reports/exports/{job}": {"get": op(
        "An export job: status (queued, running, done, failed), progress 0-100, rows",
        params=[path_param("job", {"type": "string"})])},
    "/api/v1/reports/exports/{job}/file": {"get": op(
        "The file of a finished export job", params=[path_param("job", {"type": "string"})])},
    "/api/v1/dashboard": {"get": op(
        "Live dashboard: queues, counters and officers, devices, alerts",
        params=[query_param("site", {"type": "string"})])},
})
