"""An emulated network ESC/POS printer: a TCP capture server on 127.0.0.1.

It accepts raw ESC/POS like a printer's port 9100, records every job, answers the
real-time status requests (DLE EOT 1/2/3/4 and GS r 1/2) from its fault switches:

    emu.paper = "ok" | "near_end" | "out"
    emu.offline = True          # cover open / error: DLE EOT 1 reports offline
    emu.stall = True            # stops reading and answering: the driver must time out
    emu.drop_after = N          # closes a connection abruptly after N bytes (mid-ticket)
    emu.unplug() / emu.replug() # closes everything and refuses connections / listens again

A job ends at a paper cut, at a status request that follows data, or when the client
disconnects. Usable as a context manager (tests) or from `python -m hardware.emulators`.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable

from .escpos_stream import EscposStream

log = logging.getLogger(__name__)


class PrinterEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str = "printer-emulator",
                 on_job: Callable[[bytes], None] | None = None):
        self.host, self.port, self.name = host, port, name
        self.on_job = on_job
        self.paper = "ok"
        self.offline = False
        self.stall = False
        self.drop_after: int | None = None
        self.jobs: list[bytes] = []
        self.status_requests = 0
        self.connections = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> PrinterEmulator:
        self._stop.clear()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(8)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock
        t = threading.Thread(target=self._accept_loop, args=(sock,), name=f"{self.name}-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _close_all(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            sock.close()
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            self._abort(c)

    def unplug(self) -> None:
        """Power off: drop connections; new ones are refused until `replug()`."""
        self._stop.set()
        self._close_all()
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()

    def replug(self) -> None:
        self.start()

    def stop(self) -> None:
        self.unplug()

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ status bytes
    def status_byte(self, n: int) -> int:
        out = self.paper == "out"
        if n == 1:
            return 0x12 | (0x08 if self.offline or out else 0)
        if n == 2:
            return 0x12 | (0x04 if self.offline else 0) | (0x20 if out else 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper in ("near_end", "out") else 0) | (0x60 if out else 0)
        return 0x12

    def gs_r_byte(self, n: int) -> int:
        if n in (1, 49):
            return (0x03 if self.paper in ("near_end", "out") else 0) | (0x0C if self.paper == "out" else 0)
        return 0

    # ------------------------------------------------------------------ jobs
    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """Block until `count` jobs were captured (or raise TimeoutError)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.jobs) >= count, timeout):
                raise TimeoutError(f"{len(self.jobs)} of {count} jobs captured")
            return list(self.jobs)

    def _finish_job(self, job: bytearray) -> None:
        if not job:
            return
        data = bytes(job)
        job.clear()
        with self._cond:
            self.jobs.append(data)
            self._cond.notify_all()
        if self.on_job:
            try:
                self.on_job(data)
            except Exception:
                log.exception("on_job failed")

    # ------------------------------------------------------------------ sockets
    def _accept_loop(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.05)
            with self._cond:
                self._conns.add(conn)
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _abort(conn: socket.socket) -> None:
        try:  # RST instead of FIN, like a printer losing power
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            conn.close()
        except OSError:
            pass

    def _serve(self, conn: socket.socket) -> None:
        parser = EscposStream()
        job = bytearray()
        received = 0
        try:
            while not self._stop.is_set():
                if self.stall:
                    time.sleep(0.02)
                    continue
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                received += len(data)
                if self.drop_after is not None and received >= self.drop_after:
                    log.info("%s: dropping connection after %d bytes", self.name, received)
                    break
                for it in parser.feed(data):
                    if it.kind == "status":
                        self._finish_job(job)
                        self.status_requests += 1
                        conn.sendall(bytes([self.status_byte(it.arg)]))
                    elif it.kind == "gs_r":
                        self._finish_job(job)
                        conn.sendall(bytes([self.gs_r_byte(it.arg)]))
                    else:
                        job += it.raw
                        if it.kind == "cut":
                            self._finish_job(job)
        finally:
            self._finish_job(job)
            with self._cond:
                self._conns.discard(conn)
            self._abort(conn)
