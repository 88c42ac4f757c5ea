"""Wait estimates from the recent throughput of the counters that serve a team.

The naive estimate (`queue.estimate_wait`) is people ahead x the team's mean service time
(start -> finish) / open counters. It misses three things a hall shows every day:

- a counter is busy from the *call*, not from the start: the citizen walks up, some never
  come (no-shows), so the occupancy per ticket (call -> finish or no-show) is what limits
  throughput;
- counters differ: a fast officer and a slow one are not two average officers;
- a counter that serves several teams helps a team only when its earlier teams are empty.

This estimator gives every open counter c serving team T a rate `share_c / occupancy_c`:
occupancy from the counter's own recent tickets (else the team's, else the default), and
share 1 when T comes first in the counter's order or every earlier team of the counter has
nobody waiting; otherwise the share of the counter's recent tickets that were T's (at
least a small floor). The team's service rate is the sum; the wait for someone with
`ahead` people in front is (ahead + 0.5) / rate.

Pure Python: no Flask, no SQL. The service passes the counters, the waiting counts and the
recent finished tickets (from events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile

RECENT_PER_COUNTER = 8     # tickets per counter the occupancy mean uses
RECENT_PER_TEAM = 20
WINDOW_S = 90 * 60         # history older than this is ignored
MIN_SHARE = 0.05
MIN_OCCUPANCY_S = 20.0


@dataclass(frozen=True)
class CounterLoad:
    number: int
    teams: tuple[int, ...]   # in the counter's own order
    open: bool


@dataclass(frozen=True)
class Served:
    """One ticket a counter has finished (or marked no-show)."""

    counter: int
    team_id: int
    called_at: datetime
    ended_at: datetime

    @property
    def occupancy_s(self) -> float:
        return max(MIN_OCCUPANCY_S, (self.ended_at - self.called_at).total_seconds())


def served_from_events(events: Iterable[dict]) -> list[Served]:
    """`ticket.finished` / `ticket.no_show` events (as pushed) -> Served, newest first."""
    out = []
    for e in events:
        t = e.get("ticket") or {}
        if e.get("counter") is None or not t.get("called_at"):
            continue
        out.append(Served(e["counter"], e["team_id"], datetime.fromisoformat(t["called_at"]),
                          datetime.fromisoformat(e["at"])))
    out.sort(key=lambda s: s.ended_at, reverse=True)
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class WaitEstimator:
    """Built once per state (counters, waiting counts, history); asked per team."""

    def __init__(self, counters: Sequence[CounterLoad], waiting: dict[int, int],
                 history: Sequence[Served], now: datetime, default_s: float):
        self.counters = counters
        self.waiting = waiting
        self.default_s = float(default_s)
        # the history is newest first: stop at the first one outside the window (it was a
        # full pass with a timedelta per ticket, ~6 % of an issue's CPU, issue #14)
        cutoff = now - timedelta(seconds=WINDOW_S)
        recent = list(takewhile(lambda s: s.ended_at >= cutoff, history))
        self.by_counter: dict[int, list[Served]] = {}
        self.by_team: dict[int, list[Served]] = {}
        for s in recent:  # newest first
            self.by_counter.setdefault(s.counter, []).append(s)
            self.by_team.setdefault(s.team_id, []).append(s)

    def occupancy(self, counter: int, team_id: int) -> float:
        own = self.by_counter.get(counter, [])[:RECENT_PER_COUNTER]
        team = self.by_team.get(team_id, [])[:RECENT_PER_TEAM]
        m_team = _mean([s.occupancy_s for s in team])
        m_own = _mean([s.occupancy_s for s in own])
        if m_own is None:
            return m_team or self.default_s
        # shrink a counter with few tickets towards the team (or default) mean
        prior = m_team or self.default_s
        k = len(own)
        return (m_own * k + prior * 2) / (k + 2)

    def share(self, c: CounterLoad, team_id: int) -> float:
        pos = c.teams.index(team_id)
        if pos == 0 or all(self.waiting.get(t, 0) == 0 for t in c.teams[:pos]):
            return 1.0
        own = self.by_counter.get(c.number, [])[:RECENT_PER_COUNTER * 2]
        if not own:
            return MIN_SHARE
        return max(MIN_SHARE, sum(1 for s in own if s.team_id == team_id) / len(own))

    def open_counters(self, team_id: int) -> int:
        """How many open counters serve the team now (0: nobody can call its numbers, so
        no wait can honestly be estimated)."""
        return sum(1 for c in self.counters if c.open and team_id in c.teams)

    def rate(self, team_id: int) -> float:
        """Tickets of the team served per second by its open counters."""
        serving = [c for c in self.counters if team_id in c.teams]
        rate = sum(self.share(c, team_id) / self.occupancy(c.number, team_id)
                   for c in serving if c.open)
        if rate <= 0:  # nobody open yet: assume one counter will open
            rate = 1.0 / self.occupancy(serving[0].number if serving else -1, team_id)
        return rate

    def wait_s(self, team_id: int, ahead: int) -> int:
        return int(round((ahead + 0.5) / self.rate(team_id)))
