"""Nightly backups of a live hall database (SQLite's online backup API) and a tested
restore: the copy is consistent while tickets are being issued, restores into a working
hall, and the restored database gets a new epoch (so the central server flags it)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from server.storage import backup
from server.storage.outbox import Outbox
from tools.province import HallLoad, init_site
from tools.testing import ROOT, LiveServer

pytestmark = pytest.mark.e2e


def events(db) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT site, seq, type, at FROM events ORDER BY site, seq")\
            .fetchall()
    finally:
        conn.close()


def test_backup_of_a_live_hall_restores_into_a_working_hall(tmp_path):
    live_dir = tmp_path / "live"
    init_site(live_dir, "bn-tuson")
    hall = LiveServer(live_dir).start()
    load = HallLoad(hall.url, hall.tokens, pause_s=0.0).start()
    try:
        time.sleep(2)
        first = backup.backup(live_dir, tmp_path / "backups", keep=2)
        time.sleep(1)
        # the command line, as the nightly timer runs it
        out = subprocess.run([sys.executable, "-m", "qms", "--data-dir", str(live_dir),
                              "backup", str(tmp_path / "backups"), "--keep", "2"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        time.sleep(1.1)
        third = backup.backup(live_dir, tmp_path / "backups", keep=2)
    finally:
        load.stop()
    assert load.errors == 0 and load.issued > 20
    kept = sorted((tmp_path / "backups").glob("qms-*.db"))
    assert len(kept) == 2 and third in kept and first not in kept  # the oldest pruned
    assert third.with_suffix(".toml").exists()
    live = events(live_dir / "qms.db")
    copy = events(third)
    assert 0 < len(copy) <= len(live) and live[:len(copy)] == copy  # a consistent prefix
    seqs = [s for _site, s, _t, _a in copy]
    assert seqs == list(range(1, len(seqs) + 1))
    hall.stop()

    # restore into a new machine's folder
    restored_dir = tmp_path / "restored"
    info = backup.restore(third, restored_dir)
    old = Outbox(live_dir / "qms.db").identity()
    new = Outbox(restored_dir / "qms.db").identity()
    assert new["site"] == old["site"] == info["site"] == "bn-tuson"
    assert new["epoch"] == info["epoch"] != old["epoch"]
    assert events(restored_dir / "qms.db") == copy
    (restored_dir / "demo-tokens.json").write_text((live_dir / "demo-tokens.json").read_text())
    again = LiveServer(restored_dir).start()
    try:
        res = again.post("/tickets", again.tokens["kiosk-1"], {"team_id": 1})
        assert res.status_code == 201
        assert events(restored_dir / "qms.db")[-1][1] == len(copy) + 1
    finally:
        again.stop()
    # restoring over an existing database needs --force, and keeps the old file aside
    with pytest.raises(Exception, match="--force"):
        backup.restore(first if first.exists() else third, restored_dir)
    backup.restore(third, restored_dir, force=True)
    assert list(restored_dir.glob("qms.db.before-restore-*"))
    # a damaged backup is refused
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(Exception, match="bad.db"):
        backup.restore(bad, tmp_path / "other")
