"""The kiosk App's state and actions for the visit (issue #15): the QR scanner, check-in,
the scanned card on the walk-in path, the dossier lookup.

`VisitActions` is mixed into `kiosk.app.KioskApp` (the App owns state and actions; the
screens only show them). Its logic lives in Kivy-free modules: `kiosk.scanner` (keystrokes
into scans), `common.cccd` (what a scan is), `kiosk.visit` (what to do with it, intents).
Network calls run on worker threads; results come back with `@mainthread`. Nothing of a
card is written anywhere: it is kept in memory for one citizen and forgotten on Home, on
idle and once the ticket is issued.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.properties import BooleanProperty, DictProperty, StringProperty

from common.cccd import classify_scan
from qmsclient import ServerError

from . import i18n
from .printing import centre_zone
from .scanner import ScanAssembler
from .visit import ELDERLY, Command, Person, offers_elderly, route_scan
from .visit_text import SHOW_SERVER_MESSAGE

log = logging.getLogger("qms.kiosk.visit")

ENTER_KEYS = (13, 271)   # Enter, keypad Enter (SDL2 key codes in kivy)
SCAN_POLL_S = 0.05


class VisitActions:
    """Mixed into the kiosk App (Kivy properties work on mixins)."""

    person_text = StringProperty("")       # "Đã quét CCCD ********2345 · N** V** A** · 66 tuổi"
    person_offer = BooleanProperty(False)  # the elderly priority may be offered
    checkin_busy = BooleanProperty(False)
    checkin_message = StringProperty("")
    lookup_busy = BooleanProperty(False)
    lookup_message = StringProperty("")
    lookup_result = DictProperty({})
    lookup_request = DictProperty({})      # a scanned receipt for the lookup screen to fill
    scans = 0

    # -- set-up --------------------------------------------------------------------------
    def setup_visit(self) -> None:
        """From build(): the scanner's keystrokes, and the per-visit state."""
        self.person: Person | None = None
        self.checkin_cmd = Command()
        self.result_cmd = Command()
        self.scanner = ScanAssembler(self.on_scan)  # called from poll(): the UI thread
        Window.bind(on_textinput=self._scanner_text, on_key_down=self._scanner_key)
        Clock.schedule_interval(self._scanner_poll, SCAN_POLL_S)
        self.bind(lang=self._person_changed)

    def _scanner_text(self, _window, text):
        self.scanner.text(text)

    def _scanner_key(self, _window, key, *_):
        if key in ENTER_KEYS:
            self.scanner.enter()

    def _scanner_poll(self, _dt):
        self.scanner.poll()

    def today(self):
        return datetime.now(centre_zone(self.queue.timezone)).date()

    # -- a scan --------------------------------------------------------------------------
    def on_scan(self, text: str) -> None:
        """A whole scan from the QR scanner: route it by what it is and where we are."""
        self.scans += 1
        self.idle.touched()
        screen = self.sm.current
        if screen == "saver":
            self.go_home()
            screen = "home"
        action, args = route_scan(classify_scan(text, self.today()), screen)
        if action == "checkin":
            if screen != "checkin":
                self.open_checkin()
            self.checkin(**args)
        elif action == "lookup":
            self.open_lookup(args["code"], args["key"])
        elif action == "person":
            self.remember_person(args["card"])
        else:
            self.scan_failed(args["error"])

    def scan_failed(self, error) -> None:
        text = error.message(self.lang)
        log.info("bad scan: %s", error.code)  # the code only: never the scanned text
        if self.sm.current == "checkin":
            self.checkin_message = text
        elif self.sm.current == "lookup":
            self.lookup_message = text
        else:
            self.error_code, self.error_detail = f"scan_{error.code}", ""
            self.show("message")

    # -- the card on the walk-in path ------------------------------------------------------
    def remember_person(self, card) -> None:
        """A card scanned outside check-in: held for this citizen's ticket (the server's
        per-person limit) and, from the birth date, the elderly priority offered on Home."""
        if self.sm.current not in ("home", "detail"):
            self.go_home()
        self.person = Person(card, self.today(), self.settings.elderly_age)
        self._person_changed()

    def forget_person(self, *_) -> None:
        self.person = None
        self._person_changed()

    def _person_changed(self, *_) -> None:
        p = getattr(self, "person", None)
        self.person_text = p.line(self.lang) if p else ""
        self.person_offer = offers_elderly(p, self.settings.priorities)

    def take_elderly(self, *_) -> None:
        if self.person_offer and self.priority != ELDERLY:
            self.choose_priority(ELDERLY)

    def person_id_number(self) -> str | None:
        return self.person.card.number if getattr(self, "person", None) else None

    # -- check-in ------------------------------------------------------------------------
    def open_checkin(self, *_) -> None:
        self.checkin_message = ""
        self.checkin_cmd.reset()
        self.show("checkin")

    def checkin(self, code: str | None = None, id_number: str | None = None) -> None:
        if not code and not id_number:
            self.checkin_message = i18n.tr("checkin_need_code", self.lang)
            return
        key = self.checkin_cmd.begin(("code", code) if code else ("id", id_number))
        if key is None:
            return
        self.checkin_busy, self.checkin_message = True, ""
        threading.Thread(target=self._checkin_worker, args=(key, code, id_number),
                         name="kiosk-checkin", daemon=True).start()

    def _checkin_worker(self, key, code, id_number) -> None:
        try:
            ticket = self.client.checkin(key, code=code, id_number=id_number)
        except ServerError as exc:
            self._checkin_failed(exc)
        else:
            self._checkin_done(ticket)

    @mainthread
    def _checkin_failed(self, exc: ServerError) -> None:
        self.checkin_cmd.failed(retry_same=exc.retryable)
        self.checkin_busy = False
        log.warning("check-in refused: %s", exc.code)
        self.checkin_message = self.explain(exc)
        if self.sm.current != "checkin":
            self.show("checkin")

    @mainthread
    def _checkin_done(self, ticket: dict) -> None:
        self.checkin_cmd.succeeded()
        self.checkin_busy = False
        self._issued(ticket)  # the ticket flow: printed like any number, the ticket screen

    def explain(self, exc: ServerError) -> str:
        """A server error in the citizen's words (the server's own detail where it adds
        something, e.g. from what time a check-in opens)."""
        text = i18n.error_text(exc.code, exc.message, self.lang)
        if exc.code in SHOW_SERVER_MESSAGE and exc.message:
            text = f"{text}\n{exc.message}"
        return text

    # -- dossier lookup ----------------------------------------------------------------------
    def open_lookup(self, code: str | None = None, key: str | None = None) -> None:
        self.lookup_result, self.lookup_message = {}, ""
        self.result_cmd.reset()
        self.lookup_request = {"code": code or "", "key": key or "", "n": self.scans}
        if self.sm.current != "lookup":
            self.show("lookup")
        if code and key:
            self.lookup(code, key)

    def lookup(self, code: str, key: str) -> None:
        if self.lookup_busy:
            return
        self.lookup_busy, self.lookup_message, self.lookup_result = True, "", {}
        threading.Thread(target=self._lookup_worker, args=(code, key), name="kiosk-lookup",
                         daemon=True).start()

    def _lookup_worker(self, code, key) -> None:
        try:
            dossier = self.client.dossier(code, key)
        except ServerError as exc:
            self._lookup_answer(None, exc, key)
        else:
            self._lookup_answer(dossier, None, key)

    @mainthread
    def _lookup_answer(self, dossier, exc, key) -> None:
        self.lookup_busy = False
        if exc is not None:
            log.warning("dossier lookup failed: %s", exc.code)
            self.lookup_message = self.explain(exc)
            return
        self.lookup_result = dict(dossier, key=key)

    def take_result_number(self, *_) -> None:
        d = self.lookup_result
        if not d or not d.get("can_take_number"):
            return
        key = self.result_cmd.begin(("result", d.get("code")))
        if key is None:
            return
        self.lookup_busy, self.lookup_message = True, ""
        threading.Thread(target=self._result_worker, args=(d["code"], d["key"], key),
                         name="kiosk-result-number", daemon=True).start()

    def _result_worker(self, code, lookup_key, key) -> None:
        try:
            ticket = self.client.dossier_ticket(code, lookup_key, key)
        except ServerError as exc:
            self._result_failed(exc)
        else:
            self._result_done(ticket)

    @mainthread
    def _result_failed(self, exc: ServerError) -> None:
        self.result_cmd.failed(retry_same=exc.retryable)
        self.lookup_busy = False
        log.warning("result number refused: %s", exc.code)
        self.lookup_message = self.explain(exc)

    @mainthread
    def _result_done(self, ticket: dict) -> None:
        self.result_cmd.succeeded()
        self.lookup_busy = False
        self.lookup_result = {}
        self._issued(ticket)

    # -- for the scripted driver (tests) -------------------------------------------------------
    def visit_dump(self) -> dict:
        """The visit's state for `kiosk.driver` dumps (masked: nothing of a card in full)."""
        return {"person_text": self.person_text, "person_offer": self.person_offer,
                "checkin_message": self.checkin_message, "checkin_busy": self.checkin_busy,
                "checkin_attempts": self.checkin_cmd.attempts,
                "lookup_message": self.lookup_message, "lookup_result": dict(self.lookup_result),
                "scans": self.scans, "typed_dropped": self.scanner.typed_dropped}
