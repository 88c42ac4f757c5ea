"""Choosing a transport for a device URL: `open_link(url)`.

    /dev/ttyUSB0  or  serial:///dev/ttyUSB0?baudrate=9600&parity=N
    socket://10.0.0.7:4001        an RS-485-to-Ethernet converter (pyserial URL handlers)
    rfc2217://10.0.0.7:4001       a Telnet COM-port server
    fake:NAME                     the in-memory fake from `fake_link.py` (tests, demo)

The only module that knows every transport; the `Link` base (`link.py`) and each transport
know none of the others.
"""

from __future__ import annotations

from .fake_link import FakeLink
from .link import Link
from .serial_link import SerialLink, parse_serial_url

FAKE_PREFIX = "fake:"


def open_link(url: str, baudrate: int = 9600, write_timeout: float = 2.0) -> Link:
    """Open the link named by `url` (see module doc). Raises LinkError."""
    if url.startswith(FAKE_PREFIX):
        return FakeLink.connect(url[len(FAKE_PREFIX):])
    port, opts = parse_serial_url(url)
    opts.setdefault("baudrate", baudrate)
    return SerialLink(port, write_timeout=write_timeout, **opts)
