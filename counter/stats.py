"""Today's figures for one counter, derived from the event log (plain Python, no SQL).

Served = tickets finished at the counter today; service time = start (or call, when the
officer finished without pressing start) to finish, as in `server.journeys`; ratings are
those given to tickets finished at the counter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.reports import journeys as reports


def counter_today(events: list[dict], counter: int) -> dict:
    """Figures for `counter` from the day's events (in seq order)."""
    journeys = reports.journeys(events)
    served = [j for j in journeys.values()
              if j.status == "done" and j.finished_counter == counter]
    service = [s for s in (j.service_s for j in served) if s is not None]
    waits = [j.wait_s for j in journeys.values()
             if j.called_counter == counter and j.wait_s is not None]
    ratings = {str(s): 0 for s in (4, 3, 2, 1)}
    for j in served:
        if j.rating is not None:
            ratings[str(j.rating)] += 1
    rated = sum(ratings.values())
    mine = [e for e in events if e.get("counter") == counter]
    return {
        "counter": counter,
        "served": len(served),
        "called": sum(1 for e in mine if e["type"] == "ticket.called"),
        "no_show": sum(1 for e in mine if e["type"] == "ticket.no_show"),
        "transferred": sum(1 for e in mine if e["type"] == "ticket.transferred"),
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
