"""Display area web pages and audio: the hall board `/display`, the citizen's phone page
`/t/<token>` and `GET /api/v1/announcements/audio`, against the real server process and
headless Chromium."""

from __future__ import annotations

import io
import threading
import time
import wave
from pathlib import Path

from conftest import bearer, login

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
READY = "window.qmsDisplay && window.qmsDisplay.live && window.qmsDisplay.live.seq !== null"


# -- helpers ---------------------------------------------------------------------------------
def open_display(page, server, query: str = "", rate: int = 16):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sep = "&" if query else ""
    page.goto(f"{server.url}/display?{query}{sep}audio_rate={rate}"
              f"#token={server.tokens['display-1']}")
    page.wait_for_function(READY, timeout=10000)
    return errors


def call_numbers(page) -> list[tuple[int, int]]:
    rows = page.eval_on_selector_all(
        "#calls li", "els => els.map(e => [e.querySelector('.num').textContent,"
        " e.querySelector('.ctr').textContent])")
    return [(int(n), int(c.split()[-1])) for n, c in rows]


def officers(server, counters) -> dict[int, str]:
    return {c: server.login(f"canbo{c:02d}", c) for c in counters}


def populate(server) -> None:
    """A busy morning for screenshots: tickets in every team, counters calling and serving."""
    kiosk = server.tokens["kiosk-1"]
    for i in range(40):
        server.post("/tickets", kiosk, {"team_id": 1 + i % 6})
    offs = officers(server, [1, 2, 3, 7, 8, 11, 12, 15, 18, 21, 23, 9])
    for c in (1, 2, 7, 11, 15, 18, 21, 3, 8, 12, 23):  # 23: team 6 (team 8 has nobody yet)
        assert server.post(f"/counters/{c}/call-next", offs[c]).status_code == 200
    for c in (1, 7, 11, 15):
        server.post(f"/counters/{c}/start", offs[c])
    server.post("/counters/9/pause", offs[9], {"reason": "break"})


def audio_ordered(log: list[dict]) -> None:
    for prev, cur in zip(log, log[1:], strict=False):
        assert cur["startedAt"] >= prev["endedAt"], (prev, cur)  # never overlapping


# -- the announcement audio endpoint ---------------------------------------------------------
def call_number(client, tokens, number: int, counter: int, team: int = 1) -> None:
    """Issue tickets of `team` up to `number` and call `number` to `counter` (only a real
    call can be announced)."""
    kiosk = bearer(tokens["kiosk-1"])
    for _ in range(50_000):
        t = client.post("/api/v1/tickets", json={"team_id": team}, headers=kiosk).get_json()
        if t["number"] >= number:
            break
    officer = bearer(login(client, f"canbo{counter:02d}", counter))
    res = client.post(f"/api/v1/counters/{counter}/call-number", json={"number": number},
                      headers=officer)
    assert res.status_code == 200, res.get_json()


def test_announcement_audio_endpoint(client, tokens):
    token = tokens["display-1"]
    # (before #12 any number was rendered; now only a number called to that counter today)
    call_number(client, tokens, 1023, 5)
    call_number(client, tokens, 1024, 2)
    assert client.get("/api/v1/announcements/audio?number=1023&counter=5").status_code == 401
    res = client.get("/api/v1/announcements/audio?number=1023&counter=5", headers=bearer(token))
    assert res.status_code == 200, res.get_data()[:200]
    assert res.mimetype == "audio/wav"
    with wave.open(io.BytesIO(res.data)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
    assert 3.0 < seconds < 15.0  # chime + "Mời công dân có số thứ tự ... đến quầy số năm"
    assert "m%E1%BB%99t%20ngh%C3%ACn" in res.headers["X-Announcement-Text"]  # một nghìn
    again = client.get("/api/v1/announcements/audio?number=1023&counter=5",
                       headers={**bearer(token), "If-None-Match": res.headers["ETag"]})
    assert again.status_code == 304
    recall = client.get("/api/v1/announcements/audio?number=1023&counter=5&recall=1",
                        headers=bearer(token))
    with wave.open(io.BytesIO(recall.data)) as w:
        assert w.getnframes() / w.getframerate() > seconds  # "Xin nhắc lại. ..."
    en = client.get("/api/v1/announcements/audio?number=1024&counter=2&lang=en",
                    headers=bearer(token))
    assert en.status_code == 200 and en.mimetype == "audio/wav"
    for bad in ("", "?number=-1", "?number=x", "?number=5&lang=fr"):
        res = client.get("/api/v1/announcements/audio" + bad, headers=bearer(token))
        assert res.status_code == 422, bad
        assert "error" in res.get_json()
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/announcements/audio" in spec["paths"]


def test_announcement_wording_from_config(data_dir, tokens):
    from qms.app import create_app
    from server.config import CONFIG_NAME

    path = data_dir / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    assert "announcement_vi" in text
    import tomllib

    import tomli_w

    cfg = tomllib.loads(text)
    cfg["announcement_vi"] = "Xin mời số {number} đến quầy {counter}"
    cfg["announce_repeat"] = 2
    # (#12: only a real call is announced; team 1 numbers from 1 so that 12 can be called)
    cfg["teams"][0]["band"] = [1, 999]
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    try:
        call_number(app.test_client(), tokens, 12, 3)
        res = app.test_client().get("/api/v1/announcements/audio?number=12&counter=3",
                                    headers=bearer(tokens["display-1"]))
        from urllib.parse import unquote

        assert unquote(res.headers["X-Announcement-Text"]) == \
            "Xin mời số mười hai đến quầy ba"
        with wave.open(io.BytesIO(res.data)) as w:
            assert w.getnframes() / w.getframerate() > 3.0  # said twice
    finally:
        app.extensions["qms"].store.close()


# -- the hall display ------------------------------------------------------------------------
def test_display_shows_calls_in_order_and_announces_each(live_server, page):
    errors = open_display(page, live_server)
    kiosk = live_server.tokens["kiosk-1"]
    for team in (1, 1, 2):
        live_server.post("/tickets", kiosk, {"team_id": team})
    offs = officers(live_server, [1, 7])
    live_server.post("/counters/1/call-next", offs[1])
    page.wait_for_function("document.querySelector('#nowNumber').textContent === '1001'")
    assert page.text_content("#nowCounter") == "1"
    # 1001 reached the counter: its next call is not a double press (409 too_soon)
    assert live_server.post("/counters/1/start", offs[1]).status_code == 200

    # two calls within 100 ms at two counters: both shown, both queued for audio, in order
    results: dict[int, float] = {}

    def call(c):
        results[c] = time.monotonic()
        assert live_server.post(f"/counters/{c}/call-next", offs[c]).status_code == 200

    t1 = threading.Thread(target=call, args=(1,))
    t1.start()
    call(7)
    t1.join()
    assert abs(results[1] - results[7]) < 0.1
    page.wait_for_function("document.querySelectorAll('#calls li').length === 3")
    shown = call_numbers(page)
    assert sorted(shown[:2]) == [(1002, 1), (2001, 7)] and shown[2] == (1001, 1)
    seqs = page.eval_on_selector_all("#calls li", "els => els.map(e => +e.dataset.seq)")
    assert seqs == sorted(seqs, reverse=True)
    tile = page.text_content("[data-counter='7'] .tn")
    assert tile == "2001"

    live_server.post("/counters/7/recall", offs[7])
    page.wait_for_function("window.qmsDisplay.audioLog.length === 4 && "
                           "window.qmsDisplay.audioLog.every(e => e.endedAt !== null)",
                           timeout=20000)
    log = page.evaluate("window.qmsDisplay.audioLog")
    assert [e["state"] for e in log] == ["ended"] * 4
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert [(e["number"], e["recall"]) for e in log][1:] == \
        [tuple(x) for x in sorted([(1002, False), (2001, False)],
                                  key=lambda x: [n for n, _ in shown].index(x[0]),
                                  reverse=True)] + [(2001, True)]
    audio_ordered(log)
    assert page.is_hidden("#offline")
    state = live_server.get("/state", kiosk).json()
    assert page.text_content("[data-team='1'] .w") == str(state["teams"][0]["waiting"])
    assert not errors


def test_display_catches_up_after_server_restart(live_server, page):
    open_display(page, live_server)
    kiosk = live_server.tokens["kiosk-1"]
    for team in (1, 1, 1, 2):
        live_server.post("/tickets", kiosk, {"team_id": team})
    off = live_server.login("canbo01", 1)
    live_server.post("/counters/1/call-next", off)
    page.wait_for_function("document.querySelector('#nowNumber').textContent === '1001'")

    live_server.kill()
    page.wait_for_selector("#offline", state="visible", timeout=15000)
    live_server.start()
    off = live_server.login("canbo01", 1)
    off7 = live_server.login("canbo07", 7)
    # each called citizen reaches the counter before the next call there (a "next" moments
    # after a call, while the ticket is only called, is a double press: 409 too_soon)
    assert live_server.post("/counters/1/start", off).status_code == 200  # 1001
    assert live_server.post("/counters/1/call-next", off).status_code == 200   # 1002
    assert live_server.post("/counters/7/call-next", off7).status_code == 200  # 2001
    assert live_server.post("/counters/1/start", off).status_code == 200  # 1002
    assert live_server.post("/counters/1/call-next", off).status_code == 200   # 1003
    page.wait_for_function("document.querySelectorAll('#calls li').length === 4",
                           timeout=15000)
    assert call_numbers(page) == [(1003, 1), (2001, 7), (1002, 1), (1001, 1)]
    page.wait_for_selector("#offline", state="hidden")
    live = page.evaluate("window.qmsDisplay.live.stats")
    assert live["reconnects"] >= 1
    state = live_server.get("/state", kiosk).json()
    assert page.evaluate("window.qmsDisplay.live.seq") == state["seq"]
    # the wait counts agree with the server after catching up
    assert page.text_content("[data-team='1'] .w") == str(state["teams"][0]["waiting"])


def test_team_board_and_token_prompt(live_server, page):
    open_display(page, live_server, "team=2")
    assert page.text_content("#teamTitle").startswith("Tổ Đất đai")
    shown = page.eval_on_selector_all("#counters .tile", "els => els.map(e => +e.dataset.counter)")
    assert shown == [7, 8, 9, 10, 17]
    kiosk = live_server.tokens["kiosk-1"]
    live_server.post("/tickets", kiosk, {"team_id": 1})
    live_server.post("/tickets", kiosk, {"team_id": 2})
    offs = officers(live_server, [1, 7])
    live_server.post("/counters/1/call-next", offs[1])
    live_server.post("/counters/7/call-next", offs[7])
    page.wait_for_function("document.querySelectorAll('#calls li').length === 1")
    assert call_numbers(page) == [(2001, 7)]
    assert page.eval_on_selector_all("#teams tr", "els => els.length") == 1

    page.evaluate("localStorage.clear()")
    page.goto(live_server.url + "/display")
    page.wait_for_selector("#tokenForm", state="visible")
    page.fill("#tokenInput", "d_not-a-token")
    page.click("#tokenForm button")
    page.wait_for_function("document.querySelector('#tokenWhy').textContent.includes('không hợp lệ')")


SIZES = {"display-1920": (1920, 1080), "display-1366": (1366, 768),
         "display-portrait": (1080, 1920)}


def test_display_screenshots(live_server, browser):
    populate(live_server)
    for name, size in SIZES.items():
        context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                      locale="vi-VN")
        page = context.new_page()
        try:
            open_display(page, live_server, "sound=0")
            page.wait_for_function("document.querySelectorAll('#calls li').length === 6")
            # nothing overflows the screen: a TV page never scrolls
            assert page.evaluate("document.documentElement.scrollHeight") <= size[1]
            assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
            assert page.text_content("[data-counter='9'] .tn") == "Tạm dừng · Paused"
            secret = live_server.tokens["display-1"]
            assert secret not in page.content() and secret not in page.url
            page.evaluate("document.getElementById('now').classList.remove('flash');"
                          "document.getElementById('notice').style.animationDelay = '-6s'")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
        finally:
            context.close()


# -- the citizen's phone page ----------------------------------------------------------------
def test_phone_page_follows_the_queue(live_server, browser):
    kiosk = live_server.tokens["kiosk-1"]
    for _ in range(3):
        live_server.post("/tickets", kiosk, {"team_id": 1})
    mine = live_server.post("/tickets", kiosk, {"procedure_code": "1.001193"}).json()
    assert mine["number"] == 1004

    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(len(r.body())) if r.ok else None)
    try:
        page.goto(f"{live_server.url}/t/{mine['token']}")
        assert page.text_content("#number") == "1004"
        assert page.text_content("#ahead") == "3"
        page.wait_for_function("window.qmsTicket.mode === 'socket'")
        weight = sum(sizes)
        assert weight < 80_000, weight  # HTML + socket.io client; nothing else
        offs = officers(live_server, [1, 2])
        live_server.post("/counters/1/call-next", offs[1])
        page.wait_for_function("document.querySelector('#ahead').textContent === '2'")
        assert page.text_content("#calling") == "1001"
        assert page.text_content("#callingCounter") == "Quầy 1"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "phone-ticket.png"))
        for n in (1, 2, 1):
            # the citizen called at the counter arrived; then "next" (not a double press)
            if n == 1:
                assert live_server.post("/counters/1/start", offs[1]).status_code == 200
            assert live_server.post(f"/counters/{n}/call-next", offs[n]).status_code == 200
            # 1002, 1003, then mine
        page.wait_for_function("document.body.className === 'called'")
        assert "Mời bạn đến quầy 1" in page.text_content("#status")
        cues = page.evaluate("window.qmsTicket.cues")
        assert len(cues) == 1 and cues[0]["number"] == 1004 and cues[0]["beep"] is True
        page.evaluate("document.body.style.animation='none'")
        page.screenshot(path=str(SHOTS / "phone-ticket-called.png"))
        live_server.post("/counters/1/recall", offs[1])
        page.wait_for_function("window.qmsTicket.cues.length === 2")
        live_server.post("/counters/1/finish", offs[1])
        page.wait_for_function("document.body.className === 'done'")
    finally:
        context.close()
    (live_server.data_dir / "phone-weight.txt").write_text(str(weight))


def test_phone_page_unknown_token_is_a_friendly_404(live_server, page):
    res = page.goto(f"{live_server.url}/t/this-is-not-a-real-ticket-token")
    assert res.status == 404
    assert "Không tìm thấy số thứ tự này" in page.text_content("h1")
    res = page.goto(f"{live_server.url}/t/short")
    assert res.status == 404


# -- issue #12: only real calls are announced, a capped cache, a full disk is a clear 507 -----
def test_audio_only_for_a_number_called_to_that_counter(client, tokens, data_dir):
    token = bearer(tokens["display-1"])
    call_number(client, tokens, 1003, 2)
    url = "/api/v1/announcements/audio?number={}&counter={}"
    assert client.get(url.format(1003, 2), headers=token).status_code == 200
    assert client.get(url.format(1003, 2) + "&recall=1&lang=en", headers=token).status_code == 200
    cache = data_dir / "voice-cache" / "composed"
    before = sorted(cache.glob("*"))
    for number, counter in ((1003, 1), (1002, 2), (1001, 2), (999_999, 2), (1003, 99),
                            (1003, 0), (4321, 7)):
        res = client.get(url.format(number, counter), headers=token)
        assert res.status_code == 404, (number, counter)
        err = res.get_json()["error"]
        assert err["code"] in ("unknown_call", "unknown_counter")
        assert "quầy" in err["message"] or "gọi" in err["message"]
    # thirty made-up numbers render nothing and write nothing
    for n in range(5000, 5030):
        assert client.get(url.format(n, 3), headers=token).status_code == 404
    assert sorted(cache.glob("*")) == before
    # a waiting (never called) number is not announceable either
    waiting = client.post("/api/v1/tickets", json={"team_id": 1},
                          headers=bearer(tokens["kiosk-1"])).get_json()
    assert client.get(url.format(waiting["number"], 1), headers=token).status_code == 404


def test_the_routes_composer_has_capped_caches(app):
    from display_board.routes import composer_for
    from display_board.voice import MAX_CACHE_BYTES, MAX_CACHE_FILES

    q = app.extensions["qms"]
    comp = composer_for(q.config, q.data_dir)
    assert (comp.max_cache_files, comp.max_cache_bytes) == (MAX_CACHE_FILES, MAX_CACHE_BYTES)
    assert MAX_CACHE_FILES <= 200 and MAX_CACHE_BYTES <= 64 * 1024 * 1024
    assert comp._memory_bytes <= 32 * 1024 * 1024


def test_database_full_is_507_and_writes_nothing(app, client, tokens, monkeypatch):
    """sqlite's SQLITE_FULL ("database or disk is full") raised inside a command: 507
    `storage_full` with a Vietnamese message, the transaction rolled back, an alert for the
    dashboard; the next write works and numbering has no gap. (The exception is injected
    here; test_real_full_disk below fills a real file system.)"""
    import sqlite3

    from server import health

    kiosk = bearer(tokens["kiosk-1"])
    assert client.post("/api/v1/tickets", json={"team_id": 1},
                       headers=kiosk).get_json()["number"] == 1001
    store = app.extensions["qms"].store
    real = store.append_event

    def full(*args, **kwargs):
        real(*args, **kwargs)  # the rows are written, then the disk is full
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "append_event", full)
    res = client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    assert res.status_code == 507
    err = res.get_json()["error"]
    assert err["code"] == "storage_full" and "Ổ đĩa" in err["message"]
    alerts = health.alerts(app)
    assert [a["code"] for a in alerts] == ["storage_full"] and alerts[0]["message"]
    monkeypatch.setattr(store, "append_event", real)
    assert not store.db.conn.in_transaction
    res = client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    assert res.status_code == 201 and res.get_json()["number"] == 1002
    assert [a["code"] for a in health.alerts(app)] == ["storage_full"]  # held a while
    health.for_app(app).hold_s = 0
    assert health.alerts(app) == []  # the probe finds room again: the alert clears

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "append_event", locked)
    res = client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    assert res.status_code == 500 and res.get_json()["error"]["code"] == "internal_error"


FULL_DISK_SCRIPT = r'''
import errno, json, os, shutil, sqlite3, subprocess, sys, wave, io
src, mnt = sys.argv[1], sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt], check=True)
data = os.path.join(mnt, "data")
shutil.copytree(src, data)
os.environ.pop("QMS_VOICE_CACHE", None)
from qms.app import create_app
from server import health
app = create_app({"DATA_DIR": data, "TESTING": True, "ASYNC_MODE": "threading"})
c = app.test_client()
tok = json.load(open(os.path.join(data, "demo-tokens.json")))
kiosk = {"Authorization": "Bearer " + tok["kiosk-1"]}
board = {"Authorization": "Bearer " + tok["display-1"]}
out = {}
for _ in range(2):
    c.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
login = c.post("/api/v1/auth/login", json={"username": "canbo01", "password": sys.argv[3],
                                           "counter": 1}).get_json()
officer = {"Authorization": "Bearer " + login["token"]}
out["call"] = c.post("/api/v1/counters/1/call-next", headers=officer).status_code
login2 = c.post("/api/v1/auth/login", json={"username": "canbo02", "password": sys.argv[3],
                                            "counter": 2}).get_json()
officer2 = {"Authorization": "Bearer " + login2["token"]}
store = app.extensions["qms"].store
store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
for size in (1 << 20, 65536, 4096, 512, 1):
    try:
        while os.write(fd, b"\0" * size) == size:
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
os.close(fd)
out["free"] = shutil.disk_usage(mnt).free
res = c.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
out["issue_full"] = [res.status_code, res.get_json()]
res = c.post("/api/v1/counters/2/call-next", headers=officer2)
out["call_full"] = [res.status_code, res.get_json()]
res = c.get("/api/v1/announcements/audio?number=1001&counter=1", headers=board)
out["audio_full"] = res.status_code
if res.status_code == 200:
    with wave.open(io.BytesIO(res.data)) as w:
        out["audio_s"] = w.getnframes() / w.getframerate()
out["alerts_full"] = [a["code"] for a in health.alerts(app)]
from display_board.routes import composer_for
q = app.extensions["qms"]
out["cache_full"] = composer_for(q.config, q.data_dir).cache_full
out["cached_wavs"] = [str(p) for p in __import__("pathlib").Path(data, "voice-cache").rglob("*.wav")]
out["tmp_left"] = [p for p in os.listdir(os.path.join(data, "voice-cache", "composed"))
                   if p.endswith(".tmp")] if os.path.isdir(os.path.join(data, "voice-cache",
                                                                        "composed")) else []
out["alerts_held"] = [a["code"] for a in health.alerts(app)]
os.remove(os.path.join(mnt, "filler"))
health.for_app(app).hold_s = 0
out["alerts_after"] = [a["code"] for a in health.alerts(app)]
res = c.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
out["issue_after"] = [res.status_code, res.get_json().get("number")]
with store.read():
    out["integrity"] = store.db.conn.execute("PRAGMA integrity_check").fetchone()[0]
    seqs = [r[0] for r in store.db.conn.execute("SELECT seq FROM events WHERE site='main' "
                                                 "ORDER BY seq")]
out["seq_gapless"] = seqs == list(range(1, len(seqs) + 1))
out["numbers"] = [r[0] for r in store.db.conn.execute("SELECT number FROM tickets ORDER BY id")]
res = c.get("/api/v1/announcements/audio?number=1001&counter=1", headers=board)
out["audio_after"] = res.status_code
print("RESULT " + json.dumps(out, ensure_ascii=False))
'''


def test_real_full_disk(data_dir, tmp_path):
    """A real small file system (tmpfs mounted in a user + mount namespace, so no root on
    the host is needed) filled to the last byte: ticket issue and calls answer 507
    `storage_full` (the kernel's ENOSPC through SQLite's SQLITE_FULL), the announcement is
    still rendered (in memory, nothing cached), the dashboard alert is raised and clears
    once space is freed, and the database is intact with no gap in numbers or `seq`."""
    import json
    import subprocess
    import sys

    from tools.testing import OFFICER_PASSWORD

    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    if probe.returncode != 0:
        import pytest

        pytest.skip(f"no user+mount namespaces here: {probe.stderr.decode()[:200]}")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK_SCRIPT)
    run = subprocess.run(["unshare", "-Urm", sys.executable, str(script), str(data_dir),
                          str(mnt), OFFICER_PASSWORD], capture_output=True, text=True,
                         cwd=ROOT, timeout=240)
    lines = [x for x in run.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, run.stderr[-3000:]
    out = json.loads(lines[-1][7:])
    assert out["call"] == 200 and out["free"] == 0
    for key in ("issue_full", "call_full"):
        status, body = out[key]
        assert status == 507, out
        assert body["error"]["code"] == "storage_full" and "Ổ đĩa" in body["error"]["message"]
    assert out["audio_full"] == 200 and out["audio_s"] > 3.0
    assert out["alerts_full"] == ["storage_full"]
    assert out["cache_full"] and out["cached_wavs"] == []  # rendered in memory only
    assert out["tmp_left"] == []
    assert out["alerts_held"] == ["storage_full"]  # the probe cannot write: still full
    assert out["alerts_after"] == ["storage_low"]  # room again, but a 16 MB disk is small
    assert out["issue_after"] == [201, 1003]
    assert out["integrity"] == "ok" and out["seq_gapless"]
    assert out["numbers"] == [1001, 1002, 1003]
    assert out["audio_after"] == 200


# -- issue #12 finding 19: a ticket whose team was deleted ------------------------------------
def test_phone_page_for_a_deleted_team_is_friendly(data_dir, tokens):
    import tomllib

    import tomli_w

    from qms.app import create_app
    from server.config import CONFIG_NAME

    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    try:
        ticket = app.test_client().post("/api/v1/tickets", json={"team_id": 6},
                                        headers=bearer(tokens["kiosk-1"])).get_json()
    finally:
        app.extensions["qms"].store.close()
    path = data_dir / CONFIG_NAME
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["teams"] = [t for t in cfg["teams"] if t["id"] != 6]
    counters = []
    for c in cfg["counters"]:
        c["teams"] = [t for t in c["teams"] if t != 6]
        if c["teams"]:
            counters.append(c)
    cfg["counters"] = counters
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    try:
        res = app.test_client().get(f"/t/{ticket['token']}")
        assert res.status_code == 200, res.get_data()[:300]
        html = res.get_data(as_text=True)
        assert "Tổ này không còn phục vụ" in html and str(ticket["number"]) in html
        assert "Đang chờ" in html and "quầy hướng dẫn" in html
        assert res.headers["Cache-Control"] == "no-store"
        assert "unknown_team" not in html
        # the phone's socket still connects (it is told nothing but its team's public events)
        from server import socketio

        phone = socketio.test_client(app, auth={"ticket": ticket["token"]})
        assert phone.is_connected()
        phone.disconnect()
    finally:
        app.extensions["qms"].store.close()


# -- issue #12 finding 4: the phone page over its public socket ------------------------------
def test_phone_page_follows_a_transfer_and_never_sees_notes(live_server, browser):
    note = "Bà Trần Thị C, CCCD 036184009999, thiếu giấy tờ"
    key = "idem-transfer-secret-42"
    kiosk = live_server.tokens["kiosk-1"]
    mine = live_server.post("/tickets", kiosk, {"team_id": 1}).json()
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN",
                                  is_mobile=True)
    page = context.new_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(str(p))))
    try:
        page.goto(f"{live_server.url}/t/{mine['token']}")
        page.wait_for_function("window.qmsTicket.mode === 'socket'")
        offs = officers(live_server, [1, 7])
        live_server.post("/counters/1/call-next", offs[1])
        page.wait_for_function("document.body.className === 'called'")
        res = live_server.post("/counters/1/transfer", offs[1], {"team_id": 2, "note": note},
                               headers={"Idempotency-Key": key})
        assert res.status_code == 200, res.text
        page.wait_for_function("window.qmsTicket.view.team_id === 2")
        assert page.text_content("#team").startswith("Tổ Đất đai")
        time.sleep(0.3)  # the page re-subscribes to its new team's room
        live_server.post("/counters/7/call-next", offs[7])
        page.wait_for_function("document.body.className === 'called' && "
                               "window.qmsTicket.view.counter === 7", timeout=10000)
        assert "Mời bạn đến quầy 7" in page.text_content("#status")
        assert frames and any("ticket.transferred" in f for f in frames)
        for f in frames:
            assert "036184009999" not in f and key not in f and "thiếu giấy tờ" not in f
    finally:
        context.close()
