"""TicketPrinter against the TCP capture emulator, a real pty, and the Dummy printer."""

import os
import threading
import time
import tty
from datetime import datetime

import pytest

from hardware.emulators.escpos_stream import decode_text, qr_payloads, raster_images
from hardware.emulators.printer_server import PrinterEmulator
from hardware.printer import (
    PaperOut,
    PrinterConfigError,
    PrinterOffline,
    PrinterTimeout,
    TicketPrinter,
    main_printer_test,
    parse_printer_url,
    print_test_ticket,
)
from hardware.ticket_layout import TicketPrint

PHRASE = "Đăng ký khai sinh – Hộ tịch, quầy số 5"
URL = "https://hcc.example.gov.vn/t/Xk3fP9aQ2mZ7"


def ticket():
    return TicketPrint(
        centre="Trung tâm Phục vụ Hành chính công", team="Tổ 1 – Tư pháp", number="1023",
        procedure=PHRASE, issued_at=datetime(2025, 11, 22, 8, 15), waiting_ahead=3,
        estimated_wait_s=600, status_url=URL, footer="Cảm ơn quý khách.",
    )


@pytest.fixture
def emu():
    with PrinterEmulator() as e:
        yield e


def test_url_parsing():
    assert parse_printer_url("tcp://10.0.0.5:9100")[1]["port"] == 9100
    assert parse_printer_url("tcp://10.0.0.5")[1]["port"] == 9100
    kind, prm = parse_printer_url("serial:///dev/ttyUSB0?baudrate=19200")
    assert (kind, prm["devfile"], prm["baudrate"]) == ("serial", "/dev/ttyUSB0", "19200")
    assert parse_printer_url("usb://04b8:0e15")[1] == {"vid": 0x04B8, "pid": 0x0E15}
    assert parse_printer_url("file:///dev/usb/lp0")[1]["devfile"] == "/dev/usb/lp0"
    assert parse_printer_url("dummy:")[0] == "dummy"
    for bad in ("ftp://x", "usb://zz", "tcp://"):
        with pytest.raises(PrinterConfigError):
            parse_printer_url(bad)


def test_profiles_and_modes():
    p58 = TicketPrinter("dummy:", "58", "cp1258")
    assert (p58.profile_name, p58.width_px, p58.columns, p58.codepage) == ("POS-5890", 384, 32, 94)
    p80 = TicketPrinter("dummy:?codepage=27", "TM-T20II")
    assert (p80.width_px, p80.codepage, p80.mode) == (576, 27, "raster")
    with pytest.raises(PrinterConfigError):
        TicketPrinter("dummy:", mode="utf8")


def test_cp1258_ticket_round_trips_over_tcp(emu):
    with TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2) as p:
        st = p.print_ticket(ticket())
    assert (st.online, st.paper) == (True, "ok")
    (job,) = emu.wait_for_jobs(1)
    assert PHRASE in decode_text(job)
    assert qr_payloads(job) == [URL]
    assert emu.status_requests >= 2  # checked before and after the job


def test_raster_ticket_over_tcp_58mm(emu):
    with TicketPrinter(emu.url, "POS-5890", "raster", timeout=2) as p:
        p.print_ticket(ticket())
        size = len(p.last_job)
    (job,) = emu.wait_for_jobs(1)
    assert len(job) == size
    images = list(raster_images(job))
    assert len(images) >= 5 and all(im.width <= 384 for im in images)


def test_paper_near_end_is_reported_but_prints(emu):
    emu.paper = "near_end"
    with TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2) as p:
        assert p.print_ticket(ticket()).paper == "near_end"
    emu.wait_for_jobs(1)


def test_paper_out_raises_vietnamese_error_and_prints_nothing(emu):
    emu.paper = "out"
    with TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2) as p:
        with pytest.raises(PaperOut) as err:
            p.print_ticket(ticket())
        assert "Máy in hết giấy" in str(err.value)
        assert p.status().paper == "out"
    assert emu.jobs == []


def test_offline_printer(emu):
    emu.offline = True
    with TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2) as p:
        with pytest.raises(PrinterOffline) as err:
            p.print_ticket(ticket())
        assert err.value.message_vi == "Máy in không kết nối được"


def test_unplugged_then_reconnects_on_next_job(emu):
    events = []
    p = TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=2, name="kiosk-1",
                      listener=lambda *a: events.append(a))
    p.print_ticket(ticket())
    emu.unplug()
    with pytest.raises(PrinterOffline):
        p.print_ticket(ticket())
    with pytest.raises(PrinterOffline):  # still refused
        p.print_ticket(ticket())
    emu.replug()
    p.print_ticket(ticket())
    p.close()
    p.close()  # idempotent
    assert [e[1] for e in events] == [True, False, True]
    assert events[0][0] == "kiosk-1"
    assert len(emu.wait_for_jobs(2)) == 2


def test_stalled_printer_times_out_instead_of_hanging(emu):
    emu.stall = True
    p = TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(PrinterTimeout) as err:
        p.print_ticket(ticket())
    assert time.monotonic() - t0 < 2
    assert "không phản hồi" in str(err.value)
    emu.stall = False
    p.print_ticket(ticket())  # reconnects and works
    p.close()


def test_disconnect_mid_ticket(emu):
    emu.drop_after = 2000
    with TicketPrinter(emu.url, "TM-T20II", "raster", timeout=2) as p:
        with pytest.raises(PrinterOffline):
            p.print_ticket(ticket())
        emu.drop_after = None
        p.print_ticket(ticket())
    assert any(len(j) > 20000 for j in emu.wait_for_jobs(1))


def test_status_never_raises(emu):
    p = TicketPrinter(emu.url, "TM-T20II", timeout=1)
    assert p.status().online is True
    emu.unplug()
    st = p.status()
    assert st.online is False and st.detail
    p.close()


def test_serial_printer_over_pty():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    received = bytearray()
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            received.extend(chunk)
            if b"\x1dV" in received:
                done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    url = f"serial://{os.ttyname(slave)}?baudrate=115200"
    with TicketPrinter(url, "TM-T20II", "cp1258", timeout=0.3) as p:
        st = p.print_ticket(ticket())  # nothing answers DLE EOT on a bare pty: status unknown
        assert st.online is None
    assert done.wait(5)
    os.close(master)
    os.close(slave)
    assert PHRASE in decode_text(bytes(received))


def test_dummy_keeps_last_job_and_test_ticket():
    p = TicketPrinter("dummy:", "POS-5890", "cp1258")
    p.print_ticket(ticket())
    assert PHRASE in " ".join(decode_text(p.last_job).split())
    assert print_test_ticket("dummy:", "58", "cp1258") > 500


def test_cli_entry(emu, capsys):
    assert main_printer_test([emu.url, "--profile", "POS-5890", "--mode", "cp1258"]) == 0
    assert "Đã in phiếu thử" in capsys.readouterr().out
    assert "Do bạch kim rất quý" in decode_text(emu.wait_for_jobs(1)[0])
    emu.unplug()
    assert main_printer_test([emu.url, "--timeout", "1"]) == 2
    assert "Máy in không kết nối được" in capsys.readouterr().err


class _States:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, name, online, detail):
        with self.cond:
            self.events.append((name, online, detail))
            self.cond.notify_all()

    def wait(self, pred, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.events), timeout)


def test_supervised_printer_reports_faults_between_jobs(emu):
    """The supervisor's loop watches the printer without any job: paper out, unplugged, back."""
    states = _States()
    p = TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=1, name="kiosk-2", listener=states,
                      poll_interval=0.05, backoff_initial=0.02, backoff_max=0.1, autostart=True)
    assert p.supervised and p.wait_online(True)
    emu.paper = "out"
    assert p.wait_online(False) and "hết giấy" in p.detail
    emu.paper = "ok"
    assert p.wait_online(True)
    emu.unplug()
    assert p.wait_online(False)
    emu.replug()
    assert p.wait_online(True)
    p.print_ticket(ticket())  # jobs share the loop's connection
    p.close()
    p.close()
    assert [e[1] for e in states.events] == [True, False, True, False, True, False]
    assert all(e[0] == "kiosk-2" for e in states.events) and states.events[-1][2] == "closed"
    assert p.reconnects >= 1 and len(emu.wait_for_jobs(1)) == 1


def test_supervised_printer_reconnects_after_a_failed_job(emu):
    states = _States()
    p = TicketPrinter(emu.url, "TM-T20II", "cp1258", timeout=1, listener=states,
                      poll_interval=0.05, backoff_initial=0.02, autostart=True)
    assert p.wait_online(True)
    emu.drop_after = 10
    with pytest.raises(PrinterOffline):
        p.print_ticket(ticket())
    emu.drop_after = None
    assert states.wait(lambda ev: [e[1] for e in ev] == [True, False, True])
    p.close()


def test_printer_without_status_is_online_once_connected():
    p = TicketPrinter("dummy:", "58", "cp1258", poll_interval=0.02, autostart=True)
    assert p.wait_online(True)
    p.close()
    assert not p.online and p.detail == "closed"
