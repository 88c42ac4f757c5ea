"""Health flags of one server process that managers must see (the dashboard's alerts).

Today: a full disk. Whatever hits ENOSPC (an SQLite write answering "database or disk is
full", a file the server writes, the announcement audio cache) calls `storage_full(...)`;
the request gets a clear 507 `storage_full` and `alerts()` lists the condition until the
disk has room again: checked by a small probe write while the flag is up, and no sooner
than `hold_s` after the last failure (so a manager sees that writes failed even if space
came back a moment later); the alert then clears by itself.

The state hangs on the Flask app (`app.extensions["qms_health"]`), so every app in the
test suite has its own; with several server processes each process reports what it saw.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app

log = logging.getLogger("qms.health")

# errno values that mean "no room to write" (ENOSPC: the file system is full; EDQUOT: the
# user's quota is). EFBIG (file too large, e.g. RLIMIT_FSIZE) is a different problem.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_FULL_MESSAGE = ("Ổ đĩa của máy chủ đã đầy, không ghi được dữ liệu. Vui lòng báo quản "
                        "trị hệ thống giải phóng dung lượng (storage full).")
# below this much free space the dashboard warns before anything fails
LOW_FREE_BYTES = 32 * 1024 * 1024
PROBE_BYTES = 256 * 1024


def is_storage_full(exc: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) means the disk is full."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error):
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                return True
            if "database or disk is full" in str(exc):
                return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@dataclass
class Health:
    data_dir: Path | None = None
    storage_full_since: datetime | None = None
    storage_full_last: datetime | None = None
    storage_full_where: str = ""
    hold_s: float = 120.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report_storage_full(self, where: str, exc: BaseException | None = None) -> None:
        now = datetime.now(UTC)
        with self._lock:
            if self.storage_full_since is None:
                self.storage_full_since = now
                log.error("storage full (%s): %s", where, exc)
            self.storage_full_last = now
            self.storage_full_where = where

    def clear_storage_full(self) -> None:
        with self._lock:
            if self.storage_full_since is not None:
                log.warning("storage has room again (full since %s)", self.storage_full_since)
            self.storage_full_since = self.storage_full_last = None
            self.storage_full_where = ""

    def _probe(self) -> bool:
        """True when PROBE_BYTES can be written to the data folder right now."""
        if self.data_dir is None:
            return False
        path = Path(self.data_dir) / f".qms-space-probe.{os.getpid()}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"\0" * PROBE_BYTES)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError:
            return False
        finally:
            try:
                path.unlink()
            except OSError:
                pass

    def alerts(self) -> list[dict]:
        out: list[dict] = []
        last = self.storage_full_last
        if (last is not None and (datetime.now(UTC) - last).total_seconds() >= self.hold_s
                and self._probe()):
            self.clear_storage_full()
        if self.storage_full_since is not None:
            out.append({"code": "storage_full", "since": self.storage_full_since.isoformat(
                timespec="seconds"), "where": self.storage_full_where,
                "message": "Ổ đĩa máy chủ đã đầy từ "
                           f"{self.storage_full_since.isoformat(timespec='seconds')}: không "
                           "cấp được số, không ghi được dữ liệu. Cần giải phóng dung lượng "
                           "ngay (storage full)."})
        elif self.data_dir is not None:
            try:
                free = shutil.disk_usage(self.data_dir).free
            except OSError:
                free = None
            if free is not None and free < LOW_FREE_BYTES:
                out.append({"code": "storage_low", "free_bytes": free,
                            "message": f"Ổ đĩa máy chủ sắp đầy (còn {free // (1024 * 1024)} "
                                       "MB). Cần giải phóng dung lượng (storage low)."})
        return out


_init_lock = threading.Lock()


def for_app(app: Flask | None = None) -> Health:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    health = app.extensions.get("qms_health")
    if health is None:
        with _init_lock:
            health = app.extensions.get("qms_health")
            if health is None:
                qms = app.extensions.get("qms")
                data_dir = getattr(qms, "data_dir", None) or app.config.get("DATA_DIR")
                health = Health(Path(data_dir) if data_dir else None)
                app.extensions["qms_health"] = health
    return health


def storage_full(where: str, exc: BaseException | None = None, app: Flask | None = None) -> None:
    """Record that a write failed for lack of space (shown by `alerts()`)."""
    for_app(app).report_storage_full(where, exc)


def alerts(app: Flask | None = None) -> list[dict]:
    """What the manager dashboard must show: a list of `{"code", "message", ...}`."""
    return for_app(app).alerts()
