"""End to end: the real `qms serve` process on 127.0.0.1, real HTTP and Socket.IO clients."""

from __future__ import annotations

import threading
import time

import socketio


class Listener:
    """A python-socketio client that records every pushed event."""

    def __init__(self, url: str, auth: dict):
        self.events: list[dict] = []
        self.hello: dict | None = None
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2)
        self.sio.on("event", self._on_event)
        self.sio.on("hello", self._on_hello)
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)

    def _on_event(self, evt):
        with self.cond:
            self.events.append(evt)
            self.cond.notify_all()

    def _on_hello(self, data):
        with self.cond:
            self.hello = data
            self.cond.notify_all()

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; got {[e['type'] for e in self.events]}")
                self.cond.wait(left)

    def close(self):
        self.sio.disconnect()


def test_push_rooms_and_seq(live_server):
    tokens = live_server.tokens
    display = Listener(live_server.url, {"token": tokens["display-1"]})
    team3 = Listener(live_server.url, {"token": tokens["display-1"], "rooms": ["team:3"]})
    counter1 = Listener(live_server.url, {"token": tokens["display-1"],
                                          "rooms": ["counter:1"]})
    try:
        t1 = live_server.post("/tickets", tokens["kiosk-1"], {"team_id": 1}).json()
        live_server.post("/tickets", tokens["kiosk-1"], {"team_id": 3})
        officer = live_server.login("canbo01", 1)
        assert live_server.post("/counters/1/call-next", officer).json()["number"] == 1001
        display.wait_for(lambda ev: len(ev) >= 4)
        assert [e["seq"] for e in display.events] == [1, 2, 3, 4]
        assert display.events[-1]["type"] == "ticket.called"
        assert display.events[-1]["ticket"]["number"] == 1001
        assert "token" not in display.events[-1]["ticket"]
        team3.wait_for(lambda ev: len(ev) >= 1)
        counter1.wait_for(lambda ev: len(ev) >= 2)
        time.sleep(0.2)
        assert [e["team_id"] for e in team3.events] == [3]
        assert {e["counter"] for e in counter1.events} == {1}
        citizen = Listener(live_server.url, {"ticket": t1["token"]})
        live_server.post("/counters/1/recall", officer)
        citizen.wait_for(lambda ev: any(e["type"] == "ticket.recalled" for e in ev))
        citizen.close()
    finally:
        for c in (display, team3, counter1):
            c.close()


def test_bad_socket_auth_is_refused(live_server):
    import pytest

    for auth in ({"token": "d_nope"}, {"ticket": "nope"}, {}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            sio = socketio.Client(reconnection=False)
            sio.connect(live_server.url, auth=auth, transports=["websocket"], wait_timeout=5)


def test_catch_up_after_disconnect(live_server):
    tokens = live_server.tokens
    kiosk = tokens["kiosk-1"]
    listener = Listener(live_server.url, {"token": tokens["display-1"]})
    live_server.post("/tickets", kiosk, {"team_id": 1})
    listener.wait_for(lambda ev: len(ev) == 1)
    listener.close()
    for _ in range(3):  # happens while the display is away
        live_server.post("/tickets", kiosk, {"team_id": 2})
    seen = listener.events[-1]["seq"]
    missed = live_server.get(f"/events?since={seen}", tokens["display-1"]).json()
    assert [e["seq"] for e in missed["items"]] == [2, 3, 4]
    assert [e["ticket"]["number"] for e in missed["items"]] == [2001, 2002, 2003]


def test_server_restart_keeps_queue(live_server):
    kiosk = live_server.tokens["kiosk-1"]
    numbers = [live_server.post("/tickets", kiosk, {"team_id": 1}).json()["number"]
               for _ in range(3)]
    live_server.restart()
    after = live_server.post("/tickets", kiosk, {"team_id": 1}).json()["number"]
    assert numbers + [after] == [1001, 1002, 1003, 1004]
    state = live_server.get("/state", kiosk).json()
    assert state["teams"][0]["waiting"] == 4 and state["seq"] == 4
