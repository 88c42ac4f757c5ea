"""Shared kiosk widgets (big flat buttons, wrapping labels, the header bar) and colours."""

from __future__ import annotations

import os

from kivy.lang import Builder
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


class ToggleChip(Button):
    """A priority choice: outlined when off, filled when on."""

    active = BooleanProperty(False)
    key = StringProperty("")


class WrapLabel(Label):
    """A label that wraps to its width and grows to fit its text."""


class Header(BoxLayout):
    title = StringProperty("")


Builder.load_file(os.path.join(os.path.dirname(__file__), "widgets.kv"))
