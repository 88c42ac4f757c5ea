"""Pre-aggregated report figures for long date ranges (a year of a province's tickets).

Per site and business day, and again per month, the engine stores for every dimension and
group key: counts, wait/service sums and maxima, rating counts, the peak number waiting,
and wait/service histograms (one-minute buckets up to 2 h, then 10-minute buckets up to
8 h). A report over many days adds these rows up: counts, means, maxima and the share
within a whole-minute target stay exact; p50/p90 are interpolated inside their bucket
(within 60 s below two hours).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from . import report_figures as fig

NB = 156
STAT_DIMS = ("all", "site", "team", "counter", "officer", "procedure", "field", "hour",
             "weekday", "priority", "priority_class", "hourwd")
PEAK_DIMS = ("all", "site", "team")
SCALARS = ("issued", "called", "served", "no_show", "transferred", "cancelled", "wait_sum",
           "service_sum", "r1", "r2", "r3", "r4")


def bucket(s: float) -> int:
    if s <= 0:
        return 0
    m = math.ceil(s / 60)
    if m <= 120:
        return m - 1
    return min(NB - 1, 120 + math.ceil((s - 7200) / 600) - 1)


def edges(k: int) -> tuple[float, float]:
    if k < 120:
        return 60.0 * k, 60.0 * (k + 1)
    return 7200.0 + 600 * (k - 120), 7200.0 + 600 * (k - 119)


def key_of(dim: str, j: dict):
    if dim == "hourwd":
        return f"{j['weekday']}:{j['hour']:02d}"
    return fig.DIMS[dim](j)


def day_rows(journeys: list[dict], tz, now: str) -> list[dict]:
    """report_stats rows (period 'd') for the journeys of one site and business day."""
    if not journeys:
        return []
    site, day = journeys[0]["site"], journeys[0]["day"]
    out = []
    for dim in STAT_DIMS:
        groups: dict = defaultdict(list)
        for j in journeys:
            groups[key_of(dim, j)].append(j)
        for key, js in groups.items():
            wait_h = np.zeros(NB, dtype=np.uint32)
            serv_h = np.zeros(NB, dtype=np.uint32)
            row = dict.fromkeys(SCALARS, 0)
            row.update(dim=dim, period="d", day=day, site=site,
                       key="" if key is None else str(key), wait_max=None, service_max=None,
                       peak_waiting=0)
            for j in js:
                row["issued"] += 1
                row["no_show"] += j["status"] == "no_show"
                row["cancelled"] += j["status"] == "cancelled"
                row["transferred"] += 1 if j["transfers"] else 0
                if j["wait_s"] is not None:
                    row["called"] += 1
                    row["wait_sum"] += j["wait_s"]
                    row["wait_max"] = max(row["wait_max"] or 0, j["wait_s"])
                    wait_h[bucket(j["wait_s"])] += 1
                if j["status"] == "done" and j["service_s"] is not None:
                    row["served"] += 1
                    row["service_sum"] += j["service_s"]
                    row["service_max"] = max(row["service_max"] or 0, j["service_s"])
                    serv_h[bucket(j["service_s"])] += 1
                if j["rating"] in (1, 2, 3, 4):
                    row[f"r{j['rating']}"] += 1
            if dim in PEAK_DIMS:
                occ = fig.occupancy(js, tz, now)
                row["peak_waiting"] = max((o["peak"] for o in occ), default=0)
            row["wait_hist"] = wait_h.tobytes()
            row["service_hist"] = serv_h.tobytes()
            out.append(row)
    return out


def merge(rows: list[dict], group=lambda r: (r["dim"], r["site"], r["key"])) -> dict:
    """Add up stats rows per group: {group: merged row with numpy histograms}."""
    out: dict = {}
    for r in rows:
        g = group(r)
        m = out.get(g)
        wait_h = np.frombuffer(r["wait_hist"], dtype=np.uint32)
        serv_h = np.frombuffer(r["service_hist"], dtype=np.uint32)
        if m is None:
            m = out[g] = {k: r[k] for k in SCALARS}
            m.update(dim=r["dim"], site=r["site"], key=r["key"], wait_max=r["wait_max"],
                     service_max=r["service_max"], peak_waiting=r["peak_waiting"],
                     wait_hist=wait_h.astype(np.uint64), service_hist=serv_h.astype(np.uint64))
            continue
        for k in SCALARS:
            m[k] += r[k]
        for k in ("wait_max", "service_max", "peak_waiting"):
            if r[k] is not None and (m[k] is None or r[k] > m[k]):
                m[k] = r[k]
        m["wait_hist"] += wait_h
        m["service_hist"] += serv_h
    return out


def month_rows(day_stat_rows: list[dict], month: str) -> list[dict]:
    """report_stats rows (period 'm') from one site's day rows of a month."""
    out = []
    for m in merge(day_stat_rows).values():
        row = dict(m, period="m", day=month)
        row["wait_hist"] = m["wait_hist"].astype(np.uint32).tobytes()
        row["service_hist"] = m["service_hist"].astype(np.uint32).tobytes()
        out.append(row)
    return out


def hist_percentile(h, n: int, p: float, top: float | None) -> float | None:
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    cum = np.cumsum(h)
    k = int(np.searchsorted(cum, rank))
    before = int(cum[k - 1]) if k else 0
    lo, hi = edges(k)
    if top is not None:
        hi = min(hi, top)
    value = lo + (hi - lo) * (rank - before) / int(h[k])
    return round(value, 1)


def hist_stats(h, n: int, total: float, top: float | None) -> dict:
    if not n:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    return {"count": n, "mean": round(total / n, 1), "p50": hist_percentile(h, n, 50, top),
            "p90": hist_percentile(h, n, 90, top), "max": round(top, 1)}


def within(h, target_s: int) -> int:
    """Waits of at most target_s seconds (exact when target_s is whole minutes <= 2 h)."""
    full = [k for k in range(NB) if edges(k)[1] <= target_s]
    return int(h[: len(full)].sum())


def result_row(m: dict, key, target_s: int) -> dict:
    ratings = {str(s): int(m[f"r{s}"]) for s in (4, 3, 2, 1)}
    return fig.finish_row(
        key, int(m["issued"]), int(m["called"]), int(m["served"]), int(m["no_show"]),
        int(m["transferred"]), int(m["cancelled"]),
        hist_stats(m["wait_hist"], int(m["called"]), m["wait_sum"], m["wait_max"]),
        hist_stats(m["service_hist"], int(m["served"]), m["service_sum"], m["service_max"]),
        within(m["wait_hist"], target_s), ratings)


def typed_key(dim: str, key: str):
    if dim in fig.INT_DIMS:
        return int(key) if key != "" else None
    if dim in ("officer", "procedure", "counter") and key == "":
        return None
    return key


def summarize(rows: list[dict], by: str, target_s) -> list[dict]:
    """Same shape as report_figures.summarize, from stats rows of dimension `by` (or, for
    by='day', the 'all' rows of each day)."""
    if by == "day":
        merged = merge(rows, group=lambda r: r["day"])
        keys = {g: g for g in merged}
    else:
        merged = merge(rows, group=lambda r: r["key"])
        keys = {g: typed_key(by, g) for g in merged}
    out = [result_row(merged[g], keys[g], target_s(keys[g])) for g in merged]
    out.sort(key=lambda r: fig.sort_key(r["key"]))
    return out


def heatmap(hour_rows: list[dict], day_all_rows: list[dict]) -> dict:
    from datetime import date

    arrivals = [[0] * 24 for _ in range(7)]
    wait_sum = [[0.0] * 24 for _ in range(7)]
    called = [[0] * 24 for _ in range(7)]
    for r in hour_rows:
        wd, h = (int(x) for x in r["key"].split(":"))
        arrivals[wd][h] += r["issued"]
        wait_sum[wd][h] += r["wait_sum"]
        called[wd][h] += r["called"]
    days = [set() for _ in range(7)]
    for r in day_all_rows:
        days[date.fromisoformat(r["day"]).weekday()].add(r["day"])
    return fig.heatmap_result(arrivals, wait_sum, called, [len(d) for d in days])
