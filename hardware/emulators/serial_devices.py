"""Emulated keypad receiver, LED board bus and rating pads on pseudo-terminals."""

from __future__ import annotations

import time

from ..framing import FrameDecoder, LineDecoder
from ..keypad import CMD_SHOW, Key, KeyPress, encode_key_frame, encode_line
from ..ledboard import BOARD_CLEAR, BRIGHTNESS, COUNTER_CLEAR, COUNTER_SHOW, LINE_SET
from ..ratingpad import DISABLE, ENABLE, rate_frame
from .pty_device import PtyDevice


class KeypadEmulator(PtyDevice):
    """Keypads behind one receiver. `press(5, "next")` sends what keypad 5 would send."""

    def __init__(self, path: str | None = None, protocol: str = "frame", name: str = "keypad"):
        super().__init__(path, name)
        self.protocol = protocol
        self.displays: dict[int, str] = {}
        self._frames = FrameDecoder(name)
        self._lines = LineDecoder(name)

    def press(self, address: int, key: str | Key, digits: str | None = None) -> bytes:
        kp = KeyPress(address, Key(key), digits)
        data = encode_key_frame(kp) if self.protocol == "frame" else encode_line(kp)
        self.send(data)
        return data

    def on_bytes(self, data: bytes) -> None:
        if self.protocol == "frame":
            for f in self._frames.feed(data):
                if f.command == CMD_SHOW:
                    self.displays[f.address] = f.data.decode("ascii", "replace")
        else:
            for line in self._lines.feed(data):
                parts = line.split(" ", 2)
                if len(parts) >= 2 and parts[1] == "SHOW" and parts[0][:1] == "#" \
                        and parts[0][1:].isdigit():
                    self.displays[int(parts[0][1:])] = parts[2] if len(parts) > 2 else ""


class LedBoardEmulator(PtyDevice):
    """Every LED board on one RS-485 bus; keeps what each board shows and when frames came."""

    def __init__(self, path: str | None = None, name: str = "ledbus"):
        super().__init__(path, name)
        self.counters: dict[int, tuple[str, str, bool]] = {}
        self.boards: dict[int, dict[int, tuple[str, str]]] = {}
        self.brightness: dict[int, int] = {}
        self.frame_times: list[float] = []
        self.frames = 0
        self._decoder = FrameDecoder(name)

    def on_bytes(self, data: bytes) -> None:
        for f in self._decoder.feed(data):
            self.frames += 1
            self.frame_times.append(time.monotonic())
            if f.command == COUNTER_SHOW and len(f.data) == 7:
                text = f.data.decode("ascii", "replace")
                self.counters[f.address] = (text[:4].strip(), text[4:6].strip(), text[6] == "1")
            elif f.command == COUNTER_CLEAR:
                self.counters.pop(f.address, None)
            elif f.command == LINE_SET and len(f.data) >= 2:
                board = self.boards.setdefault(f.address, {})
                board[f.data[0]] = (f.data[2:].decode("ascii", "replace"), chr(f.data[1]))
            elif f.command == BOARD_CLEAR:
                self.boards[f.address] = {}
            elif f.command == BRIGHTNESS and f.data:
                self.brightness[f.address] = f.data[0]

    def lines(self, address: int) -> list[str]:
        board = self.boards.get(address, {})
        return [board[i][0] for i in sorted(board)]


class RatingPadEmulator(PtyDevice):
    """Rating pads on one line. `press(3, 4)`: pad 3, "Rất hài lòng"."""

    def __init__(self, path: str | None = None, name: str = "ratingpad", only_when_enabled: bool = False):
        super().__init__(path, name)
        self.enabled: dict[int, str] = {}
        self.only_when_enabled = only_when_enabled
        self._decoder = FrameDecoder(name)

    def press(self, address: int, score: int) -> bool:
        if self.only_when_enabled and address not in self.enabled:
            return False
        self.send(rate_frame(address, score))
        return True

    def on_bytes(self, data: bytes) -> None:
        for f in self._decoder.feed(data):
            if f.command == ENABLE:
                self.enabled[f.address] = f.data.decode("ascii", "replace")
            elif f.command == DISABLE:
                self.enabled.pop(f.address, None)
