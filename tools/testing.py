"""Helpers the tests and the benchmarks share: a free port, the real server process
(`qms serve`) on 127.0.0.1, Chromium's headless flags, the demo passwords."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
OFFICER_PASSWORD = "demo1234"
PASSWORDS = {"admin": "demo-admin", "giamdoc": "demo-manager"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class ChildProcess:
    """A child process in its own session, stopped or killed as a group: the base of the
    server, central, sync, Redis and nginx processes the tests, benchmarks and demos run."""

    proc: subprocess.Popen | None = None
    log: Path
    stop_wait_s: float = 5

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (a crash, a power cut of that process)."""
        if self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(self.stop_wait_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_up(self, ready, timeout: float, what: str = "server") -> None:
        """Wait until `ready()` is true; RuntimeError with the log's tail if the process exits
        or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{what} exited: {self._tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not start: {self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


def http_ok(url: str):
    """A readiness probe: `url` answers 2xx."""
    def ready() -> bool:
        try:
            return requests.get(url, timeout=0.5).ok
        except requests.RequestException:
            return False
    return ready


def port_open(port: int):
    """A readiness probe: something accepts connections on 127.0.0.1:`port`."""
    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    return ready


class LiveServer(ChildProcess):
    """The real `qms serve` process; can be killed (SIGKILL) and restarted on the same port."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    @property
    def tokens(self) -> dict:
        return json.loads((self.data_dir / "demo-tokens.json").read_text())

    def start(self, timeout: float = 20) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if k != "QMS_ASYNC_MODE"}
        env.update(PYTHONUNBUFFERED="1", **self.env)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qms", "--data-dir", str(self.data_dir), "serve",
                 "--port", str(self.port)], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_up(http_ok(self.url + "/api/v1/openapi.json"), timeout)
        return self

    def restart(self) -> LiveServer:
        self.kill()
        return self.start()

    def login(self, username: str, counter: int | None = None) -> str:
        body = {"username": username,
                "password": PASSWORDS.get(username, OFFICER_PASSWORD)}
        if counter is not None:
            body["counter"] = counter
        res = requests.post(self.url + "/api/v1/auth/login", json=body, timeout=5)
        assert res.status_code == 200, res.text
        return res.json()["token"]

    def post(self, path: str, token: str, json_body=None, **kw) -> requests.Response:
        return requests.post(self.url + "/api/v1" + path, json=json_body,
                             headers={**bearer(token), **kw.pop("headers", {})},
                             timeout=kw.pop("timeout", 10), **kw)

    def get(self, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = bearer(token) if token else {}
        return requests.get(self.url + "/api/v1" + path, headers=headers,
                            timeout=kw.pop("timeout", 10), **kw)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


