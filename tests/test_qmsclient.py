"""qmsclient against the real server process: commands retried with one Idempotency-Key
(through a TCP relay that loses answers, answers 502 itself or refuses connections), the one
error class, and the event stream across a SIGKILL + restart, lost and overtaking pushes and
a replaced database."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time

import pytest

from qmsclient import Client, EventStream, ServerError, ServerUnreachable, login, new_key
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

KEY_RE = re.compile(rb"Idempotency-Key: ([0-9A-Za-z_-]+)", re.I)
REPLY_502 = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Relay:
    """A TCP relay on 127.0.0.1 in front of the server. `fault(mode, n)` applies to the next
    n connections: "lose_answer" (the request reaches the server, its answer is dropped and
    the connection closed), "bad_gateway" (answers 502 itself, as a proxy with its upstream
    down); `block()` refuses connections and cuts open ones until `unblock()`."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.mode, self.budget, self.blocked = "pass", 0, False
        self.sent: list[bytearray] = []  # what each connection's client sent
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def fault(self, mode: str, n: int = 1) -> None:
        with self._lock:
            self.mode, self.budget = mode, n

    def block(self) -> None:
        with self._lock:
            self.blocked = True
            socks, self._open = list(self._open), set()
        for s in socks:
            _close(s)

    def unblock(self) -> None:
        with self._lock:
            self.blocked = False

    def keys(self) -> list[str]:
        with self._lock:
            return [k.decode() for data in self.sent for k in KEY_RE.findall(bytes(data))]

    def close(self) -> None:
        self.block()
        _close(self.server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            if self.blocked:
                mode = "refuse"
            elif self.budget > 0:
                mode = self.mode
                self.budget -= 1
            else:
                mode = "pass"
            record = bytearray()
            self.sent.append(record)
        if mode == "refuse":
            _close(client)
            return
        if mode == "bad_gateway":
            record += _read_request(client)
            client.sendall(REPLY_502)
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        if mode == "lose_answer":
            request = _read_request(client)
            record += request
            upstream.sendall(request)
            upstream.recv(1)  # the server has answered: it carried the request out
            _close(upstream)
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=_pipe, args=(upstream, client, None), daemon=True).start()
        _pipe(client, upstream, record)


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head, re.I)
    while m and len(body) < int(m.group(1)):
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _pipe(src: socket.socket, dst: socket.socket, record: bytearray | None) -> None:
    try:
        while data := src.recv(65536):
            if record is not None:
                record += data
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def relay(live_server):
    r = Relay(live_server.port)
    yield r
    r.close()


def waiting(server, team: int = 1) -> int:
    state = server.get("/state", server.tokens["display-1"]).json()
    return next(t for t in state["teams"] if t["id"] == team)["waiting"]


def server_seq(server) -> int:
    return server.get("/state", server.tokens["display-1"]).json()["seq"]


# -- HTTP: commands, retries, errors -----------------------------------------------------------
def test_lost_answer_is_retried_with_the_same_key_and_issues_once(live_server, relay):
    client = Client(relay.url, live_server.tokens["kiosk-1"], timeout=5)
    relay.fault("lose_answer", 1)
    status, ticket = client.command("/tickets", {"procedure_code": "1.001193"}, key="k-lost")
    assert status == 201 and ticket["number"] == 1001
    keys = relay.keys()
    assert keys == ["k-lost", "k-lost"]  # the first reached the server; its answer was lost
    assert waiting(live_server) == 1
    # the same key again, straight to the server: the same ticket, nothing new
    again = Client(live_server.url, live_server.tokens["kiosk-1"])
    assert again.command("/tickets", {"procedure_code": "1.001193"},
                         key="k-lost")[1]["id"] == ticket["id"]
    assert waiting(live_server) == 1


def test_5xx_is_retried_with_the_same_key(live_server, relay):
    client = Client(relay.url, live_server.tokens["kiosk-1"], timeout=5)
    relay.fault("bad_gateway", 2)
    t0 = time.monotonic()
    status, ticket = client.command("/tickets", {"team_id": 2})
    assert status == 201 and ticket["number"] == 2001
    assert time.monotonic() - t0 >= 0.4  # backed off: ~0.2 s, then ~0.4 s
    keys = relay.keys()
    assert len(keys) == 3 and len(set(keys)) == 1
    assert waiting(live_server, 2) == 1
    # a 502 without a body, not retried: status and a code derived from it (a new client:
    # faults hit new connections, and the first one keeps its connection alive)
    relay.fault("bad_gateway", 1)
    with pytest.raises(ServerError) as err:
        Client(relay.url, live_server.tokens["kiosk-1"]).command("/tickets", {"team_id": 2},
                                                                 retry_for=0)
    assert (err.value.status, err.value.code, err.value.answered) == (502, "server_error", True)
    assert err.value.retryable


def test_command_survives_a_server_restart_once(live_server):
    client = Client(live_server.url, live_server.tokens["kiosk-1"], timeout=2)
    live_server.kill()
    out = {}
    worker = threading.Thread(target=lambda: out.update(
        r=client.command("/tickets", {"procedure_code": "1.001193"}, key="k-restart",
                         retry_for=30)))
    worker.start()
    time.sleep(0.5)
    live_server.start()
    worker.join(30)
    assert out["r"][0] == 201 and out["r"][1]["number"] == 1001
    assert client.command("/tickets", {"procedure_code": "1.001193"},
                          key="k-restart")[1]["id"] == out["r"][1]["id"]
    assert waiting(live_server) == 1


def test_unreachable_gives_up_after_retry_for_or_stop():
    client = Client(f"http://127.0.0.1:{free_port()}", "t", timeout=1)
    t0 = time.monotonic()
    with pytest.raises(ServerUnreachable) as err:
        client.command("/tickets", {"team_id": 1}, retry_for=1.0)
    assert 0.5 < time.monotonic() - t0 < 5
    e = err.value
    assert isinstance(e, ServerError) and e.status is None and not e.answered and e.retryable
    assert e.code == "server_unreachable"
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    with pytest.raises(ServerUnreachable):
        client.command("/tickets", {"team_id": 1}, retry_for=60, stop=stop)
    assert time.monotonic() - t0 < 3
    with pytest.raises(ServerUnreachable):
        client.get("/state")
    assert not client.ping()


def test_errors_carry_status_code_and_the_servers_vietnamese_message(live_server, relay):
    kiosk = Client(relay.url, live_server.tokens["kiosk-1"])
    with pytest.raises(ServerError) as err:
        kiosk.command("/tickets", {"procedure_code": "9.999999"}, key="k-404")
    e = err.value
    assert (e.status, e.code) == (404, "unknown_procedure") and e.answered
    assert e.message.startswith("Không có thủ tục 9.999999") and not e.retryable
    assert len(relay.keys()) == 1  # a 4xx is an answer: never retried
    bridge = Client(live_server.url, live_server.tokens["bridge-1"])
    with pytest.raises(ServerError) as err:
        bridge.command("/counters/1/call-next")
    assert (err.value.status, err.value.code) == (409, "no_officer")
    assert err.value.message.startswith("Chưa có cán bộ đăng nhập tại quầy 1")
    with pytest.raises(ServerError) as err:
        Client(live_server.url, "not-a-token").get("/state")
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert err.value.message.startswith("Cần đăng nhập")
    with pytest.raises(ServerError) as err:
        login(live_server.url, "canbo01", "wrong password", 1)
    assert err.value.status == 401 and err.value.message.startswith("Sai tên đăng nhập")
    assert str(err.value).startswith("401 ")


def test_204_sessions_per_thread_and_login(live_server):
    officer = login(live_server.url, "canbo01", "demo1234", 1)
    assert officer.ping()
    assert officer.command("/counters/1/call-next") == (204, None)  # nobody waiting
    assert officer.get("/counters/1")["number"] == 1
    other = []
    t = threading.Thread(target=lambda: other.append(officer._session()))
    t.start()
    t.join()
    assert other[0] is not officer._session()
    officer.close()
    assert officer.get("/state")["seq"] >= 0


# -- the event stream --------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.events: list[dict] = []
        self.snapshots: list[dict] = []
        self.status: list[bool] = []
        self.idle = 0

    def stream(self, client: Client, cls=EventStream, **kw) -> EventStream:
        kw.setdefault("reconnect_delay", 0.2)
        kw.setdefault("reconnect_delay_max", 1.0)
        return cls(client, on_event=self.events.append, on_snapshot=self.snapshots.append,
                   on_status=self.status.append, on_idle=self._idle, **kw)

    def _idle(self):
        self.idle += 1

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


def issue(server, n: int, team: int = 1) -> None:
    for _ in range(n):
        assert server.post("/tickets", server.tokens["kiosk-1"], {"team_id": team},
                           headers={"Idempotency-Key": new_key()}).status_code == 201


def test_stream_catches_up_after_sigkill_and_restart_without_loss_or_duplicates(live_server,
                                                                                  relay):
    rec = Recorder()
    stream = rec.stream(Client(relay.url, live_server.tokens["display-1"]), site="main").start()
    try:
        assert stream.wait_until(lambda s: s.synced, 10)
        start = stream.seq
        assert rec.snapshots[0]["seq"] == start and rec.status == [True]
        issue(live_server, 3)
        officer = live_server.login("canbo01", 1)
        live_server.post("/counters/1/call-next", officer)
        assert stream.wait_for_seq(server_seq(live_server), 10)
        pushed = stream.stats["pushed"]
        assert pushed >= 4 and stream.stats["caught_up"] == 0

        # the server dies; while the stream cannot reach it, the restarted server moves on
        relay.block()
        live_server.restart()
        issue(live_server, 4)
        issue(live_server, 2, team=2)
        officer = live_server.login("canbo01", 1)
        # 1001 reached the counter before the next call (a "next" moments after a call,
        # while the ticket is only called, is a double press: 409 too_soon)
        assert live_server.post("/counters/1/start", officer).status_code == 200
        assert live_server.post("/counters/1/call-next", officer).status_code == 200
        missed_to = server_seq(live_server)
        assert stream.wait_until(lambda s: not s.online, 10)
        time.sleep(0.5)
        assert stream.seq < missed_to  # nothing new while cut off
        relay.unblock()
        assert stream.wait_for_seq(missed_to, 15)
        # the missed events come through the reconnect's catch-up, or through the idle poll
        # if it runs first; the socket reconnects either way
        assert stream.wait_until(lambda s: s.stats["reconnects"] >= 1, 15)
        assert stream.stats["caught_up"] + stream.stats["polled"] >= 7
        # and live pushes again after the catch-up
        issue(live_server, 2)
        head = server_seq(live_server)
        assert stream.wait_for_seq(head, 10)
        time.sleep(0.3)
        assert stream.stats["pushed"] > pushed
    finally:
        stream.stop()
    log = live_server.get(f"/events?since={start}&limit=5000",
                          live_server.tokens["display-1"]).json()["items"]
    assert rec.seqs() == list(range(start + 1, head + 1))  # every seq once, in order
    assert [e["type"] for e in rec.events] == [e["type"] for e in log]
    assert len(rec.snapshots) == 1 and rec.status[:3] == [True, False, True]
    assert rec.idle >= 3


class LossyStream(EventStream):
    """Loses the pushes whose seq is in `lose`; holds back the push `late` until a later
    one has arrived (so it overtakes). The real stream logic sees only what is left."""

    lose: set[int] = set()
    late: int | None = None
    _held: dict | None = None

    def _receive(self, evt):
        seq = evt.get("seq")
        if seq in self.lose:
            self.lose.discard(seq)
            return
        if seq == self.late:
            self.late, self._held = None, evt
            return
        super()._receive(evt)
        if self._held is not None and seq > self._held["seq"]:
            held, self._held = self._held, None
            super()._receive(held)


def test_lost_push_is_a_gap_filled_from_the_log_before_anything_newer(live_server):
    rec = Recorder()
    stream = rec.stream(Client(live_server.url, live_server.tokens["display-1"]),
                        cls=LossyStream)
    stream.start()
    try:
        assert stream.wait_until(lambda s: s.synced, 10)
        start, before = stream.seq, dict(stream.stats)
        stream.lose = {start + 2}
        issue(live_server, 3)
        assert stream.wait_for_seq(start + 3, 10)
        assert rec.seqs()[-3:] == [start + 1, start + 2, start + 3]
        assert stream.stats["gaps"] - before["gaps"] >= 1
        assert stream.stats["catchups"] - before["catchups"] >= 1
        assert stream.stats["caught_up"] - before["caught_up"] >= 1
    finally:
        stream.stop()


def test_overtaking_push_waits_in_the_buffer(live_server):
    rec = Recorder()
    stream = rec.stream(Client(live_server.url, live_server.tokens["display-1"]),
                        cls=LossyStream, gap_grace=5.0)
    stream.start()
    try:
        assert stream.wait_until(lambda s: s.synced, 10)
        start, before = stream.seq, dict(stream.stats)
        stream.late = start + 1
        issue(live_server, 3)
        assert stream.wait_for_seq(start + 3, 4)  # well before gap_grace ran out
        assert rec.seqs()[-3:] == [start + 1, start + 2, start + 3]
        assert stream.stats["overtaken"] - before["overtaken"] == 1
        assert stream.stats["catchups"] == before["catchups"]  # no GET /events needed
    finally:
        stream.stop()


def test_replaced_database_means_a_new_snapshot(live_server, demo_template):
    rec = Recorder()
    stream = rec.stream(Client(live_server.url, live_server.tokens["display-1"])).start()
    try:
        assert stream.wait_ready(10)
        issue(live_server, 5)
        assert stream.wait_for_seq(server_seq(live_server), 10)
        old = stream.seq
        live_server.kill()
        for name in ("qms.db-wal", "qms.db-shm"):
            (live_server.data_dir / name).unlink(missing_ok=True)
        shutil.copy(demo_template / "qms.db", live_server.data_dir / "qms.db")
        live_server.start()
        fresh = server_seq(live_server)
        assert fresh < old
        assert stream.wait_until(lambda s: len(rec.snapshots) == 2, 15)
        assert stream.seq == fresh == rec.snapshots[-1]["seq"]
        issue(live_server, 1)
        assert stream.wait_for_seq(fresh + 1, 10)
        assert rec.events[-1]["seq"] == fresh + 1 and rec.events[-1]["type"] == "ticket.issued"
    finally:
        stream.stop()


def test_stream_started_while_the_server_is_down(live_server):
    live_server.kill()
    rec = Recorder()
    stream = rec.stream(Client(live_server.url, live_server.tokens["display-1"])).start()
    try:
        time.sleep(1.0)
        assert stream.seq is None and rec.snapshots == [] and not stream.online
        live_server.start()
        assert stream.wait_until(lambda s: s.synced, 15)
        seq = stream.seq
        issue(live_server, 1)
        assert stream.wait_for_seq(seq + 1, 10)
    finally:
        t0 = time.monotonic()
        stream.stop()
        assert time.monotonic() - t0 < 5
    assert not any(t.is_alive() for t in stream._threads)
