"""The hall database's identity for the province (part of the one storage module): its site
id and its epoch (`site_identity`, migration m010). Read by anyone; the site id is written
once by `qms init --site`, the epoch only by a restore (`qms restore`, a new epoch so the
central server flags the restored log instead of merging it)."""

from __future__ import annotations

import re
import secrets
import sqlite3
from datetime import UTC, datetime

from ..errors import Conflict, ValidationFailed

SITE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def read(conn: sqlite3.Connection) -> dict:
    row = conn.execute("SELECT site, epoch, created_at FROM site_identity WHERE id = 1")
    site, epoch, created_at = row.fetchone()
    return {"site": site, "epoch": epoch, "created_at": created_at}


def identity(store) -> dict:
    with store.read():
        return read(store.conn)


def set_site(store, site: str, *, force: bool = False) -> dict:
    """Name the site this database serves. Once named it stays (a different name is
    refused unless `force`: the central server knows the site by it)."""
    if not isinstance(site, str) or not SITE_ID_RE.match(site):
        raise ValidationFailed(f"Mã điểm {site!r} chỉ gồm a-z, 0-9, - và _ (tối đa 32 ký tự) "
                               f"(bad site id)", code="bad_site")
    with store.write():
        current = read(store.conn)
        if current["site"] not in (None, site) and not force:
            raise Conflict(f"Cơ sở dữ liệu này đã thuộc điểm {current['site']} (the database "
                           f"already belongs to site {current['site']})", code="site_set")
        store.conn.execute("UPDATE site_identity SET site = ? WHERE id = 1", (site,))
        store.audit(datetime.now(UTC).isoformat(timespec="milliseconds"), "setup",
                    "site.identity", {"site": site, "previous": current["site"]})
    return identity(store)


def new_epoch(conn: sqlite3.Connection) -> str:
    """Give the database a new epoch (after a restore): the centre will flag it."""
    epoch = secrets.token_hex(16)
    conn.execute("UPDATE site_identity SET epoch = ?, created_at = ? WHERE id = 1",
                 (epoch, datetime.now(UTC).isoformat(timespec="milliseconds")))
    return epoch
