"""Every server process follows the centre's configuration, whichever process changed it.

An admin change is applied by the process that took the request (its `config.changed` event
reaches every process's clients through the message queue), and `centre.toml` is rewritten
atomically (a new file renamed over the old: a new inode). Every other process notices at
the start of its next request: one `os.stat` of `centre.toml` per request (about 2 µs; no
time-based throttle, so a page that refetches on `config.changed` can never be answered
from the old configuration), and when the file's identity (inode, size, modification and
change times in ns) differs from the one last seen, it loads and validates the file and
swaps the new configuration in (`QMS.config` and `QueueService.config`), then tells the
listeners registered with `on_reload` (caches built from the configuration). This needs
no Redis: two processes on one data folder converge through the file alone. (The procedure
catalogue, users and devices live in the database, which every request reads: their
changes are live on every process without this.)

A file that does not load (a hand edit with a mistake) is logged and ignored until it
changes again; the configuration in force stays. The admin service also calls `check()`
inside its write transaction before it builds a change on the configuration in force, so a
change made meanwhile by another process is never overwritten.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from . import config as centre_config

log = logging.getLogger("qms.reload")

EXTENSION = "qms.reload"


class ConfigWatcher:
    def __init__(self, app: Flask):
        self.app = app
        q = app.extensions["qms"]
        self.data_dir = Path(q.data_dir)
        self.path = self.data_dir / centre_config.CONFIG_NAME
        self.signature: tuple | None = None  # of the file last loaded (None: not yet)
        self.listeners: list[Callable[[centre_config.Config], None]] = []
        self.reloads = 0
        self._lock = threading.Lock()

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def check(self) -> bool:
        """Load `centre.toml` again if it changed since last seen; True when a different
        configuration was swapped in."""
        sig = self._stat()
        if sig is None or sig == self.signature:
            return False
        with self._lock:
            if sig == self.signature:
                return False
            try:
                new = centre_config.load(self.data_dir)
            except Exception as exc:  # noqa: BLE001 - keep serving with the config in force
                log.error("centre.toml changed but cannot be loaded; keeping the "
                          "configuration in force: %s", exc)
                self.signature = sig
                return False
            self.signature = sig
            q = self.app.extensions["qms"]
            if new.to_dict() == q.config.to_dict():
                return False  # this process made the change (or nothing that matters)
            self.apply(new)
            return True

    def apply(self, new: centre_config.Config) -> None:
        q = self.app.extensions["qms"]
        q.config = new
        q.service.config = new
        self.reloads += 1
        log.info("configuration reloaded from %s", self.path)
        for listener in list(self.listeners):
            try:
                listener(new)
            except Exception:  # noqa: BLE001 - one cache failing must not stop the others
                log.exception("configuration reload listener failed")


def watcher(app: Flask) -> ConfigWatcher:
    return app.extensions[EXTENSION]


def check(app: Flask) -> bool:
    """Follow a configuration changed by another process now (see module)."""
    w = app.extensions.get(EXTENSION)
    return w.check() if w is not None else False


def on_reload(app: Flask, listener: Callable[[centre_config.Config], None]) -> None:
    """Call `listener(new_config)` after another process's configuration change was loaded
    (rebuild caches derived from the configuration)."""
    watcher(app).listeners.append(listener)


def install(app: Flask) -> ConfigWatcher:
    """Check `centre.toml` at the start of every request of `app` (called by create_app)."""
    w = ConfigWatcher(app)
    app.extensions[EXTENSION] = w
    w.check()  # the file as it is now (it may have changed since create_app loaded it)

    def follow_config() -> None:
        w.check()

    app.before_request(follow_config)
    return w
