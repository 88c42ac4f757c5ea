"""The client of the province's central server (for the sync process).

`CentralClient(url, site_token, verify=True)` is a `qmsclient.Client` whose requests go to
the central server's API v1 (``/api/v1``) with the site's token; `verify` is requests'
TLS setting: True (the system's CA bundle), a path to a CA bundle (a province's own CA),
or False (tests only). Calls raise `ServerError` like every other call of this package:
``err.status`` 409 with ``err.code`` ``seq_gap`` carries ``err.details["expected"]``.
"""

from __future__ import annotations

import requests

from .http import Client


class CentralClient(Client):
    def __init__(self, server: str, token: str, *, timeout: float = 15.0,
                 verify: bool | str = True):
        super().__init__(server, token, timeout=timeout)
        self.verify = verify

    def _session(self) -> requests.Session:
        s = super()._session()
        s.verify = self.verify
        return s

    def push(self, batch: dict) -> dict:
        """POST /ingest once (the caller decides about retries): the centre's answer."""
        return self.request("POST", "/ingest", batch)[1] or {}

    def position(self) -> dict:
        """GET /sync/position: {site, epoch, expected}."""
        return self.get("/sync/position")

    def bundles(self, have: dict[str, int | None]) -> dict:
        """GET /bundles: the newest bundles, bodies only for those not in `have`."""
        return self.get("/bundles", {k: v for k, v in have.items() if v is not None})

    def bundle_applied(self, kind: str, version: int, status: str, detail: str = "") -> None:
        self.post("/bundles/applied", {"kind": kind, "version": version, "status": status,
                                       "detail": detail})
