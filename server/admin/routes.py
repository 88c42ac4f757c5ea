"""The admin page (`/admin`) and its API: centre configuration, procedure catalogue, users
and devices. Every change takes effect live and is written to the audit log.

A configuration change is validated as a whole (`config.from_dict`), written to the audit
log with a `config.changed` event per site in one transaction (so open pages refresh), then
swapped into `qms.config` and `qms.service.config` and saved to centre.toml.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from flask import Blueprint, Response, render_template, request

from server import config as centre_config
from server.api.helpers import body, current_principal, int_arg, qms, requires
from server.api.openapi import op, path_param, query_param, register_paths
from server.auth import DEVICE_KINDS, USER_ROLES, hash_password
from server.errors import NotFound, ValidationFailed
from server.importer import import_procedures
from server.service import iso

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/admin-static")

IMPORTS: dict[str, dict] = {}
EDITABLE = ("name", "name_en", "public_url", "target_wait_min", "default_service_s",
            "enforce_hours", "hours", "teams", "counters", "priority", "notice",
            "announcement_vi", "announcement_en", "announce_repeat", "sites")


@bp.get("/admin")
def admin_page():
    resp = Response(render_template("admin/index.html"))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def record(action: str, detail: dict, what: str) -> None:
    """Audit row + a `config.changed` event per site, in one transaction."""
    q = qms()
    actor = current_principal().actor

    def cmd(now, events):
        q.store.audit(iso(now), actor, action, detail)
        for site in q.config.sites:
            q.service._event(events, now, "config.changed", site=site, actor=actor,
                             what=what, action=action)
        return 200, None

    q.service.run(cmd)


def apply_config(new: centre_config.Config, detail: dict) -> None:
    q = qms()
    new.path = q.config.path
    with q.store.write():
        q.store.ensure_counters([c.number for c in new.counters])
    q.config = new
    q.service.config = new
    new.save()
    record("config.update", detail, "config")


# -- configuration ---------------------------------------------------------------------------
@bp.get("/api/v1/admin/config")
@requires("admin")
def get_config():
    data = qms().config.to_dict()
    data["priority_classes"] = centre_config.PRIORITY_LABELS_VI
    return data


@bp.put("/api/v1/admin/config")
@requires("admin")
def put_config():
    changes = body()
    bad = set(changes) - set(EDITABLE)
    if bad:
        raise ValidationFailed(f"Cannot change {sorted(bad)}", code="bad_config")
    current = qms().config.to_dict()
    merged = {**current, **changes}
    try:
        new = centre_config.from_dict(merged)
    except (TypeError, KeyError, ValueError) as exc:
        if isinstance(exc, ValidationFailed):
            raise
        raise ValidationFailed(f"Cấu hình không hợp lệ (invalid configuration): {exc}",
                               code="bad_config") from exc
    apply_config(new, {"changed": sorted(k for k in changes if changes[k] != current.get(k))})
    return get_config()


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
        raise ValidationFailed("counters must be a list of counter numbers")
    for c in value:
        qms().config.counter(c)
    return value


@bp.post("/api/v1/admin/users")
@requires("admin")
def add_user():
    data = body()
    username = str(data.get("username") or "")
    qms().accounts.add_user(username, str(data.get("role") or "officer"),
                            str(data.get("password") or ""), _counters(data.get("counters")) or [],
                            str(data.get("full_name") or ""))
    record("user.add", {"username": username, "role": data.get("role")}, "users")
    return {"user": qms().store.user(username) and _public_user(username)}, 201


def _public_user(username: str) -> dict:
    u = qms().store.user(username)
    if u is None:
        raise NotFound(f"Không có người dùng {username} (unknown user)", code="unknown_user")
    u.pop("password_hash", None)
    return u


@bp.patch("/api/v1/admin/users/<username>")
@requires("admin")
def edit_user(username):
    data = body()
    role = data.get("role")
    if role is not None and role not in USER_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}")
    password = data.get("password")
    active = data.get("active")
    if active is not None and not isinstance(active, bool):
        raise ValidationFailed("active must be true or false")
    store = qms().store
    with store.write():
        found = store.update_user(
            username, role=role, full_name=data.get("full_name"),
            counters=_counters(data.get("counters")),
            password_hash=hash_password(str(password)) if password else None, active=active)
    if not found:
        raise NotFound(f"Không có người dùng {username} (unknown user)", code="unknown_user")
    record("user.edit", {"username": username,
                         "fields": sorted(k for k in data if k != "password")
                         + (["password"] if password else [])}, "users")
    return {"user": _public_user(username)}


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
    name = str(data.get("name") or "").strip()
    kind = str(data.get("kind") or "")
    if not name or kind not in DEVICE_KINDS:
        raise ValidationFailed(f"name and kind ({', '.join(DEVICE_KINDS)}) are required")
    token = qms().accounts.add_device(name, kind, _counters(data.get("counters")) or [],
                                      str(data.get("site") or "main"))
    record("device.token", {"device": name, "kind": kind}, "devices")
    return {"name": name, "kind": kind, "token": token}, 201


@bp.post("/api/v1/admin/devices/<name>/revoke")
@requires("admin")
def revoke_device(name):
    store = qms().store
    with store.write():
        found = store.revoke_device(name)
    if not found:
        raise NotFound(f"Không có thiết bị {name} (unknown device)", code="unknown_device")
    record("device.revoke", {"device": name}, "devices")
    return {"name": name, "active": False}


# -- procedure catalogue ---------------------------------------------------------------------
@bp.patch("/api/v1/admin/procedures/<code>")
@requires("admin")
def edit_procedure(code):
    data = body()
    changes = {k: data[k] for k in ("name", "field", "agency", "level", "processing_days",
                                    "fee", "team_id", "documents") if k in data}
    if "team_id" in changes and changes["team_id"] is not None:
        qms().config.team(int(changes["team_id"]))
    if "documents" in changes and not isinstance(changes["documents"], list):
        raise ValidationFailed("documents must be a list of strings")
    store = qms().store
    with store.write():
        found = store.update_procedure(code, changes)
    if not found:
        raise NotFound(f"Không có thủ tục {code} (unknown procedure)", code="unknown_procedure")
    record("procedure.edit", {"code": code, "fields": sorted(changes)}, "procedures")
    with store.read():
        return store.procedure(code)


@bp.post("/api/v1/admin/procedures/route")
@requires("admin")
def route_field():
    data = body()
    field, team_id = data.get("field"), data.get("team_id")
    if not isinstance(field, str) or not isinstance(team_id, int):
        raise ValidationFailed("field (text) and team_id (number) are required")
    qms().config.team(team_id)
    store = qms().store
    with store.write():
        n = store.route_procedures(field, team_id)
    record("procedure.route", {"field": field, "team_id": team_id, "count": n}, "procedures")
    return {"field": field, "team_id": team_id, "count": n}


@bp.post("/api/v1/admin/procedures/import")
@requires("admin")
def start_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("Send the catalogue as multipart field 'file' (.csv or .xlsx)")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValidationFailed("Use a .csv or .xlsx file", code="bad_import")
    q = qms()
    job = secrets.token_hex(8)
    folder = q.data_dir / "imports"
    folder.mkdir(exist_ok=True)
    path = folder / f"{job}{suffix}"
    upload.save(path)
    state = IMPORTS[job] = {"job": job, "state": "running", "done": 0, "total": 0,
                            "count": None, "error": None, "file": upload.filename}
    actor = current_principal().actor
    app = q

    def progress(done, total):
        state["done"], state["total"] = done, total
        if done % 50 == 0:
            time.sleep(0)  # let progress polls through (gevent)

    def work():
        try:
            state["count"] = import_procedures(app.store, app.config, path, progress=progress)
            state["state"] = "done"
            with app.store.write():
                app.store.audit(iso(app.service.clock()), actor, "procedure.import",
                                {"file": upload.filename, "count": state["count"]})
        except Exception as exc:  # reported to the page
            state["state"], state["error"] = "failed", str(getattr(exc, "message", exc))

    threading.Thread(target=work, daemon=True).start()
    return state, 202


@bp.get("/api/v1/admin/imports/<job>")
@requires("admin")
def import_status(job):
    if job not in IMPORTS:
        raise NotFound("unknown import job", code="unknown_job")
    return IMPORTS[job]


@bp.get("/api/v1/admin/audit")
@requires("admin")
def audit_log():
    limit = int_arg("limit", 200, 1, 2000)
    with qms().store.read():
        return {"items": qms().store.audit_log(limit)}


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
