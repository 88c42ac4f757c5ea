"""Wait and service time reports, derived from the event log (plain Python, no Flask).

Definitions (also shown on the manager's page):
- wait = from ticket issued to its first call (a transfer keeps the clock: it is not reset);
- service = from start (or, if the officer finished without pressing start, the call) to
  finish, at the counter that finished it;
- within target = share of called tickets whose wait was at most the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import ValidationFailed

GROUPS = ("team", "counter", "procedure", "hour", "day", "all")


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


def stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    v = sorted(values)
    return {"count": len(v), "mean": round(sum(v) / len(v), 1), "p50": percentile(v, 50),
            "p90": percentile(v, 90), "max": round(v[-1], 1)}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return round(sorted_values[k], 1)


@dataclass
class Group:
    key: str | int | None
    issued: int = 0
    called: int = 0
    served: int = 0
    no_show: int = 0
    transferred: int = 0
    cancelled: int = 0
    waits: list[float] = field(default_factory=list)
    services: list[float] = field(default_factory=list)
    within: int = 0


def group_key(j: Journey, by: str, tz: ZoneInfo):
    if by == "all":
        return "all"
    if by == "team":
        return j.serve_team or j.team_id
    if by == "counter":
        return j.finished_counter or j.called_counter
    if by == "procedure":
        return j.procedure_code
    local = j.issued_at.astimezone(tz)
    return local.hour if by == "hour" else local.date().isoformat()


def wait_report(js: list[Journey], by: str, tz: ZoneInfo, target_s: int) -> list[dict]:
    if by not in GROUPS:
        raise ValidationFailed(f"by must be one of {', '.join(GROUPS)}", code="bad_group")
    groups: dict = {}
    for j in js:
        g = groups.setdefault(group_key(j, by, tz), Group(group_key(j, by, tz)))
        g.issued += 1
        g.transferred += 1 if j.transfers else 0
        g.no_show += j.status == "no_show"
        g.cancelled += j.status == "cancelled"
        if j.wait_s is not None:
            g.called += 1
            g.waits.append(j.wait_s)
            g.within += j.wait_s <= target_s
        if j.service_s is not None:
            g.served += 1
            g.services.append(j.service_s)
    rows = []
    for key in sorted(groups, key=lambda k: (k is None, str(k).zfill(12))):
        g = groups[key]
        rows.append({"key": key, "issued": g.issued, "called": g.called, "served": g.served,
                     "no_show": g.no_show, "transferred": g.transferred,
                     "cancelled": g.cancelled, "wait_s": stats(g.waits),
                     "service_s": stats(g.services),
                     "within_target": round(g.within / g.called, 4) if g.called else None})
    return rows


def day_range(start: str | None, end: str | None, tz: ZoneInfo,
              today: date) -> tuple[datetime, datetime]:
    """Local dates (inclusive) to an aware [from, to) range."""
    try:
        d0 = date.fromisoformat(start) if start else today
        d1 = date.fromisoformat(end) if end else d0
    except ValueError as exc:
        raise ValidationFailed("from/to must be dates like 2026-11-22", code="bad_date") from exc
    if d1 < d0:
        raise ValidationFailed("to is before from", code="bad_date")
    if (d1 - d0).days > 400:
        raise ValidationFailed("at most 400 days per report", code="bad_date")
    return (datetime.combine(d0, time(), tz), datetime.combine(d1 + timedelta(days=1), time(), tz))
