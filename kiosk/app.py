"""The kiosk Kivy app: owns the state and every action; the screens only show it.

Network and printer work runs on worker threads; results come back with `@mainthread`.
The logic it drives lives in Kivy-free modules (flow, client, printing, settings, i18n).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import FadeTransition, NoTransition, ScreenManager

from common.search import SearchIndex
from common.vocabulary import COUNTER_CLOSED, COUNTER_OPENED, COUNTER_PAUSED
from hardware.printer import PrinterError, TicketPrinter
from qmsclient import ServerError

from . import i18n
from .client import CatalogueCache, LiveFeed, ServerClient
from .flow import ISSUING, IdleClock, QueueInfo, TicketFlow
from .printing import PrintResult, PrintService, centre_zone
from .settings import KioskSettings
from .visit_app import VisitActions
from .voice import Speaker
from .widgets import BACKGROUND

log = logging.getLogger("qms.kiosk")

SCREENS = ("home", "search", "browse", "detail", "ticket", "message", "saver",
           "checkin", "lookup",
           "access_home", "access_detail", "access_ticket")


class KioskApp(VisitActions, App):
    lang = StringProperty("vi")
    priority = StringProperty("")
    ready = BooleanProperty(False)  # the catalogue is loaded
    banner = StringProperty("")  # connection trouble shown on Home
    queue_rev = NumericProperty(0)  # bumped whenever waiting counts change
    live = BooleanProperty(False)  # Socket.IO connected
    procedure = DictProperty({})
    ticket = DictProperty({})
    print_state = StringProperty("")  # "" | printing | printed | failed | none
    print_message = StringProperty("")
    error_code = StringProperty("")
    error_detail = StringProperty("")
    issuing = BooleanProperty(False)
    countdown = NumericProperty(0)
    field = StringProperty("")
    clock_text = StringProperty("")
    access = BooleanProperty(False)  # the accessible mode (large text, voice): one citizen's

    def __init__(self, settings: KioskSettings, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.title = "QMS-HCC – Lấy số thứ tự"
        self.lang = settings.language
        self.client = ServerClient(settings.server, settings.token, settings.http_timeout_s)
        self.cache = CatalogueCache(settings.cache_dir)
        self.index = SearchIndex([], settings.synonyms)
        self.flow = TicketFlow()
        self.queue = QueueInfo()
        self.idle = IdleClock(settings.idle_home_s, settings.screensaver_s,
                              settings.ticket_home_s)
        self.printer = self._make_printer(settings)
        lang = settings.ticket_language
        self.printing = PrintService(
            self.printer, self.client, lambda: self.queue.centre_name(lang), lang,
            lambda: self.queue.timezone,
            lambda t: self.queue.team_name(t.get("team_id"), t.get("team_name") or "", lang))
        self.speaker = (Speaker(settings.voice_dir, settings.voice_player, settings.voice_speed)
                        if settings.voice else None)
        self.last_speech = ""
        self.live_feed = LiveFeed(self.client, self._on_state_thread, self._on_event_thread,
                                  self._on_link_thread)
        self.history: list[str] = []
        self.touches = 0
        self._catalogue_lock = threading.Lock()
        self.catalogue_loads = 0  # downloads applied (the first and every live update)
        self._cut = NoTransition()

    @staticmethod
    def _make_printer(settings: KioskSettings) -> TicketPrinter | None:
        if not settings.printer:
            return None
        try:
            return TicketPrinter(settings.printer, settings.profile, settings.printer_mode,
                                 name="kiosk-printer")
        except PrinterError as exc:
            log.error("printer disabled: %s", exc)
            return None

    # -- wording for the .kv files -------------------------------------------------------------
    def t(self, key: str, lang: str | None = None, **values) -> str:
        return i18n.tr(key, lang or self.lang, **values)

    def priority_label(self, code: str, lang: str | None = None) -> str:
        return i18n.priority_label(code, lang or self.lang)

    # -- life cycle ----------------------------------------------------------------------------
    def build(self):
        from .screens import load_screens

        Window.clearcolor = BACKGROUND
        Window.bind(on_touch_down=self._on_any_touch)
        sm = ScreenManager(transition=self._cut)
        for screen in load_screens():
            sm.add_widget(screen)
        sm.current = "home"
        self.sm = sm
        self.setup_visit()  # the QR scanner and the visit's state (kiosk/visit_app.py)
        Clock.schedule_interval(self._tick, 0.5)
        return sm

    def on_start(self):
        self.printing.start()
        threading.Thread(target=self._load_catalogue, name="kiosk-catalogue", daemon=True).start()
        self.live_feed.start()

    def on_stop(self):
        self.live_feed.stop()
        self.printing.stop()
        if self.speaker is not None:
            self.speaker.close()

    # -- catalogue -----------------------------------------------------------------------------
    def _load_catalogue(self) -> None:
        cached = self.cache.load()
        if cached and not self.ready:
            self.index.update(cached)
            self._catalogue_loaded(len(cached), from_cache=True)
        while True:
            try:
                procs = self.client.catalogue()
            except ServerError as exc:
                log.warning("catalogue download failed: %s", exc)
                self._set_banner(i18n.tr("catalogue_offline", self.lang) if not self.ready else "")
                time.sleep(3)
                continue
            self.index.update(procs)
            self.cache.save(procs)
            self._catalogue_loaded(len(procs), from_cache=False)
            return

    @mainthread
    def _set_banner(self, text: str) -> None:
        self.banner = text

    @mainthread
    def _catalogue_loaded(self, n: int, from_cache: bool) -> None:
        log.info("catalogue: %d procedures%s", n, " (cache)" if from_cache else "")
        if not from_cache:
            self.catalogue_loads += 1
        self.ready = True
        self.banner = ""
        self.queue_rev += 1

    # -- live queue figures --------------------------------------------------------------------
    def _on_state_thread(self, snap: dict) -> None:
        self._apply_state(snap)

    @mainthread
    def _apply_state(self, snap: dict) -> None:
        self.queue.apply_state(snap)
        self.queue_rev += 1

    def _on_event_thread(self, evt: dict) -> None:
        if evt.get("type") == "config.changed" and evt.get("what") == "procedures":
            # procedures imported or edited in the admin page: fetch the catalogue again
            # (this is the stream's worker thread; the download gets its own)
            threading.Thread(target=self._reload_catalogue, name="kiosk-catalogue-reload",
                             daemon=True).start()
        self._apply_event(evt)

    def _reload_catalogue(self) -> None:
        with self._catalogue_lock:
            for attempt in range(5):
                try:
                    procs = self.client.catalogue()
                except ServerError as exc:
                    log.warning("catalogue reload failed: %s", exc)
                    time.sleep(min(30, 2 ** attempt))
                    continue
                self.index.update(procs)
                self.cache.save(procs)
                self._catalogue_loaded(len(procs), from_cache=False)
                return

    @mainthread
    def _apply_event(self, evt: dict) -> None:
        if self.queue.apply_event(evt):
            self.queue_rev += 1
        opened_or_closed = evt.get("type") in (COUNTER_OPENED, COUNTER_PAUSED, COUNTER_CLOSED)
        if evt.get("waiting") is not None or opened_or_closed:
            # fresh estimates (and which teams have a counter open) from the server
            Clock.unschedule(self._refresh_state)
            Clock.schedule_once(self._refresh_state, 1.0)

    def _refresh_state(self, *_):
        self.live_feed.refresh()  # queued: the snapshot comes back through _on_state_thread

    def _on_link_thread(self, up: bool) -> None:
        self._set_live(up)

    @mainthread
    def _set_live(self, up: bool) -> None:
        self.live = up

    def team_info(self, team_id):
        return self.queue.team(team_id)

    # -- navigation ----------------------------------------------------------------------------
    def show(self, name: str, remember: bool = True, fade: bool = False) -> None:
        sm = self.sm
        # A screen change still animating (the fade to the screensaver) is finished at once
        # first.  The transition object is only ever swapped while idle: swapping it
        # mid-fade left the fade running unowned, and the next change then stacked its
        # screens on top of the fade's.
        if sm.transition.is_active:
            sm.transition.stop()
        if remember and sm.current not in ("message", "saver", name):
            self.history.append(sm.current)
            del self.history[:-10]
        sm.transition = FadeTransition(duration=0.3) if fade else self._cut
        sm.current = name
        self.idle.entered_screen()

    def go_home(self, *_):
        self.history.clear()
        self.field = ""
        self.priority = ""  # a priority is one citizen's: never carried to the next
        self.forget_person()  # so is a scanned CCCD
        self.show("access_home" if self.access else "home", remember=False)

    def go_back(self, *_):
        target = self.history.pop() if self.history else "home"
        if target in ("ticket", "message"):
            target = "home"
        self.show(target, remember=False)

    def open_search(self, *_):
        self.show("search")

    def open_browse(self, field: str = ""):
        self.field = field
        self.show("browse")

    def open_procedure(self, code: str):
        proc = self.index.get(code)
        if proc is None:
            return
        self.procedure = dict(proc)
        self.show("access_detail" if self.access else "detail")

    def toggle_language(self, *_):
        self.lang = "en" if self.lang == "vi" else "vi"

    # -- the accessible mode ------------------------------------------------------------------
    def enter_access(self, *_):
        self.access = True
        self.history.clear()
        self.show("access_home", remember=False)

    def leave_access(self, *_):
        self.access = False
        if self.speaker is not None:
            self.speaker.silence()
        self.go_home()

    def say(self, text: str) -> None:
        """Voice guidance for the step on screen (only in the accessible mode)."""
        if self.access and self.speaker is not None:
            self.last_speech = text
            self.speaker.say(text, self.lang)

    def repeat_voice(self, *_):
        self.say(self.last_speech)

    def choose_priority(self, code: str):
        self.priority = "" if self.priority == code else code

    def popular(self) -> list[dict]:
        out = [self.index.get(code) for code in self.settings.popular]
        return [p for p in out if p]

    def home_fields(self) -> list[tuple[str, int]]:
        counts = dict(self.index.fields())
        if self.settings.fields:
            return [(f, counts.get(f, 0)) for f in self.settings.fields if f in counts]
        return self.index.fields()[: self.settings.field_buttons]

    # -- taking a number -----------------------------------------------------------------------
    def take_number(self, *_):
        proc = self.procedure
        if not proc:
            return
        intent = self.flow.begin(proc.get("code"), self.priority or None)
        self._send(intent)

    def retry(self, *_):
        self._send(self.flow.retry())

    def _send(self, intent) -> None:
        if intent is None:
            return
        self.issuing = True
        threading.Thread(target=self._issue_worker, args=(intent,), daemon=True).start()

    def _issue_worker(self, intent) -> None:
        try:
            ticket = self.client.issue_ticket(intent.procedure_code, intent.priority,
                                              intent.key, intent.team_id,
                                              id_number=self.person_id_number())
        except ServerError as exc:
            self._issue_failed(exc)
        else:
            self._issued(ticket)

    @mainthread
    def _issue_failed(self, exc: ServerError) -> None:
        self.flow.failed(exc)
        self.issuing = False
        log.warning("ticket not issued: %s", exc)
        self.error_code = exc.code
        self.error_detail = exc.message
        self.show("message")

    @mainthread
    def _issued(self, ticket: dict) -> None:
        self.flow.succeeded(ticket)
        self.issuing = False
        self.ticket = ticket
        self.priority = ""
        self.forget_person()
        if self.printing.enabled:
            self.print_state, self.print_message = "printing", ""
            self.printing.submit(ticket, self._printed_thread)
        else:
            self.print_state, self.print_message = "none", ""
        self.show("access_ticket" if self.access else "ticket")

    def reprint(self, *_):
        if self.printing.reprint(self._printed_thread):
            self.print_state, self.print_message = "printing", ""
            self.idle.touched()

    def _printed_thread(self, result: PrintResult) -> None:
        self._printed(result)

    @mainthread
    def _printed(self, result: PrintResult) -> None:
        if result.ticket_id != self.ticket.get("id"):
            return
        if result.ok:
            self.print_state, self.print_message = "printed", ""
        else:
            self.print_state = "failed"
            self.print_message = result.message_vi if self.lang == "vi" else result.message_en
            self.idle.touched()  # keep the number on screen for the photo

    def error_text(self, code: str, detail: str, lang: str | None = None) -> str:
        return i18n.error_text(code, detail, lang or self.lang)

    # -- idle ----------------------------------------------------------------------------------
    def _on_any_touch(self, *_):
        """Every touch, before any widget sees it (bound on the Window).

        A touch on the screensaver wakes the kiosk here, not in the saver screen: while
        the saver fades in, neither screen is in the widget tree (kivy's shader
        transitions draw them into FBOs) and the ScreenManager drops touches, so the
        citizen's touch would be lost.  It is consumed, so it cannot also press
        whatever is under the finger on Home.
        """
        self.touches += 1
        self.idle.touched()
        if self.sm.current == "saver":
            self.wake()
            return True
        return False

    def wake(self, *_):
        self.go_home()

    def _tick(self, _dt):
        self.clock_text = datetime.now(centre_zone(self.queue.timezone)).strftime("%H:%M")
        # the accessible ticket screen keeps the ticket screen's timers
        screen = "ticket" if self.sm.current == "access_ticket" else self.sm.current
        busy = self.flow.state == ISSUING or (screen == "ticket" and self.print_state == "printing")
        if screen == "ticket" and self.print_state == "failed":
            limit = 3 * self.idle.ticket_after_s  # time to take a photo
            due = "home" if self.idle.idle_for() >= limit else None
            self.countdown = max(0, int(limit - self.idle.idle_for()))
        else:
            due = self.idle.due(screen, busy=busy)
            self.countdown = self.idle.remaining(screen)
        if due == "home":
            if screen != "home":
                self._next_citizen()
            self.go_home()
        elif due == "saver":
            self._next_citizen()
            self.show("saver", remember=False, fade=True)
        if screen == "ticket" and self.print_state == "failed" and int(time.monotonic()) % 10 == 0:
            self.printing.check()

    def _next_citizen(self) -> None:
        """Idle: what one citizen chose (priority, language, the accessible mode) is reset."""
        self.flow.reset()
        self.priority = ""
        self.forget_person()
        self.lang = self.settings.language
        if self.access:
            self.access = False
            if self.speaker is not None:
                self.speaker.silence()
