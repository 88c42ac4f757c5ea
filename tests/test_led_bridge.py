"""LED wall bridge: the real server process, the LED board emulator on a real pty, and the
bridge in between (python-socketio push + REST catch-up)."""

from __future__ import annotations

import pytest

from display_board.led_bridge import BoardConfig, LedBridge, load_config, main, short_form
from hardware.emulators.serial_devices import LedBoardEmulator


@pytest.fixture
def emulator():
    with LedBoardEmulator() as emu:
        yield emu


def write_config(tmp_path, server, port) -> str:
    path = tmp_path / "led.toml"
    path.write_text(f"""
server = "{server.url}"
token = "{server.tokens['display-1']}"
[bus]
port = "{port}"
frame_gap = 0.0
[[boards]]
address = 20
lines = 4
columns = 16
brightness = 9
[[boards]]
address = 21
lines = 2
columns = 12
title = ""
teams = [2]
""", encoding="utf-8")
    return str(path)


def test_config_and_short_form(tmp_path):
    assert short_form(1023, 5) == "1023 -> Q5"
    assert short_form(7, None) == "7"
    path = tmp_path / "c.toml"
    path.write_text('server = "http://x"\ntoken = "t"\n[bus]\nport = "/dev/ttyUSB0"\n')
    cfg = load_config(path, port="socket://10.0.0.7:4001")
    assert cfg.port == "socket://10.0.0.7:4001" and cfg.boards == [BoardConfig(address=1)]
    with pytest.raises(ValueError, match="token"):
        load_config(None, server="http://x", port="p")
    with pytest.raises(SystemExit):
        main(["--server", "http://x"])  # no token, no port: usage error


def test_boards_follow_calls_and_catch_up_after_restart(live_server, emulator, tmp_path):
    kiosk = live_server.tokens["kiosk-1"]
    for team in (1, 1, 1, 2, 2):
        live_server.post("/tickets", kiosk, {"team_id": team})
    off1 = live_server.login("canbo01", 1)
    live_server.post("/counters/1/call-next", off1)  # before the bridge starts: from /state

    bridge = LedBridge(load_config(write_config(tmp_path, live_server, emulator.url))).start()
    try:
        assert emulator.wait_for(lambda: emulator.lines(20) == ["SO QUAY", "1001 -> Q1", "", ""])
        assert emulator.brightness.get(20) == 9
        off7 = live_server.login("canbo07", 7)
        live_server.post("/counters/7/call-next", off7)  # 2001 at counter 7
        # 1001 reached counter 1 before its next call (a "next" moments after a call, while
        # the ticket is only called, is a double press: 409 too_soon)
        assert live_server.post("/counters/1/start", off1).status_code == 200
        assert live_server.post("/counters/1/call-next", off1).status_code == 200  # 1002
        assert emulator.wait_for(lambda: emulator.lines(20) ==
                                 ["SO QUAY", "1002 -> Q1", "2001 -> Q7", "1001 -> Q1"])
        assert emulator.wait_for(lambda: emulator.lines(21) == ["2001 -> Q7", ""])

        # the server dies; calls made after it comes back reach the boards in order
        live_server.kill()
        live_server.start()
        off1 = live_server.login("canbo01", 1)
        off7 = live_server.login("canbo07", 7)
        assert live_server.post("/counters/1/start", off1).status_code == 200  # 1002
        assert live_server.post("/counters/7/start", off7).status_code == 200  # 2001
        assert live_server.post("/counters/1/call-next", off1).status_code == 200  # 1003
        assert live_server.post("/counters/7/call-next", off7).status_code == 200  # 2002
        live_server.post("/counters/7/recall", off7)     # 2002 again
        assert emulator.wait_for(lambda: emulator.lines(20) ==
                                 ["SO QUAY", "2002 -> Q7", "2002 -> Q7", "1003 -> Q1"],
                                 timeout=15)
        assert emulator.wait_for(lambda: emulator.lines(21) == ["2002 -> Q7", "2002 -> Q7"])
        seq = live_server.get("/state", kiosk).json()["seq"]
        assert bridge.wait_for(lambda b: b.seq == seq)

        manager = live_server.login("giamdoc")
        statuses = live_server.get("/devices/status", manager).json()["items"]
        assert any(s["device"] == "display-1" and s["part"] == "ledbus" and s["online"]
                   for s in statuses), statuses
    finally:
        bridge.stop()
