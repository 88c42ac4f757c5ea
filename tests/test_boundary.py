"""The request boundary (issue 12, findings 2, 3, 17, 18): body sizes, JSON depth, lone
surrogates, text caps and control characters, bounded limiters, ticket reads behind one NAT
address, and X-Forwarded-For only from trusted proxies. The size and memory cases run
against the real server process (`qms serve`, gevent)."""

from __future__ import annotations

import io
import json
import socket
import time

import pytest
import requests

from server import limits
from server.boundary import clean_text, client_address, parse_json, parse_networks
from server.errors import QMSError
from server.limits import RateLimiter
from tests.conftest import bearer, login

MB = 1024 * 1024


@pytest.fixture
def make_app(data_dir):
    """An app with extra config (trusted proxies, a small guess limit)."""
    from qms.app import create_app

    made = []

    def make(**config):
        app = create_app({"DATA_DIR": str(data_dir), "TESTING": True,
                          "ASYNC_MODE": "threading", **config})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["qms"].store.close()


@pytest.fixture
def kiosk(tokens):
    return bearer(tokens["kiosk-1"])


def issue(client, headers, **body):
    body.setdefault("team_id", 1)
    res = client.post("/api/v1/tickets", json=body, headers=headers)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def assert_error(res, status: int, code: str):
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:300])
    err = res.get_json()["error"]
    assert err["code"] == code
    assert "(" in err["message"] and err["message"].endswith(")")  # Vietnamese (English)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def read_response(sock: socket.socket, timeout: float = 5) -> tuple[int, dict]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, json.loads(rest[:length])


# -- finding 2: sizes --------------------------------------------------------------------------
def test_sign_in_100mb_body_refused_before_it_is_read(live_server):
    before = rss_mb(live_server.proc.pid)
    sock = socket.create_connection(("127.0.0.1", live_server.port))
    try:
        sock.sendall((f"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {100 * MB}\r\n\r\n"
                      ).encode() + b'{"username": "' + b"a" * 65536)
        t0 = time.monotonic()
        status, body = read_response(sock)
        elapsed = time.monotonic() - t0
    finally:
        sock.close()
    assert status == 413 and body["error"]["code"] == "payload_too_large", body
    assert elapsed < 1.0, f"the 413 took {elapsed:.2f} s"
    # the whole 100 MB through an ordinary client: refused too, and memory stays flat
    res = requests.post(live_server.url + "/api/v1/auth/login", data=b"{" * (100 * MB),
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"
    assert rss_mb(live_server.proc.pid) - before < 20
    assert live_server.get("/openapi.json").ok  # and the server still answers

    # a chunked body has no Content-Length: it is read up to the limit, then refused
    def chunks():
        yield b'{"username": "'
        for _ in range(640):  # 10 MB
            yield b"a" * 16384

    res = requests.post(live_server.url + "/api/v1/auth/login", data=chunks(),
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"
    assert rss_mb(live_server.proc.pid) - before < 20
    # a streamed body under the limit is fine
    res = requests.post(live_server.url + "/api/v1/auth/login",
                        data=iter([b'{"username": "nobody", ', b'"password": "x"}']),
                        headers={"Content-Type": "application/json"}, timeout=10)
    assert res.status_code == 401


def test_big_ticket_note_and_part_bodies_refused(live_server):
    tokens = live_server.tokens
    officer = live_server.login("canbo01", 1)
    kiosk = tokens["kiosk-1"]
    res = live_server.post("/tickets", kiosk, {"team_id": 1, "x": "a" * (10 * MB)})
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"
    assert live_server.post("/tickets", kiosk, {"team_id": 1}).status_code == 201
    assert live_server.post("/counters/1/call-next", officer).status_code == 200
    res = live_server.post("/counters/1/transfer", officer, {"team_id": 3,
                                                             "note": "n" * (5 * MB)})
    assert res.status_code in (400, 413)
    res = live_server.post("/counters/1/pause", officer, {"reason": "r" * (5 * MB)})
    assert res.status_code in (400, 413)
    res = live_server.post("/devices/status", kiosk, {"part": "p" * MB, "online": True})
    assert res.status_code in (400, 413)
    events = live_server.get("/events", kiosk).json()["items"]
    assert not [e for e in events if e["type"] in ("ticket.transferred", "counter.paused",
                                                   "device.status")]
    assert len(json.dumps(events)) < 64 * 1024


def test_text_caps(client, kiosk):
    officer = bearer(login(client, "canbo01", 1))
    issue(client, kiosk)
    client.post("/api/v1/counters/1/call-next", headers=officer)
    res = client.post("/api/v1/counters/1/transfer", json={"team_id": 3, "note": "n" * 501},
                      headers=officer)
    assert_error(res, 422, "text_too_long")
    assert res.get_json()["error"]["details"] == {"field": "note", "max": 500}
    res = client.post("/api/v1/counters/1/pause", json={"reason": "r" * 501}, headers=officer)
    assert_error(res, 422, "text_too_long")
    res = client.post("/api/v1/devices/status", json={"part": "p" * 65, "online": True},
                      headers=kiosk)
    assert_error(res, 422, "text_too_long")
    res = client.post("/api/v1/devices/status", json={"part": ["p"] * 1000, "online": True},
                      headers=kiosk)
    assert res.status_code == 422  # not a string: not str()-ed into a long name either
    res = client.post("/api/v1/devices/status", json={"part": "p" * 64, "online": True},
                      headers=kiosk)
    assert res.status_code == 200 and res.get_json()["part"] == "p" * 64
    res = client.post("/api/v1/tickets", json={"team_id": 1, "procedure_code": "c" * 65},
                      headers=kiosk)
    assert_error(res, 422, "text_too_long")
    res = client.post("/api/v1/tickets", json={"team_id": 1, "k" * 65: 1}, headers=kiosk)
    assert_error(res, 400, "bad_json")
    res = client.post("/api/v1/counters/1/transfer", json={"team_id": 3, "note": "n" * 500},
                      headers=officer)
    assert res.status_code == 200


def test_query_strings_capped_and_cleaned(client, kiosk):
    res = client.get("/api/v1/procedures", query_string={"q": "x" * 201}, headers=kiosk)
    assert_error(res, 422, "text_too_long")
    res = client.get("/api/v1/state", query_string={"site": "s" * 501}, headers=kiosk)
    assert_error(res, 422, "text_too_long")
    res = client.get("/api/v1/procedures", query_string={"q": "khai\x1b\x00 sinh"},
                     headers=kiosk)
    assert res.status_code == 200 and res.get_json()["count"] > 0


def test_import_has_its_own_larger_limit(client):
    admin = bearer(login(client, "admin"))
    big = 200 * 1024  # over the 64 KB of every other route
    csv = "code,name,field\n" + "".join(f"9.{i:06d},Thủ tục {i},Hộ tịch\n" for i in range(6000))
    assert len(csv.encode()) > big
    # past the size check (a .txt is then refused by the route itself, nothing imported)
    res = client.post("/api/v1/admin/procedures/import", headers=admin,
                      data={"file": (io.BytesIO(csv.encode()), "cat.txt")},
                      content_type="multipart/form-data")
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "bad_import"
    res = client.post("/api/v1/admin/procedures/import", headers=admin, data=b"",
                      content_type="multipart/form-data; boundary=x",
                      environ_overrides={"CONTENT_LENGTH": str(21 * MB)})
    assert_error(res, 413, "payload_too_large")
    res = client.post("/api/v1/admin/users", headers=admin, json={"x": "a" * (70 * 1024)})
    assert_error(res, 413, "payload_too_large")


def test_admin_procedure_name_may_be_long_but_not_carry_controls(client):
    admin = bearer(login(client, "admin"))
    name = "Cấp Giấy chứng nhận quyền sử dụng đất " * 25  # ~950 characters, like real ones
    res = client.patch("/api/v1/admin/procedures/1.001193", headers=admin,
                       json={"name": name + "\x1bp\x00\x19\x7f"})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["name"] == name + "p"
    res = client.patch("/api/v1/admin/procedures/1.001193", headers=admin,
                       json={"name": "x" * 2001})
    assert_error(res, 422, "text_too_long")


# -- the bounded limiter -----------------------------------------------------------------------
def test_30000_unique_usernames_keep_the_limiter_bounded(app):
    accounts = app.extensions["qms"].accounts
    with app.test_request_context():
        for i in range(30_000):
            with pytest.raises(QMSError):
                accounts.login(f"nobody{i}", "x", None, "10.0.0.7")
    assert len(accounts.limiter) <= limits.LIMITER_MAX_KEYS
    assert len(accounts.limiter.hits) <= limits.LIMITER_MAX_KEYS
    # the limit itself still holds for one name
    for _ in range(10):
        with pytest.raises(QMSError) as err:
            accounts.login("admin", "wrong", None, "10.0.0.8")
        assert err.value.status == 401
    with pytest.raises(QMSError) as err:
        accounts.login("admin", "wrong", None, "10.0.0.8")
    assert err.value.status == 429


def test_limiter_memory_is_bounded():
    import tracemalloc

    limiter = RateLimiter(limit=10, window_s=60)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(30_000):
        limiter.hit(f"10.0.0.1:user{i}" + "x" * (i % 3) * 200)  # some keys over 128 chars
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(limiter) == limits.LIMITER_MAX_KEYS
    assert used < 8 * MB, f"{used / MB:.1f} MB"
    assert all(len(k) <= limits.LIMITER_MAX_KEY_CHARS for k in limiter.hits)


def test_limiter_evicts_expired_then_oldest():
    now = [0.0]
    limiter = RateLimiter(limit=2, window_s=10, max_keys=3, clock=lambda: now[0])
    assert limiter.hit("a") and limiter.hit("a") and not limiter.hit("a")
    assert not limiter.allow("a")
    assert limiter.allow("never-seen") and len(limiter) == 1  # allow() adds no key
    limiter.hit("b")
    limiter.hit("c")
    limiter.hit("d")  # full: "a" (least recently hit) goes
    assert set(limiter.hits) == {"b", "c", "d"}
    now[0] = 11.0  # every hit expired: new keys push the expired ones out first
    limiter.hit("e")
    assert set(limiter.hits) == {"e"}
    assert limiter.allow("e") and limiter.hit("e") and not limiter.hit("e")
    now[0] = 22.0
    assert limiter.allow("e") and limiter.hit("e")  # the window slides


# -- finding 3: nesting and lone surrogates ----------------------------------------------------
DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJ = '{"a":' * 10_000 + "1" + "}" * 10_000


def _routes(client, kiosk):
    officer = bearer(login(client, "canbo01", 1))
    return [("/api/v1/auth/login", {}), ("/api/v1/tickets", kiosk),
            ("/api/v1/devices/status", kiosk), ("/api/v1/counters/1/pause", officer),
            ("/api/v1/counters/1/transfer", officer)]


@pytest.mark.parametrize("payload", [
    DEEP, DEEP_OBJ, '{"username": ' + DEEP + "}", '{"a": [[[[[[[[[1]]]]]]]]]}',
    '{"username": "\\ud800", "password": "x"}', '{"reason": "a\\udfffb"}',
    '{"part": "\\ud800", "online": true}', '{"\\ud800": 1}', '{"team_id": 1, "note": "\\udc80"}',
    '{"score": NaN}', '{"score": 1e999}', '{"a": Infinity}', "[1, 2", '"just a string"',
    "[1, 2]", "",
])
def test_bad_json_is_400_never_500(client, kiosk, payload):
    for path, headers in _routes(client, kiosk):
        res = client.post(path, data=payload.encode("utf-8", "surrogatepass"),
                          headers={**headers, "Content-Type": "application/json"})
        if payload == "":
            assert res.status_code < 500, path  # an empty body is an empty object
            continue
        assert_error(res, 400, "bad_json")


def test_invalid_utf8_and_raw_surrogate_bytes_are_400(client, kiosk):
    for raw in (b'{"username": "\xff\xfe"}', b'{"username": "\xed\xa0\x80"}'):
        res = client.post("/api/v1/auth/login", data=raw,
                          headers={"Content-Type": "application/json"})
        assert_error(res, 400, "bad_json")


def test_depth_within_limit_and_paired_surrogates_are_fine(client, kiosk):
    res = client.post("/api/v1/tickets", headers={**kiosk, "Content-Type": "application/json"},
                      data='{"team_id": 1, "x": [[[[[[[1]]]]]]], "y": "\\ud83d\\ude00"}')
    assert res.status_code == 201
    assert parse_json('{"a": "\\ud83d\\ude00 ]]]]]]]]]]]]]]"}') == {"a": "\U0001f600 ]]]]]]]]]]]]]]"}


def test_deep_and_surrogates_and_fuzz_against_the_real_server(live_server):
    kiosk = live_server.tokens["kiosk-1"]
    for path, body in (("/auth/login", DEEP), ("/tickets", DEEP),
                       ("/auth/login", '{"username": "\\ud800"}'),
                       ("/devices/status", '{"part": "\\ud800", "online": true}')):
        res = requests.post(live_server.url + "/api/v1" + path, data=body, timeout=10,
                            headers={**bearer(kiosk), "Content-Type": "application/json"})
        assert res.status_code == 400 and res.json()["error"]["code"] == "bad_json", path
    # a short run of bench/fuzz_boundary.py: never a 5xx, no control character comes back
    from bench.fuzz_boundary import BoundaryFuzz

    fuzz = BoundaryFuzz(live_server.url, kiosk, live_server.login("canbo01", 1),
                        live_server.tokens["bridge-1"], seed=7, pid=live_server.proc.pid)
    failures, stats = fuzz.run(300)
    assert not failures, "\n".join(failures[:20])
    assert stats["cases"] == 300 and "500" not in stats["statuses"]
    assert stats["rss_mb"][1] - stats["rss_mb"][0] < 30


def test_depth_scan_is_linear_on_hostile_strings():
    hostile = '"' + '\\"' * 30_000  # an unterminated string of escaped quotes
    t0 = time.monotonic()
    with pytest.raises(QMSError):
        parse_json(hostile)
    with pytest.raises(QMSError):
        parse_json('["' * 20_000)
    assert time.monotonic() - t0 < 1.0


# -- finding 18: control characters ------------------------------------------------------------
def test_clean_text():
    assert clean_text("Khai sinh\x1bp\x00\x07") == "Khai sinhp"
    assert clean_text("a\tb\r\nc\x85d") == "a b  c d"
    assert clean_text("a\r\nb\rc\x0bd", multiline=True) == "a\nb\nc\nd"
    assert clean_text("\x7f\x9b31m\u202egnp.exe\u2066\u200f") == "31mgnp.exe"
    assert clean_text("Đăng ký khai sinh — 1.001193") == "Đăng ký khai sinh — 1.001193"
    assert clean_text("lone \ud800 surrogate") == "lone  surrogate"


def test_esc_and_nul_stripped_from_a_pause_reason(client, kiosk):
    officer = bearer(login(client, "canbo01", 1))
    res = client.post("/api/v1/counters/1/pause", json={"reason": "Họp\x1bp\x00 giao\x1b@ ban"},
                      headers=officer)
    assert res.status_code == 200, res.get_json()
    state = client.get("/api/v1/counters/1", headers=kiosk).get_json()
    assert state["reason"] == "Họpp giao@ ban"
    events = client.get("/api/v1/events", headers=kiosk).get_json()["items"]
    paused = [e for e in events if e["type"] == "counter.paused"][-1]
    assert paused["reason"] == "Họpp giao@ ban"
    # a transfer note keeps its line breaks, loses the rest
    issue(client, kiosk)
    client.post("/api/v1/counters/1/resume", headers=officer)
    client.post("/api/v1/counters/1/call-next", headers=officer)
    res = client.post("/api/v1/counters/1/transfer", headers=officer,
                      json={"team_id": 3, "note": "dòng 1\r\ndòng\x00 2\x1b"})
    assert res.status_code == 200
    events = client.get("/api/v1/events", headers=kiosk).get_json()["items"]
    moved = [e for e in events if e["type"] == "ticket.transferred"][-1]
    assert moved["note"] == "dòng 1\ndòng 2"


# -- finding 17: ticket reads behind one address, guesses, proxies -----------------------------
def test_valid_ticket_reads_never_limited_guesses_are(make_app, tokens):
    app = make_app(TICKET_GUESSES=5)
    client = app.test_client()
    kiosk = bearer(tokens["kiosk-1"])
    mine = [issue(client, kiosk)["token"] for _ in range(5)]
    for i in range(50):  # five phones behind the hall's NAT, polling
        token = mine[i % 5]
        assert client.get(f"/api/v1/tickets/{token}").status_code == 200
        assert client.get(f"/t/{token}").status_code == 200
    statuses = [client.get(f"/api/v1/tickets/{'x' * 32}{i:04d}").status_code
                for i in range(8)]
    assert statuses[:5] == [404] * 5 and set(statuses[5:]) == {429}
    res = client.get("/api/v1/tickets/short")
    assert_error(res, 429, "rate_limited")
    assert res.headers["Retry-After"] == "60"
    assert client.get(f"/t/{'y' * 32}").status_code == 429  # the page shares the budget
    assert client.get(f"/api/v1/tickets/{'z' * 5000}").status_code == 429
    for token in mine:  # a guessing neighbour on the same Wi-Fi does not lock the phones out
        assert client.get(f"/api/v1/tickets/{token}").status_code == 200
        assert client.get(f"/t/{token}").status_code == 200
    other = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get(f"/t/{'y' * 32}", environ_base=other).status_code == 404


def test_x_forwarded_for_ignored_unless_from_a_trusted_proxy(make_app, tokens):
    guess = f"/api/v1/tickets/{'g' * 32}"
    app = make_app(TICKET_GUESSES=3)  # no trusted proxy: the header is the client's claim
    client = app.test_client()
    codes = [client.get(guess, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]

    app = make_app(TICKET_GUESSES=3, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    client = app.test_client()
    for i in range(5):  # each phone behind the proxy has its own budget
        res = client.get(guess, headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert res.status_code == 404
    codes = [client.get(guess, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9"}).status_code
             for _ in range(5)]  # a spoofed left part does not give a fresh budget
    assert codes == [404, 404, 404, 429, 429]
    codes = [client.get(guess, headers={"X-Forwarded-For": f"198.51.100.{50 + i}"},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code
             for i in range(5)]  # not from a trusted proxy: the header counts for nothing
    assert codes == [404, 404, 404, 429, 429]


def test_client_address_rules(make_app):
    app = make_app(TRUSTED_PROXIES=["127.0.0.1", "10.0.0.0/8", "::1"])
    cases = [
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
        ("127.0.0.1", "203.0.113.5, 10.0.0.2", "203.0.113.5"),      # two proxies
        ("127.0.0.1", "6.6.6.6, 203.0.113.5", "203.0.113.5"),        # spoofed left part
        ("127.0.0.1", "garbage, 10.0.0.3", "10.0.0.3"),              # nothing usable
        ("127.0.0.1", "", "127.0.0.1"),
        ("192.0.2.1", "203.0.113.5", "192.0.2.1"),                   # untrusted peer
        ("::1", "2001:db8::1", "2001:db8::1"),
        ("::ffff:10.0.0.9", "203.0.113.8", "203.0.113.8"),          # v4-mapped proxy
    ]
    for remote, xff, want in cases:
        headers = {"X-Forwarded-For": xff} if xff else {}
        with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": remote}):
            assert client_address() == want, (remote, xff)
    assert parse_networks("") == () and len(parse_networks("127.0.0.1,10.0.0.0/8")) == 2
    with pytest.raises(ValueError):
        parse_networks("not-an-address")


def test_sign_in_limit_uses_the_client_address(make_app):
    app = make_app(TRUSTED_PROXIES="127.0.0.1")
    client = app.test_client()
    bad = {"username": "admin", "password": "wrong"}
    for _ in range(10):
        assert client.post("/api/v1/auth/login", json=bad,
                           headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 401
    assert client.post("/api/v1/auth/login", json=bad,
                       headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert client.post("/api/v1/auth/login", json=bad,
                       headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 401
