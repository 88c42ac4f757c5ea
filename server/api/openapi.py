"""The OpenAPI 3.0 document of API v1 (served at /api/v1/openapi.json; a test checks it
lists exactly the routes the app has)."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
OBJ = {"type": "object"}


def _resp(ok: dict, *errors: int) -> dict:
    out = {str(code): {"description": desc, "content": {"application/json": {"schema": schema}}}
           for code, (desc, schema) in ok.items()}
    for code in errors:
        out[str(code)] = {"description": "error",
                          "content": {"application/json": {"schema": ERROR}}}
    return out


def _op(summary: str, ok: dict | None = None, errors=(400, 401, 403, 404, 409, 422),
        body: dict | None = None, params: list | None = None, secure=True,
        idempotent=False) -> dict:
    op = {"summary": summary, "responses": _resp(ok or {200: ("OK", OBJ)}, *errors)}
    parameters = list(params or [])
    if idempotent:
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": False,
                             "content": {"application/json": {"schema": body}}}
    if not secure:
        op["security"] = []
    return op


def _q(name, schema, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _p(name, schema):
    return {"name": name, "in": "path", "required": True, "schema": schema}


N = _p("n", {"type": "integer", "minimum": 0})
TID = _p("ticket_id", {"type": "integer", "minimum": 0})
COUNTER_OPS = {
    "call-next": ("Call the next ticket to counter n (204 when nobody waits; 409 too_soon "
                  "when the current ticket was called less than call_guard_s ago and is not "
                  "being served: a double press)", None),
    "call-number": ("Call a given waiting or no-show number out of order; the number must "
                    "name one ticket of the queues the counter serves (409 ambiguous_number: "
                    "give team_id); 409 too_soon within call_guard_s of the current call",
                    {"type": "object", "properties": {"number": {"type": "integer"},
                                                      "team_id": {"type": "integer"},
                                                      "reason": {"type": "string"}}}),
    "call-back": ("Call back a ticket this counter finished or marked absent by mistake "
                  "(within 5 minutes); a ticket called meanwhile waits first in line for "
                  "this counter",
                  {"type": "object", "required": ["ticket_id"],
                   "properties": {"ticket_id": {"type": "integer"}}}),
    "recall": ("Call the current ticket again", None),
    "start": ("Start serving the called ticket", None),
    "finish": ("Finish the current ticket; a visit of several steps (docs/visit.md) moves "
               "on to its next step (ticket.step_moved) unless end_visit is true",
               {"type": "object", "properties": {"end_visit": {"type": "boolean"}}}),
    "next-step": ("Send the current ticket on to its visit's next step, keeping its number "
                  "and its place by arrival; 409 no_next_step at the last step, 409 "
                  "ticket_closed when the ticket_id shown has ended",
                  {"type": "object", "properties": {"ticket_id": {"type": "integer"}}}),
    "no-show": ("Mark the called ticket as not present", None),
    "transfer": ("Send the current ticket to a team or counter (wait clock kept)",
                 {"type": "object", "properties": {"team_id": {"type": "integer"},
                                                   "counter": {"type": "integer"},
                                                   "note": {"type": "string"}}}),
    "pause": ("Pause the counter", {"type": "object",
                                    "properties": {"reason": {"type": "string"}}}),
    "resume": ("Open or resume the counter", None),
    "close": ("Close the counter (finishes its current ticket)", None),
}


EXTRA_PATHS: dict[str, dict] = {}


def register_paths(paths: dict[str, dict]) -> None:
    """Other areas (manager, admin, display) add the /api/v1 paths they serve."""
    EXTRA_PATHS.update(paths)


op = _op
query_param = _q
path_param = _p


def spec() -> dict:
    paths: dict[str, dict] = {
        "/api/v1/auth/login": {"post": _op(
            "Sign in (officer, manager, admin); returns a bearer token", secure=False,
            errors=(400, 401, 403, 422, 429),
            body={"type": "object", "properties": {
                "username": {"type": "string"}, "password": {"type": "string"},
                "counter": {"type": "integer"}}})},
        "/api/v1/auth/logout": {"post": _op("End this session")},
        "/api/v1/auth/me": {"get": _op("Who the token belongs to")},
        "/api/v1/procedures": {"get": _op(
            "Diacritic-insensitive procedure search",
            params=[_q("q", {"type": "string"}), _q("field", {"type": "string"}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000})])},
        "/api/v1/procedures/fields": {"get": _op("Fields (lĩnh vực) with procedure counts")},
        "/api/v1/procedures/{code}": {"get": _op(
            "One procedure, whole", params=[_p("code", {"type": "string"})])},
        "/api/v1/tickets": {"post": _op(
            "Issue a ticket", ok={201: ("Issued", OBJ)}, idempotent=True,
            body={"type": "object", "properties": {
                "procedure_code": {"type": "string"}, "team_id": {"type": "integer"},
                "priority": {"type": "string", "enum": [
                    "elderly", "disabled", "pregnant", "child_under_6", "meritorious"]},
                "channel": {"type": "string",
                            "enum": ["kiosk", "web", "counter", "appointment"]},
                # a scanned CCCD: only its salted hash is used (409 person_limit)
                "id_number": {"type": "string", "pattern": "^[0-9]{12}$"}}})},
        "/api/v1/tickets/{token}": {"get": _op(
            "A citizen's view of one ticket (the QR code's target)", secure=False,
            errors=(404,), params=[_p("token", {"type": "string"})])},
        "/api/v1/tickets/{ticket_id}/rating": {"post": _op(
            "The citizen's rating of the ticket just finished at a counter (its rating pad's "
            "bridge or its rating page's token only; once)", idempotent=True, params=[TID],
            body={"type": "object", "properties": {
                "score": {"type": "integer", "minimum": 1, "maximum": 4},
                "reason": {"type": "string"}}})},
        "/api/v1/tickets/{ticket_id}/cancel": {"post": _op(
            "Cancel a waiting ticket (an officer: of the teams its counter serves; a manager: "
            "of its site)", idempotent=True, params=[TID])},
        "/api/v1/counters/{n}": {"get": _op("One counter's state", params=[N])},
        "/api/v1/state": {"get": _op(
            "Snapshot: queues, counters, last calls and the current seq",
            params=[_q("site", {"type": "string"})])},
        "/api/v1/events": {"get": _op(
            "Events after seq, for a client that reconnects",
            params=[_q("since", {"type": "integer", "minimum": 0}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                    _q("site", {"type": "string"})])},
        "/api/v1/devices/status": {
            "post": _op("A device reports a part online/offline (printer, paper)",
                        body={"type": "object", "properties": {
                            "part": {"type": "string"}, "online": {"type": "boolean"},
                            "detail": {"type": "string"}}, "required": ["online"]}),
            "get": _op("Device states (managers)")},
        "/api/v1/reports/waits": {"get": _op(
            "Wait and service times grouped by team, counter, procedure, hour or day",
            params=[_q("from", {"type": "string", "format": "date"}),
                    _q("to", {"type": "string", "format": "date"}),
                    _q("by", {"type": "string", "enum": [
                        "team", "counter", "officer", "procedure", "field", "hour", "weekday",
                        "day", "priority", "priority_class", "site", "all"]})])},
        "/api/v1/openapi.json": {"get": _op("This document", secure=False, errors=())},
    }
    for action, (summary, schema) in COUNTER_OPS.items():
        ok = {200: ("OK", OBJ)}
        if action == "call-next":
            ok[204] = ("Nobody waits", OBJ)
        op = _op(summary, ok=ok, params=[N], body=schema, idempotent=True)
        if action == "call-next":
            op["responses"]["204"] = {"description": "Nobody waits"}
        paths[f"/api/v1/counters/{{n}}/{action}"] = {"post": op}
    paths.update(EXTRA_PATHS)
    return {
        "openapi": "3.0.3",
        "info": {"title": "QMS-HCC API", "version": "1.0.0",
                 "description": "Counter queue and kiosk system for public service centres"},
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "details": {"type": "object"}}}}}},
        },
    }
