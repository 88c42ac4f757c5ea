"""The on-screen keyboard's logic (no Kivy): key rows and the typed text.

Plain letters always work (search ignores diacritics); with Telex on, the box shows
"ddawng kys" as "đăng ký". The raw keys are kept so backspace removes the last key press.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.search.telex import telex_to_vietnamese

ROWS = (
    tuple("1234567890"),
    tuple("qwertyuiop"),
    tuple("asdfghjkl") + ("đ",),
    tuple("zxcvbnm") + ("-", "."),
)
SPACE, BACKSPACE, CLEAR = "space", "backspace", "clear"
MAX_KEYS = 80


@dataclass
class KeyBuffer:
    raw: str = ""
    telex: bool = True

    @property
    def text(self) -> str:
        return telex_to_vietnamese(self.raw) if self.telex else self.raw

    def press(self, key: str) -> str:
        if key == SPACE:
            if self.raw and not self.raw.endswith(" "):
                self.raw += " "
        elif key == BACKSPACE:
            self.raw = self.raw[:-1]
        elif key == CLEAR:
            self.raw = ""
        elif len(self.raw) < MAX_KEYS:
            self.raw += key
        return self.text

    def type(self, text: str) -> str:
        for ch in text:
            self.press(SPACE if ch == " " else ch)
        return self.text

    def toggle_telex(self) -> bool:
        self.telex = not self.telex
        return self.telex
