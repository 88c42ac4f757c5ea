"""Shared fixtures: a demo data folder (real SQLite file), the Flask app in-process, and the
real server process (`qms serve`) on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools.testing import (  # noqa: F401  (shared with the benchmarks)
    CHROMIUM_ARGS,
    OFFICER_PASSWORD,
    PASSWORDS,
    ROOT,
    LiveServer,
    bearer,
    free_port,
)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo centre (`qms init --demo`) once per session; tests get a copy."""
    path = tmp_path_factory.mktemp("demo-template")
    from server.setup import init_demo_centre

    init_demo_centre(path)
    return path


@pytest.fixture
def data_dir(demo_template, tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def tokens(data_dir) -> dict:
    return json.loads((data_dir / "demo-tokens.json").read_text())


@pytest.fixture
def app(data_dir):
    from qms.app import create_app

    application = create_app({"DATA_DIR": str(data_dir), "TESTING": True,
                              "ASYNC_MODE": "threading"})
    yield application
    application.extensions["qms"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username: str, counter: int | None = None) -> str:
    password = PASSWORDS.get(username, OFFICER_PASSWORD)
    body = {"username": username, "password": password}
    if counter is not None:
        body["counter"] = counter
    res = client.post("/api/v1/auth/login", json=body)
    assert res.status_code == 200, res.get_json()
    return res.get_json()["token"]


@pytest.fixture
def live_server(data_dir):
    server = LiveServer(data_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no downloaded browser)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    pg = context.new_page()
    yield pg
    context.close()
