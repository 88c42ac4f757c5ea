"""A thread-safe, strictly ordered queue of call announcements.

Calls are announced in the order they arrive and never overlap: the next one
is handed out only after the previous one is marked done.  Nothing is
deduplicated: two calls of the same number a few milliseconds apart are both
announced, and a recall is announced again with the recall wording.

Two ways to use it:

* push mode - give a ``player`` and call :meth:`AnnouncementQueue.start`; a
  worker thread renders each call (``render(call) -> bytes``, by default
  :func:`display_board.voice.compose_announcement`) and plays it;
* pull mode - the display page or server loop calls :meth:`next` to get the
  next call, plays it however it likes, then calls :meth:`done`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AnnouncementQueue", "QueuedCall"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedCall:
    seq: int  # order of arrival, from 1
    number: int
    counter: int | None
    recall: bool = False
    lang: str = "vi"
    repeat: int = 1
    enqueued_at: float = field(default_factory=time.monotonic)


def _default_render(call: QueuedCall) -> bytes:
    from display_board.voice import compose_announcement

    return compose_announcement(call.number, call.counter, call.lang, call.recall, call.repeat)


class AnnouncementQueue:
    """Ordered, non-overlapping announcements.

    ``repeat``: how many times each sentence is said (after one chime);
    ``lang``: default language of calls.  ``player(call, wav)`` and
    ``render(call)`` are used only in push mode.
    """

    def __init__(
        self,
        player: Callable[[QueuedCall, bytes], object] | None = None,
        *,
        render: Callable[[QueuedCall], bytes] | None = None,
        repeat: int = 1,
        lang: str = "vi",
        history: int = 100,
    ) -> None:
        if repeat < 1:
            raise ValueError("repeat must be >= 1")
        self.player = player
        self.render = render or _default_render
        self.repeat = repeat
        self.lang = lang
        self._cond = threading.Condition()
        self._pending: deque[QueuedCall] = deque()
        self._current: QueuedCall | None = None
        self._seq = itertools.count(1)
        self._history: deque[QueuedCall] = deque(maxlen=history)
        self._worker: threading.Thread | None = None
        self._stopping = False

    # producers
    def enqueue(
        self,
        number: int,
        counter: int | None,
        *,
        recall: bool = False,
        lang: str | None = None,
        repeat: int | None = None,
    ) -> QueuedCall:
        """Queue one call; returns it with its arrival ``seq``."""
        with self._cond:
            call = QueuedCall(
                seq=next(self._seq),
                number=number,
                counter=counter,
                recall=recall,
                lang=lang or self.lang,
                repeat=repeat if repeat is not None else self.repeat,
            )
            self._pending.append(call)
            self._cond.notify_all()
            return call

    def recall(self, number: int, counter: int | None, **kwargs) -> QueuedCall:
        """Queue a recall (announced again, with the recall wording)."""
        return self.enqueue(number, counter, recall=True, **kwargs)

    # consumers
    def next(self, timeout: float | None = None) -> QueuedCall | None:
        """The next call, once the previous one is done; ``None`` on timeout or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._stopping:
                    return None
                if self._current is None and self._pending:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            self._current = self._pending.popleft()
            return self._current

    def done(self, call: QueuedCall) -> None:
        """Mark the call handed out by :meth:`next` as finished."""
        with self._cond:
            if self._current is None or call.seq != self._current.seq:
                raise ValueError(f"call {call.seq} is not the one being announced")
            self._history.append(call)
            self._current = None
            self._cond.notify_all()

    # state
    @property
    def current(self) -> QueuedCall | None:
        with self._cond:
            return self._current

    def pending(self) -> list[QueuedCall]:
        with self._cond:
            return list(self._pending)

    def history(self) -> list[QueuedCall]:
        """Announced calls, oldest first (bounded)."""
        with self._cond:
            return list(self._history)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or playing; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._current is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # push mode
    def start(self) -> None:
        """Start the worker thread that renders and plays calls in order."""
        if self.player is None:
            raise ValueError("start() needs a player")
        with self._cond:
            if self._worker is not None and self._worker.is_alive():
                return
            self._stopping = False
            self._worker = threading.Thread(target=self._run, name="announcements", daemon=True)
            self._worker.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the worker after the call being played; pending calls stay queued."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)
        with self._cond:
            self._worker = None
            self._stopping = False

    def _run(self) -> None:
        assert self.player is not None
        while True:
            call = self.next()
            if call is None:
                return
            try:
                self.player(call, self.render(call))
            except Exception:  # a failing speaker must not stop the board
                log.exception("announcement %s failed", call)
            finally:
                self.done(call)
