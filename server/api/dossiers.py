"""Dossier lookup routes (issue #15, docs/visit.md "Dossier lookup"): public, rate-limited per
client address; every check lives in `server/dossiers/lookup.py`.

- `GET  /api/v1/dossiers/<code>?key=<lookup key>` -> the dossier's status;
- `POST /api/v1/dossiers/<code>/ticket {"key": ...}` -> 201, a number at the result-return
  team when the result is ready (a kiosk's device token, or no token from a phone).
"""

from __future__ import annotations

from flask import current_app, request

from ..boundary import client_address
from ..dossiers.lookup import for_app
from . import bp
from .helpers import bearer_token, body, current_principal, result
from .openapi import OBJ, op, path_param, query_param, register_paths

CODE = path_param("code", {"type": "string", "maxLength": 80})
DOSSIER = {"type": "object", "properties": {
    "code": {"type": "string"},
    "status": {"type": "string", "enum": ["received", "processing", "supplement", "ready",
                                          "returned", "rejected"]},
    "status_vi": {"type": "string"}, "status_en": {"type": "string"},
    "procedure": {"type": "string"},
    "received_on": {"type": "string", "format": "date", "nullable": True},
    "due_on": {"type": "string", "format": "date", "nullable": True},
    "result_ready": {"type": "boolean"}, "can_take_number": {"type": "boolean"}}}

register_paths({
    "/api/v1/dossiers/{code}": {"get": op(
        "A dossier's status from the province's one-stop information system (public; the code "
        "is normalised: case, spaces, dashes, O/0; the lookup key printed on the receipt is "
        "required before anything is shown). 403 dossier_key_wrong, 404 dossier_not_found (404 "
        "dossier_lookup_off: [dossier] adapter is off), "
        "422 dossier_code_invalid, 429 rate_limited (per client address, and wrong keys per "
        "dossier), 503 dossier_service_unavailable (the system down or slower than "
        "[dossier] timeout_s)",
        ok={200: ("The dossier", DOSSIER)}, errors=(400, 403, 404, 422, 429, 503), secure=False,
        params=[CODE, query_param("key", {"type": "string", "maxLength": 48}, True)])},
    "/api/v1/dossiers/{code}/ticket": {"post": op(
        "A number at the result-return team ([dossier] result_team) for a dossier whose "
        "result is ready: the ticket view of POST /api/v1/tickets. One per dossier per day "
        "(asking again gives the same ticket). A kiosk sends its device token (channel "
        "kiosk); a phone sends none (channel web). 409 dossier_not_ready, 409 "
        "dossier_no_result_team, and the lookup's errors",
        ok={201: ("Issued", OBJ)}, errors=(400, 401, 403, 404, 409, 422, 429, 503),
        secure=False,
        params=[CODE], body={"type": "object", "required": ["key"],
                             "properties": {"key": {"type": "string", "maxLength": 48}}})},
})


def _no_store(payload, status: int = 200):
    return payload, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/dossiers/<code>")
def dossier_status(code: str):
    lookup = for_app(current_app)
    dossier = lookup.find(code, request.args.get("key"), client_address())
    return _no_store(lookup.view(dossier))


@bp.post("/dossiers/<code>/ticket")
def dossier_ticket(code: str):
    data = body()
    channel, actor = "web", None
    if bearer_token() is not None:  # a kiosk (or an officer's console): its own rights
        p = current_principal()
        p.require("tickets.issue")
        channel, actor = ("kiosk" if p.role == "kiosk" else "counter"), p.actor
    status, payload, _ = for_app(current_app).take_number(
        code, data.get("key"), client_address(), channel=channel, actor=actor)
    return result(status, payload)
