"""Ending a session ends its sockets (issue #12, finding 7): signing out, a new password set by
re-adding the user, deactivating a user and revoking a device token each disconnect the
sockets that were already open with that token, on the real server process; a token that is
not plain ASCII is refused at connect, never accepted."""

from __future__ import annotations

import time

import pytest
import socketio as sio_client


def connect(url: str, token: str) -> sio_client.Client:
    client = sio_client.Client(reconnection=False)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


def gone(client: sio_client.Client, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return not client.connected


@pytest.fixture
def admin(live_server):
    return live_server.login("admin")


def test_sign_out_disconnects_the_session_sockets(live_server):
    token = live_server.login("canbo02", 2)
    other = live_server.login("canbo03", 3)
    mine, theirs = connect(live_server.url, token), connect(live_server.url, other)
    try:
        assert live_server.post("/auth/logout", token).status_code == 200
        assert gone(mine, 2.0)
        time.sleep(0.3)
        assert theirs.connected  # only the signed-out token's sockets go
    finally:
        for c in (mine, theirs):
            c.disconnect()


def test_re_adding_a_user_with_a_new_password_ends_old_sessions(live_server, admin):
    token = live_server.login("canbo04", 4)
    sock = connect(live_server.url, token)
    try:
        res = live_server.post("/admin/users", admin, {
            "username": "canbo04", "role": "officer", "password": "mat-khau-moi-2026",
            "counters": [4], "full_name": "Cán bộ 4"})
        assert res.status_code in (200, 201), res.text
        assert gone(sock)
        assert live_server.get("/auth/me", token).status_code == 401
    finally:
        sock.disconnect()


def test_deactivating_a_user_and_revoking_a_device_disconnect(live_server, admin):
    import requests

    token = live_server.login("canbo05", 5)
    officer = connect(live_server.url, token)
    board = connect(live_server.url, live_server.tokens["display-1"])
    try:
        res = requests.patch(f"{live_server.url}/api/v1/admin/users/canbo05",
                             json={"active": False},
                             headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert res.status_code == 200, res.text
        assert gone(officer)
        assert live_server.post("/admin/devices/display-1/revoke", admin).status_code == 200
        assert gone(board)
    finally:
        officer.disconnect()
        board.disconnect()


@pytest.mark.parametrize("token", ["\ud800" * 30, "abc\x00" * 10, "ễ" * 40])
def test_a_token_that_is_not_plain_ascii_is_refused(live_server, token):
    client = sio_client.Client(reconnection=False)
    with pytest.raises(sio_client.exceptions.ConnectionError):
        client.connect(live_server.url, auth={"token": token}, transports=["websocket"],
                       wait_timeout=5)
    assert not client.connected



def test_qms_user_add_from_the_command_line_ends_sessions_too(live_server):
    """`qms user add` for an existing user (another process, no push): its sessions end at
    once and the server drops the open sockets on its next sweep (every 5 s)."""
    from qms.cli import main

    token = live_server.login("canbo06", 6)
    sock = connect(live_server.url, token)
    try:
        assert main(["--data-dir", str(live_server.data_dir), "user", "add", "canbo06",
                     "--role", "officer", "--password", "mat-khau-moi-2026",
                     "--counter", "6"]) == 0
        assert live_server.get("/auth/me", token).status_code == 401
        assert gone(sock, 8.0)
    finally:
        sock.disconnect()
