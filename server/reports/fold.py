"""The one fold of the event log: events -> one journey row per ticket (plain Python, no SQL,
no Flask).

Everything that derives figures from tickets goes through here: the report engine keeps the
`journeys` table up to date with `fold_into` (new events in `seq` order, on top of the stored
rows), and a counter's figures of the day (`counter/stats.py`) fold the day's events from
scratch with `fold`. Definitions:

- wait = issue -> first call (a transfer keeps the clock: later calls do not reset it);
- service = start (or the call, when the officer finished without pressing start) -> finish,
  at the counter that finished the ticket;
- a ticket still called or serving when its business day closed (the service finishes it
  with `reason: day_closed` on the first command of a later day) is `day_closed`: it keeps
  its wait, but it is neither served nor timed (its "service" would run overnight and no
  officer finished it); one still waiting then is `cancelled`;
- team = the team the ticket was issued to; counter and officer = where it was last called
  or finished; field = the procedure's field (lĩnh vực);
- officer = the signed-in user who called or finished it; when a counter device (keypad
  bridge) pressed the key, the last user seen acting at that counter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

JOURNEY_COLUMNS = (
    "ticket_id", "site", "day", "hour", "weekday", "number", "issued_at", "team_id",
    "serve_team", "counter", "officer", "procedure_code", "field", "priority", "channel",
    "status", "first_called_at", "wait_s", "started_at", "finished_at", "service_s",
    "left_queue_at", "transfers", "recalls", "rating", "rating_reason", "rated_at")

FieldOf = Callable[[str | None], str | None]


def no_field(code: str | None) -> str | None:
    return None


def seconds(a: str, b: str) -> float:
    """Seconds from ISO time `a` to ISO time `b` (millisecond precision)."""
    return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), 3)


def officer_of(actor: str | None, counter: int | None, officers: dict[str, str]) -> str | None:
    """The officer behind an action; remembers users acting at a counter for device actions."""
    if actor and actor.startswith("user:"):
        name = actor[5:]
        if counter is not None:
            officers[str(counter)] = name
        return name
    if counter is None:
        return None
    return officers.get(str(counter))


def new_journey(e: dict, tz: ZoneInfo, field_of: FieldOf) -> dict:
    t = e.get("ticket") or {}
    local = datetime.fromisoformat(e["at"]).astimezone(tz)
    code = t.get("procedure_code")
    row = dict.fromkeys(JOURNEY_COLUMNS)
    row.update(ticket_id=e["ticket_id"], site=e.get("site") or "main",
               day=t.get("day") or local.date().isoformat(), hour=local.hour,
               weekday=local.weekday(), number=t.get("number"), issued_at=e["at"],
               team_id=e["team_id"], procedure_code=code, field=field_of(code) if code else "",
               priority=t.get("priority"), channel=t.get("channel"), status="waiting",
               transfers=0, recalls=0)
    return row


def apply_event(journeys: dict[int, dict], e: dict, tz: ZoneInfo, field_of: FieldOf,
                officers: dict[str, str]) -> int | None:
    """Apply one event to `journeys` (ticket_id -> row); returns the ticket id it changed.
    Events of a ticket whose `ticket.issued` is not in `journeys` are skipped."""
    kind, at, counter = e["type"], e["at"], e.get("counter")
    actor = e.get("actor")
    if kind.startswith("counter."):
        officer_of(actor, counter, officers)
        return None
    tid = e.get("ticket_id")
    if tid is None:
        return None
    if kind == "ticket.issued":
        journeys[tid] = new_journey(e, tz, field_of)
        return tid
    j = journeys.get(tid)
    if j is None:
        return None
    t = e.get("ticket") or {}
    if kind == "ticket.called":
        if j["first_called_at"] is None:
            j["first_called_at"] = at
            j["wait_s"] = seconds(j["issued_at"], at)
        j["left_queue_at"] = j["left_queue_at"] or at
        j.update(status="called", serve_team=e.get("team_id"), counter=counter,
                 started_at=None, officer=officer_of(actor, counter, officers))
    elif kind == "ticket.recalled":
        j["recalls"] += 1
        officer_of(actor, counter, officers)
    elif kind == "ticket.started":
        j.update(status="serving", started_at=at)
        officer_of(actor, counter, officers)
    elif kind == "ticket.finished":
        if e.get("reason") == "day_closed":
            j.update(status="day_closed", finished_at=at, service_s=None)
            return tid
        started = j["started_at"] or t.get("called_at") or at
        j.update(status="done", started_at=started, finished_at=at,
                 service_s=seconds(started, at), counter=counter,
                 serve_team=e.get("team_id"), officer=officer_of(actor, counter, officers))
    elif kind == "ticket.no_show":
        j.update(status="no_show", finished_at=at, counter=counter,
                 officer=officer_of(actor, counter, officers))
    elif kind == "ticket.transferred":
        j["transfers"] += 1
        j.update(status="waiting", started_at=None)
        officer_of(actor, counter, officers)
    elif kind == "ticket.cancelled":
        j["status"] = "cancelled"
        j["left_queue_at"] = j["left_queue_at"] or at
    elif kind == "ticket.rated":
        j.update(rating=e.get("score"), rating_reason=e.get("reason") or "", rated_at=at)
    else:
        return None
    return tid


def fold_into(journeys: dict[int, dict], events: Iterable[dict], tz: ZoneInfo,
              field_of: FieldOf = no_field, officers: dict[str, str] | None = None) -> set[int]:
    """Fold `events` (in `seq` order per site) on top of `journeys` (ticket_id -> row, changed
    in place); returns the ids of the tickets changed. `officers` (counter -> last user seen
    acting there) carries over between calls."""
    officers = {} if officers is None else officers
    changed: set[int] = set()
    for e in events:
        tid = apply_event(journeys, e, tz, field_of, officers)
        if tid is not None:
            changed.add(tid)
    return changed


def fold(events: Iterable[dict], tz: ZoneInfo, field_of: FieldOf = no_field) -> dict[int, dict]:
    """Journeys (ticket_id -> row) of the tickets issued within `events`, folded from scratch."""
    journeys: dict[int, dict] = {}
    fold_into(journeys, events, tz, field_of)
    return journeys
