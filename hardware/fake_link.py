"""An in-memory fake serial device, selected with a `fake:NAME` URL.

The driver side gets a `Link` from `transports.open_link("fake:NAME")`; the test or demo side holds
the `FakeLink` from `FakeLink.get("NAME")` and plays the device:

    fake = FakeLink.get("keypad-1")
    fake.inject(encode_frame(5, 0x01))   # the device sends bytes to the driver
    fake.wait_written(lambda b: ..., 1)  # bytes the driver sent
    fake.unplug(); fake.replug()         # the driver sees LinkError, then reconnects
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .link import Link, LinkError

_registry: dict[str, FakeLink] = {}
_registry_lock = threading.Lock()


class FakeLink:
    """The device end of a fake link; one per name, shared across reconnects."""

    def __init__(self, name: str):
        self.name = name
        self.plugged = True
        self.written = bytearray()
        self._inbox = bytearray()
        self._cond = threading.Condition()
        self._generation = 0

    @classmethod
    def get(cls, name: str) -> FakeLink:
        with _registry_lock:
            if name not in _registry:
                _registry[name] = cls(name)
            return _registry[name]

    @classmethod
    def connect(cls, name: str) -> Link:
        fake = cls.get(name)
        with fake._cond:
            if not fake.plugged:
                raise LinkError(f"fake:{name} is unplugged")
            return _FakeEnd(fake, fake._generation)

    def inject(self, data: bytes) -> None:
        with self._cond:
            self._inbox += data
            self._cond.notify_all()

    def wait_written(self, predicate: Callable[[bytes], bool], timeout: float = 2.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(bytes(self.written)), timeout)

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._generation += 1
            self._inbox.clear()
            self._cond.notify_all()

    def replug(self) -> None:
        with self._cond:
            self.plugged = True
            self._cond.notify_all()


class _FakeEnd(Link):
    def __init__(self, fake: FakeLink, generation: int):
        self.fake, self.generation, self.name = fake, generation, f"fake:{fake.name}"
        self.closed = False

    def _check(self) -> None:
        if self.closed or not self.fake.plugged or self.fake._generation != self.generation:
            raise LinkError(f"{self.name} disconnected")

    def write(self, data: bytes) -> None:
        with self.fake._cond:
            self._check()
            self.fake.written += data
            self.fake._cond.notify_all()

    def read(self, timeout: float) -> bytes:
        with self.fake._cond:
            self.fake._cond.wait_for(
                lambda: self.fake._inbox or not self.fake.plugged or self.closed, timeout)
            self._check()
            data = bytes(self.fake._inbox)
            self.fake._inbox.clear()
            return data

    def close(self) -> None:
        self.closed = True
