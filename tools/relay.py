"""A TCP relay on 127.0.0.1 for tests that cut and heal a network link (a WAN between a
site and the central server): `cut()` drops every open connection and refuses new ones,
`heal()` lets them through again. No other address is touched."""

from __future__ import annotations

import socket
import threading

from .testing import free_port


class Relay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1",
                 port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = True
        self.connections = 0
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns |= {client, upstream}
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or not self.up:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        """The link goes down: open connections are reset, new ones refused."""
        self.up = False
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._drop(s)

    def heal(self) -> None:
        self.up = True

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._sock.close()
