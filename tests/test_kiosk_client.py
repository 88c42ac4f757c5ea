"""The kiosk's server client, live feed and print service against the real server process and
the emulated TCP printer (no window)."""

from __future__ import annotations

import threading
import time

import pytest

from common.search import SearchIndex
from hardware.emulators.escpos_stream import decode_text, qr_payloads
from hardware.emulators.printer_server import PrinterEmulator
from hardware.printer import TicketPrinter
from hardware.ticket_layout import Text, ticket_blocks
from kiosk.client import CatalogueCache, KioskError, LiveFeed, ServerClient
from kiosk.printing import PrintService, ticket_print
from tests.conftest import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(live_server):
    return ServerClient(live_server.url, live_server.tokens["kiosk-1"], timeout=5)


def test_catalogue_download_and_local_search(client, tmp_path):
    procs = client.catalogue()
    assert len(procs) == 349
    index = SearchIndex(procs)
    assert index.search("dang ky khai sihn")[0].code == "1.001193"
    khai_sinh = index.get("1.001193")
    assert khai_sinh["team_id"] == 1 and khai_sinh["documents"]
    cache = CatalogueCache(tmp_path)
    cache.save(procs)
    assert len(cache.load()) == 349
    assert CatalogueCache(None).load() is None


def test_issue_is_idempotent_per_key(client):
    a = client.issue_ticket("1.001193", "elderly", "k-1")
    b = client.issue_ticket("1.001193", "elderly", "k-1")
    c = client.issue_ticket("1.001193", None, "k-2")
    assert a["id"] == b["id"] and a["number"] == 1001 and c["number"] == 1002
    assert a["status_url"].endswith(a["token"]) and a["counters"]
    state = client.state()
    assert next(t for t in state["teams"] if t["id"] == 1)["waiting"] == 2


def test_errors_have_codes(client, live_server):
    with pytest.raises(KioskError) as err:
        client.issue_ticket("9.999999", None, "k-x")
    assert err.value.code == "unknown_procedure" and err.value.status == 404
    with pytest.raises(KioskError) as err:
        ServerClient(live_server.url, "bad-token").state()
    assert err.value.code == "unauthorized"
    with pytest.raises(KioskError) as err:
        ServerClient(f"http://127.0.0.1:{free_port()}", "t", timeout=1).state()
    assert err.value.code == "server_unreachable"


def test_device_status_report(client, live_server):
    client.report_device("printer", False, "Máy in hết giấy")
    manager = live_server.login("giamdoc")
    items = live_server.get("/devices/status", manager).json()["items"]
    assert any(i["part"] == "printer" and not i["online"] for i in items)


def test_live_feed_pushes_and_catches_up_after_restart(client, live_server):
    states, events = [], []
    got = threading.Event()

    def on_event(evt):
        events.append(evt)
        got.set()

    feed = LiveFeed(client, states.append, on_event)
    feed.start()
    try:
        _wait(lambda: states, "first snapshot")
        client.issue_ticket("1.001193", None, "live-1")
        assert got.wait(10)
        assert events[-1]["type"] == "ticket.issued" and events[-1]["waiting"]["1"] == 1
        live_server.kill()
        live_server.start()
        n = len(states)
        client.issue_ticket("1.001193", None, "live-2")
        _wait(lambda: len(states) > n and _waiting(states[-1]) == 2, "catch-up snapshot", 20)
    finally:
        feed.stop()


def _waiting(snap):
    return next(t for t in snap["teams"] if t["id"] == 1)["waiting"]


def _wait(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what}")


def test_print_service_prints_reports_faults_and_reprints(client, live_server):
    ticket = client.issue_ticket("1.001193", None, "p-1")
    manager = live_server.login("giamdoc")
    with PrinterEmulator() as emu:
        printer = TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2)
        service = PrintService(printer, client, lambda: "Trung tâm Phục vụ Hành chính công")
        emu.paper = "out"
        bad = service.print_now(ticket)
        assert not bad.ok and bad.message_vi == "Máy in hết giấy" and bad.kind == "PaperOut"
        items = live_server.get("/devices/status", manager).json()["items"]
        assert any(i["part"] == "printer" and not i["online"] and "hết giấy" in i["detail"]
                   for i in items)
        emu.paper = "ok"
        done = threading.Event()
        results = []
        service.start()
        assert service.reprint(lambda r: (results.append(r), done.set()))
        assert done.wait(10) and results[0].ok
        job = emu.wait_for_jobs(1)[0]
        assert str(ticket["number"]) in decode_text(job)
        assert qr_payloads(job) == [ticket["status_url"]]
        items = live_server.get("/devices/status", manager).json()["items"]
        assert any(i["part"] == "printer" and i["online"] for i in items)
        service.stop()


def test_ticket_print_content():
    t = ticket_print({"number": 1001, "team_name": "Tổ Tư pháp", "counters": [1, 2],
                      "procedure_name": "Thủ tục đăng ký khai sinh", "waiting_ahead": 3,
                      "estimated_wait_s": 600, "status_url": "http://x/t/abc",
                      "issued_at": "2026-01-05T01:00:00.000+00:00"}, "Trung tâm")
    assert t.procedure == "Đăng ký khai sinh" and t.counters == "Quầy số 1, 2"
    assert t.number == 1001 and t.status_url == "http://x/t/abc" and t.issued_at.year == 2026
    assert ticket_print({"number": 5, "counters": []}, "", lang="en").counters == ""


def test_print_service_without_printer():
    service = PrintService(None, None)
    assert not service.enabled
    assert service.print_now({"id": 1}).kind == "NoPrinter"


def test_printed_times_are_the_centres_on_a_utc_host(monkeypatch):
    """A kiosk PC whose clock zone is UTC prints the centre's local time."""
    import time as _time

    monkeypatch.setenv("TZ", "UTC")
    _time.tzset()
    try:
        issued = "2026-11-30T13:05:00.000+00:00"  # 20:05 in Hà Nội
        t = ticket_print({"number": 1, "issued_at": issued}, "", timezone="Asia/Ho_Chi_Minh")
        assert (t.issued_at.hour, t.issued_at.minute) == (20, 5)
        text = " ".join(b.text for b in ticket_blocks(t) if isinstance(b, Text))
        assert "Giờ lấy số: 20:05 30/11/2026" in text
        # before the server has said, the default centre zone, still not the PC's UTC
        assert ticket_print({"number": 1, "issued_at": issued}, "").issued_at.hour == 20
        # another centre's zone is followed too
        assert ticket_print({"number": 1, "issued_at": issued}, "",
                            timezone="Asia/Bangkok").issued_at.hour == 20
        assert ticket_print({"number": 1, "issued_at": issued}, "",
                            timezone="Asia/Tokyo").issued_at.hour == 22
    finally:
        monkeypatch.undo()
        _time.tzset()


def test_ticket_print_without_an_open_counter_and_in_english():
    t = ticket_print({"number": 1001, "team_name": "Tổ Tư pháp", "team_id": 1,
                      "waiting_ahead": 0, "estimated_wait_s": None, "no_counter_open": True},
                     "Bac Ninh Centre", lang="en", team="Justice team")
    assert t.no_counter_open and t.team == "Justice team" and t.centre == "Bac Ninh Centre"
    texts = [b.text for b in ticket_blocks(t) if isinstance(b, Text)]
    assert "No counter is open for this procedure yet" in texts
    assert "People ahead of you: 0" in texts
