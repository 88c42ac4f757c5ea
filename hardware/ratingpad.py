"""Citizen rating pads: four buttons on a serial line (RS-485 or USB-serial).

Buttons and scores (the pad sends the score):

    4 Rất hài lòng (Very satisfied)   3 Hài lòng (Satisfied)
    2 Bình thường (Neutral)           1 Không hài lòng (Dissatisfied)

Frames (framing.py), pad to host: 0x30 RATE, DATA = one ASCII digit '1'..'4'.
Host to pad: 0x31 ENABLE, DATA = ticket label (ASCII, up to 8 chars; the pad lights its
buttons and may show the label), 0x32 DISABLE (buttons dark). A pad ignores presses
while disabled, but the driver reports whatever arrives; tying a press to the ticket
just served is the counter bridge's job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from common.text import ascii_display

from .framing import Frame, FrameDecoder, encode_frame
from .supervisor import SupervisedDevice

log = logging.getLogger(__name__)

RATE, ENABLE, DISABLE = 0x30, 0x31, 0x32
SCORES = {4: "Rất hài lòng", 3: "Hài lòng", 2: "Bình thường", 1: "Không hài lòng"}
SCORES_EN = {4: "Very satisfied", 3: "Satisfied", 2: "Neutral", 1: "Dissatisfied"}


@dataclass(frozen=True)
class RatingPress:
    address: int
    score: int  # 1..4

    @property
    def label(self) -> str:
        return SCORES[self.score]


def rate_frame(address: int, score: int) -> bytes:
    """What a pad sends when button `score` is pressed (emulator, docs)."""
    if score not in SCORES:
        raise ValueError("score must be 1..4")
    return encode_frame(address, RATE, str(score).encode("ascii"))


def enable_frame(address: int, ticket_label: str = "") -> bytes:
    return encode_frame(address, ENABLE, ascii_display(ticket_label, 8).encode("ascii"))


def disable_frame(address: int) -> bytes:
    return encode_frame(address, DISABLE)


def parse_rating(frame: Frame) -> RatingPress | None:
    if frame.command != RATE or len(frame.data) != 1 or not frame.data.isdigit():
        return None
    score = int(frame.data)
    return RatingPress(frame.address, score) if score in SCORES else None


class RatingPad(SupervisedDevice):
    """All rating pads on one serial port."""

    def __init__(self, url: str, on_rating: Callable[[RatingPress], None], *, name: str = "ratingpad",
                 frame_gap: float = 0.02, **kwargs):
        self.on_rating = on_rating
        self._decoder = FrameDecoder(name, max_data=8)
        self.enabled: dict[int, str] = {}
        self.ignored = 0
        super().__init__(name, url, frame_gap=frame_gap, **kwargs)

    def enable(self, address: int, ticket_label: str = "") -> None:
        """Light pad `address` for the ticket just served (e.g. its number)."""
        self.enabled[address] = ticket_label
        self.send(enable_frame(address, ticket_label))

    def disable(self, address: int) -> None:
        self.enabled.pop(address, None)
        self.send(disable_frame(address))

    def on_open(self) -> None:
        self._decoder.buf.clear()
        self.replace_outbox([enable_frame(a, label) for a, label in list(self.enabled.items())])

    def on_data(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            press = parse_rating(frame)
            if press is None:
                self.ignored += 1
                log.warning("%s: ignored frame cmd=0x%02x data=%r", self.name, frame.command, frame.data)
                continue
            try:
                self.on_rating(press)
            except Exception:
                log.exception("%s: on_rating callback failed", self.name)

    def on_idle(self) -> None:
        self._decoder.expire()
