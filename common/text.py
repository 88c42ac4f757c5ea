"""Vietnamese text helpers shared by every layer: NFC normalisation and diacritic folding.

`fold("Đăng ký khai sinh") == "dang ky khai sinh"`: used for diacritic-insensitive search
(server and kiosk) and for devices that can only show ASCII (LED boards).
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def nfc(text: str) -> str:
    """Normalise to NFC (precomposed letters), which printers and fonts expect."""
    return unicodedata.normalize("NFC", text or "")


def strip_marks(text: str) -> str:
    """Remove every diacritic, keeping case: "Đăng Ký" -> "Dang Ky"."""
    decomposed = unicodedata.normalize("NFD", (text or "").translate(_SPECIAL))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def fold(text: str) -> str:
    """Lower-case, diacritic-free, punctuation-free, single-spaced form for matching."""
    plain = strip_marks(text).lower()
    return _SPACES.sub(" ", _NON_WORD.sub(" ", plain)).strip()


def tokens(text: str) -> list[str]:
    """The folded words of `text`."""
    folded = fold(text)
    return folded.split(" ") if folded else []


_ASCII_PUNCT = str.maketrans({"–": "-", "—": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "…": "...", "\u00a0": " "})


def ascii_display(text: str, width: int | None = None, upper: bool = False) -> str:
    """What an ASCII-only LED board can show: marks stripped, punctuation simplified,
    anything else non-printable as '?', single-spaced, cut to `width` characters.
    "Mời số 1023 – quầy 5" -> "Moi so 1023 - quay 5"."""
    plain = strip_marks(nfc(text).translate(_ASCII_PUNCT))
    plain = "".join(ch if " " <= ch <= "~" else ("?" if not ch.isspace() else " ") for ch in plain)
    plain = _SPACES.sub(" ", plain).strip()
    if upper:
        plain = plain.upper()
    return plain[:width].rstrip() if width is not None else plain
