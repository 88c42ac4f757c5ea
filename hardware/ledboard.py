"""LED displays on an RS-485 bus: counter displays and multi-line hall boards.

One `LedBus` drives every board on one serial port. Boards are write-only and
addressed (1..254, 255 = all); frames use the STX/ETX framing of framing.py and are
paced: the bus waits `frame_gap` seconds (default 50 ms) after each frame so that slow
board controllers can redraw before the next one. Commands (see docs/hardware.md):

    0x10 COUNTER_SHOW  DATA = number (4 chars, right-aligned) + counter (2 chars) + blink '0'/'1'
    0x11 COUNTER_CLEAR
    0x20 LINE_SET      DATA = line index (1 byte) + effect ('S' static, 'L' scroll, 'B' blink) + text
    0x21 BOARD_CLEAR
    0x22 BRIGHTNESS    DATA = level 0..15 (1 byte)

Boards show ASCII only: Vietnamese is folded with `common.text.ascii_display` ("Mời số" ->
"Moi so") and cut to the board's width. The bus remembers what every board shows and
repeats it after a reconnection (a board that lost power comes back blank).
"""

from __future__ import annotations

import logging

from common.text import ascii_display

from .framing import BROADCAST, encode_frame
from .supervisor import SupervisedDevice

log = logging.getLogger(__name__)

COUNTER_SHOW, COUNTER_CLEAR = 0x10, 0x11
LINE_SET, BOARD_CLEAR, BRIGHTNESS = 0x20, 0x21, 0x22
EFFECTS = {"static": "S", "scroll": "L", "blink": "B"}


def _check_address(address: int) -> None:
    if not 1 <= address <= BROADCAST:
        raise ValueError("board address must be 1..255")


def counter_frame(address: int, number: str | int, counter: str | int, blink: bool = False) -> bytes:
    """COUNTER_SHOW: a 4-character number and a 2-character counter."""
    _check_address(address)
    num = ascii_display(str(number))[-4:].rjust(4)
    ctr = ascii_display(str(counter))[-2:].rjust(2)
    return encode_frame(address, COUNTER_SHOW, f"{num}{ctr}{'1' if blink else '0'}".encode("ascii"))


def line_frame(address: int, index: int, text: str, columns: int = 32, effect: str = "static") -> bytes:
    """LINE_SET: line `index` (0 = top) of a hall board, folded to ASCII and cut to `columns`."""
    _check_address(address)
    if not 0 <= index <= 15:
        raise ValueError("line index must be 0..15")
    code = EFFECTS.get(effect, effect)
    if code not in EFFECTS.values():
        raise ValueError(f"effect must be one of {sorted(EFFECTS)}")
    body = ascii_display(text, columns if code != "L" else 200).encode("ascii")
    return encode_frame(address, LINE_SET, bytes((index, ord(code))) + body)


class LedBus(SupervisedDevice):
    """Every LED board on one RS-485 port."""

    def __init__(self, url: str, *, name: str = "ledbus", frame_gap: float = 0.05, **kwargs):
        self._shown: dict[tuple, bytes] = {}  # what each board should show, in send order
        super().__init__(name, url, frame_gap=frame_gap, **kwargs)

    # ------------------------------------------------------------------ state
    def _put(self, key: tuple, frame: bytes | None, extra: bytes | None = None) -> None:
        with self._lock:
            if frame is None:
                for k in [k for k in self._shown if k[:2] == key[:2]]:
                    del self._shown[k]
            else:
                self._shown.pop(key, None)
                self._shown[key] = frame
        self.send(extra if extra is not None else frame)

    def on_open(self) -> None:
        """A (re)connected bus: repeat everything the boards should show."""
        with self._lock:
            frames = list(self._shown.values())
        self.replace_outbox(frames)

    # ------------------------------------------------------------------ counter displays
    def show_counter(self, address: int, number: str | int, counter: str | int, blink: bool = False) -> None:
        """Show `number` for counter `counter` on the counter display at `address`."""
        self._put((address, "counter"), counter_frame(address, number, counter, blink))

    def clear_counter(self, address: int) -> None:
        _check_address(address)
        self._put((address, "counter"), None, encode_frame(address, COUNTER_CLEAR))

    # ------------------------------------------------------------------ hall boards
    def set_line(self, address: int, index: int, text: str, columns: int = 32, effect: str = "static") -> None:
        self._put((address, "line", index), line_frame(address, index, text, columns, effect))

    def show_lines(self, address: int, lines: list[str], columns: int = 32, effect: str = "static") -> None:
        """Replace a hall board's content: one frame per line, top to bottom."""
        self.clear_board(address)
        for i, text in enumerate(lines):
            self.set_line(address, i, text, columns, effect)

    def clear_board(self, address: int) -> None:
        _check_address(address)
        self._put((address, "line"), None, encode_frame(address, BOARD_CLEAR))

    def brightness(self, address: int, level: int) -> None:
        _check_address(address)
        level = max(0, min(15, int(level)))
        frame = encode_frame(address, BRIGHTNESS, bytes((level,)))
        self._put((address, "brightness"), frame)

    def on_data(self, data: bytes) -> None:
        log.debug("%s: ignoring %d bytes from write-only boards", self.name, len(data))
