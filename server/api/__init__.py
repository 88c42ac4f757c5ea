"""HTTP API v1 (`routes.py`) and the Socket.IO handlers (`events.py`)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import routes  # noqa: E402,F401
from . import bookings  # noqa: E402,F401
