"""The accessible mode's screens: large text, light on black, every control in the lower
half of the screen, each step read aloud (kiosk/access.py has the rules and the words).

Home lists the most used procedures four at a time (and opens the normal search, whose
keyboard is in the lower half too); the detail and ticket screens reuse the normal
screens' logic (`DetailView`, `TicketView`) with layouts of their own.
"""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

from .. import access
from ..i18n import clip, short_name, tr
from ..widgets import FitButton
from . import visible
from .detail import DetailView
from .ticket import TicketView

Builder.load_file(os.path.join(os.path.dirname(__file__), "access.kv"))


class AccessButton(FitButton):
    """A large light-on-dark button; a procedure's name is fitted to it (`full_text`)."""


class AccessChip(Button):
    active = BooleanProperty(False)
    key = StringProperty("")


class AccessHomeScreen(Screen):
    page_no = NumericProperty(0)

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(ready=self.refresh, lang=self.refresh, priority=self.refresh)

    def procedures(self) -> list[dict]:
        return App.get_running_app().popular()

    def on_pre_enter(self, *_):
        self.page_no = 0
        self.refresh()

    def on_enter(self, *_):
        self.speak()

    def turn(self, step: int) -> None:
        pages = access.pages(self.procedures())
        self.page_no = max(0, min(len(pages) - 1, self.page_no + step))
        self.refresh()
        self.speak()

    def speak(self) -> None:
        app = App.get_running_app()
        pages = access.pages(self.procedures())
        names = [p["name"] for p in pages[self.page_no]]
        app.say(access.home_speech(names, self.page_no < len(pages) - 1, app.lang))

    def refresh(self, *_):
        app = App.get_running_app()
        lang = app.lang
        pages = access.pages(self.procedures())
        self.page_no = min(self.page_no, len(pages) - 1)
        grid = self.ids.grid
        grid.clear_widgets()
        for proc in pages[self.page_no]:
            btn = AccessButton(full_text=clip(short_name(proc["name"]), 120), key=proc["code"],
                               bg=access.NAVY)
            btn.bind(on_release=lambda b: app.open_procedure(b.key))
            grid.add_widget(btn)
        self.ids.page.text = tr("access_page", lang, page=self.page_no + 1, pages=len(pages))
        visible(self.ids.prev, self.page_no > 0)
        visible(self.ids.next, self.page_no < len(pages) - 1)
        self.ids.chosen.text = (tr("priority_chosen", lang, label=app.priority_label(app.priority))
                                if app.priority else "")


class AccessDetailScreen(DetailView):
    def on_kv_post(self, base_widget):
        super().on_kv_post(base_widget)
        App.get_running_app().bind(priority=self.refresh_chips, lang=self.build_chips)
        self.build_chips()

    def build_chips(self, *_):
        app = App.get_running_app()
        row = self.ids.priority_row
        row.clear_widgets()
        for code in app.settings.priorities:
            chip = AccessChip(text=app.priority_label(code, app.lang), key=code,
                              active=app.priority == code)
            chip.bind(on_release=lambda c: app.choose_priority(c.key))
            row.add_widget(chip)

    def refresh_chips(self, *_):
        app = App.get_running_app()
        for chip in self.ids.priority_row.children:
            chip.active = chip.key == app.priority

    def on_enter(self, *_):
        app = App.get_running_app()
        proc = app.procedure
        team = app.team_info(proc.get("team_id"))
        app.say(access.detail_speech(
            proc.get("name", ""), team.waiting if team else None,
            team.estimated_wait_s if team else None, bool(team and team.no_counter_open),
            app.lang))


class AccessTicketScreen(TicketView):
    def on_enter(self, *_):
        app = App.get_running_app()
        app.say(access.ticket_speech(dict(app.ticket), app.print_state in ("printing", "printed"),
                                     app.lang))

    def refresh_print(self, *_):
        super().refresh_print()
        # the normal screen's blue and green are too dark on black: light colours here
        failed = App.get_running_app().print_state == "failed"
        self.ids.print_status.color = access.YELLOW if failed else access.WHITE
