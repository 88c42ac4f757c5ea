"""The whole server app: the server with the pages of the edge components wired in.

The server (`server.create_app`) knows no edge; this composition root decides which
blueprints it serves: the hall display board and phone page (`display_board`), the
officer console and rating page (`counter`) and the site identity (`/api/v1/site`)."""

from __future__ import annotations

from flask import Flask

from server import create_app as create_server_app


def page_blueprints() -> list:
    from counter.routes import bp as counter_bp
    from display_board.routes import bp as display_bp

    return [display_bp, counter_bp]


def create_app(config: dict | None = None) -> Flask:
    from server.api.site import bp as site_bp

    return create_server_app(config, pages=[*page_blueprints(), site_bp])
