"""SQL for users, devices and sign-in sessions (part of the one storage module)."""

from __future__ import annotations

import json


class AccountsMixin:
    # -- users ----------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password_hash: str, counters: list[int],
                 full_name: str, at: str) -> None:
        self.db.conn.execute(
            "INSERT OR REPLACE INTO users (username, role, password_hash, full_name, counters,"
            " active, created_at) VALUES (?,?,?,?,?,1,?)",
            (username, role, password_hash, full_name, json.dumps(counters), at))

    def user(self, username: str) -> dict | None:
        row = self._one("SELECT * FROM users WHERE username = ?", (username,))
        if row:
            row["counters"] = json.loads(row["counters"])
        return row

    def users(self) -> list[dict]:
        rows = self._all("SELECT username, role, full_name, counters, active, created_at "
                         "FROM users ORDER BY role, username")
        for r in rows:
            r["counters"] = json.loads(r["counters"])
        return rows

    # -- sessions -------------------------------------------------------------------------
    def add_session(self, token_hash: str, username: str, counter: int | None, at: str,
                    expires_at: str) -> None:
        self.db.conn.execute(
            "INSERT INTO sessions (token_hash, username, counter, created_at, expires_at) "
            "VALUES (?,?,?,?,?)", (token_hash, username, counter, at, expires_at))

    def session(self, token_hash: str, now: str) -> dict | None:
        return self._one("SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
                         (token_hash, now))

    def end_session(self, token_hash: str) -> dict | None:
        row = self._one("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,))
        self.db.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        return row

    def counter_officers(self, number: int, now: str) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT DISTINCT username FROM sessions WHERE counter = ? AND expires_at > ?",
            (number, now)).fetchall()
        return [r[0] for r in rows]

    def prune_sessions(self, now: str) -> None:
        self.db.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    # -- devices --------------------------------------------------------------------------
    def add_device(self, name: str, kind: str, token_hash: str, site: str,
                   counters: list[int], at: str) -> None:
        self.db.conn.execute(
            "INSERT OR REPLACE INTO devices (name, kind, token_hash, site, counters, active,"
            " created_at) VALUES (?,?,?,?,?,1,?)",
            (name, kind, token_hash, site, json.dumps(counters), at))

    def device_by_token(self, token_hash: str) -> dict | None:
        row = self._one("SELECT * FROM devices WHERE token_hash = ? AND active = 1",
                        (token_hash,))
        if row:
            row["counters"] = json.loads(row["counters"])
        return row

    def devices(self) -> list[dict]:
        rows = self._all("SELECT name, kind, site, counters, active, created_at FROM devices "
                         "ORDER BY kind, name")
        for r in rows:
            r["counters"] = json.loads(r["counters"])
        return rows

    def revoke_device(self, name: str) -> bool:
        cur = self.db.conn.execute("UPDATE devices SET active = 0 WHERE name = ?", (name,))
        return cur.rowcount > 0
