"""Browse: the fields (lĩnh vực), then the procedures of one field."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.screenmanager import Screen

from ..i18n import clip, short_name, tr
from ..widgets import BigButton

Builder.load_file(os.path.join(os.path.dirname(__file__), "browse.kv"))

FIELD_BG = (0.0, 0.42, 0.45, 1)
PROC_BG = (0.05, 0.28, 0.63, 1)


class BrowseScreen(Screen):
    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(field=self.refresh, lang=self.refresh, ready=self.refresh)

    def on_pre_enter(self, *_):
        self.refresh()

    def refresh(self, *_):
        app = App.get_running_app()
        lang = app.lang
        grid = self.ids.grid
        grid.clear_widgets()
        if app.field:
            self.ids.title.text = app.field
            for proc in app.index.by_field(app.field):
                btn = BigButton(text=clip(short_name(proc["name"]), 120), key=proc["code"], bg=PROC_BG,
                                size_hint_y=None, height=dp(96), font_size="21sp")
                btn.bind(on_release=lambda b: app.open_procedure(b.key))
                grid.add_widget(btn)
        else:
            self.ids.title.text = tr("browse_title", lang)
            for name, count in app.index.fields():
                btn = BigButton(text=f"{name}\n[size=18sp]{tr('field_count', lang, n=count)}[/size]",
                                markup=True, key=name, bg=FIELD_BG, size_hint_y=None,
                                height=dp(96), font_size="22sp")
                btn.bind(on_release=lambda b: app.open_browse(b.key))
                grid.add_widget(btn)
        grid.height = (dp(96) + dp(10)) * ((len(grid.children) + 1) // grid.cols)
        self.ids.scroll.scroll_y = 1
