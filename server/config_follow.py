"""Follow `centre.toml` when another process changes it (the sync process applying a
configuration bundle from the central server through the admin service).

The admin service saves the file and swaps the new configuration into the process that ran
the command; a hall server process learns of a change made elsewhere here: before a request,
at most once per `every_s`, the file's identity (mtime, size, inode) is compared with the
last seen, and a changed file is loaded (validated by `config.load`) and swapped in. A file
that does not validate is ignored (logged); the configuration in force stays.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from . import config as centre_config

log = logging.getLogger("qms.config")


class ConfigFollower:
    def __init__(self, app, every_s: float = 1.0):
        self.app = app
        self.every_s = every_s
        self._next = 0.0
        self._lock = threading.Lock()
        self._seen = self._signature()

    def _path(self):
        return self.app.extensions["qms"].data_dir / centre_config.CONFIG_NAME

    def _signature(self):
        try:
            st = os.stat(self._path())
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def check(self) -> bool:
        """Swap in a configuration changed on disk; True when one was swapped in."""
        now = time.monotonic()
        if now < self._next:
            return False
        with self._lock:
            self._next = now + self.every_s
            sig = self._signature()
            if sig is None or sig == self._seen:
                return False
            self._seen = sig
            q = self.app.extensions["qms"]
            try:
                new = centre_config.load(q.data_dir)
            except Exception as exc:  # a half-written or bad file: keep the one in force
                log.warning("centre.toml changed but was not loaded: %s", exc)
                return False
            if new.to_dict() == q.config.to_dict():
                return False
            q.service.config = new
            q.config = new
            log.info("configuration reloaded from %s", self._path())
            return True


def install(app, every_s: float = 1.0) -> ConfigFollower:
    follower = ConfigFollower(app, every_s)
    app.extensions["qms.config_follow"] = follower

    def follow() -> None:  # a before_request hook must return None to let the request on
        follower.check()

    app.before_request(follow)
    return follower
