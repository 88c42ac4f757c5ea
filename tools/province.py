"""Processes of a province for tests, benchmarks and the province demo: the central server
(`qms central serve`), a site's sync process (`qms sync`), a hall created for a site, and a
small steady load of tickets on a hall (kiosk issues, an officer calls and finishes)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

from qmsclient import Client, ServerError, login

from .testing import OFFICER_PASSWORD, ROOT, ChildProcess, free_port, http_ok


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QMS_ASYNC_MODE"}
    env.update(PYTHONUNBUFFERED="1", **(extra or {}))
    return env


class Process(ChildProcess):
    """A `qms ...` child process in its own session (killed as a group)."""

    stop_wait_s = 10

    def __init__(self, argv: list[str], log: Path, env: dict | None = None):
        self.argv = argv
        self.log = log
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "qms", *self.argv], cwd=ROOT,
                                         env=_env(self.env), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self


class CentralProcess(Process):
    def __init__(self, central_dir: Path, dsn: str, port: int | None = None,
                 env: dict | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.central_dir = Path(central_dir)
        super().__init__(["central", "--central-dir", str(central_dir), "--dsn", dsn, "serve",
                          "--port", str(self.port)], self.central_dir / "central.log", env)

    def start(self, timeout: float = 30) -> CentralProcess:
        super().start()
        self.wait_up(http_ok(self.url + "/api/v1/ping"), timeout, "central")
        return self


class SyncProcess(Process):
    def __init__(self, data_dir: Path, central_url: str, token: str, env: dict | None = None):
        self.data_dir = Path(data_dir)
        super().__init__(["--data-dir", str(data_dir), "sync", "--central", central_url,
                          "--token", token], self.data_dir / "sync.log", env)


def init_site(data_dir: Path, site: str, public_url: str = "http://127.0.0.1:5000") -> dict:
    """A demo hall (349 procedures, 23 counters, users, device tokens) named `site`."""
    from server.setup import init_centre

    return init_centre(Path(data_dir), demo_centre=True, force=True, public_url=public_url,
                       site=site)


def write_sync_settings(data_dir: Path, central_url: str, token: str, **extra) -> None:
    from sync.settings import write

    write(Path(data_dir), central_url, token, **extra)


class HallLoad:
    """A steady small load on a hall in a thread: the kiosk issues a ticket, the officer of
    `counter` calls it, starts and finishes (or marks a no-show), until stopped. Errors from
    a hall being restarted are counted and the loop goes on."""

    def __init__(self, url: str, tokens: dict, counter: int = 1, pause_s: float = 0.05,
                 seed: int = 1):
        self.url, self.tokens, self.counter, self.pause_s = url, tokens, counter, pause_s
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.issued = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> HallLoad:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)

    def _run(self) -> None:
        kiosk = Client(self.url, self.tokens["kiosk-1"])
        officer = None
        teams = None
        while not self.stop_event.is_set():
            try:
                if officer is None:
                    officer = login(self.url, f"canbo{self.counter:02d}", OFFICER_PASSWORD,
                                    self.counter)
                    state = kiosk.get("/state")
                    teams = next(c["teams"] for c in state["counters"]
                                 if c["number"] == self.counter)
                kiosk.command("/tickets", {"team_id": self.rng.choice(teams)}, retry_for=5)
                self.issued += 1
                base = f"/counters/{self.counter}"
                status, _ = officer.command(base + "/call-next", retry_for=5)
                if status == 200:
                    if self.rng.random() < 0.1:
                        officer.command(base + "/no-show", retry_for=5)
                    else:
                        officer.command(base + "/start", retry_for=5)
                        officer.command(base + "/finish", retry_for=5)
            except ServerError:
                self.errors += 1
                officer = None if self.rng.random() < 0.5 else officer
                self.stop_event.wait(0.2)
            self.stop_event.wait(self.pause_s)
