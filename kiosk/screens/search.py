"""Search: a large on-screen keyboard and results that update on every key."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from .. import access as mode
from ..access import search_speech
from ..i18n import clip, short_name, tr
from ..keys import BACKSPACE, CLEAR, ROWS, SPACE, KeyBuffer
from ..widgets import GREY, BigButton
from . import visible

Builder.load_file(os.path.join(os.path.dirname(__file__), "search.kv"))

RESULTS = 20
COUNT_MAX = 500  # matches counted for "N kết quả" ("hơn 500" beyond)
RESULT_H = 64  # compact rows: 3.5 results above the keyboard at 1280x800, 7 without it
RESULT_GAP = 6
ACCESS_RESULT_H = 84
KEY_BG = (0.20, 0.24, 0.30, 1)
RESULT_BG = (0.05, 0.28, 0.63, 1)
BOTTOM_KEYS = (" telex", SPACE, BACKSPACE, CLEAR)  # the keyboard's last row (smaller text)


class SearchScreen(Screen):
    keys_shown = BooleanProperty(True)

    def on_kv_post(self, base_widget):
        self.buffer = KeyBuffer()
        self.keys: dict[str, BigButton] = {}
        self.result_buttons: list[BigButton] = []
        app = App.get_running_app()
        for _ in range(RESULTS):
            btn = BigButton(bg=RESULT_BG, size_hint_y=None, height=dp(RESULT_H), font_size="21sp",
                            halign="left")
            btn.bind(on_release=lambda b: app.open_procedure(b.key))
            self.ids.results.add_widget(btn)
            self.result_buttons.append(btn)
        self._build_keyboard()
        app.bind(lang=self._relabel, ready=lambda *_: self.update(), access=self._paint)
        self._relabel()
        self._paint()
        self.update()

    def _build_keyboard(self):
        kb = self.ids.keyboard
        for row in ROWS:
            line = BoxLayout(spacing=dp(6))
            for key in row:
                btn = BigButton(text=key.upper() if key.isalpha() else key, key=key, bg=KEY_BG,
                                font_size="28sp")
                btn.bind(on_release=lambda b: self.press(b.key))
                line.add_widget(btn)
                self.keys[key] = btn
            kb.add_widget(line)
        line = BoxLayout(spacing=dp(6))
        for key, weight in zip(BOTTOM_KEYS, (2.2, 4, 1.6, 1.6), strict=True):
            btn = BigButton(key=key, bg=GREY if key == " telex" else KEY_BG, font_size="22sp",
                            size_hint_x=weight)
            btn.bind(on_release=lambda b: self.press(b.key))
            line.add_widget(btn)
            self.keys[key] = btn
        kb.add_widget(line)

    def _paint(self, *_):
        """The keys' colours and sizes: the accessible mode's light on black (every pair at
        least access.MIN_CONTRAST, text at least access.MIN_TEXT_SP) while it is on, the
        normal ones when it ends; then the results (update)."""
        on = App.get_running_app().access
        for key, btn in self.keys.items():
            if key == " telex":
                btn.bg = mode.PURPLE if on else GREY
            else:
                btn.bg = mode.KEY if on else KEY_BG
            if key in BOTTOM_KEYS:
                btn.font_size = f"{mode.MIN_TEXT_SP}sp" if on else "22sp"
        self.update()

    def _relabel(self, *_):
        lang = App.get_running_app().lang
        self.keys[SPACE].text = tr("key_space", lang)
        # "‹" (in the kiosk's font; "←" showed a missing-glyph box)
        self.keys[BACKSPACE].text = "‹ " + tr("key_back", lang)
        self.keys[CLEAR].text = tr("key_clear", lang)
        self.keys[" telex"].text = tr("telex_on" if self.buffer.telex else "telex_off", lang)
        self.update()

    def on_pre_enter(self, *_):
        self.buffer.press(CLEAR)
        self.keys_shown = True
        self.update()

    def on_enter(self, *_):
        app = App.get_running_app()
        app.say(search_speech(app.lang))

    def show_keyboard(self, shown: bool) -> None:
        self.keys_shown = shown

    def visible_results(self) -> int:
        """How many results are wholly in view (not under the keyboard, not scrolled off)."""
        view = self.ids.scroll
        _, bottom = view.to_window(view.x, view.y)
        top = bottom + view.height
        n = 0
        for btn in self.result_buttons:
            if btn.opacity and btn.key:
                _, y = btn.to_window(btn.x, btn.y)
                n += bottom - 1 <= y and y + btn.height <= top + 1
        return n

    def press(self, key: str) -> None:
        if key == " telex":
            self.buffer.toggle_telex()
            self._relabel()
            return
        self.buffer.press(key)
        self.update()

    def update(self) -> None:
        """Search the local index and refill the pooled result buttons (same frame)."""
        app = App.get_running_app()
        text = self.buffer.text
        lang = app.lang
        self.ids.query.text = text + "|" if text else tr("search_hint", lang)
        if app.access:  # light on the black box: the query white, the hint yellow
            self.ids.query.color = mode.WHITE if text else mode.YELLOW
        else:
            self.ids.query.color = (0.10, 0.14, 0.20, 1) if text else (0.45, 0.48, 0.52, 1)
        # the real number of matches (up to COUNT_MAX), the best RESULTS of them shown
        hits = app.index.search(text, limit=COUNT_MAX) if text.strip() else []
        total, hits = len(hits), hits[:RESULTS]
        # the accessible mode: larger text in taller rows
        row_h, font = ((ACCESS_RESULT_H, f"{mode.MIN_TEXT_SP}sp") if app.access
                       else (RESULT_H, "21sp"))
        bg = mode.NAVY if app.access else RESULT_BG
        for i, btn in enumerate(self.result_buttons):
            btn.font_size = font
            btn.bg = bg
            if i < len(hits):
                proc = hits[i].procedure
                btn.text = clip(short_name(proc["name"]), 130)
                btn.key = proc["code"]
                visible(btn, True, dp(row_h))
            else:
                btn.key = ""
                visible(btn, False, dp(row_h))
        if text.strip() and not hits:
            self.ids.count.text = tr("search_none", lang)
        elif hits:
            self.ids.count.text = tr("search_count" if total < COUNT_MAX else "search_count_many",
                                     lang, n=total)
        else:
            self.ids.count.text = ""
        self.ids.scroll.scroll_y = 1
        self.ids.results.height = sum(b.height + dp(RESULT_GAP) for b in self.result_buttons)
