"""GET /api/v1/site: which site this hall is for the province (read-only): the site id set
at `qms init --site` and the database's epoch. Managers and admins may read it."""

from __future__ import annotations

from flask import Blueprint

from ..storage import identity
from .helpers import qms, requires
from .openapi import op, register_paths

bp = Blueprint("site_identity", __name__)

register_paths({"/api/v1/site": {"get": op(
    "This hall's site id and database epoch for the province (read-only; managers, admins)",
    errors=(401, 403))}})


@bp.get("/api/v1/site")
@requires("reports.read")
def site_identity():
    q = qms()
    ident = identity.identity(q.store)
    return {"site": ident["site"], "epoch": ident["epoch"], "created_at": ident["created_at"],
            "streams": sorted(q.config.sites)}
