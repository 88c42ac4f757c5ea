"""The USB QR scanner, which types like a keyboard: keystrokes assembled into scans.

A kiosk's scanner is a "keyboard wedge": for each QR it reads it types the text as key
presses, a few milliseconds apart, then Enter (its suffix; some send CR LF, some nothing).
`ScanAssembler` turns the window's key events into whole scans and tells them from a person
typing on a keyboard (a technician, a citizen poking a USB keyboard), whose keys come 80 ms
or more apart:

* a **burst** is a run of characters each at most `max_gap_s` after the previous one;
  a character after a longer pause starts a new burst (the slow ones before are dropped);
* a burst becomes a **scan** when it is at least `min_length` characters long, and then
  either Enter arrives or the keys stop for `end_gap_s` (a scanner without a suffix);
* an Enter inside a burst (the QR holds a line break, or the suffix is CR LF) is kept as
  "\\n" when more characters follow quickly, so the parser can explain it (`line_break`);
  CR LF (or LF CR) at the end is one Enter;
* a burst longer than `max_length` is dropped whole (`overflows` counts them).

No Kivy here: the app feeds `text(chars)`, `enter()` and `poll()` with the window's events
and a clock tick; `on_scan(text)` is called with each scan. Times come from `clock`
(monotonic seconds) so tests can drive it exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_GAP_S = 0.05      # keys of one scan: scanners type every 1-20 ms; people 80 ms and more
END_GAP_S = 0.15      # no key for this long after a burst: the scan is complete
MIN_LENGTH = 6        # the shortest thing worth scanning (a booking code)
MAX_LENGTH = 1000     # characters (common.cccd.MAX_SCAN)


@dataclass
class ScanAssembler:
    on_scan: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    max_gap_s: float = MAX_GAP_S
    end_gap_s: float = END_GAP_S
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    buffer: list[str] = field(default_factory=list)
    last_key: float | None = None
    enter_pending: bool = False   # an Enter ended the burst; more keys may still follow
    overflow: bool = False
    scans: int = 0
    typed_dropped: int = 0        # characters typed slowly (a person), not a scan
    overflows: int = 0

    # -- input ---------------------------------------------------------------------------
    def text(self, chars: str, now: float | None = None) -> None:
        """Printable characters from the window (one key, or a few in one event)."""
        for ch in chars:
            if ch in "\r\n":
                self.enter(now)
            else:
                self._char(ch, now)

    def enter(self, now: float | None = None) -> None:
        """The Enter key (or CR / LF)."""
        now = self.clock() if now is None else now
        if self._slow(now):
            self._drop_typed()
        if not self.buffer:
            self.last_key = now
            return
        self.enter_pending = True
        self.last_key = now

    def poll(self, now: float | None = None) -> str | None:
        """Called on every clock tick: finishes a scan once the keys have stopped."""
        now = self.clock() if now is None else now
        if self.buffer and self.last_key is not None and now - self.last_key >= self.end_gap_s:
            return self._finish()
        return None

    # -- internals -----------------------------------------------------------------------
    def _slow(self, now: float) -> bool:
        return self.last_key is not None and now - self.last_key > self.max_gap_s

    def _char(self, ch: str, now: float | None) -> None:
        now = self.clock() if now is None else now
        if self._slow(now):
            if self.enter_pending:   # the scan before this pause is complete
                self._finish()
            else:
                self._drop_typed()
        if self.enter_pending:       # more keys right after an Enter: a line break inside
            self.buffer.append("\n")
            self.enter_pending = False
        self.last_key = now
        if self.overflow:
            return
        self.buffer.append(ch)
        if len(self.buffer) > self.max_length:
            self.overflow = True
            self.buffer.clear()

    def _drop_typed(self) -> None:
        self.typed_dropped += len(self.buffer)
        self._reset()

    def _reset(self) -> None:
        self.buffer.clear()
        self.enter_pending = False
        if self.overflow:
            self.overflows += 1
            self.overflow = False

    def _finish(self) -> str | None:
        text = "".join(self.buffer)
        overflow = self.overflow
        self._reset()
        if overflow:
            return None
        if len(text) < self.min_length:
            self.typed_dropped += len(text)
            return None
        self.scans += 1
        self.on_scan(text)
        return text
