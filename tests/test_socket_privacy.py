"""What each principal receives over Socket.IO (issue #12, finding 4).

A citizen's phone (a socket authenticated with a ticket token) gets only the public
projection of ticket events of its own team: no officer's free text (transfer notes, pause
reasons, rating reasons), no device details, no ticket ids, no idempotency keys; it cannot
`subscribe` to other rooms. Devices and staff join only rooms of the sites they may follow.
Nobody gets the commands' Idempotency-Key pushed. In-process (Flask-SocketIO test client)
and against the real server process (python-socketio over a websocket).
"""

from __future__ import annotations

import json
import time

import pytest
import socketio as sio_client

from tests.conftest import bearer, login

NOTE = "Ông Nguyễn Văn Bình, CCCD 001203004567, nợ hồ sơ"
PAUSE = "Đi khám bệnh riêng của cán bộ"
DETAIL = "printer serial ZX-99812 jammed"
KEY = "idem-key-7f3a9c-secret"
SECRETS = (NOTE, "001203004567", PAUSE, DETAIL, "ZX-99812", KEY)
PUBLIC_TYPES = {"ticket.issued", "ticket.called", "ticket.recalled", "ticket.started",
                "ticket.finished", "ticket.no_show", "ticket.transferred", "ticket.cancelled"}
PUBLIC_KEYS = {"type", "seq", "at", "site", "team_id", "counter", "ticket", "waiting",
               "counters_open", "from_team", "to_team", "to_counter"}


def events_of(client) -> list[dict]:
    return [m["args"][0] for m in client.get_received() if m["name"] == "event"]


def hello_of(client) -> dict:
    return [m for m in client.get_received() if m["name"] == "hello"][0]["args"][0]


def issue(client, tokens, team: int) -> dict:
    res = client.post("/api/v1/tickets", json={"team_id": team},
                      headers=bearer(tokens["kiosk-1"]))
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def hall_day(client, tokens) -> dict:
    """A ticket called, transferred with a personal note under an Idempotency-Key, a counter
    paused with a private reason, a device fault: everything a phone must not learn."""
    officer = bearer(login(client, "canbo01", 1))
    mine = issue(client, tokens, 1)
    issue(client, tokens, 1)
    assert client.post("/api/v1/counters/1/call-next", headers=officer).status_code == 200
    res = client.post("/api/v1/counters/1/transfer", json={"team_id": 2, "note": NOTE},
                      headers={**officer, "Idempotency-Key": KEY})
    assert res.status_code == 200, res.get_json()
    assert client.post("/api/v1/counters/1/call-next", headers=officer).status_code == 200
    assert client.post("/api/v1/counters/1/pause", json={"reason": PAUSE},
                       headers=officer).status_code == 200
    res = client.post("/api/v1/devices/status", json={"part": "printer", "online": False,
                                                      "detail": DETAIL},
                      headers=bearer(tokens["kiosk-1"]))
    assert res.status_code == 200, res.get_json()
    return mine


def test_phone_gets_only_the_public_projection(app, client, tokens):
    from server import socketio

    mine = issue(client, tokens, 1)
    phone = socketio.test_client(app, auth={"ticket": mine["token"]})
    board = socketio.test_client(app, auth={"token": tokens["display-1"]})
    assert phone.is_connected() and board.is_connected()
    assert hello_of(phone)["audience"] == "public"
    assert hello_of(board)["audience"] == "staff"
    hall_day(client, tokens)

    pushed = events_of(phone)
    assert pushed, "the phone must still be told that its queue moved"
    assert {e["type"] for e in pushed} <= PUBLIC_TYPES
    assert any(e["type"] == "ticket.called" and e["ticket"]["number"] == mine["number"] + 1
               for e in pushed)
    transfer = [e for e in pushed if e["type"] == "ticket.transferred"]
    assert transfer and transfer[0]["to_team"] == 2 and transfer[0]["from_team"] == 1
    for evt in pushed:
        assert set(evt) <= PUBLIC_KEYS, set(evt) - PUBLIC_KEYS
        if "ticket" in evt:
            assert set(evt["ticket"]) <= {"number", "team_id", "status", "counter", "recalls"}
    text = json.dumps(pushed, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, secret

    # staff still get the whole story, but never the idempotency key
    staff = events_of(board)
    text = json.dumps(staff, ensure_ascii=False)
    assert NOTE in text and PAUSE in text and DETAIL in text
    assert KEY not in text and all("request" not in e for e in staff)
    assert {"counter.paused", "device.status"} <= {e["type"] for e in staff}
    phone.disconnect()
    board.disconnect()


def test_phone_cannot_join_other_rooms(app, client, tokens):
    from server import socketio

    mine = issue(client, tokens, 1)
    for rooms in (["site:main"], ["counter:1"], ["team:2"], ["public:team:2"]):
        refused = socketio.test_client(app, auth={"ticket": mine["token"], "rooms": rooms})
        assert not refused.is_connected(), rooms
    phone = socketio.test_client(app, auth={"ticket": mine["token"]})
    assert hello_of(phone)["rooms"] == ["team:1"]
    for rooms in (["site:main"], ["counter:1"], ["team:2"], ["team:1", "site:main"]):
        ack = phone.emit("subscribe", {"rooms": rooms}, callback=True)
        assert ack["error"]["code"] == "forbidden_room", (rooms, ack)
    # a refused subscribe changed nothing: team 1 is still followed, team 2 / site not
    issue(client, tokens, 2)
    issue(client, tokens, 1)
    assert [e["team_id"] for e in events_of(phone)] == [1]
    # device faults and pauses never reach it, whatever it asked for
    hall_day(client, tokens)
    assert not {e["type"] for e in events_of(phone)} - PUBLIC_TYPES
    phone.disconnect()


def test_phone_follows_its_ticket_after_a_transfer(app, client, tokens):
    from server import socketio

    officer = bearer(login(client, "canbo01", 1))
    mine = issue(client, tokens, 1)
    phone = socketio.test_client(app, auth={"ticket": mine["token"]})
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post("/api/v1/counters/1/transfer", json={"team_id": 2}, headers=officer)
    # its ticket is in team 2 now: it may follow team 2, and no longer team 1
    assert phone.emit("subscribe", {"rooms": ["team:1"]},
                      callback=True)["error"]["code"] == "forbidden_room"
    assert phone.emit("subscribe", {"rooms": ["team:2"]}, callback=True) == {
        "rooms": ["team:2"]}
    phone.get_received()
    issue(client, tokens, 1)
    issue(client, tokens, 2)
    assert [e["team_id"] for e in events_of(phone)] == [2]
    phone.disconnect()


def test_events_api_is_not_open_to_a_ticket_token(client, tokens):
    mine = issue(client, tokens, 1)
    res = client.get("/api/v1/events?since=0", headers=bearer(mine["token"]))
    assert res.status_code == 401
    assert "items" not in (res.get_json() or {})


@pytest.fixture
def two_sites(data_dir):
    """The demo centre plus a branch `b1` (team 9, counter 24) with its own display."""
    import tomllib

    import tomli_w

    from qms.app import create_app
    from server.config import CONFIG_NAME

    path = data_dir / CONFIG_NAME
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["sites"] = {**cfg.get("sites", {"main": "Trụ sở chính"}), "b1": "Chi nhánh 1"}
    cfg["teams"].append({"id": 9, "name": "Tổ chi nhánh", "band": [9001, 9999], "site": "b1"})
    cfg["counters"].append({"number": 24, "teams": [9], "site": "b1", "name": "Quầy 24"})
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading"})
    added = app.extensions["qms"].accounts.add_device("display-b1", "display", (), "b1")
    token = added if isinstance(added, str) else added[1]["token"]  # (status, body) or token
    yield app, token
    app.extensions["qms"].store.close()


def test_staff_rooms_are_limited_to_the_sites_they_may_follow(two_sites, tokens):
    from server import socketio

    app, branch_display = two_sites
    client = app.test_client()
    for rooms in (["site:b1"], ["team:9"], ["counter:24"], ["site:main", "team:9"]):
        refused = socketio.test_client(app, auth={"token": tokens["display-1"],
                                                  "rooms": rooms})
        assert not refused.is_connected(), rooms
    branch = socketio.test_client(app, auth={"token": branch_display})
    assert hello_of(branch)["rooms"] == ["site:b1"]
    assert not socketio.test_client(app, auth={"token": branch_display,
                                               "rooms": ["site:main"]}).is_connected()
    officer = socketio.test_client(app, auth={"token": login(client, "canbo01", 1),
                                              "rooms": ["site:b1"]})
    assert not officer.is_connected()
    manager = socketio.test_client(app, auth={"token": login(client, "giamdoc"),
                                              "rooms": ["site:main", "site:b1"]})
    assert hello_of(manager)["rooms"] == ["site:main", "site:b1"]
    main_board = socketio.test_client(app, auth={"token": tokens["display-1"]})
    ack = main_board.emit("subscribe", {"rooms": ["site:b1"]}, callback=True)
    assert ack["error"]["code"] == "forbidden_room"
    for bad in ({"rooms": "site:main"}, {"rooms": ["x"] * 100}, {"rooms": [{"a": 1}]}):
        assert "error" in main_board.emit("subscribe", bad, callback=True), bad
    for c in (branch, manager, main_board):
        c.disconnect()


def test_a_revoked_device_cannot_resubscribe(app, tokens):
    from server import socketio

    board = socketio.test_client(app, auth={"token": tokens["display-1"]})
    store = app.extensions["qms"].store
    with store.write():
        store.revoke_device("display-1")
    ack = board.emit("subscribe", {"rooms": ["site:main"]}, callback=True)
    assert ack["error"]["code"] == "unauthorized"
    assert not board.is_connected()


# -- the real server process -----------------------------------------------------------------
class Listener:
    def __init__(self, url: str, auth: dict):
        self.events: list[dict] = []
        self.sio = sio_client.Client(reconnection=False)
        self.sio.on("event", self.events.append)
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)

    def wait_for(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not pred(self.events):
            if time.monotonic() > deadline:
                raise AssertionError([e["type"] for e in self.events])
            time.sleep(0.05)


def test_real_server_pushes_the_projection_to_phones(live_server):
    tokens = live_server.tokens
    kiosk = tokens["kiosk-1"]
    mine = live_server.post("/tickets", kiosk, {"team_id": 1}).json()
    phone = Listener(live_server.url, {"ticket": mine["token"]})
    board = Listener(live_server.url, {"token": tokens["display-1"]})
    try:
        officer = live_server.login("canbo01", 1)
        assert live_server.post("/counters/1/call-next", officer).status_code == 200
        res = live_server.post("/counters/1/transfer", officer, {"team_id": 2, "note": NOTE},
                               headers={"Idempotency-Key": KEY})
        assert res.status_code == 200, res.text
        live_server.post("/counters/1/pause", officer, {"reason": PAUSE})
        board.wait_for(lambda ev: any(e["type"] == "counter.paused" for e in ev))
        phone.wait_for(lambda ev: any(e["type"] == "ticket.transferred" for e in ev))
        time.sleep(0.3)
        text = json.dumps(phone.events, ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in text, secret
        assert {e["type"] for e in phone.events} == {"ticket.called", "ticket.transferred"}
        staff = json.dumps(board.events, ensure_ascii=False)
        assert NOTE in staff and PAUSE in staff and KEY not in staff
    finally:
        phone.sio.disconnect()
        board.sio.disconnect()


def test_state_and_events_of_another_site_need_a_managers_right(two_sites, tokens):
    """`?site=` on /state and /events is checked like a socket room (issue #13, 1): a device
    or an officer reads only its own site; a manager or an admin any site of this server."""
    app, branch_display = two_sites
    client = app.test_client()
    main_display = bearer(tokens["display-1"])
    for path in ("/api/v1/state", "/api/v1/events"):
        assert client.get(path, headers=main_display).status_code == 200
        res = client.get(path + "?site=b1", headers=main_display)
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "forbidden_site"
        res = client.get(path + "?site=main", headers=bearer(branch_display))
        assert res.status_code == 403
        assert client.get(path + "?site=b1", headers=bearer(branch_display)).status_code == 200
        manager = bearer(login(client, "giamdoc"))
        assert client.get(path + "?site=b1", headers=manager).status_code == 200
        res = client.get(path + "?site=nowhere", headers=manager)
        assert res.status_code == 404 and res.get_json()["error"]["code"] == "unknown_site"
