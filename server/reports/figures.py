"""Exact report figures from journey rows (plain Python; see `fold` for definitions).

Every function takes journey rows (dicts with the columns of `fold.JOURNEY_COLUMNS`)
and returns JSON-ready figures. The aggregate path (`stats`) returns the same
shapes for long date ranges.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import ValidationFailed

# dimension -> how to get a journey's group key
DIMS: dict[str, Callable[[dict], object]] = {
    "team": lambda j: j["team_id"],
    "counter": lambda j: j["counter"],
    "officer": lambda j: j["officer"],
    "procedure": lambda j: j["procedure_code"],
    "field": lambda j: j["field"] or "",
    "hour": lambda j: j["hour"],
    "weekday": lambda j: j["weekday"],
    "day": lambda j: j["day"],
    "priority": lambda j: "priority" if j["priority"] else "normal",
    "priority_class": lambda j: j["priority"] or "normal",
    "site": lambda j: j["site"],
    "all": lambda j: "all",
}
INT_DIMS = ("team", "counter", "hour", "weekday")
SATISFIED = (3, 4)  # "Hài lòng", "Rất hài lòng"


def check_dim(by: str) -> None:
    if by not in DIMS:
        raise ValidationFailed(f"by must be one of {', '.join(DIMS)}", code="bad_group")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return round(sorted_values[k], 1)


def stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    v = sorted(values)
    return {"count": len(v), "mean": round(sum(v) / len(v), 1), "p50": percentile(v, 50),
            "p90": percentile(v, 90), "max": round(v[-1], 1)}


def sort_key(k):
    return (k is None, str(k).zfill(12) if isinstance(k, int) else str(k))


def finish_row(key, issued, called, served, no_show, transferred, cancelled, wait, service,
               within, ratings) -> dict:
    rated = sum(ratings.values())
    happy = sum(ratings[str(s)] for s in SATISFIED)
    return {"key": key, "issued": issued, "called": called, "served": served,
            "no_show": no_show, "transferred": transferred, "cancelled": cancelled,
            "wait_s": wait, "service_s": service,
            "within_target": round(within / called, 4) if called else None,
            "ratings": ratings, "rated": rated,
            "satisfied_share": round(happy / rated, 4) if rated else None,
            "rating_avg": (round(sum(int(s) * n for s, n in ratings.items()) / rated, 2)
                           if rated else None)}


def summarize(rows: Iterable[dict], by: str, target_s: Callable[[object], int]) -> list[dict]:
    """Counts, wait and service stats, within-target share and ratings per group."""
    check_dim(by)
    key_of = DIMS[by]
    groups: dict = defaultdict(list)
    for j in rows:
        groups[key_of(j)].append(j)
    out = []
    for key in sorted(groups, key=sort_key):
        js = groups[key]
        waits = [j["wait_s"] for j in js if j["wait_s"] is not None]
        services = [j["service_s"] for j in js if j["status"] == "done"
                    and j["service_s"] is not None]
        limit = target_s(key)
        ratings = {str(s): 0 for s in (4, 3, 2, 1)}
        for j in js:
            if j["rating"] in (1, 2, 3, 4):
                ratings[str(j["rating"])] += 1
        out.append(finish_row(
            key, len(js), len(waits), len(services),
            sum(j["status"] == "no_show" for j in js), sum(1 for j in js if j["transfers"]),
            sum(j["status"] == "cancelled" for j in js), stats(waits), stats(services),
            sum(w <= limit for w in waits), ratings))
    return out


def heatmap(rows: Iterable[dict]) -> dict:
    """Arrivals and mean wait by weekday (0 = Monday) x hour of issue."""
    arrivals = [[0] * 24 for _ in range(7)]
    wait_sum = [[0.0] * 24 for _ in range(7)]
    called = [[0] * 24 for _ in range(7)]
    days = [set() for _ in range(7)]
    for j in rows:
        wd, h = j["weekday"], j["hour"]
        arrivals[wd][h] += 1
        days[wd].add(j["day"])
        if j["wait_s"] is not None:
            wait_sum[wd][h] += j["wait_s"]
            called[wd][h] += 1
    return heatmap_result(arrivals, wait_sum, called, [len(d) for d in days])


def heatmap_result(arrivals, wait_sum, called, days) -> dict:
    mean = [[round(wait_sum[w][h] / called[w][h], 1) if called[w][h] else None
             for h in range(24)] for w in range(7)]
    return {"arrivals": arrivals, "mean_wait_s": mean, "days": days}


def day_end(day: str, tz: ZoneInfo) -> str:
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), tz)
    return end.astimezone(ZoneInfo("UTC")).isoformat(timespec="milliseconds")


def occupancy(rows: Iterable[dict], tz: ZoneInfo, now: str) -> list[dict]:
    """Peak number of tickets waiting at once (issued, not yet first called nor cancelled),
    per site and business day, with the time it was first reached."""
    moves: dict[tuple[str, str], list] = defaultdict(list)
    for j in rows:
        end = j["left_queue_at"] or min(now, day_end(j["day"], tz))
        if end <= j["issued_at"]:
            continue
        moves[(j["site"], j["day"])] += [(j["issued_at"], 1), (end, -1)]
    out = []
    for (site, day), ms in sorted(moves.items()):
        ms.sort(key=lambda m: (m[0], m[1]))  # at the same instant, leaving comes first
        level = peak = 0
        peak_at = None
        for at, d in ms:
            level += d
            if level > peak:
                peak, peak_at = level, at
        out.append({"site": site, "day": day, "peak": peak, "at": peak_at})
    return out


def low_ratings(rows: Iterable[dict], max_score: int = 2, limit: int = 500) -> list[dict]:
    """Ratings of `max_score` or lower, newest first, with the reason given."""
    low = [j for j in rows if j["rating"] is not None and j["rating"] <= max_score]
    low.sort(key=lambda j: j["rated_at"] or "", reverse=True)
    return [{"ticket_id": j["ticket_id"], "day": j["day"], "number": j["number"],
             "team_id": j["team_id"], "counter": j["counter"], "officer": j["officer"],
             "procedure_code": j["procedure_code"], "score": j["rating"],
             "reason": j["rating_reason"] or "", "rated_at": j["rated_at"]}
            for j in low[:limit]]


def day_range(start: str | None, end: str | None, tz: ZoneInfo,
              today: date, max_days: int = 400) -> tuple[date, date]:
    """Local dates (inclusive) from the query string; defaults to today."""
    try:
        d0 = date.fromisoformat(start) if start else today
        d1 = date.fromisoformat(end) if end else d0
    except ValueError as exc:
        raise ValidationFailed("from/to must be dates like 2026-11-22", code="bad_date") from exc
    if d1 < d0:
        raise ValidationFailed("to is before from", code="bad_date")
    if (d1 - d0).days > max_days:
        raise ValidationFailed(f"at most {max_days} days per report", code="bad_date")
    return d0, d1


def month_range(month: str) -> tuple[date, date]:
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise ValidationFailed("month must look like 2026-11", code="bad_date") from exc
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, nxt - timedelta(days=1)


def step_summary(rows: Iterable[dict]) -> list[dict]:
    """Per step of the visits of several steps (step rows of `fold.fold_steps` with a
    step name; a visit counts once its first step ended): arrivals, calls, served there
    (sent on or finished), absent, cancelled, still open, and wait and service stats."""
    groups: dict = defaultdict(list)
    for r in rows:
        if r["step_name"] is not None:
            groups[(r["step"], r["team_id"], r["step_kind"], r["step_name"])].append(r)
    out = []
    for (index, team, kind, name), rs in sorted(groups.items(), key=lambda g: (g[0][0],
                                                                              g[0][1] or 0)):
        served = [r for r in rs if r["outcome"] in ("moved", "done")]
        out.append({
            "key": f"{index}:{team}", "step_index": index, "step_name": name,
            "step_kind": kind, "team_id": team, "arrived": len(rs),
            "called": sum(1 for r in rs if r["called_at"] is not None),
            "served": len(served), "moved_on": sum(1 for r in rs if r["outcome"] == "moved"),
            "finished": sum(1 for r in rs if r["outcome"] == "done"),
            "no_show": sum(1 for r in rs if r["outcome"] == "no_show"),
            "cancelled": sum(1 for r in rs if r["outcome"] in ("cancelled", "day_closed")),
            "open": sum(1 for r in rs if r["outcome"] in ("waiting", "called", "serving")),
            "wait_s": stats([r["wait_s"] for r in rs if r["wait_s"] is not None]),
            "service_s": stats([r["service_s"] for r in served
                                if r["service_s"] is not None])})
    return out


def step_counters(rows: Iterable[dict]) -> list[dict]:
    """Per counter, the steps it served (sent on or finished) of every visit, of one step or
    several: {"counter", "served", "moved_on", "service_s"} (the counter's figures show the
    same, `counter/stats.py`)."""
    groups: dict = defaultdict(list)
    for r in rows:
        if r["outcome"] in ("moved", "done") and r["counter"] is not None:
            groups[r["counter"]].append(r)
    return [{"counter": n, "served": len(rs),
             "moved_on": sum(1 for r in rs if r["outcome"] == "moved"),
             "service_s": stats([r["service_s"] for r in rs if r["service_s"] is not None])}
            for n, rs in sorted(groups.items())]
