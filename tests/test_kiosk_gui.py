"""The real kiosk app, on a real (offscreen) window, against the real server and printer.

Every test starts `python -m kiosk.main` in its own process with SDL_VIDEODRIVER=offscreen
(Mesa llvmpipe; no Xvfb needed), under `timeout -s KILL` so a hung Kivy can never hang the
suite. The app runs a touch script (`kiosk.driver`): touches go through the window's input
dispatch to the real widgets. Where the test must act mid-way (kill the server, fix the
printer), the script and the test hand over through flag files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomli_w
from PIL import Image

from hardware.emulators.escpos_stream import decode_text, qr_payloads
from hardware.emulators.printer_server import PrinterEmulator
from tests.conftest import LiveServer

pytestmark = [pytest.mark.gui, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]
HARD_TIMEOUT = 60
READY = {"wait": {"ready": True}, "timeout": 20}


class KioskRun:
    """One kiosk process running one script."""

    def __init__(self, tmp: Path, server: str, token: str, steps: list, printer: str | None = None,
                 extra: tuple = ()):
        self.tmp = tmp
        self.out = tmp / "result.json"
        script = tmp / "script.json"
        script.write_text(json.dumps({"out": str(self.out), "steps": steps}, ensure_ascii=False))
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(tmp / "kivy"),
                   SDL_VIDEODRIVER="offscreen", KIVY_NO_CONSOLELOG="1", PYTHONUNBUFFERED="1")
        cmd = ["timeout", "-s", "KILL", str(HARD_TIMEOUT), sys.executable, "-m", "kiosk.main",
               "--server", server, "--token", token, "--script", str(script),
               "--cache-dir", str(tmp / "cache"), *extra]
        if printer:
            cmd += ["--printer", printer, "--profile", "TM-T20II", "--printer-mode", "cp1258"]
        self.log = tmp / "kiosk.log"
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def flag(self, name: str) -> str:
        return str(self.tmp / name)

    def wait_flag(self, name: str, timeout: float = 30) -> dict:
        path = self.tmp / name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                time.sleep(0.05)
                return json.loads(path.read_text() or "{}")
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"kiosk never wrote {name}: {self.failure()}")

    def set_flag(self, name: str) -> None:
        (self.tmp / name).write_text("go")

    def failure(self) -> str:
        res = self.out.read_text() if self.out.exists() else "(no result)"
        return f"{res[:3000]}\n--- log ---\n{self.log.read_text(errors='replace')[-3000:]}"

    def result(self, timeout: float = HARD_TIMEOUT + 10) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.out.exists(), self.failure()
        res = json.loads(self.out.read_text())
        assert res["ok"], self.failure()
        return res


def not_blank(path: Path) -> None:
    img = Image.open(path).convert("RGB")
    assert img.size[0] >= 600, img.size
    colours = img.resize((160, 100)).getcolors(16000)
    assert colours is None or len(colours) > 20, f"{path} looks blank"


def kiosk_token(server: LiveServer) -> str:
    return server.tokens["kiosk-1"]


def tickets_today(server: LiveServer) -> list[dict]:
    manager = server.login("giamdoc")
    res = server.get("/events?since=0", manager)
    return [e for e in res.json()["items"] if e["type"] == "ticket.issued"]


@pytest.fixture
def printer():
    with PrinterEmulator() as emu:
        yield emu


def test_home_to_printed_ticket_in_two_touches(live_server, printer, tmp_path):
    steps = [READY, {"screenshot": str(tmp_path / "home.png")},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"wait": {"text": "Đang chờ: 0 người"}},
             {"screenshot": str(tmp_path / "detail.png")},
             {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}},
             {"wait": {"attr": "print_state", "value": "printed"}},
             {"screenshot": str(tmp_path / "ticket.png")}, {"dump": "ticket"}]
    run = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps, printer.url)
    res = run.result()
    assert res["touches"] <= 4 and res["touches"] == 2
    ticket = res["dumps"]["ticket"]["ticket"]
    assert ticket["number"] == 1001 and ticket["procedure_code"] == "1.001193"
    assert "1001" in res["dumps"]["ticket"]["texts"]
    issued = tickets_today(live_server)
    assert len(issued) == 1 and issued[0]["ticket"]["channel"] == "kiosk"
    job = printer.wait_for_jobs(1)[0]
    text = decode_text(job)
    assert "1001" in text and "Đăng ký khai sinh" in text and "Quầy số 1, 2" in text
    assert qr_payloads(job) == [ticket["status_url"]]
    # the QR's target answers with the same ticket
    token = ticket["status_url"].rsplit("/", 1)[1]
    assert live_server.get(f"/tickets/{token}").json()["number"] == 1001
    for name in ("home", "detail", "ticket"):
        not_blank(tmp_path / f"{name}.png")


def test_search_to_ticket_in_three_touches_plus_typing(live_server, tmp_path):
    steps = [READY, {"touch": {"id": "search_box"}}, {"wait": {"screen": "search"}},
             {"type": "dang ky khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}},
             {"screenshot": str(tmp_path / "search.png")},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}}, {"dump": "ticket"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    assert res["touches"] == 3
    assert res["keys"] == len("dang ky khai sinh")
    dump = res["dumps"]["ticket"]
    assert dump["ticket"]["procedure_code"] == "1.001193"
    assert dump["print_state"] == "none"  # no printer configured: the screen says so
    assert any("chụp ảnh màn hình" in t for t in dump["texts"])
    # each key press (search + refilling the results) is handled within one frame
    assert max(res["key_ms"]) < 50, res["key_ms"]
    not_blank(tmp_path / "search.png")


def test_server_down_no_ticket_then_retry_reuses_the_key(live_server, tmp_path):
    run = None
    steps = [READY, {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"write": str(tmp_path / "at_detail")}, {"wait": {"file": str(tmp_path / "go")}},
             {"touch": {"id": "take"}}, {"wait": {"screen": "message"}},
             {"wait": {"text": "Không kết nối được máy chủ"}},
             {"screenshot": str(tmp_path / "message.png")},
             {"touch": {"text": "Thử lại"}}, {"sleep": 0.5}, {"wait": {"attr": "issuing", "value": False}},
             {"write": str(tmp_path / "failed_twice")},
             {"wait": {"file": str(tmp_path / "go2")}, "timeout": 30},
             {"touch": {"text": "Thử lại"}}, {"wait": {"screen": "ticket"}}, {"dump": "ticket"}]
    run = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps)
    run.wait_flag("at_detail")
    live_server.kill()
    run.set_flag("go")
    state = run.wait_flag("failed_twice")
    assert state["screen"] == "message" and state["error_code"] == "server_unreachable"
    assert any("Chưa có số nào được cấp" in t for t in state["texts"])
    assert state["attempts"] == 2
    live_server.start()
    run.set_flag("go2")
    res = run.result()
    dump = res["dumps"]["ticket"]
    assert dump["attempts"] == 3 and dump["key"] == state["key"]
    assert dump["ticket"]["number"] == 1001
    assert len(tickets_today(live_server)) == 1
    not_blank(tmp_path / "message.png")


def test_double_tap_issues_one_ticket(live_server, tmp_path):
    steps = [READY, {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"double_touch": {"id": "take"}}, {"wait": {"screen": "ticket"}}, {"sleep": 1.0},
             {"dump": "ticket"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    dump = res["dumps"]["ticket"]
    assert dump["taps_ignored"] == 1 and dump["attempts"] == 1
    assert len(tickets_today(live_server)) == 1


def test_paper_out_shows_ticket_reports_fault_and_reprints(live_server, printer, tmp_path):
    printer.paper = "out"
    steps = [READY, {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}},
             {"wait": {"attr": "print_state", "value": "failed"}},
             {"wait": {"text": "Máy in hết giấy"}},
             {"screenshot": str(tmp_path / "paper-out.png")},
             {"write": str(tmp_path / "failed")}, {"wait": {"file": str(tmp_path / "fixed")}},
             {"touch": {"id": "reprint"}}, {"wait": {"attr": "print_state", "value": "printed"}},
             {"dump": "ticket"}]
    run = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps, printer.url)
    state = run.wait_flag("failed")
    assert state["screen"] == "ticket" and state["ticket"]["number"] == 1001
    assert any("chụp ảnh màn hình" in t for t in state["texts"])
    manager = live_server.login("giamdoc")
    status = _printer_status(live_server, manager, online=False)
    assert "hết giấy" in status["detail"]
    assert printer.jobs == []
    printer.paper = "ok"
    run.set_flag("fixed")
    res = run.result()
    assert res["dumps"]["ticket"]["ticket"]["number"] == 1001
    assert "1001" in decode_text(printer.wait_for_jobs(1)[0])
    assert _printer_status(live_server, manager, online=True)["online"] is True
    assert len(tickets_today(live_server)) == 1
    not_blank(tmp_path / "paper-out.png")


def _printer_status(server, token, online: bool, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    items = []
    while time.monotonic() < deadline:
        items = server.get("/devices/status", token).json()["items"]
        for it in items:
            if it.get("part") == "printer" and bool(it.get("online")) is online:
                return it
        time.sleep(0.1)
    raise AssertionError(f"printer never reported online={online}: {items}")


def test_outside_hours_explains_and_issues_nothing(data_dir, tmp_path):
    cfg_path = data_dir / "centre.toml"
    cfg = tomllib.loads(cfg_path.read_text())
    now = datetime.now(ZoneInfo(cfg.get("timezone", "Asia/Ho_Chi_Minh")))
    start, end = now + timedelta(hours=6), now + timedelta(hours=6, minutes=30)
    span = [start.strftime("%H:%M"), end.strftime("%H:%M")]
    if span[1] < span[0]:
        span = ["00:00", "00:01"]
    cfg["enforce_hours"] = True
    cfg["hours"] = {d: [span] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cfg_path.write_text(tomli_w.dumps(cfg))
    server = LiveServer(data_dir).start()
    try:
        steps = [READY, {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
                 {"touch": {"id": "take"}}, {"wait": {"screen": "message"}},
                 {"wait": {"text": "Ngoài giờ làm việc"}},
                 {"screenshot": str(tmp_path / "hours.png")}, {"dump": "message"},
                 {"touch": {"text": "Quay lại"}}, {"wait": {"screen": "detail"}}]
        res = KioskRun(tmp_path, server.url, server.tokens["kiosk-1"], steps).result()
        dump = res["dumps"]["message"]
        assert dump["error_code"] == "outside_hours"
        assert not any(t == "Thử lại" for t in dump["texts"])  # retrying cannot help
        assert tickets_today(server) == []
    finally:
        server.stop()
    not_blank(tmp_path / "hours.png")


def test_live_counts_update_and_catch_up_after_reconnect(live_server, tmp_path):
    token = kiosk_token(live_server)
    steps = [READY, {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"wait": {"attr": "live", "value": True}},
             {"write": str(tmp_path / "at_detail")},
             {"wait": {"text": "Đang chờ: 2 người"}, "timeout": 10},
             {"write": str(tmp_path / "saw2")},
             {"wait": {"text": "Đang chờ: 3 người"}, "timeout": 30}, {"dump": "detail"}]
    run = KioskRun(tmp_path, live_server.url, token, steps)
    run.wait_flag("at_detail")
    for _ in range(2):
        assert live_server.post("/tickets", token, {"procedure_code": "1.000894"}).status_code == 201
    run.wait_flag("saw2")
    live_server.kill()
    live_server.start()
    res = live_server.post("/tickets", token, {"procedure_code": "1.000894"})
    assert res.status_code == 201
    out = run.result()
    assert out["dumps"]["detail"]["waiting"]["1"] == 3


def test_idle_returns_home_then_screensaver_and_language_switch(live_server, tmp_path):
    steps = [READY, {"touch": {"id": "lang_button"}}, {"wait": {"text": "Take a number"}},
             {"screenshot": str(tmp_path / "home-en.png")},
             {"idle": {"home": 1.0, "saver": 1.5, "ticket": 1.0}},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"wait": {"screen": "home"}, "timeout": 5},
             {"wait": {"screen": "saver"}, "timeout": 5},
             {"wait": {"text": "Chạm vào màn hình"}},
             {"screenshot": str(tmp_path / "saver.png")}, {"dump": "saver"},
             # longer idle timers from here, so a slow machine cannot fall back to the
             # screensaver before the test has seen Home
             {"idle": {"home": 30, "saver": 30, "ticket": 1.0}},
             {"touch": {"screen_centre": True}}, {"wait": {"screen": "home"}},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}},
             {"wait": {"screen": "home"}, "timeout": 5}, {"dump": "home"},
             # once more, touching the moment the saver starts fading in: that touch
             # must still wake the kiosk (it used to be lost mid-fade)
             {"idle": {"home": 30, "saver": 3.0, "ticket": 1.0}},
             {"wait": {"screen": "saver"}, "timeout": 8}, {"touch": {"screen_centre": True}},
             {"idle": {"home": 30, "saver": 30, "ticket": 1.0}},
             {"wait": {"screen": "home"}, "timeout": 3}, {"dump": "woken"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    assert res["screens"][-1] == "home"  # woken by the touch itself, not later
    assert res["dumps"]["woken"]["shown"] == ["home"]  # no saver left drawn over Home
    assert res["dumps"]["saver"]["lang"] == "vi"  # idle resets the language
    assert any("Bắc Ninh" in t for t in res["dumps"]["saver"]["texts"])
    assert res["dumps"]["home"]["flow_state"] in ("idle", "issued")
    not_blank(tmp_path / "saver.png")
    not_blank(tmp_path / "home-en.png")


def test_unreachable_server_at_start_still_shows_home(tmp_path):
    from tests.conftest import free_port

    steps = [{"wait": {"text": "Chưa kết nối được máy chủ"}, "timeout": 15}, {"dump": "home"}]
    res = KioskRun(tmp_path, f"http://127.0.0.1:{free_port()}", "t", steps).result()
    assert res["dumps"]["home"]["screen"] == "home"
