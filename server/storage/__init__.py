"""The one storage module: it owns the sqlite-utils `Database` and every SQL statement.

One write path: `with store.write() as w:` takes the process lock, opens `BEGIN IMMEDIATE`
(so several processes on one file serialise too), and commits or rolls back as a whole.
Ticket rows, their event rows (with the per-site `seq`) and idempotency records are all
written inside that one transaction.

The database file is checked before every write transaction: when `qms.db` was deleted or
replaced while the server runs, SQLite would go on writing into the open (deleted) file and
every acknowledged ticket would be lost at the next start. `write()` compares the path's
inode and device with the file opened at start and refuses (503 `database_missing`) from
then on. A data folder that has `centre.toml` but no `qms.db` is never given a blank
database silently: only `qms init` (`create=True`) creates one there.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from sqlite_utils import Database

from ..errors import QMSError
from .accounts import AccountsMixin
from .admin import AdminMixin
from .catalog import CatalogMixin
from .queue import QueueMixin
from .reports import ReportsMixin
from .schema import migrations

DB_NAME = "qms.db"
CONFIG_NAME = "centre.toml"  # the same name as server.config.CONFIG_NAME
DATABASE_MISSING_MESSAGE = (
    "Không tìm thấy tệp cơ sở dữ liệu {path} (tệp đã bị xoá hoặc bị thay thế khi máy chủ "
    "đang chạy); máy chủ ngừng ghi để không làm mất dữ liệu. Hãy khôi phục tệp từ bản sao "
    "lưu rồi khởi động lại máy chủ (database file missing or replaced: writes stopped).")
NO_DATABASE_MESSAGE = (
    "Thư mục dữ liệu {folder} có centre.toml nhưng không có {name}: cơ sở dữ liệu đã mất. "
    "Hãy khôi phục {name} từ bản sao lưu, hoặc chạy `qms init` để tạo cơ sở dữ liệu mới "
    "(trống) một cách có chủ ý (refusing to start on a data folder whose database is gone).")


class DatabaseMissing(QMSError):
    """The database file was deleted or replaced: nothing more is written."""
    status, code = 503, "database_missing"


class Store(QueueMixin, CatalogMixin, AccountsMixin, ReportsMixin, AdminMixin):
    def __init__(self, path: str | Path, *, create: bool = False):
        """Open (and migrate) the database at `path`. A missing file is created, except in
        a centre's data folder (one with `centre.toml`): there only when `create` (`qms
        init`), so a deleted database is never silently replaced by a blank one."""
        self.path = Path(path)
        if (not create and not self.path.exists()
                and (self.path.parent / CONFIG_NAME).exists()):
            raise DatabaseMissing(NO_DATABASE_MESSAGE.format(
                folder=self.path.parent, name=self.path.name))
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                               timeout=30)
        conn.row_factory = sqlite3.Row
        self.db = Database(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.RLock()
        self._in_write = False
        # answers of repeated reads inside one transaction, dropped on every ticket write
        self.memo: dict = {}
        self._missing = False
        with self._lock:
            migrations.apply(self.db)
        self._identity = self._file_identity()  # the file this store writes to

    # -- the database file --------------------------------------------------------------------
    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def check_file(self) -> None:
        """Raise `DatabaseMissing` when the file at `path` is no longer the one this store
        opened (deleted, or replaced by another file); once seen, for good."""
        if not self._missing:
            now = self._file_identity()
            if now is None or (self._identity is not None and now != self._identity):
                self._missing = True
        if self._missing:
            raise DatabaseMissing(DATABASE_MISSING_MESSAGE.format(path=self.path))

    @property
    def missing(self) -> bool:
        """Whether the database file was deleted or replaced (writes are refused)."""
        try:
            self.check_file()
        except DatabaseMissing:
            return True
        return False

    # -- transactions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self):
        """One atomic write: everything inside commits together or not at all."""
        with self._lock:
            if self._in_write:  # nested: part of the enclosing transaction
                yield self
                return
            self.check_file()  # never acknowledge a write into a deleted file
            self.db.conn.execute("BEGIN IMMEDIATE")
            self._in_write = True
            self.memo.clear()  # another process may have written since
            try:
                yield self
            except BaseException:
                self.db.conn.execute("ROLLBACK")
                raise
            else:
                self.db.conn.execute("COMMIT")
            finally:
                self._in_write = False

    @contextlib.contextmanager
    def read(self):
        with self._lock:
            yield self

    def _all(self, sql: str, params=()) -> list[dict]:
        return [dict(r) for r in self.db.conn.execute(sql, params).fetchall()]

    def _one(self, sql: str, params=()) -> dict | None:
        row = self.db.conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def _value(self, sql: str, params=()):
        row = self.db.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    # -- idempotency --------------------------------------------------------------------------
    def idem_get(self, scope: str, key: str) -> tuple[int, dict, str | None] | None:
        """(status, body, fingerprint) of the command first run under `key`, or None."""
        row = self._one("SELECT status, body, fingerprint FROM idempotency "
                        "WHERE scope = ? AND key = ?", (scope, key))
        return (row["status"], json.loads(row["body"]), row["fingerprint"]) if row else None

    def idem_put(self, scope: str, key: str, status: int, body, at: str,
                 fingerprint: str | None = None) -> None:
        self.db.conn.execute(
            "INSERT INTO idempotency (scope, key, status, body, created_at, fingerprint) "
            "VALUES (?,?,?,?,?,?)",
            (scope, key, status, json.dumps(body, ensure_ascii=False), at, fingerprint))

    def idem_prune(self, before: str) -> int:
        cur = self.db.conn.execute("DELETE FROM idempotency WHERE created_at < ?", (before,))
        return cur.rowcount

    # -- audit and device status --------------------------------------------------------------
    def audit(self, at: str, actor: str, action: str, detail: dict) -> None:
        self.db.conn.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?,?,?,?)",
                             (at, actor, action, json.dumps(detail, ensure_ascii=False)))

    def audit_log(self, limit: int = 200) -> list[dict]:
        rows = self._all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        for r in rows:
            r["detail"] = json.loads(r["detail"])
        return rows

    def set_device_status(self, device: str, part: str, online: bool, detail: str,
                          at: str) -> bool:
        """Record a device part's state; returns True when it changed."""
        old = self._one("SELECT online, detail FROM device_status WHERE device=? AND part=?",
                        (device, part))
        if old and bool(old["online"]) == online and old["detail"] == detail:
            return False
        self.db.conn.execute(
            "INSERT OR REPLACE INTO device_status (device, part, online, detail, at) "
            "VALUES (?,?,?,?,?)", (device, part, int(online), detail, at))
        return True

    def device_statuses(self) -> list[dict]:
        rows = self._all("SELECT * FROM device_status ORDER BY device, part")
        for r in rows:
            r["online"] = bool(r["online"])
        return rows
