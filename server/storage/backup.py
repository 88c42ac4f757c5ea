"""Backups of the hall database with SQLite's online backup API (part of the one storage
module), and their restore.

`backup()` copies `qms.db` while the server runs: a read-only connection copies every page
in one step (a consistent snapshot; WAL writers are not blocked), into a temporary file
that is checked (`PRAGMA integrity_check`), fsynced and renamed; `centre.toml` is copied
beside it. Given a folder, the file is dated and only the `keep` newest are kept.

`restore()` puts a backup back (the server stopped): the copy is checked, the old database
and its WAL are moved aside (`qms.db.before-restore-<time>`), and the restored database
gets a NEW epoch: events after the backup were lost with the old file, so the hall's log
would reuse their seqs; under a new epoch the central server flags it (an administrator
accepts it there) instead of merging two different histories.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from ..errors import Conflict, ValidationFailed
from . import identity
from .schema import migrations

DB_NAME = "qms.db"
CONFIG_NAME = "centre.toml"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def check(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise ValidationFailed(f"{path}: không phải cơ sở dữ liệu SQLite hợp lệ ({exc})",
                               code="bad_backup") from exc
    finally:
        conn.close()
    if result != "ok":
        raise ValidationFailed(f"{path}: bản sao lưu bị hỏng ({result})", code="bad_backup")


def backup(data_dir: Path, dest: Path, keep: int = 14) -> Path:
    """Copy the hall database (online); the backup file written."""
    source = Path(data_dir) / DB_NAME
    if not source.exists():
        raise ValidationFailed(f"không có {source}", code="no_database")
    dest = Path(dest)
    folder = dest if dest.suffix != ".db" else dest.parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"qms-{_stamp()}.db" if dest.suffix != ".db" else dest
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst)  # all pages in one step: one consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    check(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    cfg = Path(data_dir) / CONFIG_NAME
    if cfg.exists():
        shutil.copy2(cfg, target.with_suffix(".toml"))
    if dest.suffix != ".db" and keep > 0:
        old = sorted(folder.glob("qms-*.db"))[:-keep]
        for path in old:
            path.unlink(missing_ok=True)
            path.with_suffix(".toml").unlink(missing_ok=True)
    return target


def restore(source: Path, data_dir: Path, force: bool = False) -> dict:
    """Put backup `source` in place as the hall database (the server must be stopped)."""
    source, data_dir = Path(source), Path(data_dir)
    check(source)
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / DB_NAME
    if target.exists() and not force:
        raise Conflict(f"{target} đã có; dùng --force để thay (the old one is kept beside it)",
                       code="database_exists")
    tmp = data_dir / (DB_NAME + ".restoring")
    shutil.copyfile(source, tmp)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        migrations.apply(Database(conn))  # a backup from an older version: bring it up
        conn.execute("BEGIN IMMEDIATE")
        epoch = identity.new_epoch(conn)
        conn.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?,?,?,?)",
                     (datetime.now(UTC).isoformat(timespec="milliseconds"), "setup",
                      "database.restore", f'{{"from": "{source.name}", "epoch": "{epoch}"}}'))
        conn.execute("COMMIT")
        site = identity.read(conn)["site"]
    finally:
        conn.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    if target.exists():
        aside = data_dir / f"{DB_NAME}.before-restore-{_stamp()}"
        os.replace(target, aside)
    for extra in ("-wal", "-shm"):
        old = data_dir / (DB_NAME + extra)
        if old.exists():
            os.replace(old, data_dir / f"{DB_NAME}{extra}.before-restore-{_stamp()}")
    os.replace(tmp, target)
    if not (data_dir / CONFIG_NAME).exists() and source.with_suffix(".toml").exists():
        shutil.copy2(source.with_suffix(".toml"), data_dir / CONFIG_NAME)
    (data_dir / "sync-state.json").unlink(missing_ok=True)  # the position was the old epoch's
    return {"path": str(target), "site": site, "epoch": epoch}
