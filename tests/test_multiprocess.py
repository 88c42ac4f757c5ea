"""Several `qms serve` processes on one data folder, with a real Redis (the Socket.IO message
queue and the shared rate limits) and the real nginx in front, configured by the shipped
deploy/nginx/qms-multiprocess.conf (docs/scaling.md).

- a socket on process A receives what is written on B (directly and through nginx; staff
  and a citizen's phone);
- Redis killed mid-day: commands and sign-ins still succeed on both processes, every client
  (qmsclient streams, the hall board page) converges through its idle poll of /events, and
  pushes cross processes again soon after Redis is back;
- an admin change on A is live on B at once, with Redis and without it (the processes
  follow centre.toml), and two changes made on two processes both stay;
- failed sign-ins spread over A and B count together.

Skipped only when Debian's redis-server or nginx is absent (.ci/run installs both).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import socketio

from qmsclient import Client, EventStream
from tools.services import Nginx, RedisServer, binary
from tools.testing import PASSWORDS, LiveServer, bearer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(binary("redis-server") is None or binary("nginx") is None,
                       reason="needs Debian's redis-server and nginx (apt-get install "
                              "redis-server nginx)"),
]


class Cluster:
    def __init__(self, data_dir: Path, tmp: Path, redis: bool = True):
        self.tmp = tmp
        self.redis = RedisServer(tmp / "redis").start() if redis else None
        env = {"QMS_TRUSTED_PROXIES": "127.0.0.1"}
        if self.redis:
            env["QMS_MESSAGE_QUEUE"] = self.redis.url
        self.a = LiveServer(data_dir, env=env)
        self.b = LiveServer(data_dir, env=env)
        self.a.log, self.b.log = tmp / "a.log", tmp / "b.log"
        self.a.start()
        self.b.start()
        self.nginx = Nginx(tmp / "nginx", [self.a.port, self.b.port]).start()
        self.nginx.tokens = self.a.tokens  # the same data folder

    def stop(self) -> None:
        self.nginx.stop()
        self.a.stop()
        self.b.stop()
        if self.redis:
            self.redis.stop()

    def seq(self) -> int:
        return self.a.get("/state", self.a.tokens["display-1"]).json()["seq"]


@pytest.fixture
def cluster(data_dir, tmp_path):
    c = Cluster(data_dir, tmp_path)
    yield c
    c.stop()


@pytest.fixture
def cluster_without_redis(data_dir, tmp_path):
    c = Cluster(data_dir, tmp_path, redis=False)
    yield c
    c.stop()


def issue(server, team: int = 1) -> dict:
    res = requests.post(server.url + "/api/v1/tickets", json={"team_id": team},
                        headers={**bearer(server.tokens["kiosk-1"]),
                                 "Idempotency-Key": uuid.uuid4().hex}, timeout=10)
    assert res.status_code == 201, res.text
    return res.json()


class Socket:
    """A python-socketio client that records every pushed event."""

    def __init__(self, url: str, auth: dict):
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self._on_event)
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)

    def _on_event(self, evt):
        with self.lock:
            self.events.append(evt)

    def seqs(self) -> set[int]:
        with self.lock:
            return {e["seq"] for e in self.events}

    def wait_for(self, seq: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if seq in self.seqs():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.sio.disconnect()


def test_a_socket_on_one_process_receives_what_another_process_writes(cluster):
    display = cluster.a.tokens["display-1"]
    on_a = Socket(cluster.a.url, {"token": display})
    on_b = Socket(cluster.b.url, {"token": display})
    via_nginx = [Socket(cluster.nginx.url, {"token": display}) for _ in range(4)]
    mine = issue(cluster.a, team=1)
    phone_on_a = Socket(cluster.a.url, {"ticket": mine["status_url"].rsplit("/", 1)[-1]})
    try:
        for writer in (cluster.b, cluster.a, cluster.b):
            issue(writer, team=1)
            seq = cluster.seq()
            for sock in (on_a, on_b, *via_nginx, phone_on_a):
                assert sock.wait_for(seq), (writer.url, sock.sio.connection_url)
        # a call made on B reaches the citizen's phone on A (the public projection)
        officer = cluster.b.login("canbo01", 1)
        assert cluster.b.post("/counters/1/call-next", officer).status_code == 200
        called = cluster.seq()
        assert phone_on_a.wait_for(called) and on_a.wait_for(called)
        pushed = next(e for e in phone_on_a.events if e["seq"] == called)
        assert pushed["type"] == "ticket.called" and "actor" not in pushed
    finally:
        for sock in (on_a, on_b, *via_nginx, phone_on_a):
            sock.close()


def wait_all(streams, seq: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for stream in streams:
        assert stream.wait_for_seq(seq, max(0.1, deadline - time.monotonic())), \
            (stream.name, stream.seq, seq, stream.stats)


def test_redis_killed_mid_day_commands_succeed_and_every_client_converges(cluster, page):
    display = cluster.a.tokens["display-1"]
    delivered: dict[str, list[int]] = {}
    streams = []
    for name, server in (("on-a", cluster.a), ("on-b", cluster.b), ("nginx", cluster.nginx)):
        delivered[name] = []
        streams.append(EventStream(Client(server.url, display), name=name, idle_poll=1.0,
                                   on_event=lambda e, n=name: delivered[n].append(e["seq"]))
                       .start())
    page.goto(f"{cluster.nginx.url}/display?audio_rate=16#token={display}")
    page.wait_for_function("window.qmsDisplay && window.qmsDisplay.live && "
                           "window.qmsDisplay.live.seq !== null", timeout=15000)
    watcher = Socket(cluster.a.url, {"token": display})
    try:
        wait_all(streams, cluster.seq(), 10)
        start = {s.name: s.seq for s in streams}

        cluster.redis.kill()
        for _ in range(3):  # commands on both processes still succeed
            issue(cluster.a, team=1)
            issue(cluster.b, team=2)
        officer = cluster.b.login("canbo01", 1)  # a sign-in: the limiter falls back
        assert cluster.b.post("/counters/1/call-next", officer).status_code == 200
        officer7 = cluster.a.login("canbo07", 7)
        assert cluster.a.post("/counters/7/call-next", officer7).status_code == 200
        head = cluster.seq()
        # pushes from the other process are lost meanwhile: the idle polls fill them in
        wait_all(streams, head, 10)
        page.wait_for_function(f"window.qmsDisplay.live.seq >= {head}", timeout=15000)

        cluster.redis.start()  # Redis is back: pushes cross processes again within seconds
        deadline = time.monotonic() + 15
        crossed = False
        while not crossed and time.monotonic() < deadline:
            issue(cluster.b, team=3)
            crossed = watcher.wait_for(cluster.seq(), 1.0)
        assert crossed, "pushes from B never reached a socket on A after Redis came back"
        issue(cluster.a, team=1)
        head = cluster.seq()
        wait_all(streams, head, 10)
        page.wait_for_function(f"window.qmsDisplay.live.seq >= {head}", timeout=15000)
    finally:
        watcher.close()
        for s in streams:
            s.stop()
    for s in streams:  # every event exactly once, in order, whichever way it came
        assert delivered[s.name][-(head - start[s.name]):] == \
            list(range(start[s.name] + 1, head + 1)), s.name
        assert len(delivered[s.name]) == len(set(delivered[s.name])), s.name
    # the board missed the other process's pushes and filled them in from the log (a gap it
    # saw, or its idle poll when the missing push was the last one)
    stats = page.evaluate("window.qmsDisplay.live.stats")
    assert stats["catchups"] + stats["polls"] >= 1, stats


def _admin_change_is_live_on_the_other_process(c) -> None:
    a_admin = c.a.login("admin")
    b_admin = c.b.login("admin")
    config = c.b.get("/admin/config", b_admin).json()
    teams = config["teams"]
    teams[0]["name"] = "Tổ đổi tên trên A"
    wording = "Xin mời công dân số {number} tới quầy {counter}"
    res = requests.put(c.a.url + "/api/v1/admin/config", headers=bearer(a_admin),
                       json={"announcement_vi": wording, "teams": teams}, timeout=10)
    assert res.status_code == 200, res.text
    on_b = c.b.get("/admin/config", b_admin).json()  # at once: the next request on B
    assert on_b["announcement_vi"] == wording
    assert on_b["teams"][0]["name"] == "Tổ đổi tên trên A"
    state = c.b.get("/state", c.b.tokens["display-1"]).json()
    assert "Tổ đổi tên trên A" in str(state)
    # two changes made on two processes, one after the other: neither is lost
    res = requests.put(c.b.url + "/api/v1/admin/config", headers=bearer(b_admin),
                       json={"notice": "Thông báo từ B"}, timeout=10)
    assert res.status_code == 200, res.text
    res = requests.put(c.a.url + "/api/v1/admin/config", headers=bearer(a_admin),
                       json={"name_en": "Changed on A"}, timeout=10)
    assert res.status_code == 200, res.text
    for server, token in ((c.a, a_admin), (c.b, b_admin)):
        final = server.get("/admin/config", token).json()
        assert final["notice"] == "Thông báo từ B" and final["name_en"] == "Changed on A"
        assert final["announcement_vi"] == wording


def test_admin_change_on_a_is_live_on_b(cluster):
    _admin_change_is_live_on_the_other_process(cluster)


def test_admin_change_on_a_is_live_on_b_without_redis(cluster_without_redis):
    _admin_change_is_live_on_the_other_process(cluster_without_redis)


def test_failed_sign_ins_spread_over_processes_count_together(cluster):
    from server.auth import FAILURES_PER_PAIR

    def sign_in(server) -> int:
        return requests.post(server.url + "/api/v1/auth/login",
                             json={"username": "canbo02", "password": "wrong"},
                             timeout=10).status_code

    for i in range(FAILURES_PER_PAIR):  # 10 failures: 5 on A, 5 on B
        assert sign_in(cluster.a if i % 2 else cluster.b) == 401
    # each process saw only half of them, yet both refuse now
    assert sign_in(cluster.a) == 429
    assert sign_in(cluster.b) == 429
    assert sign_in(cluster.nginx) == 429
    # another user from the same address is not blocked by canbo02's failures
    res = requests.post(cluster.a.url + "/api/v1/auth/login",
                        json={"username": "admin", "password": PASSWORDS["admin"]},
                        timeout=10)
    assert res.status_code == 200


def test_redis_limiter_is_shared_bounded_and_never_fails_when_redis_is_down(tmp_path):
    import redis as redis_py

    from server.limits import RedisRateLimiter

    server = RedisServer(tmp_path / "redis").start()
    try:
        one = RedisRateLimiter(server.url, limit=3, window_s=1.0, name="t", namespace="test")
        two = RedisRateLimiter(server.url, limit=3, window_s=1.0, name="t", namespace="test")
        key = "10.0.0.1:" + "x" * 5000  # a made-up, very long key
        assert [one.hit(key), two.hit(key), one.hit(key)] == [True, True, True]
        assert not two.allow(key) and not two.hit(key) and not one.hit(key)
        assert one.allow("someone else")
        r = redis_py.Redis.from_url(server.url)
        keys = r.keys("test:rl:t:*")
        assert len(keys) == 1 and len(keys[0]) < 100  # stored hashed; allow() adds no key
        for k in keys:
            assert r.zcard(k) <= 4 and 0 < r.pttl(k) <= 1000  # limit + 1 entries, expiring
        time.sleep(1.1)
        assert one.allow(key) and one.hit(key)  # the window slid past
        server.kill()
        for _ in range(3):  # Redis down: answers from this process's own count, no error
            assert isinstance(one.hit("10.0.0.2"), bool)
        assert not one.hit("10.0.0.2") and not one.allow("10.0.0.2")
        assert two.allow("10.0.0.2")  # per process while Redis is away
    finally:
        server.stop()


def test_a_push_lost_without_a_gap_is_fetched_by_the_idle_poll(cluster_without_redis, page):
    """No message queue: a socket on A never hears what B writes, and with nothing newer
    from A there is no gap to notice either. The board page and qmsclient ask anyway."""
    c = cluster_without_redis
    display = c.a.tokens["display-1"]
    stream = EventStream(Client(c.a.url, display), idle_poll=1.0, on_event=lambda e: None)
    stream.start()
    page.goto(f"{c.a.url}/display?audio_rate=16#token={display}")
    page.wait_for_function("window.qmsDisplay && window.qmsDisplay.live && "
                           "window.qmsDisplay.live.seq !== null", timeout=15000)
    try:
        assert stream.wait_until(lambda s: s.synced, 10)
        issue(c.b, team=2)  # written on B: never pushed to A's clients
        head = c.seq()
        assert stream.wait_for_seq(head, 10) and stream.stats["polls"] >= 1
        assert stream.stats["gaps"] == 0
        page.wait_for_function(f"window.qmsDisplay.live.seq >= {head}", timeout=15000)
        stats = page.evaluate("window.qmsDisplay.live.stats")
        assert stats["polls"] >= 1 and stats["catchups"] == 0, stats
    finally:
        stream.stop()
