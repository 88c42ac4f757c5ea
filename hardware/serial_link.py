"""pyserial links: `SerialLink` (any pyserial URL) and `parse_serial_url`.

    /dev/ttyUSB0  or  serial:///dev/ttyUSB0?baudrate=9600&parity=N
    socket://10.0.0.7:4001        an RS-485-to-Ethernet converter (pyserial URL handlers)
    rfc2217://10.0.0.7:4001       a Telnet COM-port server

`transports.open_link(url)` is how drivers get one (it also knows the `fake:` links).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import serial

from .link import Link, LinkError

log = logging.getLogger(__name__)


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

