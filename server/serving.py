"""Running the server process: gevent's WSGI server tuned for a hall, and the start-up check
that refuses published demo passwords outside demo mode."""

from __future__ import annotations

import sys

from flask import Flask

from .setup import demo_password


def refuse_default_secrets(app: Flask) -> bool:
    """Outside demo mode the server will not start while any account still has a
    published demo password."""
    from . import demo

    qms = app.extensions["qms"]
    if qms.config.demo:
        return True
    known = {u["username"]: demo_password(u["role"]) for u in demo.demo_users()}
    weak = qms.accounts.default_passwords_in_use(known)
    if weak:
        sys.stderr.write(
            "refusing to start: these accounts still use the published demo password: "
            f"{', '.join(weak)}. Change them with `qms user add NAME --role ROLE --password "
            "NEW` (or set demo = true in centre.toml for a demonstration).\n")
        return False
    return True


def serve_gevent(app: Flask, host: str, port: int, verbose: bool) -> None:
    """gevent's WSGI server with WebSocket support, as `socketio.run` would start it, but
    with TCP_NODELAY on every connection (without it a small JSON answer written in two
    segments waits for the client's delayed ACK, ~40 ms per request) and a fair turn for
    every connection."""
    import socket

    import gevent
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class Handler(WebSocketHandler):
        def __init__(self, sock, *args, **kwargs):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, *args, **kwargs)

        def handle_one_response(self):
            super().handle_one_response()
            # Yield after every response: a keep-alive client whose next request is
            # already buffered would otherwise be served again and again while other
            # connections starve (seen as p99 > 1 s at 16 concurrent clients).
            gevent.sleep(0)

    server = pywsgi.WSGIServer((host, port), app, handler_class=Handler,
                               log=None if not verbose else "default")
    server.serve_forever()


def run(app: Flask, host: str, port: int, verbose: bool = False) -> int:
    """Serve `app` until stopped; 3 when the start-up check refuses."""
    from . import socketio

    if not refuse_default_secrets(app):
        return 3
    print(f"QMS serving {app.extensions['qms'].config.name} on http://{host}:{port}",
          flush=True)
    if app.config["ASYNC_MODE"] == "gevent":
        serve_gevent(app, host, port, verbose)
    else:
        socketio.run(app, host=host, port=port, log_output=verbose,
                     allow_unsafe_werkzeug=True)
    return 0
