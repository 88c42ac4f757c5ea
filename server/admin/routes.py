"""The admin page (`/admin`) and its API: centre configuration, procedure catalogue, users
and devices. Every change takes effect live and is written to the audit log.

The routes only parse, authorise and call a service command: configuration and the
catalogue are the admin service's (`server/admin_service.py`), users and devices the
accounts service's (`server/auth.py`). Each command writes its rows, its audit row and a
`config.changed` event per site in one transaction (so open pages refresh), and honours an
Idempotency-Key.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from server import config as centre_config
from server.admin import audit_text
from server.admin_service import EXTENSION as ADMIN_SERVICE
from server.admin_service import AdminService
from server.api.helpers import body, current_principal, idem, int_arg, qms, requires, result
from server.api.openapi import op, path_param, query_param, register_paths
from server.errors import ValidationFailed

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/admin-static")

ADMIN = ADMIN_SERVICE  # the app extension create_app puts the admin service in


def admin() -> AdminService:
    return current_app.extensions[ADMIN]


def actor() -> str:
    return current_principal().actor


@bp.get("/admin")
def admin_page():
    resp = Response(render_template("admin/index.html"))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- configuration ---------------------------------------------------------------------------
def _config_view(data: dict) -> dict:
    return {**data, "priority_classes": centre_config.PRIORITY_LABELS_VI}


@bp.get("/api/v1/admin/config")
@requires("admin")
def get_config():
    return _config_view(qms().config.to_dict())


@bp.put("/api/v1/admin/config")
@requires("admin")
def put_config():
    status, data = admin().update_config(body(), actor=actor(), idem=idem())
    return _config_view(data), status


# -- users -----------------------------------------------------------------------------------
@bp.get("/api/v1/admin/users")
@requires("admin")
def list_users():
    with qms().store.read():
        return {"items": qms().store.users()}


def _counters(value) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, int) for c in value):
        raise ValidationFailed("Quầy phải là danh sách số quầy (counters must be a list of "
                               "counter numbers)")
    for c in value:
        qms().config.counter(c)
    return value


@bp.post("/api/v1/admin/users")
@requires("admin")
def add_user():
    data = body()
    return result(*qms().accounts.add_user(
        str(data.get("username") or ""), str(data.get("role") or "officer"),
        str(data.get("password") or ""), _counters(data.get("counters")) or [],
        str(data.get("full_name") or ""), actor=actor(), idem=idem()))


@bp.patch("/api/v1/admin/users/<username>")
@requires("admin")
def edit_user(username):
    data = body()
    return result(*qms().accounts.edit_user(
        username, role=data.get("role"), full_name=data.get("full_name"),
        counters=_counters(data.get("counters")), password=data.get("password"),
        active=data.get("active"), actor=actor(), idem=idem()))


# -- devices ---------------------------------------------------------------------------------
@bp.get("/api/v1/admin/devices")
@requires("admin")
def list_devices():
    with qms().store.read():
        return {"items": qms().store.devices(), "status": qms().store.device_statuses()}


@bp.post("/api/v1/admin/devices")
@requires("admin")
def add_device():
    data = body()
    return result(*qms().accounts.add_device(
        str(data.get("name") or ""), str(data.get("kind") or ""),
        _counters(data.get("counters")) or [], str(data.get("site") or "main"),
        actor=actor(), idem=idem()))


@bp.post("/api/v1/admin/devices/<name>/revoke")
@requires("admin")
def revoke_device(name):
    return result(*qms().accounts.revoke_device(name, actor=actor(), idem=idem()))


# -- procedure catalogue ---------------------------------------------------------------------
@bp.patch("/api/v1/admin/procedures/<code>")
@requires("admin")
def edit_procedure(code):
    return result(*admin().edit_procedure(code, body(), actor=actor(), idem=idem()))


@bp.post("/api/v1/admin/procedures/route")
@requires("admin")
def route_field():
    data = body()
    return result(*admin().route_field(data.get("field"), data.get("team_id"), actor=actor(),
                                       idem=idem()))


@bp.post("/api/v1/admin/procedures/import")
@requires("admin")
def start_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("Hãy chọn tệp danh mục .csv hoặc .xlsx (send the catalogue as "
                               "multipart field 'file': .csv or .xlsx)")
    return admin().start_import(upload.stream, upload.filename, actor=actor(),
                                idem=idem()), 202


@bp.get("/api/v1/admin/imports/<job>")
@requires("admin")
def import_status(job):
    return admin().import_job(job)


@bp.get("/api/v1/admin/audit")
@requires("admin")
def audit_log():
    limit = int_arg("limit", 200, 1, 2000)
    with qms().store.read():
        items = qms().store.audit_log(limit)
    names = {t.id: t.name for t in qms().config.teams}
    for item in items:  # in words: what was done, each change old -> new (issue #16)
        item["summary"] = audit_text.describe(item["action"], item["detail"], names)
    return {"items": items}


USER = path_param("username", {"type": "string"})
register_paths({
    "/api/v1/admin/config": {"get": op("The centre configuration (centre.toml)"),
                             "put": op("Change configuration live (validated, audited)",
                                       body={"type": "object"})},
    "/api/v1/admin/users": {"get": op("Users"),
                            "post": op("Add a user", ok={201: ("Added", {"type": "object"})},
                                       body={"type": "object"})},
    "/api/v1/admin/users/{username}": {"patch": op(
        "Edit a user (role, counters, password, active)", params=[USER],
        body={"type": "object"})},
    "/api/v1/admin/devices": {"get": op("Devices and their part states"),
                              "post": op("Add a device; returns its token once",
                                         ok={201: ("Added", {"type": "object"})},
                                         body={"type": "object"})},
    "/api/v1/admin/devices/{name}/revoke": {"post": op(
        "Revoke a device token", params=[path_param("name", {"type": "string"})])},
    "/api/v1/admin/procedures/{code}": {"patch": op(
        "Edit a procedure (incl. the team it goes to)",
        params=[path_param("code", {"type": "string"})], body={"type": "object"})},
    "/api/v1/admin/procedures/route": {"post": op(
        "Route every procedure of a field to a team", body={"type": "object"})},
    "/api/v1/admin/procedures/import": {"post": op(
        "Import a catalogue (.csv/.xlsx, multipart 'file'); poll the job for progress",
        ok={202: ("Started", {"type": "object"})})},
    "/api/v1/admin/imports/{job}": {"get": op(
        "Progress of a catalogue import", params=[path_param("job", {"type": "string"})])},
    "/api/v1/admin/audit": {"get": op(
        "Audit log, newest first",
        params=[query_param("limit", {"type": "integer", "minimum": 1, "maximum": 2000})])},
})
