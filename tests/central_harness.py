"""Fixtures for the central server's tests: one real PostgreSQL server per test session
(Debian's binaries, a temporary folder, 127.0.0.1, a free port) and a fresh database per
test. Tests skip (with the reason) only when the PostgreSQL server binaries are absent."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest

from tools import postgres

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    if not postgres.available():
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    # its own folder, outside pytest's numbered temp folders (which other pytest runs on
    # the machine may clean up while this session runs)
    folder = Path(tempfile.mkdtemp(prefix="qms-pg-"))
    server = postgres.TempPostgres(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server) -> str:
    """A new empty database on the session's server."""
    import psycopg

    name = f"t{next(_names)}"
    with psycopg.connect(pg_server.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return (f"postgresql://{pg_server.user}@127.0.0.1:{pg_server.port}/{name}"
            "?connect_timeout=5")
