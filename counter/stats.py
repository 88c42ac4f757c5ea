"""Today's figures for one counter, derived from the event log (plain Python, no SQL).

The day's events go through the one fold of the event log (`server.reports.fold`), the same
one the manager's reports use, so the definitions are the same:

- served = tickets finished at the counter (status `done`); a ticket the system closed at
  the end of its business day (`day_closed`) is not served and not timed;
- service time = start (or call, when the officer finished without pressing start) to
  finish; ratings = those given to tickets served at the counter;
- wait = issue to first call, counted at the counter that made the first call;
- called / no-show / transferred = those actions taken at the counter;
- steps (visits of several steps under one number, issue #15): `steps_served` = the steps
  the counter served (sent on to the next step or finished), `moved_on` = those sent on,
  `avg_step_service_s` = their mean service time, as the by-step report's `counters`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from server.reports.figures import step_counters
from server.reports.fold import fold, fold_steps

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def counter_today(events: list[dict], counter: int, tz: ZoneInfo = BUSINESS_TZ) -> dict:
    """Figures for `counter` from the day's events (in seq order)."""
    journeys = fold(events, tz)
    served = [j for j in journeys.values() if j["status"] == "done" and j["counter"] == counter]
    service = [j["service_s"] for j in served if j["service_s"] is not None]
    mine = [e for e in events if e.get("counter") == counter]
    first_calls: dict[int, int | None] = {}
    for e in events:
        if e["type"] == "ticket.called":
            first_calls.setdefault(e.get("ticket_id"), e.get("counter"))
    waits = [j["wait_s"] for tid, j in journeys.items()
             if j["wait_s"] is not None and first_calls.get(tid) == counter]
    ratings = {str(s): 0 for s in (4, 3, 2, 1)}
    for j in served:
        if j["rating"] is not None:
            ratings[str(j["rating"])] += 1
    rated = sum(ratings.values())
    steps = next((r for r in step_counters(fold_steps(events, tz)) if r["counter"] == counter),
                 {"served": 0, "moved_on": 0, "service_s": {"mean": None}})
    return {
        "counter": counter,
        "served": len(served),
        "called": sum(1 for e in mine if e["type"] == "ticket.called"),
        "no_show": sum(1 for e in mine if e["type"] == "ticket.no_show"),
        "transferred": sum(1 for e in mine if e["type"] == "ticket.transferred"),
        "steps_served": steps["served"],
        "moved_on": steps["moved_on"],
        "avg_step_service_s": steps["service_s"]["mean"],
        "avg_service_s": round(sum(service) / len(service), 1) if service else None,
        "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
        "ratings": ratings,
        "rated": rated,
        "rating_avg": (round(sum(int(s) * n for s, n in ratings.items()) / rated, 2)
                       if rated else None),
    }


def day_bounds(day_start_iso: str) -> tuple[str, str]:
    """[start, end) of a business day as UTC ISO strings, from its UTC start."""
    start = datetime.fromisoformat(day_start_iso).astimezone(UTC)
    end = start + timedelta(days=1)
    return (start.isoformat(timespec="milliseconds"), end.isoformat(timespec="milliseconds"))
