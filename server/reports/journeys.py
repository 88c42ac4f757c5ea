"""Ticket journeys folded from the event log (plain Python, no Flask), used for a
counter's figures of the day (`counter/stats.py`). The manager's reports over any range use
`report_fold.py` / `report_engine.py`, with the same definitions:
- wait = from ticket issued to its first call (a transfer keeps the clock: it is not reset);
- service = from start (or, if the officer finished without pressing start, the call) to
  finish, at the counter that finished it;
- within target = share of called tickets whose wait was at most the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Journey:
    ticket_id: int
    issued_at: datetime
    team_id: int
    procedure_code: str | None
    priority: str | None
    first_called_at: datetime | None = None
    called_counter: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    finished_counter: int | None = None
    status: str = "waiting"
    transfers: int = 0
    recalls: int = 0
    rating: int | None = None
    serve_team: int | None = None

    @property
    def wait_s(self) -> float | None:
        if self.first_called_at is None:
            return None
        return (self.first_called_at - self.issued_at).total_seconds()

    @property
    def service_s(self) -> float | None:
        if self.status != "done" or self.finished_at is None or self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def journeys(events) -> dict[int, Journey]:
    """Fold ticket events (in seq order) into one journey per ticket."""
    out: dict[int, Journey] = {}
    for e in events:
        tid = e.get("ticket_id")
        if tid is None:
            continue
        at = datetime.fromisoformat(e["at"])
        kind = e["type"]
        t = e.get("ticket") or {}
        if kind == "ticket.issued":
            out[tid] = Journey(tid, at, e["team_id"], t.get("procedure_code"),
                               t.get("priority"))
            continue
        j = out.get(tid)
        if j is None:
            continue
        if kind == "ticket.called":
            if j.first_called_at is None:
                j.first_called_at, j.called_counter = at, e["counter"]
            j.status, j.serve_team = "called", e["team_id"]
            j.started_at = None
        elif kind == "ticket.recalled":
            j.recalls += 1
        elif kind == "ticket.started":
            j.started_at, j.status = at, "serving"
        elif kind == "ticket.finished":
            if j.started_at is None and t.get("called_at"):
                j.started_at = datetime.fromisoformat(t["called_at"])
            j.finished_at, j.finished_counter, j.status = at, e["counter"], "done"
        elif kind == "ticket.no_show":
            j.status, j.finished_at = "no_show", at
        elif kind == "ticket.transferred":
            j.transfers += 1
            j.status = "waiting"
        elif kind == "ticket.cancelled":
            j.status = "cancelled"
        elif kind == "ticket.rated":
            j.rating = e.get("score")
    return out
