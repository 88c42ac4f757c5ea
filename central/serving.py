"""Running the central server: waitress (a pool of threads) in front of the Flask app.

Each request runs on its own thread with its own pooled PostgreSQL connection, so a long
report never holds up a site's ingest. Put nginx (TLS) in front: deploy/nginx-central.conf.
"""

from __future__ import annotations

import logging

from flask import Flask


def run(app: Flask, host: str = "127.0.0.1", port: int = 8800, threads: int = 8,
        verbose: bool = False) -> int:
    from waitress import serve

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    c = app.extensions["central"]
    print(f"QMS central ({c.config.name}) on http://{host}:{port}", flush=True)
    serve(app, host=host, port=port, threads=threads, ident="qms-central",
          max_request_body_size=c.config.max_body + 1024, clear_untrusted_proxy_headers=True)
    return 0
