"""Home: big buttons for the most-used procedures and fields, search, language, priority."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.screenmanager import Screen

from ..i18n import clip, short_name, tr
from ..widgets import BLUE, GREY, BigButton, FitButton, ToggleChip

Builder.load_file(os.path.join(os.path.dirname(__file__), "home.kv"))

FIELD_BG = (0.0, 0.42, 0.45, 1)


class HomeScreen(Screen):
    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(ready=self.refresh, lang=self.refresh, priority=self.refresh_priority)
        self.ids.popular_grid.bind(cols=self.size_popular)

    def on_pre_enter(self, *_):
        self.refresh()

    def refresh(self, *_):
        app = App.get_running_app()
        lang = app.lang
        grid = self.ids.popular_grid
        grid.clear_widgets()
        for proc in app.popular():
            # the whole name when it fits the tile, else cut at a word with "…"
            btn = FitButton(full_text=clip(short_name(proc["name"]), 120), key=proc["code"],
                            font_size="24sp")
            btn.bind(on_release=lambda b: app.open_procedure(b.key))
            grid.add_widget(btn)
        fields = self.ids.field_grid
        fields.clear_widgets()
        for name, _count in app.home_fields():
            btn = FitButton(full_text=name, key=name, bg=FIELD_BG, font_size="22sp")
            btn.bind(on_release=lambda b: app.open_browse(b.key))
            fields.add_widget(btn)
        more = BigButton(text=tr("all_fields", lang), bg=GREY, font_size="22sp")
        more.bind(on_release=lambda b: app.open_browse(""))
        fields.add_widget(more)
        row = self.ids.priority_row
        row.clear_widgets()
        for code in app.settings.priorities:
            chip = ToggleChip(text=app.priority_label(code, lang), key=code,
                              active=app.priority == code)
            chip.bind(on_release=lambda c: app.choose_priority(c.key))
            row.add_widget(chip)
        self.size_popular()

    def size_popular(self, *_):
        """Room for every row of tiles: 2 columns in portrait, 3 in landscape (the height
        used to assume 3, so a portrait kiosk squeezed its third row)."""
        grid = self.ids.popular_grid
        rows = max(1, -(-len(grid.children) // max(1, grid.cols)))
        grid.height = dp(108) * rows + grid.spacing[1] * (rows - 1)

    def refresh_priority(self, *_):
        app = App.get_running_app()
        for chip in self.ids.priority_row.children:
            chip.active = chip.key == app.priority


__all__ = ["HomeScreen", "BLUE"]
