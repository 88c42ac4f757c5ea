"""Check-in for a booking: type the code on the kiosk's keyboard, or scan the booking's QR
or the CCCD card (the scan itself is handled by the App, wherever the citizen is)."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from ..i18n import tr
from ..visit import BACKSPACE, BOOKING_ROWS, CLEAR, CodeEntry
from ..widgets import BigButton, key_rows

Builder.load_file(os.path.join(os.path.dirname(__file__), "checkin.kv"))

KEY_BG = (0.20, 0.24, 0.30, 1)


class CheckinScreen(Screen):
    def on_kv_post(self, base_widget):
        self.entry = CodeEntry()
        app = App.get_running_app()
        kb = self.ids.keyboard
        self.keys = key_rows(kb, BOOKING_ROWS, self.press, bg=KEY_BG, font_size="30sp")
        line = self.ids.keyboard.children[0]  # the short last row gets the editing keys
        for key in (BACKSPACE, CLEAR):
            btn = BigButton(key=key, bg=KEY_BG, font_size="22sp", size_hint_x=2)
            btn.bind(on_release=lambda b: self.press(b.key))
            line.add_widget(btn)
            self.keys[key] = btn
        app.bind(lang=self.refresh, checkin_busy=self.refresh, checkin_message=self.refresh)
        self.refresh()

    def on_pre_enter(self, *_):
        self.entry.press(CLEAR)
        self.refresh()

    def press(self, key: str) -> None:
        self.entry.press(key)
        App.get_running_app().checkin_message = ""
        self.refresh()

    def submit(self) -> None:
        app = App.get_running_app()
        code = self.entry.code
        if code is None:
            app.checkin_message = tr("checkin_need_code", app.lang)
            return
        app.checkin(code=code)

    def refresh(self, *_):
        app = App.get_running_app()
        lang, ids = app.lang, self.ids
        shown = self.entry.shown
        ids.code.text = shown or tr("checkin_code_hint", lang)
        ids.code.color = (0.10, 0.14, 0.20, 1) if shown else (0.45, 0.48, 0.52, 1)
        ids.message.text = app.checkin_message
        ids.go.text = tr("checkin_busy" if app.checkin_busy else "checkin_go", lang)
        self.keys[BACKSPACE].text = "‹ " + tr("key_back", lang)
        self.keys[CLEAR].text = tr("key_clear", lang)
