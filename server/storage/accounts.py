"""SQL for users, devices and sign-in sessions (part of the one storage module)."""

from __future__ import annotations

import json


class AccountsMixin:
    # -- users ----------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password_hash: str, counters: list[int],
                 full_name: str, at: str) -> None:
        """Add a user, or replace one with a new password: a replaced user's sessions and
        rating pages end with the old password (issue #12, finding 7)."""
        self.conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        self.end_rating_tokens(username)
        self.conn.execute(
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
        self.conn.execute(
            "INSERT INTO sessions (token_hash, username, counter, created_at, expires_at) "
            "VALUES (?,?,?,?,?)", (token_hash, username, counter, at, expires_at))

    def accounts_version(self) -> int:
        """Bumped whenever a session ends or a user or device changes (migration m012)."""
        return self.conn.execute("SELECT n FROM accounts_version").fetchone()[0]

    def session(self, token_hash: str, now: str) -> dict | None:
        return self._one("SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
                         (token_hash, now))

    def end_session(self, token_hash: str) -> dict | None:
        row = self._one("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,))
        self.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        return row

    def counter_officers(self, number: int, now: str) -> list[str]:
        """Who staffs counter `number` now: users with the role officer, active, assigned to
        that counter in their user record *today* (not when they signed in), with a live
        session (unexpired, not signed out: sign-out deletes it) opened at that counter.
        A manager or an admin signed in at a counter does not staff it."""
        rows = self.conn.execute(
            "SELECT DISTINCT s.username FROM sessions s JOIN users u ON u.username = s.username"
            " WHERE s.counter = ? AND s.expires_at > ? AND u.role = 'officer' AND u.active = 1"
            " AND EXISTS (SELECT 1 FROM json_each(u.counters) WHERE json_each.value = ?)",
            (number, now, number)).fetchall()
        return [r[0] for r in rows]

    def prune_sessions(self, now: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        self.conn.execute("DELETE FROM rating_tokens WHERE expires_at <= ?", (now,))

    # -- rating pages ---------------------------------------------------------------------
    def add_rating_token(self, token_hash: str, counter: int, username: str, at: str,
                         expires_at: str) -> None:
        self.conn.execute(
            "INSERT INTO rating_tokens (token_hash, counter, username, created_at, expires_at)"
            " VALUES (?,?,?,?,?)", (token_hash, counter, username, at, expires_at))

    def rating_token(self, token_hash: str, now: str) -> dict | None:
        return self._one("SELECT * FROM rating_tokens WHERE token_hash = ? AND expires_at > ?",
                         (token_hash, now))

    def end_rating_tokens(self, username: str) -> None:
        self.conn.execute("DELETE FROM rating_tokens WHERE username = ?", (username,))

    # -- devices --------------------------------------------------------------------------
    def add_device(self, name: str, kind: str, token_hash: str, site: str,
                   counters: list[int], at: str) -> None:
        self.conn.execute(
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
        cur = self.conn.execute("UPDATE devices SET active = 0 WHERE name = ?", (name,))
        return cur.rowcount > 0
