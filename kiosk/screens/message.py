"""Why no number was issued (server down, outside hours, team closed ...), with a way on."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.screenmanager import Screen

from ..access import message_speech
from ..i18n import tr
from . import visible

Builder.load_file(os.path.join(os.path.dirname(__file__), "message.kv"))

RETRYABLE = {"server_unreachable", "server_error"}


class MessageScreen(Screen):
    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(error_code=self.refresh, error_detail=self.refresh, lang=self.refresh,
                 issuing=self.refresh)

    def on_pre_enter(self, *_):
        self.refresh()

    def on_enter(self, *_):
        app = App.get_running_app()
        app.say(message_speech(app.error_text(app.error_code, app.error_detail), app.lang))

    def refresh(self, *_):
        app = App.get_running_app()
        lang, code = app.lang, app.error_code
        ids = self.ids
        ids.message.text = app.error_text(code, app.error_detail)
        ids.detail.text = "" if code in RETRYABLE else app.error_detail
        retry = code in RETRYABLE
        visible(ids.retry, retry, dp(120))
        ids.retry.text = tr("issuing", lang) if app.issuing else tr("retry", lang)
        ids.back.text = tr("back", lang)
