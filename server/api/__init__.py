"""HTTP API v1 (`routes.py`) and the Socket.IO handlers (`events.py`)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import bookings, dossiers, routes  # noqa: E402,F401
