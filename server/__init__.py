"""Flask + Flask-SocketIO server: `create_app(config)` and the module-level `socketio`."""

from __future__ import annotations

import os

if os.environ.get("QMS_ASYNC_MODE") == "gevent":  # `qms serve`: patch before any import
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import sqlite3  # noqa: E402
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, current_app, has_app_context, jsonify, request
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

from . import boundary, limits, messagequeue, reload
from . import config as centre_config
from .auth import Accounts
from .errors import QMSError, error_body
from .service import QueueService, utcnow
from .storage import DB_NAME, Store

socketio = SocketIO()
log = logging.getLogger("qms")


@dataclass
class QMS:
    """Everything a request needs, hung on `app.extensions["qms"]`."""

    data_dir: Path
    store: Store
    config: centre_config.Config
    service: QueueService
    accounts: Accounts


def rooms_for(event: dict) -> list[str]:
    """The staff rooms an event goes to (devices and signed-in users of its site)."""
    rooms = [f"site:{event['site']}"]
    if event.get("team_id") is not None:
        rooms.append(f"team:{event['team_id']}")
    if event.get("from_team") is not None:
        rooms.append(f"team:{event['from_team']}")
    if event.get("counter") is not None:
        rooms.append(f"counter:{event['counter']}")
    return rooms


def public_rooms_for(event: dict) -> list[str]:
    """The citizens' rooms (`public:team:<id>`, phones on `/t/<token>`) an event goes to."""
    teams = [event.get("team_id"), event.get("from_team")]
    return list(dict.fromkeys(f"public:team:{t}" for t in teams if t is not None))


def publish(events: list[dict]) -> None:
    """Push committed events: the staff view to staff rooms, and only the public projection
    (no notes, reasons, device details, ids or idempotency keys) to citizens' rooms."""
    from .api.events import public_event, revalidate, staff_event

    accounts_changed = False
    publics = []
    for event in events:
        if event.get("type") == "config.changed" and event.get("what") in ("users", "devices"):
            accounts_changed = True
        socketio.emit("event", staff_event(event), to=rooms_for(event))
        public = public_event(event)
        rooms = public_rooms_for(event) if public is not None else []
        if rooms:
            publics.append((public, rooms))
    if publics:
        # Let the boards' and consoles' socket writers send before the citizens' phones'
        # copies (hundreds) are queued: without this yield the boards waited for all of
        # them (docs/benchmarks.md, "Server: 2,000 live screens"). Each client still gets
        # its events in order (a socket is either staff or public).
        socketio.sleep(0)
        for public, rooms in publics:
            socketio.emit("event", public, to=rooms)
    if accounts_changed and has_app_context():
        current_app.extensions["qms"].accounts.forget_principals()
        revalidate()  # a password changed or a token was revoked: drop its open sockets


def create_app(config: dict | None = None, pages: Iterable[Blueprint] = ()) -> Flask:
    """The server app. `pages` are the blueprints of the edge components (display board,
    counter console) that the composition root (`qms.app`) wires in; the server itself knows
    none of them."""
    app = Flask(__name__)
    app.config.update(
        DATA_DIR=os.environ.get("QMS_DATA_DIR", "var"),
        SECRET_KEY=os.environ.get("QMS_SECRET_KEY", "dev-only-change-me"),
        ASYNC_MODE=os.environ.get("QMS_ASYNC_MODE") or None,
        MESSAGE_QUEUE=os.environ.get("QMS_MESSAGE_QUEUE") or None,
        # several processes (docs/scaling.md): the Redis they share for rate limits (default:
        # the message queue's) and the prefix of this centre's keys and channel
        REDIS_URL=None,
        REDIS_NAMESPACE=None,
        CLOCK=utcnow,
        # the request boundary (server/boundary.py, numbers in server/limits.py)
        MAX_CONTENT_LENGTH=limits.MAX_BODY,
        TRUSTED_PROXIES=os.environ.get("QMS_TRUSTED_PROXIES", ""),
        TICKET_GUESSES=limits.TICKET_GUESSES,
    )
    app.config.update(config or {})
    app.config["REDIS_URL"] = app.config["REDIS_URL"] or limits.redis_url(
        app.config["MESSAGE_QUEUE"])
    app.config["REDIS_NAMESPACE"] = (app.config["REDIS_NAMESPACE"]
                                     or limits.redis_namespace(app.config["DATA_DIR"]))
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    data_dir = Path(app.config["DATA_DIR"])
    centre = centre_config.load(data_dir)
    store = Store(data_dir / DB_NAME)
    clock = app.config["CLOCK"]
    service = QueueService(store, centre, publish=publish, clock=clock)
    accounts = Accounts(store, clock, limiter_url=app.config["REDIS_URL"],
                        namespace=app.config["REDIS_NAMESPACE"])
    qms = app.extensions["qms"] = QMS(data_dir, store, centre, service, accounts)
    # every service writes through the one write path (QueueService.run)
    from .admin_service import EXTENSION as ADMIN_SERVICE
    from .admin_service import AdminService

    accounts.bind(service)
    app.extensions[ADMIN_SERVICE] = AdminService(
        service, data_dir, on_config=lambda new: setattr(qms, "config", new),
        refresh=lambda: reload.check(app))

    # The Socket.IO handlers must be registered before init_app: Flask-SocketIO keeps a
    # handler for later servers only if it was declared while no server existed yet.
    from .api import bp as api_bp
    from .api import events  # noqa: F401  (registers the Socket.IO handlers)

    socketio.init_app(app, async_mode=app.config["ASYNC_MODE"], cors_allowed_origins="*",
                      ping_interval=10, ping_timeout=10,
                      max_http_buffer_size=limits.MAX_SOCKET_MESSAGE,
                      **messagequeue.socketio_options(socketio, app.config["MESSAGE_QUEUE"],
                                                      app.config["REDIS_NAMESPACE"]))
    if not app.config.get("TESTING"):
        events.start_revalidation(app)

    app.register_blueprint(api_bp, url_prefix="/api/v1")
    from .admin.routes import bp as admin_bp
    from .booking.routes import bp as booking_bp
    from .lookup.routes import bp as lookup_bp
    from .manager.routes import bp as manager_bp

    for blueprint in (*pages, manager_bp, admin_bp, lookup_bp, booking_bp):
        app.register_blueprint(blueprint)
    _start_reports(app)
    _register_errors(app)
    boundary.install(app)
    reload.install(app)  # follow configuration changes made by another server process
    return app


def _start_reports(app: Flask) -> None:
    """Under gevent (`qms serve`): the report worker process (reports, export jobs and the
    report writer, off the serving process); otherwise the report writer thread here."""
    from .reports import refresher, worker
    from .storage import _gevent_patched

    if _gevent_patched() and not app.config.get("TESTING"):
        client = worker.WorkerClient(app.extensions["qms"].data_dir)
        app.extensions[worker.EXTENSION] = client
        client.start()
    else:
        refresher.install(app)


def _register_errors(app: Flask) -> None:
    from . import health

    def storage_full(err: BaseException, where: str):
        health.storage_full(where, err, app)
        log.error("storage full on %s %s: %s", request.method, request.path, err)
        return jsonify(error_body("storage_full", health.STORAGE_FULL_MESSAGE)), 507

    @app.errorhandler(QMSError)
    def qms_error(err: QMSError):
        return jsonify(err.body()), err.status

    # A full disk is a clear 507, not a 500: SQLite answers SQLITE_FULL ("database or disk is
    # full") and rolls the transaction back, so nothing half-written is left behind; a file
    # write raises OSError(ENOSPC). Managers see it in `health.alerts()`.
    @app.errorhandler(sqlite3.OperationalError)
    def sqlite_error(err: sqlite3.OperationalError):
        if health.is_storage_full(err):
            return storage_full(err, "database")
        return unexpected(err)

    @app.errorhandler(OSError)
    def os_error(err: OSError):
        if health.is_storage_full(err):
            return storage_full(err, "file")
        return unexpected(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        if request.path.startswith("/api/"):
            return jsonify(error_body(code, err.description or err.name)), err.code
        return err

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        if health.is_storage_full(err):  # e.g. raised from an ENOSPC inside a library
            return storage_full(err, "file")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error_body("internal_error", "Lỗi máy chủ (internal server error)")), 500
