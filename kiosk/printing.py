"""The kiosk's own ticket printer: jobs off the UI thread, faults reported to the server.

No Kivy here. `PrintService.submit(ticket, done)` prints on a single worker thread (jobs
never overlap) and calls `done(PrintResult)` there. Every change of the printer's health
(online, out of paper, offline) is posted to the server (POST /devices/status, part
"printer") so managers see it; a report that cannot be delivered is sent again with the
next one. Changes come from the jobs and from the printer's supervisor, which `start()`
runs to watch the printer between jobs. `reprint()` prints the last ticket again once the
fault is fixed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hardware.printer import PrinterError, TicketPrinter
from hardware.ticket_layout import TicketPrint
from qmsclient import ServerError

from .client import ServerClient
from .i18n import counters_text
from .visit import booking_line

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"

log = logging.getLogger("qms.kiosk.printing")


@dataclass
class PrintResult:
    ok: bool
    message_vi: str = ""
    message_en: str = ""
    ticket_id: int | None = None
    kind: str = ""  # "" | PaperOut | PrinterOffline | PrinterTimeout | ...


def centre_zone(name: str | None) -> ZoneInfo:
    """The centre's time zone (GET /api/v1/state `timezone`, centre.toml), never the kiosk
    PC's own clock zone; Asia/Ho_Chi_Minh until the server has said."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def ticket_print(ticket: dict, centre: str, lang: str = "vi",
                 timezone: str | None = None, team: str = "") -> TicketPrint:
    """What goes on paper for an issued ticket (the server's POST /tickets answer), its time
    in the centre's time zone; with no counter of its team open, no wait but a line saying
    so. `centre` and `team` are in the ticket's language when the caller has them."""
    zone = centre_zone(timezone)
    counters = ticket.get("counters") or []
    label = "Quầy số" if lang == "vi" else "Counter"
    issued = ticket.get("issued_at")
    try:
        when = datetime.fromisoformat(issued) if issued else datetime.now(zone)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        when = when.astimezone(zone)
    except ValueError:
        when = datetime.now(zone)
    return TicketPrint(
        centre=centre or "Trung tâm Phục vụ Hành chính công",
        team=team or ticket.get("team_name") or "",
        number=ticket.get("number", ""),
        procedure=_short(ticket.get("procedure_name") or ""),
        counters=f"{label} {counters_text(counters)}" if counters else "",
        note=booking_line(ticket, lang),
        issued_at=when,
        waiting_ahead=ticket.get("waiting_ahead"),
        estimated_wait_s=ticket.get("estimated_wait_s"),
        no_counter_open=bool(ticket.get("no_counter_open")),
        status_url=ticket.get("status_url") or "",
        footer="Xin cảm ơn!" if lang == "vi" else "Thank you!",
        lang=lang,
    )


def _short(name: str) -> str:
    from .i18n import short_name

    return short_name(name)


class PrintService:
    def __init__(self, printer: TicketPrinter | None, client: ServerClient | None,
                 centre: Callable[[], str] = lambda: "", lang: str = "vi",
                 timezone: Callable[[], str | None] = lambda: None,
                 team_name: Callable[[dict], str] = lambda ticket: ""):
        self.printer = printer
        self.client = client
        self.centre = centre
        self.timezone = timezone
        self.team_name = team_name  # the ticket's team in the ticket's language
        self.lang = lang
        self.last_ticket: dict | None = None
        self.last_result: PrintResult | None = None
        self._pending_report: tuple[bool, str] | None = None
        self._reported: tuple[bool, str] | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        if printer is not None:
            printer.listener = self._on_printer_change

    @property
    def enabled(self) -> bool:
        return self.printer is not None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="kiosk-printer", daemon=True)
            self._thread.start()
            if self.printer is not None:
                self._jobs.put(("status", None, None))
                self.printer.start()

    def submit(self, ticket: dict, done: Callable[[PrintResult], None]) -> None:
        self.last_ticket = ticket
        self._jobs.put(("print", ticket, done))

    def reprint(self, done: Callable[[PrintResult], None]) -> bool:
        if self.last_ticket is None:
            return False
        self._jobs.put(("print", self.last_ticket, done))
        return True

    def check(self) -> None:
        """Ask the printer for its status (and report a change) on the worker thread."""
        self._jobs.put(("status", None, None))

    def stop(self) -> None:
        self._jobs.put(("stop", None, None))
        if self.printer is not None:
            self.printer.close()

    # -- worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            kind, ticket, done = self._jobs.get()
            if kind == "stop":
                return
            if kind == "state":
                self._report(*ticket)
                continue
            if kind == "status":
                if self.printer is not None:
                    self._status_report(self.printer.status())
                self._flush_report()
                continue
            result = self.print_now(ticket)
            try:
                done(result)
            except Exception:
                log.exception("print callback failed")

    def print_now(self, ticket: dict) -> PrintResult:
        """Print one ticket synchronously (the worker calls this)."""
        tid = ticket.get("id")
        self.last_ticket = ticket
        if self.printer is None:
            return PrintResult(False, "", "", tid, "NoPrinter")
        try:
            self.printer.print_ticket(ticket_print(ticket, self.centre(), self.lang,
                                                   self.timezone(), self.team_name(ticket)))
        except PrinterError as exc:
            log.warning("printing ticket %s failed: %s", ticket.get("number"), exc)
            result = PrintResult(False, exc.message_vi, exc.message_en, tid, type(exc).__name__)
            self._report(False, f"{exc.message_vi}: {exc.detail}" if exc.detail else exc.message_vi)
        except Exception as exc:  # a layout bug must not leave the citizen without a number
            log.exception("printing ticket %s failed", ticket.get("number"))
            result = PrintResult(False, "Lỗi máy in", "Printer error", tid, type(exc).__name__)
            self._report(False, f"Lỗi máy in: {exc}")
        else:
            result = PrintResult(True, ticket_id=tid)
            self._report(True, "")
        self.last_result = result
        return result

    def _status_report(self, st) -> None:
        if st.paper == "out":
            self._report(False, "Máy in hết giấy")
        elif st.online is False:
            self._report(False, f"Máy in không kết nối được: {st.detail}".rstrip(": "))

    def _on_printer_change(self, name: str, online: bool, detail: str) -> None:
        """The printer's state listener (a job or its supervisor): reported on the worker."""
        self._jobs.put(("state", (online, "" if online and detail in ("ok", "unknown") else detail),
                        None))

    def _report(self, online: bool, detail: str) -> None:
        self._pending_report = (online, detail)
        self._flush_report()

    def _flush_report(self) -> None:
        pending = self._pending_report
        if pending is None or self.client is None:
            return
        if pending == self._reported:
            self._pending_report = None
            return
        try:
            self.client.report_device("printer", pending[0], pending[1])
        except ServerError as exc:
            log.info("printer status not reported yet: %s", exc)
            return
        self._reported = pending
        if self._pending_report == pending:
            self._pending_report = None
