"""The byte-link base: `Link` (one raw primitive each way) and `LinkError`.

Every transport (pyserial in `serial_link.py`, the in-memory fake in `fake_link.py`)
subclasses `Link`; `transports.open_link(url)` picks one for a URL. This module imports
no transport, so a driver that only needs the interface depends on nothing else.

Links never block forever: reads take a timeout, writes have a write timeout, and a
vanished device (USB adapter unplugged, pty closed) raises `LinkError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class LinkError(OSError):
    """The device is gone or unusable; the supervisor will reconnect."""


class Link(ABC):
    """A bidirectional byte stream to one device or one bus."""

    name: str = "link"

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of `data` or raise LinkError (never hang: write timeout)."""

    @abstractmethod
    def read(self, timeout: float) -> bytes:
        """Bytes available within `timeout` seconds (b"" if none); LinkError if the device is gone."""

    @abstractmethod
    def close(self) -> None:
        """Release the port; calling it twice is harmless."""

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
