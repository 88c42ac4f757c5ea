"""The hall's event log read as an outbox by the sync process (part of the one storage
module): its own read-only SQLite connection, one short read per call.

The sync process never writes the hall database and never holds a read transaction open
between calls: each call is one statement (its own implicit read transaction, a snapshot
in WAL mode), so the hall server's writers are never blocked and checkpoints can proceed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from . import identity as site_identity


class Outbox:
    def __init__(self, path: str | Path, timeout: float = 5.0):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no hall database at {self.path}")
        self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=timeout,
                                    isolation_level=None, check_same_thread=False)
        self.conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")

    def close(self) -> None:
        self.conn.close()

    def identity(self) -> dict:
        """site id, epoch, created_at (migration m010)."""
        return site_identity.read(self.conn)

    def streams(self) -> list[str]:
        """The site labels present in the event log (one per hall in a province)."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT site FROM events")]

    def head(self, stream: str) -> int:
        row = self.conn.execute("SELECT MAX(seq) FROM events WHERE site = ?",
                                (stream,)).fetchone()
        return row[0] or 0

    def events_after(self, stream: str, seq: int, limit: int) -> list[dict]:
        rows = self.conn.execute(
            "SELECT seq, type, at, ticket_id, team_id, counter, actor, data FROM events "
            "WHERE site = ? AND seq > ? ORDER BY seq LIMIT ?", (stream, seq, limit)).fetchall()
        return [{"seq": r[0], "type": r[1], "at": r[2], "ticket_id": r[3], "team_id": r[4],
                 "counter": r[5], "actor": r[6], "data": json.loads(r[7] or "{}")}
                for r in rows]

    def at_of(self, stream: str, seq: int) -> str | None:
        row = self.conn.execute("SELECT at FROM events WHERE site = ? AND seq = ?",
                                (stream, seq)).fetchone()
        return row[0] if row else None
