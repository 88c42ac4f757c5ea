"""An incremental ESC/POS command parser: what the emulated printer "prints", and test decoding.

It knows the length of every command python-escpos emits, so real-time status requests
(``DLE EOT n``, ``GS r n``) are recognised as commands and never confused with the same
bytes inside raster image data. Unknown ``ESC x``/``GS x`` commands are assumed to take
one parameter byte, which is what most of them do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C

#: ESC t numbers decoded as Windows-1258 (see hardware.escpos_vn.CP1258_TABLES); others as cp437.
CP1258_NUMBERS = frozenset({52, 94, 27, 35})


@dataclass
class Item:
    kind: str  # text lf init codepage status gs_r image qr cut cmd
    data: bytes = b""
    arg: int = 0
    width: int = 0  # images: width in bytes
    height: int = 0
    raw: bytes = b""  # the command's bytes exactly as received


def _u16(lo: int, hi: int) -> int:
    return lo | (hi << 8)


class EscposStream:
    """Feed bytes in any chunking; complete commands come out as `Item`s."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Item]:
        self.buf += data
        items: list[Item] = []
        while self.buf:
            got = self._one(self.buf)
            if got is None:  # incomplete command: wait for more bytes
                break
            item, used = got
            item = item or Item("cmd")
            item.raw = bytes(self.buf[:used])
            del self.buf[:used]
            items.append(item)
        return items

    @staticmethod
    def _one(b: bytearray) -> tuple[Item | None, int] | None:  # noqa: C901 - a command table
        c = b[0]
        n = len(b)
        if c >= 0x20 or c == 0x09:
            end = 1
            while end < n and (b[end] >= 0x20 or b[end] == 0x09):
                end += 1
            return Item("text", bytes(b[:end])), end
        if c == 0x0A:
            return Item("lf"), 1
        if c == DLE:
            if n < 2:
                return None
            if b[1] in (0x04, 0x05):  # DLE EOT n / DLE ENQ n
                if n < 3:
                    return None
                return (Item("status", arg=b[2]) if b[1] == 0x04 else None), 3
            if b[1] == 0x14:  # DLE DC4 fn m t
                return (None, 5) if n >= 5 else None
            return None, 2
        if c == ESC:
            if n < 2:
                return None
            op = b[1]
            if op in (0x40,):  # ESC @
                return Item("init"), 2
            if op in (0x32, 0x3C):  # ESC 2, ESC <
                return None, 2
            if op == 0x70:  # ESC p m t1 t2
                return (None, 5) if n >= 5 else None
            if op in (0x63, 0x42):  # ESC c x n, ESC B n t
                return (None, 4) if n >= 4 else None
            if op == 0x2A:  # ESC * m nL nH data
                if n < 5:
                    return None
                size = _u16(b[3], b[4]) * (3 if b[2] in (32, 33) else 1)
                return (None, 5 + size) if n >= 5 + size else None
            if op == 0x44:  # ESC D n1..nk NUL
                end = b.find(0, 2)
                return (None, end + 1) if end >= 0 else None
            if n < 3:
                return None
            if op == 0x74:
                return Item("codepage", arg=b[2]), 3
            return Item("cmd", bytes(b[:3])), 3
        if c == GS:
            if n < 3:
                return None
            op = b[1]
            if op == 0x56:  # GS V m [n]
                if b[2] in (65, 66, 97, 98, 103, 104):
                    return (Item("cut", bytes(b[:4])), 4) if n >= 4 else None
                return Item("cut", bytes(b[:3])), 3
            if op == 0x76:  # GS v 0 m xL xH yL yH data
                if n < 8:
                    return None
                w, h = _u16(b[4], b[5]), _u16(b[6], b[7])
                if n < 8 + w * h:
                    return None
                return Item("image", bytes(b[8 : 8 + w * h]), b[3], w, h), 8 + w * h
            if op == 0x28:  # GS ( fn pL pH ...
                if n < 5:
                    return None
                size = 5 + _u16(b[3], b[4])
                if n < size:
                    return None
                body = bytes(b[5:size])
                if b[2] == 0x6B and body[:2] == b"1P":  # GS ( k: store QR data
                    return Item("qr", body[3:]), size
                return Item("cmd", bytes(b[:size])), size
            if op == 0x6B:  # GS k barcode
                if b[2] < 65:
                    end = b.find(0, 3)
                    return (Item("cmd", bytes(b[: end + 1])), end + 1) if end >= 0 else None
                if n < 4 or n < 4 + b[3]:
                    return None
                return Item("cmd", bytes(b[: 4 + b[3]])), 4 + b[3]
            if op == 0x72:  # GS r n
                return Item("gs_r", arg=b[2]), 3
            if op == 0x4C:  # GS L nL nH
                return (None, 4) if n >= 4 else None
            return Item("cmd", bytes(b[:3])), 3
        if c == FS:
            return (None, 2) if n >= 2 else None
        return None, 1  # CR, BEL and other lone control bytes


def items(data: bytes) -> list[Item]:
    return EscposStream().feed(data)


def decode_text(data: bytes) -> str:
    """The printed text of a job, decoded with the code table selected by ESC t."""
    out: list[str] = []
    table = None
    for it in items(data):
        if it.kind == "codepage":
            table = it.arg
        elif it.kind == "text":
            codec = "cp1258" if table in CP1258_NUMBERS else "cp437"
            out.append(it.data.decode(codec, errors="replace"))
        elif it.kind == "lf":
            out.append("\n")
    import unicodedata

    return unicodedata.normalize("NFC", "".join(out))


def raster_images(data: bytes) -> Iterator[Image.Image]:
    """Every GS v 0 image of a job as a 1-bit Pillow image."""
    for it in items(data):
        if it.kind == "image":
            img = Image.frombytes("1", (it.width * 8, it.height), it.data)
            yield Image.eval(img.convert("L"), lambda v: 255 - v).convert("1")


def qr_payloads(data: bytes) -> list[str]:
    """The contents of native QR codes in a job."""
    return [it.data.decode("utf-8", errors="replace") for it in items(data) if it.kind == "qr"]
