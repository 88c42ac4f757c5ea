"""Counter-call keypads on a serial line or RS-485 wireless receiver.

Each keypad has an address (1..254) that configuration maps to a counter (in counter/).
Two wire protocols, chosen per port (both 9600 8N1 by default; see docs/hardware.md):

* ``line``  — ASCII lines ``#<addr> <KEY>[ <digits>]`` + LF, e.g. ``#5 NEXT``,
  ``#5 TRANSFER 3``, ``#12 DIGITS 1023``. Keys are case-insensitive.
* ``frame`` — binary STX/ETX frames (see framing.py) with CMD = key code below and
  DATA = ASCII digits, as sent by wireless keypad receivers.

Host to keypad (both protocols): ``show(address, text)`` puts a short text on the
keypad's own display (line ``#5 SHOW 1023``; frame CMD 0x40).

Decoded presses reach `on_key(KeyPress)` in the supervisor's thread; garbage, partial
and bad-checksum input is logged and ignored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from common.text import ascii_display

from .framing import MAX_DATA, Frame, FrameDecoder, LineDecoder, encode_frame
from .supervisor import SupervisedDevice

log = logging.getLogger(__name__)


class Key(StrEnum):
    NEXT = "next"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    TRANSFER = "transfer"
    PAUSE = "pause"
    DIGITS = "digits"


#: frame command byte for each key
KEY_CODES = {
    Key.NEXT: 0x01, Key.RECALL: 0x02, Key.START: 0x03, Key.FINISH: 0x04,
    Key.NO_SHOW: 0x05, Key.TRANSFER: 0x06, Key.PAUSE: 0x07, Key.DIGITS: 0x08,
}
CODE_KEYS = {v: k for k, v in KEY_CODES.items()}
CMD_SHOW = 0x40

#: words accepted in the line protocol
LINE_WORDS = {
    "NEXT": Key.NEXT, "CALL": Key.NEXT, "RECALL": Key.RECALL, "START": Key.START,
    "FINISH": Key.FINISH, "DONE": Key.FINISH, "NOSHOW": Key.NO_SHOW, "NO-SHOW": Key.NO_SHOW,
    "NO_SHOW": Key.NO_SHOW, "TRANSFER": Key.TRANSFER, "PAUSE": Key.PAUSE, "DIGITS": Key.DIGITS,
}
_LINE = re.compile(r"^#(\d{1,3})\s+([A-Za-z_-]+)(?:\s+(\d{1,8}))?$")


@dataclass(frozen=True)
class KeyPress:
    address: int
    key: Key
    digits: str | None = None


def parse_line(line: str) -> KeyPress | None:
    """A KeyPress from one line of the line protocol, or None if it is not one."""
    m = _LINE.match(line.strip())
    if not m:
        return None
    key = LINE_WORDS.get(m.group(2).upper())
    address = int(m.group(1))
    if key is None or not 0 < address < 255:
        return None
    if key == Key.DIGITS and not m.group(3):
        return None
    return KeyPress(address, key, m.group(3))


def parse_frame(frame: Frame) -> KeyPress | None:
    key = CODE_KEYS.get(frame.command)
    if key is None:
        return None
    digits = frame.data.decode("ascii", errors="replace") if frame.data else None
    if digits is not None and not digits.isdigit():
        return None
    if key == Key.DIGITS and not digits:
        return None
    return KeyPress(frame.address, key, digits)


def encode_line(press: KeyPress) -> bytes:
    """The line a keypad sends for `press` (emulator, docs)."""
    word = "NOSHOW" if press.key == Key.NO_SHOW else press.key.value.upper()
    return f"#{press.address} {word}{' ' + press.digits if press.digits else ''}\r\n".encode("ascii")


def encode_key_frame(press: KeyPress) -> bytes:
    """The frame a wireless keypad receiver sends for `press` (emulator, docs)."""
    return encode_frame(press.address, KEY_CODES[press.key], (press.digits or "").encode("ascii"))


class Keypad(SupervisedDevice):
    """All keypads on one serial port (or one receiver)."""

    def __init__(self, url: str, on_key: Callable[[KeyPress], None], *, protocol: str = "frame",
                 name: str = "keypad", **kwargs):
        if protocol not in ("frame", "line"):
            raise ValueError("protocol must be 'frame' or 'line'")
        self.on_key = on_key
        self.protocol = protocol
        self._frames = FrameDecoder(name, max_data=16)
        self._lines = LineDecoder(name)
        self.ignored = 0
        super().__init__(name, url, **kwargs)

    def show(self, address: int, text: str) -> None:
        """Show a short text (e.g. the ticket being served) on the keypad's display."""
        text = ascii_display(text, 16)
        if self.protocol == "line":
            self.send(f"#{address} SHOW {text}\r\n".encode("ascii"))
        else:
            self.send(encode_frame(address, CMD_SHOW, text.encode("ascii")[:MAX_DATA]))

    def on_open(self) -> None:
        self._frames.buf.clear()
        self._lines.buf.clear()

    def on_data(self, data: bytes) -> None:
        if self.protocol == "frame":
            presses = [parse_frame(f) for f in self._frames.feed(data)]
        else:
            presses = [parse_line(line) for line in self._lines.feed(data)]
        for press in presses:
            if press is None:
                self.ignored += 1
                log.warning("%s: ignored unknown key message", self.name)
                continue
            try:
                self.on_key(press)
            except Exception:
                log.exception("%s: on_key callback failed", self.name)

    def on_idle(self) -> None:
        self._frames.expire()
        self._lines.expire()
