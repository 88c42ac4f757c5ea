"""Wire framing shared by the serial devices (keypads, LED boards, rating pads).

Binary frame (RS-485 buses, wireless keypad receivers; 9600 8N1 by default)::

    STX  ADDR  CMD  LEN  DATA[LEN]  CHK  ETX
    0x02 1 B   1 B  1 B  0..250 B   1 B  0x03      CHK = ADDR ^ CMD ^ LEN ^ DATA[0] ^ ...

Text line (simple keypads, terminals, debugging): ASCII, ended by LF (a CR before it is
ignored), at most 64 characters.

Both decoders are incremental: feed them whatever the port returned. Bytes outside a
frame, frames with a bad checksum or length and partial frames left unfinished for
longer than `stale_after` seconds are logged and dropped; decoding resynchronises on the
next STX (or the next line).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

STX, ETX = 0x02, 0x03
MAX_DATA = 250
BROADCAST = 0xFF


@dataclass(frozen=True)
class Frame:
    address: int
    command: int
    data: bytes = b""


def checksum(body: bytes) -> int:
    """XOR of ADDR, CMD, LEN and DATA."""
    value = 0
    for b in body:
        value ^= b
    return value


def encode_frame(address: int, command: int, data: bytes = b"") -> bytes:
    """One complete frame. Raises ValueError for out-of-range fields."""
    if not (0 <= address <= 255 and 0 <= command <= 255):
        raise ValueError("address and command must be 0..255")
    if len(data) > MAX_DATA:
        raise ValueError(f"frame data longer than {MAX_DATA} bytes")
    body = bytes((address, command, len(data))) + data
    return bytes((STX,)) + body + bytes((checksum(body), ETX))


class _Decoder:
    def __init__(self, name: str, stale_after: float) -> None:
        self.name = name
        self.stale_after = stale_after
        self.buf = bytearray()
        self.pending_since: float | None = None
        self.garbage_bytes = 0
        self.bad_frames = 0

    def expire(self, now: float | None = None) -> None:
        """Drop a partial message that has been waiting longer than `stale_after`."""
        now = time.monotonic() if now is None else now
        if self.buf and self.pending_since is not None and now - self.pending_since > self.stale_after:
            log.warning("%s: dropped %d-byte partial message %r", self.name, len(self.buf), bytes(self.buf[:32]))
            self.bad_frames += 1
            self.buf.clear()
            self.pending_since = None

    def _garbage(self, data: bytes, why: str) -> None:
        if data:
            self.garbage_bytes += len(data)
            log.warning("%s: ignored %s %r", self.name, why, data[:32])


class FrameDecoder(_Decoder):
    """Incremental decoder for STX/ETX frames."""

    def __init__(self, name: str = "serial", stale_after: float = 0.5, max_data: int = MAX_DATA):
        super().__init__(name, stale_after)
        self.max_data = max_data

    def feed(self, data: bytes, now: float | None = None) -> list[Frame]:
        now = time.monotonic() if now is None else now
        self.expire(now)
        self.buf += data
        frames: list[Frame] = []
        while self.buf:
            start = self.buf.find(STX)
            if start < 0:
                self._garbage(bytes(self.buf), "bytes outside a frame")
                self.buf.clear()
                break
            if start:
                self._garbage(bytes(self.buf[:start]), "bytes outside a frame")
                del self.buf[:start]
            if len(self.buf) < 4:
                break
            length = self.buf[3]
            if length > self.max_data:
                self._bad(f"length {length} too large")
                continue
            total = 4 + length + 2
            if len(self.buf) < total:
                later = self._later_frame()
                if later is None:
                    break
                self._bad("incomplete frame followed by a complete one")
                self._garbage(bytes(self.buf[: later - 1]), "bytes of an incomplete frame")
                del self.buf[: later - 1]
                continue
            body = bytes(self.buf[1 : 4 + length])
            if self.buf[total - 1] != ETX or self.buf[total - 2] != checksum(body):
                self._bad("bad checksum or missing ETX")
                continue
            frames.append(Frame(body[0], body[1], body[3:]))
            del self.buf[:total]
        self.pending_since = now if self.buf else None
        return frames

    def _later_frame(self) -> int | None:
        """Start of a complete, valid frame after the (incomplete) one at the buffer start."""
        pos = self.buf.find(STX, 1)
        while pos >= 0:
            if len(self.buf) >= pos + 4:
                length = self.buf[pos + 3]
                end = pos + 4 + length + 2
                if length <= self.max_data and len(self.buf) >= end:
                    body = bytes(self.buf[pos + 1 : pos + 4 + length])
                    if self.buf[end - 1] == ETX and self.buf[end - 2] == checksum(body):
                        return pos
            pos = self.buf.find(STX, pos + 1)
        return None

    def _bad(self, why: str) -> None:
        """Drop the STX of a bad frame and resynchronise on the next one."""
        self.bad_frames += 1
        log.warning("%s: ignored frame (%s) %r", self.name, why, bytes(self.buf[:16]))
        del self.buf[:1]


class LineDecoder(_Decoder):
    """Incremental decoder for ASCII lines ended by LF."""

    def __init__(self, name: str = "serial", stale_after: float = 0.5, max_len: int = 64):
        super().__init__(name, stale_after)
        self.max_len = max_len

    def feed(self, data: bytes, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        self.expire(now)
        self.buf += data
        lines: list[str] = []
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > self.max_len:
                    self._garbage(bytes(self.buf), "overlong line")
                    self.buf.clear()
                break
            raw = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[: end + 1]
            if len(raw) > self.max_len:
                self._garbage(raw, "overlong line")
                continue
            try:
                text = raw.decode("ascii").strip()
            except UnicodeDecodeError:
                self._garbage(raw, "non-ASCII line")
                continue
            if text:
                lines.append(text)
        self.pending_since = now if self.buf else None
        return lines
