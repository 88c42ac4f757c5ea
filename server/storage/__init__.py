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

No database wait on the event loop (issue #14): the store has two connections. The write
connection is used only by the greenlet (or thread) inside `write()`; every other query runs
on the read connection (WAL: a reader never waits for a writer), so a write waiting for the
lock never holds up a `GET /api/v1/state`. `BEGIN IMMEDIATE` is first tried without waiting;
when another process holds the write lock, the wait (SQLite's busy handler, up to
`WRITE_WAIT_S`) runs in a real OS thread of gevent's thread pool while the loop serves
everyone else, and a command still not admitted after it answers 503 `database_busy`. A
COMMIT with `synchronous=FULL` (an fsync) and the WAL checkpoints run there too.

`synchronous` (env `QMS_SQLITE_SYNCHRONOUS`, default NORMAL): in WAL mode NORMAL never loses
or corrupts a committed transaction when the process dies (SIGKILL, a crash: the soak test),
but a power cut or an OS crash may lose the last transactions committed since the last
checkpoint; FULL fsyncs the WAL on every COMMIT and loses nothing acknowledged. Measured in
docs/benchmarks.md ("CPU per command").
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
from .bookings import BookingsMixin
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


WRITE_WAIT_S = float(os.environ.get("QMS_WRITE_WAIT_S", "30"))
SYNCHRONOUS = os.environ.get("QMS_SQLITE_SYNCHRONOUS", "NORMAL").upper()
CHECKPOINT_EVERY = 200  # commits between two WAL checkpoints run off the loop
DATABASE_BUSY_MESSAGE = (
    "Cơ sở dữ liệu đang bận (một tiến trình khác giữ quyền ghi quá {s:g} giây); yêu cầu "
    "chưa được thực hiện, hãy thử lại (database busy: another process held the write lock "
    "too long; nothing was changed, retry with the same Idempotency-Key)")


class DatabaseMissing(QMSError):
    """The database file was deleted or replaced: nothing more is written."""
    status, code = 503, "database_missing"


class DatabaseBusy(QMSError):
    """Another process held the write lock longer than WRITE_WAIT_S: nothing was written."""
    status, code = 503, "database_busy"


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


def off_loop(fn, *args):
    """Run a call that may block in C (a lock wait, an fsync) in a real OS thread when the
    server runs on gevent, so the loop goes on serving; a plain call otherwise."""
    if _gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


def _busy(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)


class Store(QueueMixin, CatalogMixin, AccountsMixin, ReportsMixin, AdminMixin, BookingsMixin):
    def __init__(self, path: str | Path, *, create: bool = False):
        """Open (and migrate) the database at `path`. A missing file is created, except in
        a centre's data folder (one with `centre.toml`): there only when `create` (`qms
        init`), so a deleted database is never silently replaced by a blank one."""
        self.path = Path(path)
        if (not create and not self.path.exists()
                and (self.path.parent / CONFIG_NAME).exists()):
            raise DatabaseMissing(NO_DATABASE_MESSAGE.format(
                folder=self.path.parent, name=self.path.name))
        conn = self._connect()
        self.db = Database(conn)  # the write connection (only inside `write()`)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        self._lock = threading.RLock()
        self._owner: int | None = None  # the thread/greenlet inside write()
        # answers of repeated reads inside one transaction, dropped on every ticket write
        self.memo: dict = {}
        self.txn_seq: dict[str, int] = {}
        self._missing = False
        with self._lock:
            conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT_S * 1000)}")
            migrations.apply(self.db)
        self._offload = _gevent_patched()
        if self._offload:
            # on the loop the write connection never waits: a busy BEGIN is retried in a
            # thread (`_begin`), and checkpoints run there too (`_checkpoint`)
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        self._commits = 0
        self._checkpointing = False
        self._read_conn = self._connect()
        self._read_conn.execute("PRAGMA busy_timeout=5000")
        self._read_db = Database(self._read_conn)
        self._read_lock = contextlib.nullcontext() if self._offload else threading.RLock()
        self._identity = self._file_identity()  # the file this store writes to

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                               timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection for the caller: the write connection inside its own `write()`,
        else the read connection (never blocked by a write in progress)."""
        if self._owner is not None and self._owner == threading.get_ident():
            return self.db.conn
        return self._read_conn

    @property
    def _in_write(self) -> bool:
        return self._owner is not None and self._owner == threading.get_ident()

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
        me = threading.get_ident()
        if self._owner == me:  # nested: part of the enclosing transaction
            yield self
            return
        with self._lock:
            self.check_file()  # never acknowledge a write into a deleted file
            self._begin()
            self._owner = me
            self.txn_seq = {}  # the sites' last seq, as this transaction knows it
            self.memo.clear()  # another process may have written since
            try:
                yield self
            except BaseException:
                self.db.conn.execute("ROLLBACK")
                # sets read inside the transaction may hold what it undid (open counters)
                self._counters_written = getattr(self, "_counters_written", 0) + 1
                raise
            else:
                self._commit()
            finally:
                self._owner = None
                self.txn_seq = {}
        if self._offload:
            self._commits += 1
            if self._commits >= CHECKPOINT_EVERY and not self._checkpointing:
                self._commits = 0
                self._spawn_checkpoint()

    def _begin(self) -> None:
        conn = self.db.conn
        if not self._offload:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                if _busy(err):
                    raise DatabaseBusy(DATABASE_BUSY_MESSAGE.format(s=WRITE_WAIT_S)) from err
                raise
            return
        try:
            conn.execute("BEGIN IMMEDIATE")  # busy_timeout 0: answers at once
            return
        except sqlite3.OperationalError as err:
            if not _busy(err):
                raise
        # another process holds the write lock: wait for it in a real thread, off the loop
        off_loop(self._begin_waiting)

    def _begin_waiting(self) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT_S * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if _busy(err):
                raise DatabaseBusy(DATABASE_BUSY_MESSAGE.format(s=WRITE_WAIT_S)) from err
            raise
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    def _commit(self) -> None:
        if self._offload and SYNCHRONOUS in ("FULL", "EXTRA"):
            off_loop(self.db.conn.execute, "COMMIT")  # an fsync per commit: off the loop
        else:
            self.db.conn.execute("COMMIT")  # WAL + NORMAL: no fsync here

    def _spawn_checkpoint(self) -> None:
        """A PASSIVE WAL checkpoint (copies WAL pages into the database file, fsyncs) on its
        own connection in a real thread: it never waits for readers or writers, and the
        loop never waits for it."""
        import gevent

        def checkpoint():
            try:
                conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=0)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    conn.close()
            except sqlite3.Error:
                pass  # the next one will do it
            finally:
                self._checkpointing = False

        self._checkpointing = True
        gevent.get_hub().threadpool.spawn(checkpoint)

    @contextlib.contextmanager
    def read(self):
        """Reads outside a write use the read connection: nothing to wait for under gevent
        (one greenlet runs at a time); a lock in threading mode."""
        if self._in_write:
            yield self
            return
        with self._read_lock:
            yield self

    def _all(self, sql: str, params=()) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def _one(self, sql: str, params=()) -> dict | None:
        row = self.conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def _value(self, sql: str, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()
            self._read_conn.close()

    # -- idempotency --------------------------------------------------------------------------
    def idem_get(self, scope: str, key: str) -> tuple[int, dict, str | None] | None:
        """(status, body, fingerprint) of the command first run under `key`, or None."""
        row = self._one("SELECT status, body, fingerprint FROM idempotency "
                        "WHERE scope = ? AND key = ?", (scope, key))
        return (row["status"], json.loads(row["body"]), row["fingerprint"]) if row else None

    def idem_put(self, scope: str, key: str, status: int, body, at: str,
                 fingerprint: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO idempotency (scope, key, status, body, created_at, fingerprint) "
            "VALUES (?,?,?,?,?,?)",
            (scope, key, status, json.dumps(body, ensure_ascii=False), at, fingerprint))

    def idem_prune(self, before: str) -> int:
        cur = self.conn.execute("DELETE FROM idempotency WHERE created_at < ?", (before,))
        return cur.rowcount

    # -- audit and device status --------------------------------------------------------------
    def audit(self, at: str, actor: str, action: str, detail: dict) -> None:
        self.conn.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?,?,?,?)",
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
        self.conn.execute(
            "INSERT OR REPLACE INTO device_status (device, part, online, detail, at) "
            "VALUES (?,?,?,?,?)", (device, part, int(online), detail, at))
        return True

    def device_statuses(self) -> list[dict]:
        rows = self._all("SELECT * FROM device_status ORDER BY device, part")
        for r in rows:
            r["online"] = bool(r["online"])
        return rows
