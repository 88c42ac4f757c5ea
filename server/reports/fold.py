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

A visit of several steps under one number (issue #15, `ticket.step_moved`) is one journey:
its wait is the first step's (issue -> first call), its service, counter and officer those
of the step that finished it. Every step is also a row of its own (`STEP_COLUMNS`, folded
when `apply_event` is given a `steps` dict; `fold_steps`):

- a step's wait = its arrival (the issue, or the move from the step before) -> its first
  call; its service = start (or the call) -> the finish or the move on, at its counter;
- outcome = "moved" (sent on to the next step), "done", "no_show", "cancelled",
  "day_closed" (neither served nor timed), or where it stands ("waiting", "called",
  "serving"); a visit of one step has one row, whose figures are the journey's.
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

STEP_COLUMNS = (
    "ticket_id", "site", "day", "number", "step", "step_name", "step_kind", "team_id",
    "arrived_at", "called_at", "wait_s", "started_at", "ended_at", "service_s", "counter",
    "officer", "outcome")
#: a step's outcomes that count as served there
STEP_SERVED = ("moved", "done")

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


def new_step(e: dict, index: int, day: str | None, info: dict | None = None) -> dict:
    t = e.get("ticket") or {}
    row = dict.fromkeys(STEP_COLUMNS)
    info = info or {}
    row.update(ticket_id=e["ticket_id"], site=e.get("site") or "main", day=day,
               number=t.get("number"), step=index, step_name=info.get("name"),
               step_kind=info.get("kind"), team_id=e.get("team_id"), arrived_at=e["at"],
               outcome="waiting")
    return row


def apply_step(steps: dict[int, list[dict]], e: dict, officer: str | None) -> None:
    """Apply one ticket event to the steps of its visit (ticket_id -> step rows)."""
    kind, at, counter, tid = e["type"], e["at"], e.get("counter"), e["ticket_id"]
    t = e.get("ticket") or {}
    if kind == "ticket.issued":
        steps[tid] = [new_step(e, 1, t.get("day"))]
        return
    rows = steps.get(tid)
    if not rows:
        return
    cur = rows[-1]
    if kind == "ticket.called":
        if cur["called_at"] is None:
            cur.update(called_at=at, wait_s=seconds(cur["arrived_at"], at))
        cur.update(outcome="called", team_id=e.get("team_id"), counter=counter,
                   started_at=None, officer=officer)
    elif kind == "ticket.started":
        cur.update(outcome="serving", started_at=at)
    elif kind == "ticket.transferred":
        cur.update(outcome="waiting", team_id=e.get("team_id"), started_at=None)
    elif kind in ("ticket.step_moved", "ticket.finished"):
        done = e.get("from_step") if kind == "ticket.step_moved" else e.get("step")
        if done:
            cur.update(step=done["index"], step_name=done["name"], step_kind=done["kind"])
        if e.get("reason") == "day_closed":
            cur.update(outcome="day_closed", ended_at=at, service_s=None)
            return
        started = cur["started_at"] or t.get("called_at") or at
        cur.update(outcome="moved" if kind == "ticket.step_moved" else "done",
                   started_at=started, ended_at=at, service_s=seconds(started, at),
                   counter=counter, officer=officer)
        if kind == "ticket.step_moved":
            info = e.get("step") or {}
            rows.append(new_step(e, info.get("index", cur["step"] + 1), cur["day"], info))
    elif kind == "ticket.no_show":
        cur.update(outcome="no_show", ended_at=at, counter=counter, officer=officer)
    elif kind == "ticket.cancelled":
        cur.update(outcome="cancelled", ended_at=at)


def apply_event(journeys: dict[int, dict], e: dict, tz: ZoneInfo, field_of: FieldOf,
                officers: dict[str, str],
                steps: dict[int, list[dict]] | None = None) -> int | None:
    """Apply one event to `journeys` (ticket_id -> row), and to `steps` (ticket_id -> step
    rows) when given; returns the ticket id it changed. Events of a ticket whose
    `ticket.issued` is not in `journeys` are skipped."""
    kind, at, counter = e["type"], e["at"], e.get("counter")
    actor = e.get("actor")
    if kind.startswith("counter."):
        officer_of(actor, counter, officers)
        return None
    tid = e.get("ticket_id")
    if tid is None:
        return None
    if steps is not None and kind.startswith("ticket."):
        apply_step(steps, e, officer_of(actor, counter, officers)
                   if kind in STEP_ACTS else None)
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
    elif kind == "ticket.step_moved":  # waits at the next step's team; still one journey
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


#: the events whose actor is the step's officer (called, finished, moved on, absent)
STEP_ACTS = ("ticket.called", "ticket.finished", "ticket.step_moved", "ticket.no_show")


def fold_into(journeys: dict[int, dict], events: Iterable[dict], tz: ZoneInfo,
              field_of: FieldOf = no_field, officers: dict[str, str] | None = None,
              steps: dict[int, list[dict]] | None = None) -> set[int]:
    """Fold `events` (in `seq` order per site) on top of `journeys` (ticket_id -> row, changed
    in place), and of `steps` when given; returns the ids of the tickets changed. `officers`
    (counter -> last user seen acting there) carries over between calls."""
    officers = {} if officers is None else officers
    changed: set[int] = set()
    for e in events:
        tid = apply_event(journeys, e, tz, field_of, officers, steps)
        if tid is not None:
            changed.add(tid)
    return changed


def fold(events: Iterable[dict], tz: ZoneInfo, field_of: FieldOf = no_field) -> dict[int, dict]:
    """Journeys (ticket_id -> row) of the tickets issued within `events`, folded from scratch."""
    journeys: dict[int, dict] = {}
    fold_into(journeys, events, tz, field_of)
    return journeys


def fold_steps(events: Iterable[dict], tz: ZoneInfo) -> list[dict]:
    """The step rows (`STEP_COLUMNS`) of the visits issued within `events`, from scratch."""
    steps: dict[int, list[dict]] = {}
    fold_into({}, events, tz, steps=steps)
    return [row for rows in steps.values() for row in rows]
