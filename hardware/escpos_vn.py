"""Vietnamese text for ESC/POS printers: the CP1258 code table and Pillow raster rendering.

Two ways to get Vietnamese onto thermal paper (chosen per printer, see `TicketPrinter`):

* ``cp1258`` — the printer's own fonts. Windows-1258 has the base letters with
  circumflex/breve/horn (â ê ô ă ơ ư đ) precomposed but *not* the five tones; a tone
  is a separate combining byte that follows its letter (0xCC grave, 0xEC acute, 0xDE
  tilde, 0xD2 hook above, 0xF2 dot below). Python's ``cp1258`` codec refuses NFC
  toned letters such as "ế", so `encode_cp1258` splits each one into base letter +
  tone mark itself. The printer must first be told to use its CP1258 table with
  ``ESC t n``; *n* differs by vendor (52 Epson, 94 or 27 on many Chinese clones).
* ``raster`` — the text is drawn with a TrueType font covering Vietnamese into a
  1-bit image and sent as a ``GS v 0`` raster image. Works on every printer that
  can print images, at the cost of many more bytes.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from common.text import nfc

log = logging.getLogger(__name__)

#: ESC t n numbers of the Windows-1258 table on common printers.
CP1258_TABLES = {"epson": 52, "xprinter": 94, "zjiang": 94, "gprinter": 27, "rongta": 35}
DEFAULT_CP1258_TABLE = 52

#: The five Vietnamese tone marks, as combining characters.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")

# --------------------------------------------------------------------------- CP1258


def _split_tone(ch: str) -> tuple[str, str]:
    """Split one NFC character into (base letter precomposed, tone mark or '')."""
    decomposed = unicodedata.normalize("NFD", ch)
    tones = "".join(c for c in decomposed if c in TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    return base, tones


def encode_cp1258(text: str, errors_char: bytes = b"?") -> bytes:
    """Encode `text` for a printer using its Windows-1258 table.

    The text is NFC-normalised; every character Python's codec cannot encode is split into
    its base letter (precomposed, e.g. "ê") followed by the tone as a combining mark.
    Characters with no CP1258 form at all become `errors_char`.
    """
    out = bytearray()
    for ch in nfc(text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, tones = _split_tone(ch)
        try:
            out += base.encode("cp1258") + tones.encode("cp1258")
        except UnicodeEncodeError:
            out += errors_char
    return bytes(out)


def decode_cp1258(data: bytes) -> str:
    """Inverse of `encode_cp1258`: decode and recompose to NFC (used by tests and the emulator)."""
    return unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))


def cp1258_table(value: int | str | None) -> int:
    """The ESC t number for a configured value: an int, a digit string or a vendor name."""
    if value is None or value == "":
        return DEFAULT_CP1258_TABLE
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    try:
        return CP1258_TABLES[str(value).lower()]
    except KeyError:
        raise ValueError(f"unknown CP1258 table {value!r}; use a number 0-255") from None


def wrap_columns(text: str, columns: int) -> list[str]:
    """Word-wrap to a fixed number of printer columns (one NFC character = one column)."""
    lines: list[str] = []
    for para in nfc(text).split("\n"):
        line = ""
        for word in para.split():
            while len(word) > columns:  # a word longer than the line: hard split
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:columns])
                word = word[columns:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= columns:
                line += " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- raster

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/TTF",
)
FONT_FILES = {
    False: ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf"),
    True: ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf"),
}


def find_font_file(bold: bool = False, extra_dirs: Iterable[str] = ()) -> str | None:
    """Path of the first installed TrueType font that covers Vietnamese, or None."""
    env = os.environ.get("QMS_TICKET_FONT_BOLD" if bold else "QMS_TICKET_FONT")
    if env and os.path.exists(env):
        return env
    for folder in (*extra_dirs, *FONT_DIRS):
        for name in FONT_FILES[bold]:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                return path
    return None


@lru_cache(maxsize=64)
def load_font(size: int, bold: bool = False, path: str | None = None) -> ImageFont.ImageFont:
    """A font of `size` pixels; falls back to Pillow's bundled font when none is installed."""
    path = path or find_font_file(bold)
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError as exc:
            log.warning("cannot load font %s: %s", path, exc)
    log.warning("no TrueType font with Vietnamese found; using Pillow's bundled font")
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def text_width(font: ImageFont.ImageFont, text: str) -> float:
    return font.getlength(text) if hasattr(font, "getlength") else font.getbbox(text)[2]


def wrap_pixels(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """Word-wrap `text` so that each line is at most `width` pixels wide in `font`."""
    lines: list[str] = []
    for para in nfc(text).split("\n"):
        line = ""
        for word in para.split():
            candidate = f"{line} {word}" if line else word
            if text_width(font, candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while text_width(font, line) > width and len(line) > 1:  # overlong word
                cut = len(line)
                while cut > 1 and text_width(font, line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def fit_font_size(text: str, width: int, max_size: int, bold: bool = True) -> int:
    """The largest font size (<= max_size) at which `text` fits on one line of `width`."""
    size = max_size
    while size > 8 and text_width(load_font(size, bold), text) > width:
        size -= 2
    return size


def render_lines(
    lines: list[tuple[str, int, bool, str]], width: int, line_gap: int = 4, margin: int = 6
) -> Image.Image:
    """Draw lines of (text, size_px, bold, align) into a white 1-bit image `width` wide.

    Each line is wrapped to the width. Align is 'left', 'center' or 'right'.
    """
    rows: list[tuple[str, ImageFont.ImageFont, str, int, int]] = []
    height = 0
    for text, size, bold, align in lines:
        font = load_font(size, bold)
        ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, 0)
        line_h = ascent + descent
        for part in wrap_pixels(text, font, width - 2 * margin) if text else [""]:
            rows.append((part, font, align, height, line_h))
            height += line_h + line_gap
    img = Image.new("1", (width, max(height, 1)), 1)
    draw = ImageDraw.Draw(img)
    for part, font, align, top, _line_h in rows:
        w = text_width(font, part)
        if align == "left":
            x = margin
        elif align == "right":
            x = width - margin - w
        else:
            x = (width - w) / 2
        draw.text((max(0, int(x)), top), part, font=font, fill=0)
    return img


def ink_ratio(img: Image.Image) -> float:
    """Share of black pixels in an image (0.0 blank .. 1.0 solid)."""
    bw = img.convert("1")
    hist = bw.histogram()
    return hist[0] / max(1, bw.width * bw.height)
