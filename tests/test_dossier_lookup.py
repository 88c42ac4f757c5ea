"""server/dossiers/: the breaker, the cache, the OpenCPS answer mapping, and the adapter's
total deadline against a real socket that trickles its answer."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import pytest

from server.dossiers import DossierNotFound, DossierUnavailable
from server.dossiers.lookup import Breaker, TtlCache
from server.dossiers.opencps import OpenCpsAdapter, parse_date, to_dossier

CODE = "000.00.12.H99-251104-0004"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_breaker_opens_after_failures_then_lets_one_trial_through():
    clock = Clock()
    b = Breaker(2, 30, clock=clock)
    assert b.allow()
    b.failure()
    assert b.allow() and b.state == "closed"
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.now += 29
    assert not b.allow()
    clock.now += 2
    assert b.allow()          # the one trial
    assert not b.allow()      # nobody else meanwhile
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.now += 31
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_cache_expires_and_keeps_its_size():
    clock = Clock()
    c = TtlCache(3, 10, clock=clock)
    for i in range(5):
        c.put(str(i), i)
    assert len(c) == 3 and c.get("0") == (False, None) and c.get("4") == (True, 4)
    clock.now += 11
    assert c.get("4") == (False, None)
    TtlCache(3, 0).put("x", 1)  # ttl 0: nothing kept


def test_opencps_mapping():
    d = to_dossier(CODE, {"dossierNo": CODE.lower(), "dossierStatus": "Releasing",
                          "serviceName": "  Cấp bản sao  ", "receiveDate": "04/11/2025 08:15:00",
                          "dueDate": "2025-11-06", "password": "e9px4k", "applicantName": "X"})
    assert (d.status, d.key, d.procedure, d.received_on, d.due_on) == (
        "ready", "E9PX4K", "Cấp bản sao", date(2025, 11, 4), date(2025, 11, 6))
    with pytest.raises(DossierUnavailable):
        to_dossier(CODE, {"dossierNo": CODE, "dossierStatus": "frobnicated"})
    with pytest.raises(DossierUnavailable):
        to_dossier(CODE, {"dossierNo": "000.00.12.H99-251104-0005", "dossierStatus": "done"})
    assert parse_date(1762214400000) == date(2025, 11, 4)  # epoch ms, read in Vietnam
    assert parse_date("31/02/2025") is None and parse_date(None) is None


def _serve_once(handler) -> int:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        try:
            conn.recv(4096)
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()
            srv.close()

    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]


def test_adapter_deadline_holds_against_a_trickle():
    """Each byte comes well within the socket timeout, yet the whole answer would take 5 s:
    the lookup gives up at its 0.6 s total."""
    def trickle(conn):
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
        conn.sendall(head)
        for _ in range(50):
            conn.sendall(b" ")
            time.sleep(0.1)

    port = _serve_once(trickle)
    adapter = OpenCpsAdapter(f"http://127.0.0.1:{port}/o/rest/v2", 0.6)
    started = time.monotonic()
    with pytest.raises(DossierUnavailable) as exc:
        adapter.lookup(CODE)
    assert time.monotonic() - started < 0.9
    assert exc.value.status == 503 and exc.value.code == "dossier_service_unavailable"


def test_adapter_refused_and_404():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(DossierUnavailable):
        OpenCpsAdapter(f"http://127.0.0.1:{closed}", 1).lookup(CODE)
    port = _serve_once(lambda c: c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(DossierNotFound):
        OpenCpsAdapter(f"http://127.0.0.1:{port}", 1).lookup(CODE)


@pytest.mark.parametrize("section,field", [
    ({"adapter": "soap"}, "dossier.adapter"),
    ({"adapter": "opencps"}, "dossier.base_url"),
    ({"adapter": "opencps", "base_url": "ftp://x.example.vn"}, "dossier.base_url"),
    ({"base_url": "https://x.example.vn/api?token=1"}, "dossier.base_url"),
    ({"timeout_s": 0.1}, "dossier.timeout_s"),
    ({"timeout_s": "3"}, "dossier.timeout_s"),
    ({"result_team": 42}, "dossier.result_team"),
    ({"rate_per_minute": 0}, "dossier.rate_per_minute"),
    ({"cache_s": -1}, "dossier.cache_s"),
    ({"retries": 3}, "dossier.retries"),
])
def test_dossier_settings_refused(section, field):
    from server.config import Config, from_dict
    from server.errors import ValidationFailed

    data = Config(teams=[]).to_dict()
    with pytest.raises(ValidationFailed) as exc:
        from_dict({**data, "dossier": section})
    assert exc.value.field == field
    assert exc.value.message.startswith("Cấu hình không hợp lệ – Tra cứu hồ sơ")


def test_dossier_settings_accepted():
    from server.config import Config, Team, from_dict

    data = Config(teams=[Team(8, "Trả kết quả", (8001, 8999))]).to_dict()
    cfg = from_dict({**data, "dossier": {"adapter": "opencps", "timeout_s": 2,
                                         "base_url": "https://motcua.example.gov.vn/o/rest/v2",
                                         "result_team": 8}})
    assert (cfg.dossier.adapter, cfg.dossier.timeout_s, cfg.dossier.result_team) == (
        "opencps", 2.0, 8)


def test_an_adapter_bug_is_a_503_and_counts_for_the_breaker(app):
    from server.dossiers import Adapter
    from server.dossiers.lookup import DossierLookup

    class Broken(Adapter):
        calls = 0

        def lookup(self, code):
            Broken.calls += 1
            raise KeyError("oops")

    q = app.extensions["qms"]
    settings = q.config.dossier
    lookup = DossierLookup(settings, q.service, adapter=Broken())
    for _ in range(settings.breaker_failures + 2):
        with pytest.raises(DossierUnavailable):
            lookup.find(CODE, "E9PX4K", "192.0.2.1")
    assert Broken.calls == settings.breaker_failures  # then the breaker keeps it off


def test_lookup_off_is_404(client):
    """A centre without `[dossier]`: a clear 404, not a failure of a system (503)."""
    res = client.get(f"/api/v1/dossiers/{CODE}?key=E9PX4K")
    assert res.status_code == 404
    assert res.get_json()["error"]["code"] == "dossier_lookup_off"
    res = client.post(f"/api/v1/dossiers/{CODE}/ticket", json={"key": "E9PX4K"})
    assert res.status_code == 404
    page = client.get(f"/tra-cuu?ma={CODE}&key=E9PX4K")
    assert page.status_code == 404 and "chưa kết nối hệ thống tra cứu" in page.text
