"""Thin helpers shared by the API routes: the principal, rights, JSON bodies, idempotency."""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from flask import current_app, g, request

from ..auth import Principal
from ..boundary import parse_body
from ..errors import Forbidden, NotFound, Unauthorized, ValidationFailed


def qms():
    return current_app.extensions["qms"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return None


def current_principal() -> Principal:
    if "principal" not in g:
        g.principal = qms().accounts.principal(bearer_token())
    if g.principal is None:
        raise Unauthorized("Cần đăng nhập hoặc mã thiết bị (sign in or use a device token)")
    return g.principal


def requires(right: str):
    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            current_principal().require(right)
            return fn(*args, **kwargs)
        wrapper.right = right
        return wrapper
    return deco


def body() -> dict:
    """The request's JSON object ({} when empty), parsed once at the boundary: size, depth,
    lone surrogates and text caps checked, control characters stripped (server/boundary.py)."""
    return parse_body()


def idem(actor: str | None = None) -> tuple[str, str, str] | None:
    """(scope, key, fingerprint) of a command's Idempotency-Key, or None without one.
    `actor` scopes it (default: the signed-in principal; an anonymous caller's routes pass
    their own, e.g. the client address).

    The scope is the principal and the CANONICAL resource (the route and its converted
    arguments), so `/counters/01/call-next` and `/counters/1/call-next` are one resource; the
    fingerprint binds the key to the request (method, resource, JSON body): the same key with
    another body answers 422 instead of silently replaying the first answer."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= 200) or not key.isascii() or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1-200 printable ASCII characters",
                               code="bad_idempotency_key")
    args = json.dumps(request.view_args or {}, sort_keys=True, separators=(",", ":"))
    resource = f"{request.method} {request.endpoint} {args}"
    if request.mimetype == "application/json" or not request.mimetype:
        payload = json.dumps(body(), sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"))
    else:  # an upload: the resource only (the import job keeps its own key)
        payload = request.mimetype
    fingerprint = hashlib.sha256(f"{resource}\n{payload}".encode()).hexdigest()
    return (f"{actor or current_principal().actor} {resource}", key, fingerprint)


def site_arg(p: Principal) -> str:
    """The `?site=` a request asks about (default: the principal's own), checked against the
    caller: a device or an officer may read only its own site, a manager or an admin any site
    of this server (the same rule as the Socket.IO rooms)."""
    site = request.args.get("site") or p.site
    if site not in qms().config.sites:
        raise NotFound(f"Không có điểm {site[:40]!r} (unknown site)", code="unknown_site")
    if not p.may_follow_site(site):
        raise Forbidden("Không được xem điểm khác (another site's data)", code="forbidden_site")
    return site


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an integer") from exc
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be between {lo} and {hi}")
    return value


def result(status: int, payload):
    """A command's (status, body) as a Flask response; 204 has no body."""
    if status == 204:
        return "", 204
    return payload, status
