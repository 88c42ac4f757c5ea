"""The report writer: the one place that writes derived report data (journeys, the fold
cursor, `report_agg`) while the server runs. It works in its own worker thread, each step
in its own write transaction (`ReportEngine.refresh`), never inside a request.

- After commands: the service publishes the events of every committed command; `install`
  chains `kick()` onto that hook. A kick only bumps a counter (and starts the worker when it
  is idle); the worker folds at most `LAG_S` later, so a burst of commands costs one pass
  and the command itself pays nothing.
- A report GET calls `engine_for(app)`: a read-only check (`ReportEngine.behind()`, a few
  index seeks); only when the writer still has work does it ask for a pass now and wait for
  it (at most `WAIT_S`; after that it answers from what is stored). The GET itself never
  opens a write transaction.

The cursor lives in the database and every pass runs under `BEGIN IMMEDIATE`, so several
server processes on one SQLite file each run their own writer without folding twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from .engine import ReportEngine

log = logging.getLogger("qms.reports")

LAG_S = 1.0  # a pass runs at most this long after the command that asked for it
WAIT_S = 30.0  # a report request waits at most this long for the writer
EXTENSION = "qms.reports"


class ReportRefresher:
    """Runs `ReportEngine.refresh()` in a worker thread when asked; passes coalesce."""

    def __init__(self, make_engine: Callable[[], ReportEngine], lag_s: float = LAG_S):
        self.make_engine = make_engine
        self.lag_s = lag_s
        self._cond = threading.Condition()
        self._asked = 0  # kicks so far
        self._taken = 0  # kicks covered by the pass running or last run
        self._done = 0  # kicks covered by the last pass finished
        self._due = 0.0  # when the next pass starts (while _asked > _taken)
        self._worker: threading.Thread | None = None
        self.passes = 0

    def kick(self, now: bool = False) -> int:
        """Ask for a pass: within `lag_s`, or as soon as the worker is free with `now`.
        Returns the number to `wait` for."""
        with self._cond:
            t = time.monotonic()
            if self._asked == self._taken:  # the first kick since the last pass started
                self._due = t if now else t + self.lag_s
            elif now:
                self._due = min(self._due, t)
            self._asked += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="qms-report-writer",
                                                daemon=True)
                self._worker.start()
            else:
                self._cond.notify_all()
            return self._asked

    def wait(self, ticket: int, timeout: float = WAIT_S) -> bool:
        """Wait until a pass that started after kick number `ticket` has finished."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def catch_up(self, timeout: float = WAIT_S) -> bool:
        """For a request: True when the stored report data covers the event log, after
        waiting for the writer if it had work left. Reads only."""
        if not self.make_engine().behind():
            return True
        if self.wait(self.kick(now=True), timeout):
            return True
        log.warning("report writer still busy after %.0f s: answering from stored data",
                    timeout)
        return False

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._asked == self._taken:
                        self._worker = None
                        return
                    left = self._due - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._taken = ticket = self._asked
            try:
                self.make_engine().refresh()
                self.passes += 1
            except sqlite3.ProgrammingError:  # the store was closed (shutdown, tests)
                log.debug("report writer: store closed", exc_info=True)
            except Exception:
                log.exception("report writer: refresh failed (retried on the next kick)")
            with self._cond:
                self._done = ticket
                self._cond.notify_all()


def install(app) -> ReportRefresher:
    """The report writer of `app` (created once): chained after the service's publish hook,
    so every committed command asks for a pass."""
    refresher = app.extensions.get(EXTENSION)
    if refresher is not None:
        return refresher
    q = app.extensions["qms"]
    refresher = ReportRefresher(lambda: ReportEngine(q.store, q.config, q.service.clock))
    publish = q.service.publish

    def publish_then_refresh(events: list[dict]) -> None:
        try:
            publish(events)
        finally:
            refresher.kick()

    q.service.publish = publish_then_refresh
    app.extensions[EXTENSION] = refresher
    return refresher


def engine_for(app) -> ReportEngine:
    """The report engine for a request: the writer has caught up with the event log (waited
    for, at most WAIT_S; nothing is written here)."""
    refresher = install(app)
    refresher.catch_up()
    return refresher.make_engine()
