"""A serial device emulated on a pseudo-terminal pair, reachable at a stable path.

The emulator owns the master end; the driver opens `path` (a symlink to the slave, like
socat's ``link=``) with pyserial, exactly as it would open /dev/ttyUSB0. Fault switches:

    dev.unplug()   closes the pty and removes the link: the driver gets EIO, reopening fails
    dev.replug()   a fresh pty behind the same path
    dev.garbage()  sends line noise
    dev.stall = True   stops reading what the driver sends
"""

from __future__ import annotations

import logging
import os
import select
import tempfile
import threading
import tty
from collections.abc import Callable

log = logging.getLogger(__name__)


class PtyDevice:
    def __init__(self, path: str | None = None, name: str = "pty-device"):
        self.name = name
        if path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="qms-emu-")
            path = os.path.join(self._tmpdir, name)
        else:
            self._tmpdir = None
        self.path = path
        self.url = path
        self.received = bytearray()
        self.stall = False
        self._cond = threading.Condition()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        if os.path.lexists(self.path):
            os.unlink(self.path)
        os.symlink(os.ttyname(slave), self.path)
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_loop, name=f"{self.name}-pty", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def replug(self) -> None:
        self.start()

    def stop(self) -> None:
        self.unplug()
        if self._tmpdir:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ I/O
    def send(self, data: bytes) -> None:
        """Bytes from the device to the driver."""
        if self._master is None:
            raise OSError(f"{self.name} is unplugged")
        view = memoryview(data)
        while view:
            n = os.write(self._master, view)
            view = view[n:]

    def garbage(self, data: bytes = b"\x00\xff\x7e#\x02\x05\x99junk\r\n\x03") -> None:
        self.send(data)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def on_bytes(self, data: bytes) -> None:
        """Bytes the driver sent; subclasses decode them (called with the condition held)."""

    def _read_loop(self) -> None:
        master = self._master
        while not self._stop.is_set():
            if self.stall:
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._cond:
                self.received += data
                self.on_bytes(data)
                self._cond.notify_all()
