"""Kiosk state without Kivy: the "Lấy số" state machine, live queue figures, idle timers.

`TicketFlow` guarantees one ticket per intent: a tap on "Lấy số" starts an intent with a
fresh Idempotency-Key; taps while it is in flight are ignored; a retry after a failure
reuses the same key, so a request that reached the server before the link broke returns
the ticket already issued instead of a second one. The intent is forgotten once its
ticket is shown, or when the kiosk goes idle (the next citizen starts fresh).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qmsclient import ServerError, new_key

IDLE, ISSUING, ISSUED, FAILED = "idle", "issuing", "issued", "failed"


@dataclass
class Intent:
    procedure_code: str | None
    priority: str | None
    key: str
    team_id: int | None = None
    attempts: int = 0


@dataclass
class TicketFlow:
    state: str = IDLE
    intent: Intent | None = None
    ticket: dict | None = None
    error: ServerError | None = None
    taps_ignored: int = 0
    key_factory: Callable[[], str] = new_key

    def begin(self, procedure_code: str | None, priority: str | None = None,
              team_id: int | None = None) -> Intent | None:
        """A tap on "Lấy số". Returns the intent to send, or None while one is in flight."""
        if self.state == ISSUING:
            self.taps_ignored += 1
            return None
        same = (self.intent is not None and self.state == FAILED
                and (self.intent.procedure_code, self.intent.priority, self.intent.team_id)
                == (procedure_code, priority, team_id))
        if not same:
            self.intent = Intent(procedure_code, priority, self.key_factory(), team_id)
        return self._send()

    def retry(self) -> Intent | None:
        """The "Thử lại" button: the same intent and key again."""
        if self.state == ISSUING or self.intent is None:
            return None
        return self._send()

    def _send(self) -> Intent:
        assert self.intent is not None
        self.state = ISSUING
        self.error = None
        self.intent.attempts += 1
        return self.intent

    def succeeded(self, ticket: dict) -> None:
        self.state, self.ticket, self.error = ISSUED, ticket, None

    def failed(self, error: ServerError) -> None:
        self.state, self.error = FAILED, error

    def reset(self) -> None:
        """Idle timeout: the next citizen gets a new intent."""
        if self.state != ISSUING:
            self.state, self.intent, self.ticket, self.error = IDLE, None, None, None


@dataclass
class TeamInfo:
    id: int
    name: str
    name_en: str = ""
    waiting: int = 0
    estimated_wait_s: int | None = 0  # None: no counter open, nobody can say (issue #16)
    counters: list[int] = field(default_factory=list)
    counters_open: int | None = None  # None: the server did not say
    no_counter_open: bool = False


class QueueInfo:
    """Waiting counts and estimates per team, from /state snapshots and pushed events."""

    def __init__(self) -> None:
        self.teams: dict[int, TeamInfo] = {}
        self.centre = ""
        self.centre_en = ""
        self.timezone: str | None = None  # the centre's (GET /api/v1/state), not the PC's
        self.notice = ""
        self.seq = 0
        self.known = False  # a snapshot has arrived
        self._per_person: dict[int, float] = {}

    def apply_state(self, snap: dict) -> None:
        self.centre = snap.get("centre") or self.centre
        self.centre_en = snap.get("centre_en") or self.centre_en
        self.timezone = snap.get("timezone") or self.timezone
        self.notice = snap.get("notice") or ""
        self.seq = max(self.seq, int(snap.get("seq") or 0))
        teams = {}
        for t in snap.get("teams") or []:
            closed = bool(t.get("no_counter_open"))
            wait = t.get("estimated_wait_s")
            info = TeamInfo(int(t["id"]), t.get("name") or "", t.get("name_en") or "",
                            int(t.get("waiting") or 0),
                            None if closed or wait is None else int(wait),
                            list(t.get("counters") or []),
                            t.get("counters_open"), closed)
            if info.waiting and info.estimated_wait_s is not None:
                self._per_person[info.id] = info.estimated_wait_s / info.waiting
            teams[info.id] = info
        self.teams = teams
        self.known = True

    def apply_event(self, evt: dict) -> bool:
        """Update counts from an event's `waiting` map; True when something changed.

        Estimates scale with the count until the next snapshot brings the server's figure.
        """
        self.seq = max(self.seq, int(evt.get("seq") or 0))
        changed = self._apply_open(evt.get("counters_open"))
        waiting = evt.get("waiting")
        if not isinstance(waiting, dict):
            return changed
        for key, n in waiting.items():
            try:
                tid, n = int(key), int(n)
            except (TypeError, ValueError):
                continue
            info = self.teams.get(tid)
            if info is None or info.waiting == n:
                continue
            per = self._per_person.get(tid)
            if per is None and info.waiting and info.estimated_wait_s is not None:
                per = info.estimated_wait_s / info.waiting
            info.waiting = n
            if per is not None and not info.no_counter_open:
                info.estimated_wait_s = int(per * n)
            changed = True
        return changed

    def _apply_open(self, counts) -> bool:
        """Open counters per team ({"1": 2, ...} on ticket events): a team with none has no
        estimate until the next snapshot brings the server's figure."""
        if not isinstance(counts, dict):
            return False
        changed = False
        for key, n in counts.items():
            try:
                info, n = self.teams.get(int(key)), int(n)
            except (TypeError, ValueError):
                continue
            if info is None or info.counters_open == n:
                continue
            info.counters_open, info.no_counter_open = n, n == 0
            if n == 0:
                info.estimated_wait_s = None
            changed = True
        return changed

    def team(self, team_id: int | None) -> TeamInfo | None:
        return self.teams.get(int(team_id)) if team_id is not None else None

    def centre_name(self, lang: str = "vi") -> str:
        """The centre's name in the screen's language (its English name when there is one)."""
        return (self.centre_en if lang == "en" and self.centre_en else "") or self.centre

    def team_name(self, team_id: int | None, fallback: str = "", lang: str = "vi") -> str:
        info = self.team(team_id)
        if info is None:
            return fallback
        return (info.name_en if lang == "en" and info.name_en else "") or fallback or info.name


class IdleClock:
    """When to go Home, show the screensaver, or leave the ticket screen.

    `touched()` on every touch; `due(screen, now)` returns "home", "saver" or None.
    """

    def __init__(self, home_after_s: float, saver_after_s: float, ticket_after_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.home_after_s = home_after_s
        self.saver_after_s = saver_after_s
        self.ticket_after_s = ticket_after_s
        self.clock = clock
        self.last = clock()
        self.entered = self.last

    def touched(self) -> None:
        self.last = self.clock()

    def entered_screen(self) -> None:
        self.entered = self.clock()
        self.last = max(self.last, self.entered)

    def idle_for(self, now: float | None = None) -> float:
        return (self.clock() if now is None else now) - self.last

    def due(self, screen: str, now: float | None = None, busy: bool = False) -> str | None:
        if busy:
            return None
        idle = self.idle_for(now)
        if screen == "saver":
            return None
        if screen == "ticket":
            return "home" if idle >= self.ticket_after_s else None
        if screen == "home":
            return "saver" if idle >= self.saver_after_s else None
        return "home" if idle >= self.home_after_s else None

    def remaining(self, screen: str, now: float | None = None) -> int:
        limit = {"ticket": self.ticket_after_s, "home": self.saver_after_s}.get(
            screen, self.home_after_s)
        return max(0, int(round(limit - self.idle_for(now))))
