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

    app = create_server_app(config, pages=[*page_blueprints(), site_bp])
    # every page's browser asks for /favicon.ico: answer it (a 404 per page otherwise)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    return app


FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
           '<rect width="64" height="64" rx="12" fill="#c1121f"/>'
           '<text x="32" y="44" font-family="sans-serif" font-size="30" font-weight="700"'
           ' text-anchor="middle" fill="#fff">Số</text></svg>')


def favicon():
    from flask import Response

    resp = Response(FAVICON, mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp
