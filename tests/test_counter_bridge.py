"""Counter bridge against the keypad, LED and rating pad emulators on real pseudo-terminals
and the real server process."""

from __future__ import annotations

import time

import pytest

from counter import bridge_config
from counter.bridge import CounterBridge
from hardware.emulators.serial_devices import KeypadEmulator, LedBoardEmulator, RatingPadEmulator
from server.rules import CALL_GUARD_S


def wait(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def rig(live_server):
    kp, led, pad = KeypadEmulator(), LedBoardEmulator(), RatingPadEmulator(only_when_enabled=True)
    for dev in (kp, led, pad):
        dev.start()
    cfg = bridge_config.from_dict({
        "bridge": {"rating_window_s": 5, "error_show_s": 0.6, "retry_for_s": 20},
        "keypads": [{"name": "keypads", "port": kp.path, "counters": [1, 2]}],
        "ledboards": [{"name": "leds", "port": led.path, "addresses": {"11": 1, "12": 2}}],
        "ratingpads": [{"name": "pads", "port": pad.path, "addresses": {"21": 1}}],
    })
    bridge = CounterBridge(live_server.url, live_server.tokens["bridge-1"], cfg,
                           backoff_max=0.3).start()
    wait(lambda: bridge.live.seq is not None and all(
        d.online for d in [*bridge.keypads.values(), *bridge.leds.values(),
                           *bridge.pads.values()]), what="bridge ready")
    yield live_server, bridge, kp, led, pad
    bridge.stop()
    for dev in (kp, led, pad):
        dev.stop()


def issue(server, n=1, team=1):
    return [server.post("/tickets", server.tokens["kiosk-1"], {"team_id": team}).json()
            for _ in range(n)]


def events(server, kind):
    items = server.get("/events?since=0", server.tokens["display-1"]).json()["items"]
    return [e for e in items if e["type"] == kind]


def test_keypad_led_and_rating_pad_end_to_end(rig):
    server, bridge, kp, led, pad = rig
    server.login("canbo01", 1)
    t1, _ = issue(server, 2)
    kp.press(1, "next")
    wait(lambda: led.counters.get(11, ("",))[0] == "1001", what="LED shows 1001")
    assert led.counters[11] == ("1001", "1", True)
    assert server.get("/counters/1", server.tokens["display-1"]).json()["ticket"]["number"] == 1001
    assert kp.wait_for(lambda: kp.displays.get(1) == "1001")
    kp.press(1, "start")
    wait(lambda: led.counters.get(11) == ("1001", "1", False), what="steady LED")
    kp.press(1, "finish")
    wait(lambda: 11 not in led.counters, what="LED cleared")
    assert pad.wait_for(lambda: pad.enabled.get(21) == "1001")
    assert pad.press(21, 4)
    wait(lambda: events(server, "ticket.rated"), what="rating recorded")
    rated = events(server, "ticket.rated")
    assert [(e["ticket_id"], e["score"], e["counter"]) for e in rated] == [(t1["id"], 4, 1)]
    assert pad.wait_for(lambda: 21 not in pad.enabled)
    # keypad alone: NEXT twice serves 1002 and finishes it implicitly on the next NEXT
    kp.press(1, "next")
    wait(lambda: led.counters.get(11, ("",))[0] == "1002", what="LED shows 1002")
    time.sleep(CALL_GUARD_S)  # a NEXT moments after a call is a double press: refused
    kp.press(1, "next")
    wait(lambda: led.counters.get(11, ("",))[0] == "----", what="nobody waiting")
    assert pad.wait_for(lambda: pad.enabled.get(21) == "1002")
    wait(lambda: 11 not in led.counters, what="'----' cleared")


def test_error_codes_pause_key_digits_and_unplug(rig):
    server, bridge, kp, led, pad = rig
    manager = server.login("giamdoc")
    issue(server, 3)
    kp.press(2, "next")  # nobody signed in at counter 2
    wait(lambda: led.counters.get(12, ("",))[0] == "E-01", what="E-01 on the LED")
    assert kp.wait_for(lambda: kp.displays.get(2) == "E-01")
    wait(lambda: 12 not in led.counters, what="error cleared")
    assert events(server, "ticket.called") == []
    server.login("canbo01", 1)
    kp.press(1, "digits", "1003")
    wait(lambda: led.counters.get(11, ("",))[0] == "1003", what="LED shows 1003")
    called = events(server, "ticket.called")
    assert called[-1]["out_of_order"] is True
    kp.press(1, "pause")
    wait(lambda: bridge.view[1].status == "paused", what="paused")
    kp.press(1, "next")
    wait(lambda: led.counters.get(11, ("",))[0] == "E-03", what="E-03 while paused")
    kp.press(1, "pause")
    wait(lambda: bridge.view[1].status == "open", what="resumed")

    def part(name):
        items = server.get("/devices/status", manager).json()["items"]
        return next((i for i in items if i["device"] == "bridge-1" and i["part"] == name), None)

    wait(lambda: (part("keypads") or {}).get("online") is True, what="keypads online")
    kp.unplug()
    wait(lambda: (part("keypads") or {}).get("online") is False, what="keypads offline")
    kp.replug()
    wait(lambda: (part("keypads") or {}).get("online") is True, what="keypads back")
    kp.press(1, "recall")
    wait(lambda: len(events(server, "ticket.recalled")) == 1, what="keypad works again")


def test_press_during_server_restart_is_done_once(rig):
    server, bridge, kp, led, pad = rig
    server.login("canbo01", 1)
    issue(server, 2)
    server.kill()
    kp.press(1, "next")  # retried with the same Idempotency-Key until the server is back
    time.sleep(0.5)
    server.start()
    wait(lambda: led.counters.get(11, ("",))[0] == "1001", timeout=15, what="LED after restart")
    officer = server.login("canbo01", 1)
    assert server.post("/counters/1/recall", officer).status_code == 200
    wait(lambda: bridge.live.stats["reconnects"] >= 1, timeout=10, what="socket reconnect")
    wait(lambda: led.counters.get(11) == ("1001", "1", True) and
         any(e["type"] == "ticket.recalled" for e in events(server, "ticket.recalled")),
         what="recall seen")
    assert len(events(server, "ticket.called")) == 1
