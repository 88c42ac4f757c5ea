"""HTTP routes of the central server: they parse, authorise and call; nothing more.

Sync (site token): POST /api/v1/ingest, GET /api/v1/sync/position, GET /api/v1/bundles,
POST /api/v1/bundles/applied. People (session token): POST /api/v1/auth/login|logout,
GET /api/v1/me, GET /api/v1/sites (the dashboard), GET /api/v1/reports/waits|compare|
heatmap|low-ratings, admin: POST /api/v1/admin/sites/<id>/accept-epoch,
POST /api/v1/admin/bundles/config/<id>. Page: GET /central.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, render_template, request

from server.errors import BadRequest, NotFound, ValidationFailed
from server.reports.figures import DIMS, day_range

from . import bundles, dashboard
from .auth import User
from .ingest import ingest
from .reports import CentralReports

bp = Blueprint("central", __name__, template_folder="templates")


def central():
    return current_app.extensions["central"]


def bearer() -> str | None:
    head = request.headers.get("Authorization", "")
    return head[7:].strip() if head.startswith("Bearer ") else None


def json_body() -> dict:
    data = request.get_json(silent=True)
    if data is None and request.content_length:
        raise BadRequest("Nội dung không phải JSON hợp lệ (body is not valid JSON)",
                         code="bad_json")
    if data is not None and not isinstance(data, dict):
        raise BadRequest("Nội dung phải là một đối tượng JSON (body must be an object)",
                         code="bad_json")
    return data or {}


def user() -> User:
    return central().auth.user_for_token(bearer())


def site_token() -> str:
    return central().auth.site_for_token(bearer())


# -- sync ------------------------------------------------------------------------------------
@bp.get("/api/v1/ping")
def ping():
    return {"ok": True, "service": "qms-central"}


@bp.post("/api/v1/ingest")
def post_ingest():
    site = site_token()
    c = central()
    return ingest(c.store, c.config, site, json_body(), c.field_of(), c.clock())


@bp.get("/api/v1/sync/position")
def sync_position():
    """Where the site's log stands centrally: its epoch and the next seq wanted."""
    row = central().store.site(site_token())
    return {"site": row["id"], "epoch": row["epoch"], "expected": row["next_seq"]}


@bp.get("/api/v1/bundles")
def get_bundles():
    site = site_token()
    have = {}
    for kind in ("catalogue", "config"):
        v = request.args.get(kind)
        if v is not None:
            try:
                have[kind] = int(v)
            except ValueError as exc:
                raise ValidationFailed(f"{kind} phải là số phiên bản") from exc
    return {"site": site, **bundles.for_site(central().store, site, have)}


@bp.post("/api/v1/bundles/applied")
def bundle_applied():
    site = site_token()
    data = json_body()
    kind, version, status = data.get("kind"), data.get("version"), data.get("status")
    if kind not in ("catalogue", "config") or not isinstance(version, int) or \
            status not in ("applied", "failed"):
        raise ValidationFailed("kind, version, status (applied|failed) là bắt buộc")
    detail = str(data.get("detail") or "")[:2000]
    central().store.set_bundle_status(site, kind, version, status, detail)
    return {"ok": True}


# -- people ----------------------------------------------------------------------------------
@bp.post("/api/v1/auth/login")
def login():
    data = json_body()
    return central().auth.login(data.get("username"), data.get("password"))


@bp.post("/api/v1/auth/logout")
def logout():
    central().auth.logout(bearer())
    return {"ok": True}


@bp.get("/api/v1/me")
def me():
    u = user()
    return {"username": u.username, "role": u.role, "site": u.site}


@bp.get("/api/v1/sites")
def sites():
    u = user()
    c = central()
    return dashboard.overview(c.store, c.config, c.clock(), u.sites())


def _sites_arg(u: User) -> list[str] | None:
    wanted = [s for v in request.args.getlist("site") for s in v.split(",") if s]
    return u.check_sites(wanted or None)


def _reports(sites_scope) -> CentralReports:
    c = central()
    names = {s["id"]: s["name"] for s in c.store.sites(sites_scope)}
    return CentralReports(c.store, c.config.tz, c.clock, c.config.target_wait_min, names)


# a province reads years side by side (five years of 135 sites: docs/benchmarks.md); the
# hall's reports stop at 400 days
MAX_REPORT_DAYS = 3653


def _range():
    c = central()
    today = c.clock().astimezone(c.config.tz).date()
    return day_range(request.args.get("from"), request.args.get("to"), c.config.tz, today,
                     max_days=MAX_REPORT_DAYS)


def _by(default: str = "all") -> str:
    by = request.args.get("by", default)
    if by not in DIMS:
        raise ValidationFailed(f"by phải là một trong {', '.join(DIMS)}", code="bad_group")
    return by


def _precision() -> str:
    p = request.args.get("precision", "auto")
    if p not in ("auto", "exact", "fast"):
        raise ValidationFailed("precision phải là auto, exact hoặc fast")
    return p


@bp.get("/api/v1/reports/waits")
def report_waits():
    u = user()
    scope = _sites_arg(u)
    d0, d1 = _range()
    return _reports(scope).summary(d0, d1, _by("site"), scope, _precision())


@bp.get("/api/v1/reports/compare")
def report_compare():
    u = user()
    scope = _sites_arg(u)
    if scope is None:
        scope = [s["id"] for s in central().store.sites()]
    d0, d1 = _range()
    return _reports(scope).compare(d0, d1, _by("all"), scope, _precision())


@bp.get("/api/v1/reports/heatmap")
def report_heatmap():
    u = user()
    scope = _sites_arg(u)
    d0, d1 = _range()
    return _reports(scope).heatmap(d0, d1, scope, _precision())


@bp.get("/api/v1/reports/low-ratings")
def report_low_ratings():
    u = user()
    scope = _sites_arg(u)
    d0, d1 = _range()
    return _reports(scope).low_ratings(d0, d1, scope)


# -- admin -----------------------------------------------------------------------------------
@bp.post("/api/v1/admin/sites/<site>/accept-epoch")
def accept_epoch(site):
    u = user()
    u.require_admin()
    epoch = json_body().get("epoch")
    if not isinstance(epoch, str):
        raise ValidationFailed("epoch là bắt buộc")
    if not central().store.accept_epoch(site, epoch, f"user:{u.username}"):
        raise NotFound(f"Không có điểm {site}", code="unknown_site")
    return {"site": site, "epoch": epoch}


@bp.post("/api/v1/admin/bundles/config/<site>")
def publish_config(site):
    u = user()
    u.require_admin()
    data = json_body()
    return bundles.publish_config(central().store, site, data.get("config"),
                                  f"user:{u.username}", str(data.get("note") or "")[:200])


# -- the page --------------------------------------------------------------------------------
@bp.get("/central")
@bp.get("/")
def page():
    c = central()
    return render_template("central/index.html", name=c.config.name,
                           now=datetime.now().isoformat(timespec="seconds"))
