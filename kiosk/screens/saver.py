"""Screensaver when idle: the centre's name, the time, its notice and the queues now."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from ..i18n import tr

Builder.load_file(os.path.join(os.path.dirname(__file__), "saver.kv"))


class SaverScreen(Screen):
    def on_kv_post(self, base_widget):
        App.get_running_app().bind(queue_rev=self.refresh)

    def on_pre_enter(self, *_):
        self.refresh()

    def refresh(self, *_):
        app = App.get_running_app()
        q = app.queue
        self.ids.centre.text = q.centre or tr("app_title", "vi")
        self.ids.notice.text = q.notice
        self.ids.queues.text = "\n".join(
            tr("saver_waiting", "vi", team=t.name, n=t.waiting) for t in q.teams.values())

    def on_touch_down(self, touch):
        App.get_running_app().wake()
        return True
