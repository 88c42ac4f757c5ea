"""Display area web pages and audio: the hall board `/display`, the citizen's phone page
`/t/<token>` and `GET /api/v1/announcements/audio`, against the real server process and
headless Chromium."""

from __future__ import annotations

import io
import threading
import time
import wave
from pathlib import Path

from conftest import bearer

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
    offs = officers(server, [1, 2, 3, 7, 8, 11, 12, 15, 18, 21, 22, 9])
    for c in (1, 2, 7, 11, 15, 18, 21, 3, 8, 12, 22):
        assert server.post(f"/counters/{c}/call-next", offs[c]).status_code == 200
    for c in (1, 7, 11, 15):
        server.post(f"/counters/{c}/start", offs[c])
    server.post("/counters/9/pause", offs[9], {"reason": "break"})


def audio_ordered(log: list[dict]) -> None:
    for prev, cur in zip(log, log[1:], strict=False):
        assert cur["startedAt"] >= prev["endedAt"], (prev, cur)  # never overlapping


# -- the announcement audio endpoint ---------------------------------------------------------
def test_announcement_audio_endpoint(client, tokens):
    token = tokens["display-1"]
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
    en = client.get("/api/v1/announcements/audio?number=7&counter=2&lang=en",
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
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    try:
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

    # two calls within 100 ms: both shown, both queued for audio, in order
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
    live_server.post("/counters/1/call-next", off)   # 1002
    live_server.post("/counters/7/call-next", off7)  # 2001
    live_server.post("/counters/1/call-next", off)   # 1003
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
            live_server.post(f"/counters/{n}/call-next", offs[n])  # 1002, 1003, then mine
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
