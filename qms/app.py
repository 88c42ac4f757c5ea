"""The whole server app: the server with the pages of the edge components wired in.

The server (`server.create_app`) knows no edge; this composition root decides which
blueprints it serves: the hall display board and phone page (`display_board`), the
officer console and rating page (`counter`) and the site identity (`/api/v1/site`), and that
the server follows a configuration changed by another process (the sync process)."""

from __future__ import annotations

from flask import Flask

from server import create_app as create_server_app


def page_blueprints() -> list:
    from counter.routes import bp as counter_bp
    from display_board.routes import bp as display_bp

    return [display_bp, counter_bp]


def create_app(config: dict | None = None) -> Flask:
    from server import config_follow
    from server.api.site import bp as site_bp

    app = create_server_app(config, pages=[*page_blueprints(), site_bp])
    # the sync process applies configuration bundles from the central server through the
    # admin service in its own process: this server follows centre.toml
    config_follow.install(app)
    return app
