"""`/tra-cuu`: look a dossier up on the phone (the QR on the dossier receipt may point here:
`<public_url>/tra-cuu?ma=<code>&key=<key>` or `/tra-cuu/<code>?key=<key>`), and take a number
for the result-return counter when the result is ready.

Server-rendered, no script; the same checks, limits and errors as the API
(`server/dossiers/lookup.py`): an error is shown on the page in Vietnamese, then English, with
the API's status code.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request

from ..boundary import client_address
from ..dossiers.lookup import for_app
from ..errors import QMSError

bp = Blueprint("lookup", __name__, template_folder="templates")

CODE_INPUT_MAX = 80
KEY_INPUT_MAX = 24


def _date(value: str | None) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else "—"


def _page(status: int = 200, **context) -> Response:
    q = current_app.extensions["qms"]
    context.setdefault("code", "")
    context.setdefault("key", "")
    resp = Response(render_template(
        "lookup/tra_cuu.html", centre=q.config.name, fmt_date=_date,
        emulated=q.config.dossier.adapter == "emulator", code_max=CODE_INPUT_MAX,
        key_max=KEY_INPUT_MAX, **context), status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the key may be in the URL
    return resp


def _inputs(source) -> tuple[str, str]:
    return ((source.get("ma") or "")[:CODE_INPUT_MAX].strip(),
            (source.get("key") or "")[:KEY_INPUT_MAX].strip())


@bp.get("/tra-cuu")
@bp.get("/tra-cuu/<code>")
def lookup_page(code: str | None = None):
    typed, key = _inputs(request.args)
    code = (code or typed)[:CODE_INPUT_MAX]
    if not code and not key:
        return _page()
    lookup = for_app(current_app)
    try:
        dossier = lookup.view(lookup.find(code, key, client_address()))
    except QMSError as err:
        return _page(err.status, code=code, key=key, error=err)
    return _page(code=code, key=key, dossier=dossier)


@bp.post("/tra-cuu/lay-so")
def take_number():
    code, key = _inputs(request.form)
    lookup = for_app(current_app)
    try:
        status, ticket, found = lookup.take_number(code, key, client_address(),
                                                   channel="web", actor=None)
    except QMSError as err:
        return _page(err.status, code=code, key=key, error=err)
    return _page(status, code=code, key=key, dossier=lookup.view(found), ticket=ticket)
