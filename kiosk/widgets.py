"""Shared kiosk widgets (big flat buttons, wrapping labels, the header bar) and colours."""

from __future__ import annotations

import os

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label

BLUE = (0.05, 0.28, 0.63, 1)
DARK = (0.10, 0.14, 0.20, 1)
GREEN = (0.0, 0.50, 0.25, 1)
ORANGE = (0.85, 0.40, 0.0, 1)
RED = (0.75, 0.10, 0.10, 1)
GREY = (0.38, 0.42, 0.48, 1)
LIGHT = (0.93, 0.95, 0.98, 1)
BACKGROUND = (0.97, 0.98, 0.99, 1)


class BigButton(Button):
    """A flat, high-contrast button whose label wraps inside it."""

    bg = ListProperty(list(BLUE))
    key = StringProperty("")  # what the button stands for (procedure code, field, key)


class FitButton(BigButton):
    """A tile whose `full_text` is shown whole when it fits, else cut at a word with "…" so
    that every line drawn fits the tile (Kivy silently drops lines beyond the label's
    height: a long procedure name lost its last line)."""

    full_text = StringProperty("")

    def on_full_text(self, *_):
        self.fit()

    def on_size(self, *_):
        self.fit()

    def room(self) -> tuple[float, float]:
        """The width and height the text may use (the label's text_size)."""
        return self.width - dp(24), self.height - dp(8)

    def text_height(self, text: str | None = None) -> float:
        """The height `text` (default: what is shown) takes wrapped to the tile's width."""
        from kivy.core.text import Label as CoreLabel

        label = CoreLabel(text=self.text if text is None else text, font_size=self.font_size,
                          bold=self.bold, text_size=(self.room()[0], None), halign="center")
        label.refresh()
        return label.texture.height

    def fit(self) -> None:
        if not self.full_text:  # a plain button: its `text` is set directly
            return
        width, height = self.room()
        if width <= 1 or height <= 1 or self.text_height(self.full_text) <= height:
            self.text = self.full_text
            return
        words = " ".join(self.full_text.split()).split(" ")

        def cut(n: int) -> str:
            return " ".join(words[:n]).rstrip(",;:–-") + "…"

        lo, hi = 1, len(words) - 1  # the most words that fit with an ellipsis
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.text_height(cut(mid)) <= height:
                lo = mid
            else:
                hi = mid - 1
        self.text = cut(lo)


class ToggleChip(Button):
    """A priority choice: outlined when off, filled when on."""

    active = BooleanProperty(False)
    key = StringProperty("")


class WrapLabel(Label):
    """A label that wraps to its width and grows to fit its text."""


class Header(BoxLayout):
    title = StringProperty("")


Builder.load_file(os.path.join(os.path.dirname(__file__), "widgets.kv"))


def key_rows(container, rows, press, *, bg, font_size: str) -> dict[str, BigButton]:
    """An on-screen keyboard: one row of `BigButton`s per string of `rows`, added to
    `container`; each key calls `press(key)`. Returns the keys by character (upper and
    lower case), for the screen's own editing keys and the test driver."""
    keys: dict[str, BigButton] = {}
    for row in rows:
        line = BoxLayout(spacing=dp(6))
        for key in row:
            btn = BigButton(text=key, key=key, bg=bg, font_size=font_size)
            btn.bind(on_release=lambda b: press(b.key))
            line.add_widget(btn)
            keys[key] = keys[key.lower()] = btn
        container.add_widget(line)
    return keys
