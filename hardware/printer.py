"""Ticket printers over python-escpos: one `TicketPrinter` configured by a URL and a profile.

URLs (query parameters optional, they override the defaults):

    tcp://192.168.1.50:9100            network printer (raw port 9100)
    serial:///dev/ttyUSB0?baudrate=19200
    usb://04b8:0e15                    USB vendor:product (needs pyusb)
    file:///dev/usb/lp0                a character device written blindly
    dummy:                             keeps the last job in memory (tests, demo)

    common parameters: profile=TM-T20II  mode=raster|cp1258  codepage=52
                       timeout=5  status=required|auto|off

Every job is first composed into a python-escpos ``Dummy`` with the same profile, then
transmitted in chunks with timeouts, so a job either goes out whole or fails with a
`PrinterError` carrying a Vietnamese message for the kiosk screen. A failed connection
is dropped; the next job reconnects.

The printer's online state is reported like every other device's: `TicketPrinter` is a
`supervisor.Supervised`, so each change goes once to `listener(name, online, detail)`
(offline details are Vietnamese first, e.g. "Máy in hết giấy: paper end sensor"). Jobs and
`status()` update it; `start()` (or `autostart=True`) adds the reconnect loop, which
reconnects a dropped printer with back-off and asks a connected one for its status every
`poll_interval` seconds, so paper running out or a printer switched off is reported before
the next citizen takes a number.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import serial
from escpos.capabilities import get_profile
from escpos.constants import (
    RT_MASK_LOWPAPER,
    RT_MASK_NOPAPER,
    RT_MASK_ONLINE,
    RT_STATUS_ONLINE,
    RT_STATUS_PAPER,
)
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, File, Network, Serial

from .escpos_vn import cp1258_table
from .supervisor import Listener, Supervised
from .ticket_layout import TicketPrint, emit_cp1258, emit_raster

log = logging.getLogger(__name__)

PROFILE_ALIASES = {"58": "POS-5890", "58mm": "POS-5890", "80": "TM-T20II", "80mm": "TM-T20II"}
CHUNK = 4096


class PrinterError(Exception):
    """A printing failure; `message_vi` is shown to citizens and staff."""

    message_vi = "Lỗi máy in"
    message_en = "Printer error"

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(f"{self.message_vi} ({self.message_en})" + (f": {detail}" if detail else ""))

    @property
    def status_text(self) -> str:
        """The offline detail reported for this fault: "Máy in hết giấy: paper end sensor"."""
        return f"{self.message_vi}: {self.detail}" if self.detail else self.message_vi


class PrinterOffline(PrinterError):
    message_vi = "Máy in không kết nối được"
    message_en = "Printer offline"


class PrinterTimeout(PrinterError):
    message_vi = "Máy in không phản hồi"
    message_en = "Printer not responding"


class PaperOut(PrinterError):
    message_vi = "Máy in hết giấy"
    message_en = "Printer is out of paper"


class PrinterConfigError(PrinterError):
    message_vi = "Cấu hình máy in không hợp lệ"
    message_en = "Invalid printer configuration"


@dataclass
class PrinterStatus:
    online: bool | None  # None: the transport cannot tell
    paper: str = "unknown"  # ok | near_end | out | unknown
    detail: str = ""


class _TimeoutSerial(Serial):
    """python-escpos Serial with a write timeout, so a stalled line never hangs a job."""

    def __init__(self, *args, write_timeout: float = 5.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.write_timeout = write_timeout

    def open(self, raise_not_found: bool = True) -> None:
        super().open(raise_not_found)
        if self._device:
            self._device.write_timeout = self.write_timeout


def resolve_profile(name: str | None) -> str:
    name = name or "TM-T20II"
    return PROFILE_ALIASES.get(name.lower(), name)


def parse_printer_url(url: str) -> tuple[str, dict]:
    """Split a printer URL into (kind, parameters); raises PrinterConfigError."""
    parts = urlsplit(url)
    kind = parts.scheme.lower()
    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if kind == "tcp":
        if not parts.hostname:
            raise PrinterConfigError(f"missing host in {url!r}")
        params.update(host=parts.hostname, port=parts.port or 9100)
    elif kind in ("serial", "file"):
        path = parts.path or parts.netloc
        if not path:
            raise PrinterConfigError(f"missing device path in {url!r}")
        params["devfile"] = path
    elif kind == "usb":
        try:
            vid, pid = (int(x, 16) for x in parts.netloc.split(":"))
        except ValueError:
            raise PrinterConfigError(f"expected usb://VID:PID in hex, got {url!r}") from None
        params.update(vid=vid, pid=pid)
    elif kind != "dummy":
        raise PrinterConfigError(f"unknown printer URL scheme {kind!r}")
    return kind, params


class TicketPrinter(Supervised):
    """A ticket printer. `print_ticket()` is thread-safe; `close()` is idempotent.

    Without `start()` the state follows the jobs and `status()` calls; with it, the
    supervisor's loop also watches the printer between jobs (see the module doc).
    """

    faults = (PrinterError, OSError)

    def __init__(
        self,
        url: str,
        profile: str | None = None,
        mode: str | None = None,
        codepage: int | str | None = None,
        timeout: float | None = None,
        name: str = "printer",
        listener: Listener | None = None,
        status_check: str | None = None,
        *,
        poll_interval: float = 5.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        autostart: bool = False,
    ):
        self.kind, self.params = parse_printer_url(url)
        self.profile_name = resolve_profile(profile or self.params.get("profile"))
        try:
            self.profile = get_profile(self.profile_name)
        except Exception as exc:
            raise PrinterConfigError(f"unknown profile {self.profile_name!r}") from exc
        self.mode = (mode or self.params.get("mode") or "raster").lower()
        if self.mode not in ("raster", "cp1258"):
            raise PrinterConfigError(f"mode must be raster or cp1258, not {self.mode!r}")
        table = codepage or self.params.get("codepage") or self.profile.get_code_pages().get("CP1258")
        self.codepage = cp1258_table(table)
        self.timeout = float(timeout or self.params.get("timeout") or 5.0)
        default_check = "required" if self.kind == "tcp" else "auto" if self.kind in ("serial", "usb") else "off"
        self.status_check = status_check or self.params.get("status") or default_check
        width = self.profile.profile_data["media"]["width"].get("pixels")
        self.width_px = int(width) if str(width).isdigit() else int(self.params.get("width", 576))
        self.columns = self.profile.get_columns(0)
        self._device: Escpos | None = None
        self._lock = threading.RLock()
        self.last_job = b""
        super().__init__(name, url, listener=listener, backoff_initial=backoff_initial,
                         backoff_max=backoff_max, poll_interval=poll_interval, autostart=autostart)

    # ------------------------------------------------------------------ composing
    def compose(self, ticket: TicketPrint) -> bytes:
        """The complete ESC/POS job for `ticket`, without sending it."""
        p = Dummy(profile=self.profile_name)
        if self.mode == "raster":
            emit_raster(p, ticket, self.width_px)
        else:
            emit_cp1258(p, ticket, self.columns, self.codepage, self.width_px)
        return p.output

    # ------------------------------------------------------------------ connection
    def _make_device(self) -> Escpos:
        prm, prof = self.params, self.profile_name
        if self.kind == "tcp":
            return Network(prm["host"], int(prm["port"]), timeout=self.timeout, profile=prof)
        if self.kind == "serial":
            return _TimeoutSerial(
                devfile=prm["devfile"], baudrate=int(prm.get("baudrate", 9600)),
                timeout=self.timeout, write_timeout=self.timeout, dsrdtr=False, profile=prof,
            )
        if self.kind == "usb":
            from escpos.printer import Usb  # needs pyusb; imported only when configured

            return Usb(prm["vid"], prm["pid"], timeout=int(self.timeout * 1000), profile=prof)
        if self.kind == "file":
            return File(prm["devfile"], profile=prof)
        return Dummy(profile=prof)

    def _connect(self) -> Escpos:
        if self._device is not None:
            return self._device
        dev = self._make_device()
        try:
            dev.open() if not isinstance(dev, Dummy) else None
        except DeviceNotFoundError as exc:
            raise PrinterOffline(str(exc).splitlines()[0]) from exc
        except Exception as exc:  # USB / file permission errors and the like
            raise PrinterOffline(str(exc)) from exc
        self._device = dev
        return dev

    def _drop(self) -> None:
        dev, self._device = self._device, None
        if dev is not None:
            try:
                dev.close()
            except Exception:  # closing a broken socket/port may fail again
                pass

    def _fail(self, exc: BaseException) -> PrinterError:
        """Map a transport exception to a PrinterError, drop the connection, mark offline."""
        self._drop()
        if isinstance(exc, PrinterError):
            err = exc
        elif isinstance(exc, TimeoutError | socket.timeout | serial.SerialTimeoutException):
            err = PrinterTimeout(str(exc) or "timeout")
        else:
            err = PrinterOffline(str(exc) or type(exc).__name__)
        self._set_state(False, err.status_text)
        return err

    # ------------------------------------------------------------------ status
    def _drain(self, dev: Escpos) -> None:
        raw = dev._device
        if isinstance(raw, socket.socket):
            raw.settimeout(0)
            try:
                while raw.recv(256):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            finally:
                raw.settimeout(self.timeout)
        elif isinstance(raw, serial.Serial):
            raw.reset_input_buffer()

    def _query(self, dev: Escpos, request: bytes) -> int | None:
        """One real-time status byte, or None when nothing answered."""
        self._drain(dev)
        try:
            reply = dev.query_status(request)
        except TimeoutError:
            reply = None
        if reply == b"" and self.kind == "tcp":
            raise PrinterOffline("connection closed by printer")
        if not reply:
            if self.status_check == "required":
                raise PrinterTimeout("no answer to DLE EOT status request")
            return None
        return reply[-1]

    def _status(self, dev: Escpos) -> PrinterStatus:
        if self.status_check == "off" or self.kind in ("dummy", "file"):
            return PrinterStatus(None if self.kind != "dummy" else True)
        online = self._query(dev, RT_STATUS_ONLINE)
        if online is None:
            return PrinterStatus(None, detail="printer does not answer status requests")
        paper_byte = self._query(dev, RT_STATUS_PAPER)
        paper = "unknown"
        if paper_byte is not None:
            if paper_byte & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
                paper = "out"
            elif paper_byte & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
                paper = "near_end"
            else:
                paper = "ok"
        return PrinterStatus(not (online & RT_MASK_ONLINE), paper)

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1 and 4). Never raises: an unreachable printer is offline."""
        with self._lock:
            try:
                st = self._status(self._connect())
            except Exception as exc:
                err = self._fail(exc)
                return PrinterStatus(False, "unknown", err.detail)
            self._apply_status(st)
            return st

    def _apply_status(self, st: PrinterStatus) -> None:
        """Report what a status answer says; an answer of "cannot tell" changes nothing."""
        if st.paper == "out":
            self._set_state(False, PaperOut("paper end sensor").status_text)
        elif st.online is False:
            self._set_state(False, PrinterOffline(st.detail or "printer reports offline").status_text)
        elif st.online:
            self._set_state(True, st.paper)

    def _check_ready(self, dev: Escpos) -> PrinterStatus:
        st = self._status(dev)
        if st.paper == "out":
            raise PaperOut("paper end sensor")
        if st.online is False:
            raise PrinterOffline("printer reports offline (cover open or error)")
        if st.paper == "near_end":
            log.warning("printer %s: paper near end", self.name)
        return st

    # ------------------------------------------------------------------ printing
    def print_raw(self, data: bytes) -> PrinterStatus:
        """Transmit one composed job; raises a PrinterError subclass on any failure."""
        with self._lock:
            try:
                dev = self._connect()
                self._check_ready(dev)
                for i in range(0, len(data), CHUNK):
                    dev._raw(data[i : i + CHUNK])
                if isinstance(dev._device, serial.Serial):
                    dev._device.flush()
                st = self._check_ready(dev)  # confirms the job arrived and nothing broke
            except Exception as exc:
                raise self._fail(exc) from exc
            self.last_job = data
            if isinstance(dev, Dummy):
                dev.clear()
            self._set_state(True, st.paper)
            return st

    def print_ticket(self, ticket: TicketPrint) -> PrinterStatus:
        """Compose and print one ticket. Returns the printer status after the job."""
        return self.print_raw(self.compose(ticket))

    def close(self) -> None:
        super().close()
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------ supervision
    def _open_connection(self) -> PrinterStatus:
        with self._lock:
            try:
                return self._status(self._connect())
            except Exception as exc:
                raise self._fail(exc) from exc

    def _fault(self, exc: BaseException) -> None:
        if isinstance(exc, PrinterError):
            self._set_state(False, exc.status_text)
        else:
            super()._fault(exc)

    def _on_connected(self, st: PrinterStatus) -> None:
        if st.online is None:  # connected, but the printer cannot tell more
            self._set_state(True, st.paper)
        else:
            self._apply_status(st)

    def _serve_connection(self, st: PrinterStatus) -> None:
        quiet = st.online is None  # no status answers: the state follows the jobs
        while not self._stop.wait(self.poll_interval):
            with self._lock:
                if self._device is None:  # a job failed and dropped it: reconnect after back-off
                    return
                if quiet:
                    continue
                try:
                    st = self._status(self._device)
                except Exception as exc:
                    raise self._fail(exc) from exc
            self._apply_status(st)


# ---------------------------------------------------------------------- test ticket

PANGRAM = "Do bạch kim rất quý nên sẽ dùng để lắp vô xương."
PANGRAM_2 = "Đăng ký khai sinh – Hộ tịch, quầy số 5"


def printer_test_ticket(lang: str = "vi") -> TicketPrint:
    return TicketPrint(
        centre="KIỂM TRA MÁY IN / PRINTER TEST",
        team="Tiếng Việt: ăâđêôơư ÀÁẢÃẠ ỳýỷỹỵ",
        number="0000",
        procedure=PANGRAM,
        counters=PANGRAM_2,
        issued_at=datetime.now(),
        waiting_ahead=0,
        estimated_wait_s=0,
        status_url="https://example.gov.vn/t/printer-test",
        footer="Nếu đọc được các dòng trên, máy in đã sẵn sàng.",
        lang=lang,
    )


def print_test_ticket(url: str, profile: str | None = None, mode: str | None = None,
                      codepage: int | str | None = None, timeout: float | None = None) -> int:
    """Print a Vietnamese pangram + QR test ticket; returns the job size in bytes."""
    with TicketPrinter(url, profile, mode, codepage, timeout, name="test") as printer:
        data = printer.compose(printer_test_ticket())
        printer.print_raw(data)
        return len(data)


def main_printer_test(argv: list[str] | None = None) -> int:
    """`qms printer test URL [--profile P] [--mode raster|cp1258] [--codepage N]`."""
    ap = argparse.ArgumentParser(prog="qms printer test", description="In phiếu thử / print a test ticket")
    ap.add_argument("url", help="tcp://HOST:9100, serial:///dev/ttyUSB0?baudrate=19200, usb://VID:PID, file:///dev/usb/lp0, dummy:")
    ap.add_argument("--profile", default=None, help="python-escpos profile, e.g. TM-T20II (80 mm), POS-5890 (58 mm)")
    ap.add_argument("--mode", choices=("raster", "cp1258"), default=None)
    ap.add_argument("--codepage", default=None, help="ESC t number of CP1258 (52 Epson, 94/27 others)")
    ap.add_argument("--timeout", type=float, default=None)
    args = ap.parse_args(argv)
    try:
        size = print_test_ticket(args.url, args.profile, args.mode, args.codepage, args.timeout)
    except PrinterError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    print(f"Đã in phiếu thử ({size} byte) / test ticket printed ({size} bytes)")
    return 0
