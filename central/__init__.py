"""The central server of a province: every site's event log on PostgreSQL, central reports,
configuration bundles flowing down.

`create_app(config)` builds the Flask app; `central.serving.run` serves it (waitress, a
thread per request: database work never waits behind another request). The store is
`central.storage` (psycopg 3, Alembic migrations in plain SQL); ingest rules are in
`central.ingest`, reports in `central.reports`, sign-in and site tokens in `central.auth`.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.errors import QMSError, error_body

from . import bundles
from . import config as central_config
from .auth import CentralAuth
from .storage import Store, migrate

log = logging.getLogger("qms.central")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Central:
    """Everything a request needs, on `app.extensions["central"]`."""

    config: central_config.CentralConfig
    store: Store
    auth: CentralAuth
    clock: object
    _fields: tuple[int | None, dict] = (None, {})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def field_of(self):
        """Procedure code -> field from the newest catalogue bundle (reloaded on change)."""
        head = self.store.latest_bundle("catalogue", bundles.PROVINCE, with_body=False)
        version = head["version"] if head else None
        with self._lock:
            if version != self._fields[0]:
                self._fields = (version, bundles.field_map(self.store))
            fields = self._fields[1]
        return lambda code: fields.get(code) if code else None


def create_app(config: dict | None = None) -> Flask:
    """The central app. `config`: DATA_DIR (central.toml), DSN (overrides central.toml),
    CLOCK, TESTING, MIGRATE (default True: bring the database to the newest migration)."""
    app = Flask(__name__)
    app.config.update(DATA_DIR=os.environ.get("QMS_CENTRAL_DIR"), CLOCK=utcnow, MIGRATE=True,
                      ROLLUP_EVERY_S=60.0)
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    data_dir = app.config["DATA_DIR"]
    cfg = central_config.load(Path(data_dir) if data_dir else None)
    if app.config.get("DSN"):
        cfg.dsn = app.config["DSN"]
    for key in ("STALE_AFTER_MIN", "MAX_BATCH_EVENTS", "MAX_BODY_MB"):
        if app.config.get(key) is not None:
            setattr(cfg, key.lower(), int(app.config[key]))
    if app.config["MIGRATE"]:
        migrate(cfg.dsn)
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body
    store = Store(cfg.dsn, max_size=int(app.config.get("POOL_SIZE", 10)))
    app.extensions["central"] = Central(cfg, store, CentralAuth(store, cfg.session_hours),
                                        app.config["CLOCK"])

    from .routes import bp

    app.register_blueprint(bp)
    _register_errors(app)
    if not app.config.get("TESTING") and app.config["ROLLUP_EVERY_S"]:
        _start_rollup(app)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(QMSError)
    def qms_error(err: QMSError):
        return jsonify(err.body()), err.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(err):
        mb = app.extensions["central"].config.max_body_mb
        return jsonify(error_body("payload_too_large",
                                  f"Nội dung gửi lên quá lớn (tối đa {mb} MB); hãy gửi lô nhỏ "
                                  f"hơn (request body too large)")), 413

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        messages = {404: "Không tìm thấy (not found)",
                    405: "Phương thức không được hỗ trợ (method not allowed)"}
        return jsonify(error_body(code, messages.get(err.code, err.description or code))), \
            err.code

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error_body("internal_error", "Lỗi máy chủ trung tâm (internal server "
                                                    "error)")), 500


def _start_rollup(app: Flask) -> None:
    """Month aggregates for months that just closed, every ROLLUP_EVERY_S seconds."""
    from .reports import roll_up_closed

    c: Central = app.extensions["central"]
    every = float(app.config["ROLLUP_EVERY_S"])

    def loop():
        while True:
            try:
                roll_up_closed(c.store, c.config.tz, c.clock())
            except Exception:  # logged; tried again next round
                log.exception("month roll-up failed")
            threading.Event().wait(every)

    threading.Thread(target=loop, name="central-rollup", daemon=True).start()
