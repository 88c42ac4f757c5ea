"""Byte links to serial devices: the `Link` base (one raw primitive each way) and pyserial.

`open_link(url)` picks the transport from the URL:

    /dev/ttyUSB0  or  serial:///dev/ttyUSB0?baudrate=9600&parity=N
    socket://10.0.0.7:4001        an RS-485-to-Ethernet converter (pyserial URL handlers)
    rfc2217://10.0.0.7:4001       a Telnet COM-port server
    fake:NAME                     the in-memory fake from `fake_link.py` (tests, demo)

Links never block forever: reads take a timeout, writes have a write timeout, and a
vanished device (USB adapter unplugged, pty closed) raises `LinkError`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from urllib.parse import parse_qs, urlsplit

import serial

log = logging.getLogger(__name__)


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


class SerialLink(Link):
    """A pyserial port (any pyserial URL)."""

    def __init__(self, port: str, baudrate: int = 9600, parity: str = "N", stopbits: float = 1,
                 bytesize: int = 8, write_timeout: float = 2.0, rtscts: bool = False):
        self.name = port
        try:
            self.ser = serial.serial_for_url(
                port, baudrate=baudrate, parity=parity, stopbits=stopbits, bytesize=bytesize,
                timeout=0.05, write_timeout=write_timeout, rtscts=rtscts,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open {port}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"write to {self.name} failed: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        try:
            self.ser.timeout = timeout
            return self.ser.read(max(1, self.ser.in_waiting))
        except (serial.SerialException, OSError, TypeError) as exc:
            raise LinkError(f"read from {self.name} failed: {exc}") from exc

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:  # the port may already be gone
            pass


def parse_serial_url(url: str) -> tuple[str, dict]:
    """('/dev/ttyUSB0', {'baudrate': 9600, ...}) from the forms listed in the module doc."""
    if not url.startswith("serial://"):
        return url, {}
    parts = urlsplit(url)
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    opts: dict = {}
    if "baudrate" in q:
        opts["baudrate"] = int(q["baudrate"])
    if "parity" in q:
        opts["parity"] = q["parity"].upper()[:1]
    if "stopbits" in q:
        opts["stopbits"] = float(q["stopbits"]) if "." in q["stopbits"] else int(q["stopbits"])
    if "rtscts" in q:
        opts["rtscts"] = q["rtscts"] in ("1", "true", "yes")
    return parts.path or parts.netloc, opts


def open_link(url: str, baudrate: int = 9600, write_timeout: float = 2.0) -> Link:
    """Open the link named by `url` (see module doc). Raises LinkError."""
    if url.startswith("fake:"):
        from .fake_link import FakeLink

        return FakeLink.connect(url[5:])
    port, opts = parse_serial_url(url)
    opts.setdefault("baudrate", baudrate)
    return SerialLink(port, write_timeout=write_timeout, **opts)
