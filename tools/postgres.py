"""A throw-away PostgreSQL server for tests, benchmarks and the province demo.

Debian's own server binaries (`/usr/lib/postgresql/<v>/bin`, package `postgresql`) run a
fresh cluster in a folder of its own, on 127.0.0.1 and a free port, with fsync off unless
asked otherwise. As root, `initdb` and the server run as the `postgres` user (PostgreSQL
refuses root). Nothing outside the folder is touched; `stop()` ends the server it started.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from .testing import free_port


def bin_dir() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def available() -> bool:
    return bin_dir() is not None


class TempPostgres:
    """`with TempPostgres(folder) as pg: pg.dsn` — a running server until the block ends."""

    def __init__(self, folder: Path, *, port: int | None = None, fsync: bool = False,
                 user: str = "qms", dbname: str = "qms_central"):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.fsync = fsync
        self.user, self.dbname = user, dbname
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install "
                               "postgresql)")
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.started = False

    @property
    def dsn(self) -> str:
        return (f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.dbname}"
                "?connect_timeout=5")

    def admin_dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres?connect_timeout=5"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def start(self) -> TempPostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._chown(self.folder)
        if os.geteuid() == 0:  # the postgres user must reach the folder
            p = self.folder
            while p != p.parent:
                p = p.parent
                if p.exists() and not os.stat(p).st_mode & 0o001:
                    os.chmod(p, os.stat(p).st_mode | 0o001)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(self._as_owner([str(self.bin / "initdb"), "-D", str(self.data),
                                           "-A", "trust", "-U", self.user, "-E", "UTF8",
                                           "--locale=C.UTF-8"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        options = (f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200 "
                   "-c shared_buffers=256MB")
        if not self.fsync:
            options += " -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                                       str(self.log), "-w", "-t", "60", "start", "-o",
                                       options]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started = True
        self._create_db()
        return self

    def _create_db(self) -> None:
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (self.dbname,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.dbname}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.started:
            subprocess.run(self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                           "-m", "fast", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False

    def kill(self) -> None:
        """Stop at once (immediate shutdown: like a crash; the next start recovers)."""
        if self.started:
            subprocess.run(self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                           "-m", "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
