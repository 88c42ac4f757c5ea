"""Dossier lookup: scan the receipt's QR (handled by the App) or type the dossier code and the
lookup key; the status in Vietnamese; when the result is ready, "Lấy số trả kết quả"."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from ..i18n import tr
from ..visit import BACKSPACE, CLEAR, DOSSIER_ROWS, DossierForm, FormError, dossier_lines
from ..widgets import BigButton, key_rows
from . import visible

Builder.load_file(os.path.join(os.path.dirname(__file__), "lookup.kv"))

KEY_BG = (0.20, 0.24, 0.30, 1)
ACTIVE = (1, 1, 1, 1)
INACTIVE = (0.90, 0.92, 0.95, 1)


class LookupScreen(Screen):
    def on_kv_post(self, base_widget):
        self.form = DossierForm()
        app = App.get_running_app()
        kb = self.ids.keyboard
        self.keys = key_rows(kb, DOSSIER_ROWS, self.press, bg=KEY_BG, font_size="26sp")
        line = BoxLayout(spacing=dp(6))
        for key, weight in ((BACKSPACE, 1), (CLEAR, 1)):
            btn = BigButton(key=key, bg=KEY_BG, font_size="22sp", size_hint_x=weight)
            btn.bind(on_release=lambda b: self.press(b.key))
            line.add_widget(btn)
            self.keys[key] = btn
        kb.add_widget(line)
        app.bind(lang=self.refresh, lookup_busy=self.refresh, lookup_message=self.refresh,
                 lookup_result=self.refresh, lookup_request=self.fill)
        self.refresh()

    def on_pre_enter(self, *_):
        app = App.get_running_app()
        if not app.lookup_request.get("code"):
            self.form.clear()
        self.refresh()

    def fill(self, *_):
        """A scanned receipt: its code (and key, when the QR has it) into the form."""
        req = App.get_running_app().lookup_request
        if req.get("code"):
            self.form.fill(req["code"], req.get("key"))
        else:
            self.form.clear()
        self.refresh()

    def choose(self, field: str) -> None:
        self.form.field = field
        self.refresh()

    def press(self, key: str) -> None:
        self.form.press(key)
        app = App.get_running_app()
        app.lookup_message = ""
        if app.lookup_result:
            app.lookup_result = {}
        self.refresh()

    def submit(self) -> None:
        app = App.get_running_app()
        try:
            code, key = self.form.check(app.today())
        except FormError as err:
            app.lookup_message = tr(err.key, app.lang)
            if err.key == "lookup_bad_key":
                self.choose("key")
            return
        app.lookup(code, key)

    def refresh(self, *_):
        app = App.get_running_app()
        lang, ids, form = app.lang, self.ids, self.form
        for box, value, hint, name in ((ids.code_box, form.code_text, "lookup_code_hint", "code"),
                                       (ids.key_box, form.key_text, "lookup_key_hint", "key")):
            active = form.field == name
            box.text = (value + ("|" if active else "")) if value or active else tr(hint, lang)
            box.bg = ACTIVE if active else INACTIVE
        ids.message.text = app.lookup_message
        result = app.lookup_result
        ids.status.text = "\n".join(dossier_lines(result, lang)) if result else tr("lookup_help",
                                                                                    lang)
        ids.status.bold = bool(result)
        ready = bool(result.get("can_take_number"))
        ids.ready_note.text = tr("lookup_ready_note", lang) if ready else ""
        visible(ids.take, ready, dp(96))
        ids.take.text = tr("lookup_busy" if app.lookup_busy and ready else "lookup_take", lang)
        ids.go.text = tr("lookup_busy" if app.lookup_busy else "lookup_go", lang)
        self.keys[BACKSPACE].text = "‹ " + tr("key_back", lang)
        self.keys[CLEAR].text = tr("key_clear", lang)
