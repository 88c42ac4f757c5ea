"""The server's event stream for Python clients (the twin of `server/static/js/qms-live.js`).

`EventStream(client, on_event=...)`:

* loads the snapshot (GET /api/v1/state) and hands it to `on_snapshot`; its `seq` is where
  the stream starts;
* connects to Socket.IO with ``auth={"token": <client's token>, "rooms": ["site:<site>"]}``
  (no rooms: the token's own site) and receives every event of the site;
* hands events to `on_event` strictly in `seq` order, each exactly once, in one worker
  thread. A push that overtakes an earlier one (they may, on the way) waits in a buffer;
  a gap in `seq` (a push lost, or not arrived within `gap_grace` seconds) and every
  reconnect are first filled through GET /api/v1/events?since=<seq> (page by page), and
  only then is anything newer delivered;
* reconnects after the connection drops or the server restarts, with back-off
  (`reconnect_delay` doubling to `reconnect_delay_max`, jittered); a snapshot or catch-up
  that fails is tried again with the same back-off, holding newer events back meanwhile;
* when the server's log ends before the stream's `seq` (its database was replaced) or has
  a hole, loads a fresh snapshot instead: a snapshot replaces every event up to its `seq`;
* after `idle_poll` seconds (default 5, jittered) without a push, asks
  GET /api/v1/events?since=<seq> itself (one request, whether or not the socket is up): a
  push lost without a gap to show it (the last one before a quiet spell, or every push from
  another server process while their message queue is down) is a delay of seconds, never a
  stale state. At most one such poll per `idle_poll` seconds; a failed one is only logged;
* `stop()` disconnects and ends its threads.

Every callback - `on_snapshot(state)`, `on_event(event)`, `on_status(online)`,
`on_idle()` - runs in the worker thread, one at a time; an exception in one is logged and
does not stop the stream. `on_idle` comes after a batch of deliveries once nothing more is
queued, or every 0.5 s in a steady flood (e.g. redraw once after catching up).

`stats` counts: events (delivered), snapshots, catchups (GET /events rounds), caught_up
(events delivered from them), pushed, duplicates (pushes already delivered), overtaken
(pushes that arrived before an earlier seq), gaps, connects, reconnects, polls (idle
GET /events) and polled (events delivered from them).
"""

from __future__ import annotations

import heapq
import logging
import queue
import random
import threading
import time
from collections.abc import Callable

import socketio

from .http import Client

log = logging.getLogger("qms.client.events")

MAX_PENDING = 100_000  # pushes held while unsynced; beyond this they are dropped (caught up)


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(0.7, 1.3)


class EventStream:
    """Snapshot + pushed events in `seq` order, with catch-up and reconnect (see module)."""

    def __init__(self, client: Client, *, on_event: Callable[[dict], None],
                 on_snapshot: Callable[[dict], None] | None = None,
                 on_status: Callable[[bool], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 site: str | None = None, gap_grace: float = 0.25,
                 snapshot_on_reconnect: bool = False,
                 reconnect_delay: float = 0.5, reconnect_delay_max: float = 5.0,
                 connect_timeout: float = 5.0, transports: tuple[str, ...] = ("websocket",),
                 page_size: int = 1000, idle_poll: float | None = 5.0,
                 name: str = "events"):
        self.client, self.site, self.name = client, site, name
        self.on_event = on_event
        self.on_snapshot = on_snapshot
        self.on_status = on_status
        self.on_idle = on_idle
        self.gap_grace = gap_grace
        self.snapshot_on_reconnect = snapshot_on_reconnect
        self.reconnect_delay, self.reconnect_delay_max = reconnect_delay, reconnect_delay_max
        self.connect_timeout, self.transports, self.page_size = (connect_timeout, transports,
                                                                 page_size)
        self.seq: int | None = None  # the last event delivered (or the snapshot's seq)
        self.online = False  # the socket is connected
        self.idle_poll = idle_poll if idle_poll and idle_poll > 0 else None
        self.stats = dict.fromkeys(("events", "snapshots", "catchups", "caught_up", "pushed",
                                    "duplicates", "overtaken", "gaps", "connects",
                                    "reconnects", "polls", "polled"), 0)
        self._work: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        # the connector's side
        self._gen = 0  # which socket is current; older sockets' news is ignored
        self._sio: socketio.Client | None = None
        self._dropped: threading.Event | None = None
        # the worker's side
        self._pending: list[tuple[int, dict]] = []  # heap by seq
        self._pending_seqs: set[int] = set()
        self._top: int | None = None  # highest seq held
        self._synced = False  # caught up since the last (re)connect
        self._want_snapshot = False
        self._reconnected = False
        self._gap_since: float | None = None
        self._retry_at: float | None = None
        self._hold_until = 0.0
        self._failures = 0
        self._delivered = False  # since the last on_idle
        self._idle_at = 0.0
        self._heard_at = time.monotonic()  # the last push (or idle poll)
        self._poll_wait = _jitter(idle_poll or 0.0)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> EventStream:
        if self._threads:
            return self
        self._work.put(("start", 0, None))
        for target, suffix in ((self._worker, "worker"), (self._connector, "socket")):
            t = threading.Thread(target=target, name=f"{self.name}-{suffix}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and end the threads (waits up to `timeout` for each)."""
        self._stop.set()
        self._work.put(("stop", 0, None))
        self._hang_up()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    def resnapshot(self) -> None:
        """Load a fresh snapshot (in order with the events; `on_snapshot` is called)."""
        self._work.put(("snapshot", 0, None))

    def wait_until(self, predicate: Callable[[EventStream], bool],
                   timeout: float | None = None) -> bool:
        """Block until `predicate(stream)` holds (checked after each delivery or status
        change); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    @property
    def synced(self) -> bool:
        """Connected and caught up: every event up to `seq` has been delivered and newer
        ones arrive as pushes."""
        return self.online and self._synced

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Until the first snapshot has been delivered."""
        return self.wait_until(lambda s: s.seq is not None, timeout)

    def wait_for_seq(self, seq: int, timeout: float | None = None) -> bool:
        """Until every event up to `seq` has been delivered."""
        return self.wait_until(lambda s: s.seq is not None and s.seq >= seq, timeout)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the socket ----------------------------------------------------------------------------
    def _auth(self) -> dict:
        auth: dict = {"token": self.client.token}
        if self.site is not None:
            auth["rooms"] = [f"site:{self.site}"]
        return auth

    def _connector(self) -> None:
        """Connect; when the connection drops, connect again after a back-off."""
        delay = self.reconnect_delay
        while not self._stop.is_set():
            self._gen += 1
            gen, dropped = self._gen, threading.Event()
            sio = socketio.Client(reconnection=False, handle_sigint=False)
            sio.on("connect", lambda *_, gen=gen: self._work.put(("connect", gen, None)))
            sio.on("disconnect", lambda *_, gen=gen, dropped=dropped: (
                dropped.set(), self._work.put(("disconnect", gen, None))))
            sio.on("event", lambda evt: self._work.put(("event", 0, evt)))
            began = time.monotonic()
            try:
                sio.connect(self.client.server, auth=self._auth(),
                            transports=list(self.transports), wait_timeout=self.connect_timeout)
            except Exception as exc:  # refused, unreachable, timed out: try again later
                _quietly(sio.disconnect)
                wait = _jitter(delay)
                log.info("%s: cannot connect to %s (%s); again in %.1f s", self.name,
                         self.client.server, exc, wait)
                self._stop.wait(wait)
                delay = min(delay * 2, self.reconnect_delay_max)
                continue
            self._sio, self._dropped = sio, dropped
            if self._stop.is_set():
                break
            dropped.wait()
            self._sio = self._dropped = None
            if self._stop.is_set():
                break
            if time.monotonic() - began > 10:
                delay = self.reconnect_delay  # it was up a good while: start over
            wait = _jitter(delay)
            log.info("%s: connection lost; reconnecting in %.1f s", self.name, wait)
            self._stop.wait(wait)
            delay = min(delay * 2, self.reconnect_delay_max)
        self._hang_up()

    def _hang_up(self) -> None:
        sio, dropped = self._sio, self._dropped
        if dropped is not None:
            dropped.set()
        if sio is not None:
            _quietly(sio.disconnect)

    # -- the worker: ordered delivery ----------------------------------------------------------
    def _worker(self) -> None:
        while not self._stop.is_set():
            timeout = None
            if self._retry_at is not None:
                timeout = max(0.0, self._retry_at - time.monotonic())
            if self.idle_poll is not None and self.seq is not None:
                poll_in = max(0.0, self._heard_at + self._poll_wait - time.monotonic())
                timeout = poll_in if timeout is None else min(timeout, poll_in)
            try:
                kind, gen, item = self._work.get(timeout=timeout)
            except queue.Empty:
                kind, gen, item = "retry", 0, None
            if kind == "stop" or self._stop.is_set():
                return
            self._take(kind, gen, item)
            now = time.monotonic()
            if now < self._hold_until:  # backing off after a failed snapshot or catch-up
                self._retry_at = self._hold_until
                continue
            self._retry_at = None
            try:
                self._advance()
            except Exception as exc:  # ServerError, or an answer not shaped as expected
                self._failures += 1
                wait = _jitter(min(self.reconnect_delay * 2 ** min(self._failures - 1, 16),
                                   self.reconnect_delay_max))
                self._hold_until = self._retry_at = now + wait
                log.warning("%s: reading the state or events failed (%s); again in %.1f s",
                            self.name, exc, wait)
            else:
                self._failures = 0
            if self._poll_due(now):
                self._idle_check(now)
            if self._delivered and (self._work.empty() or now - self._idle_at > 0.5):
                self._delivered = False
                self._idle_at = now
                self._call(self.on_idle)

    def _take(self, kind: str, gen: int, item) -> None:
        if kind == "connect" and gen == self._gen:
            self.stats["connects"] += 1
            if self.stats["connects"] > 1:
                self.stats["reconnects"] += 1
                self._reconnected = True
            self._synced = False
            self._hold_until = 0.0  # the server is back: no need to wait out a back-off
            self._set_online(True)
        elif kind == "disconnect" and gen == self._gen:
            self._set_online(False)
        elif kind == "event":
            self._heard_at = time.monotonic()
            self._receive(item)
        elif kind == "snapshot":
            self._want_snapshot = True

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            self._call(self.on_status, online)
            self._notify()

    def _receive(self, evt) -> None:
        """Hold a pushed event until everything before it has been delivered."""
        try:
            seq = int(evt["seq"])
        except (TypeError, KeyError, ValueError):
            log.warning("%s: pushed message without seq ignored: %r", self.name, evt)
            return
        if self.site is not None and evt.get("site", self.site) != self.site:
            return
        self.stats["pushed"] += 1
        if (self.seq is not None and seq <= self.seq) or seq in self._pending_seqs:
            self.stats["duplicates"] += 1
            return
        if self._top is not None and seq < self._top:
            self.stats["overtaken"] += 1
        self._top = seq if self._top is None else max(self._top, seq)
        heapq.heappush(self._pending, (seq, evt))
        self._pending_seqs.add(seq)
        if len(self._pending) > MAX_PENDING:  # long unsynced: forget them, catch up instead
            self._pending.clear()
            self._pending_seqs.clear()
            self._top = None
            self._synced = False

    def _advance(self) -> None:
        if self.seq is None or self._want_snapshot:
            self._snapshot()
        elif not self._synced:
            if not self.online:
                return  # catch up once connected again
            self._catch_up()
            self._synced = True
            if self._reconnected and self.snapshot_on_reconnect:
                self._snapshot()
            self._reconnected = False
            self._notify()
        self._drain()

    def _drain(self) -> None:
        while self._pending:
            seq, evt = self._pending[0]
            if seq <= self.seq:
                self._pop()
                continue
            if seq == self.seq + 1:
                self._pop()
                self._deliver(evt)
                self._gap_since = None
                continue
            now = time.monotonic()
            if self._gap_since is None:
                self._gap_since = now
                self.stats["gaps"] += 1
            due = self._gap_since + self.gap_grace
            if now < due:
                self._retry_at = due  # the missing push may still come
                return
            self._catch_up()
            if self._pending and self._pending[0][0] > self.seq + 1:
                # not in the server's log yet (a push follows its commit, so this is rare)
                self._gap_since = now
                self._retry_at = now + max(self.gap_grace, 0.2)
                return
        self._gap_since = None

    def _pop(self) -> None:
        seq, _ = heapq.heappop(self._pending)
        self._pending_seqs.discard(seq)
        if not self._pending:
            self._top = None

    def _params(self, **extra) -> dict:
        params = {"site": self.site} if self.site is not None else {}
        params.update(extra)
        return params

    def _snapshot(self) -> None:
        state = self.client.get("/state", self._params())
        self.seq = int(state["seq"])
        self.stats["snapshots"] += 1
        self._synced = True
        self._want_snapshot = False
        self._delivered = True
        self._call(self.on_snapshot, state)
        self._notify()

    def _poll_due(self, now: float) -> bool:
        return (self.idle_poll is not None and self.seq is not None
                and not self._want_snapshot and not self._pending
                and now >= self._heard_at + self._poll_wait)

    def _idle_check(self, now: float) -> None:
        """No push for `idle_poll` seconds: read the log once (see module)."""
        self._heard_at, self._poll_wait = now, _jitter(self.idle_poll or 0.0)
        try:
            self._catch_up(poll=True)
        except Exception as exc:  # the server is away too: the reconnect will catch up
            log.debug("%s: idle poll failed (%s)", self.name, exc)

    def _catch_up(self, poll: bool = False) -> None:
        """Deliver every stored event after `seq`, page by page (`poll`: an idle check)."""
        self.stats["polls" if poll else "catchups"] += 1
        while True:
            page = self.client.get("/events", self._params(since=self.seq,
                                                           limit=self.page_size))
            head = int(page["seq"])
            if head < self.seq:
                log.warning("%s: the server's log ends at seq %d, before ours (%d): its "
                            "database was replaced; reloading the state", self.name, head,
                            self.seq)
                self._snapshot()
                return
            items = page.get("items") or []
            for evt in items:
                seq = int(evt["seq"])
                if seq <= self.seq:
                    continue
                if seq != self.seq + 1:
                    log.warning("%s: the server's log jumps from seq %d to %d; reloading "
                                "the state", self.name, self.seq, seq)
                    self._snapshot()
                    return
                self.stats["polled" if poll else "caught_up"] += 1
                self._deliver(evt)
            if not items or not page.get("more"):
                return

    def _deliver(self, evt: dict) -> None:
        self.seq = int(evt["seq"])
        self.stats["events"] += 1
        self._delivered = True
        self._call(self.on_event, evt)
        self._notify()

    def _call(self, fn, *args) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("%s: callback %s failed", self.name, getattr(fn, "__name__", fn))


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # closing something that may already be gone
        pass
