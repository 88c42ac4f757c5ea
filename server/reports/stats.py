"""Pre-aggregated report figures for long date ranges (a year of a province's tickets).

Per site and business day (period 'd'), and again per month (period 'm'), the engine keeps
one `report_agg` row per dimension and group key with counts, wait/service sums and maxima,
rating counts, the day's peak number waiting (dimension 'all'/'site'), and wait/service
histograms. A report over many days adds these rows up with numpy: counts, means, maxima,
ratings and the share within a whole-minute target (up to 2 h) stay exact; p50/p90 are
interpolated inside their histogram bucket.

Histogram buckets: one minute wide up to 2 h (120 buckets), then 10 minutes wide up to 8 h
(36 buckets); the last bucket also holds longer values (its top is the group's maximum).
So a p50/p90 from aggregates is within 60 s of the exact nearest-rank value below 2 h, and
within 600 s between 2 h and 8 h.

Histograms are stored *sparse*: a BLOB of little-endian uint32 words, one per non-empty
bucket, `bucket | count << 8` (a count above 2^24 - 1 is split over several words). A group
of one ticket costs 4 bytes per histogram; a dense row would cost 624.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np

from . import figures as fig

NB = 156
STAT_DIMS = ("all", "site", "team", "counter", "officer", "procedure", "field", "hour",
             "weekday", "priority", "priority_class", "hourwd")
SUMS = ("issued", "called", "served", "no_show", "transferred", "cancelled", "wait_sum",
        "service_sum", "r1", "r2", "r3", "r4")
MAXES = ("wait_max", "service_max", "peak_waiting")
# the order of a report_agg row (storage/reports.py writes and reads these columns)
STAT_COLUMNS = ("dim", "period", "day", "site", "key", *SUMS, *MAXES, "wait_hist",
                "service_hist")
COL = {c: i for i, c in enumerate(STAT_COLUMNS)}
# journey columns the aggregates are built from
SOURCE_COLUMNS = ("site", "day", "hour", "weekday", "team_id", "counter", "officer",
                  "procedure_code", "field", "priority", "status", "wait_s", "service_s",
                  "transfers", "rating", "issued_at", "left_queue_at")
COUNT_BITS = 24
MAX_COUNT = (1 << COUNT_BITS) - 1


def bucket(s: float) -> int:
    if s <= 0:
        return 0
    m = math.ceil(s / 60)
    if m <= 120:
        return m - 1
    return min(NB - 1, 120 + math.ceil((s - 7200) / 600) - 1)


def buckets(s: np.ndarray) -> np.ndarray:
    """`bucket` over an array (same float arithmetic, same result)."""
    with np.errstate(invalid="ignore"):
        m = np.ceil(s / 60)
        long = np.minimum(NB - 1, 120 + np.ceil((s - 7200) / 600) - 1)
        b = np.where(m <= 120, m - 1, long)
        b = np.where(s <= 0, 0, b)
    return np.nan_to_num(b).astype(np.int64)


def edges(k: int) -> tuple[float, float]:
    if k < 120:
        return 60.0 * k, 60.0 * (k + 1)
    return 7200.0 + 600 * (k - 120), 7200.0 + 600 * (k - 119)


UPPER = np.array([edges(k)[1] for k in range(NB)])


# -- sparse histogram BLOBs ------------------------------------------------------------------
def encode_groups(group: np.ndarray, bucket_: np.ndarray, count: np.ndarray,
                  n_groups: int) -> list[bytes]:
    """One BLOB per group 0..n_groups-1 from (group, bucket, count) entries sorted by group."""
    count = count.astype(np.int64)
    if count.size and count.max() > MAX_COUNT:
        reps = -(-count // MAX_COUNT)
        idx = np.repeat(np.arange(count.size), reps)
        pos = np.arange(idx.size) - (np.cumsum(reps) - reps)[idx]
        group, bucket_ = group[idx], bucket_[idx]
        count = np.minimum(MAX_COUNT, count[idx] - pos * MAX_COUNT)
    words = (bucket_.astype(np.uint32) | (count.astype(np.uint32) << 8)).astype("<u4")
    raw = words.tobytes()
    bounds = (np.searchsorted(group, np.arange(n_groups + 1)) * 4).tolist()
    return [raw[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def encode_dense(h: np.ndarray) -> list[bytes]:
    """One BLOB per row of a (groups x NB) count matrix."""
    g, b = np.nonzero(h)
    return encode_groups(g, b, h[g, b], h.shape[0])


def dense(blobs: Sequence[bytes | None], group: np.ndarray, n_groups: int) -> np.ndarray:
    """Add up sparse BLOBs into a (n_groups x NB) float64 matrix; blob i goes to group[i]."""
    blobs = [b or b"" for b in blobs]
    lens = np.fromiter(map(len, blobs), np.int64, len(blobs)) // 4
    words = np.frombuffer(b"".join(blobs), dtype="<u4")
    g = np.repeat(group, lens)
    flat = g * NB + (words & 0xFF).astype(np.int64)
    return np.bincount(flat, weights=(words >> 8).astype(np.float64),
                       minlength=n_groups * NB).reshape(n_groups, NB)


def decode(blob: bytes | None) -> np.ndarray:
    return dense([blob], np.zeros(1, np.int64), 1)[0]


# -- building day rows from journeys ---------------------------------------------------------
def factorize(values) -> tuple[np.ndarray, list]:
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64,
                        len(values))
    return codes, list(index)


def _opt(v) -> str:
    return "" if v is None else str(v)


KEY_TEXT: dict[str, Callable] = {
    "all": lambda v: "all", "site": str, "team": _opt, "counter": _opt, "officer": _opt,
    "procedure": _opt, "field": lambda v: v or "", "hour": str, "weekday": str,
    "priority": lambda v: "priority" if v else "normal",
    "priority_class": lambda v: v or "normal",
    "hourwd": lambda v: f"{v[0]}:{v[1]:02d}",
}


RAW = {"team": "team_id", "procedure": "procedure_code", "priority_class": "priority",
       "priority": "priority"}
TEXT_COLUMNS = ("site", "day", "officer", "procedure_code", "field", "priority")


def column_codes(values, text: bool) -> tuple[np.ndarray, list]:
    """Codes and distinct values of one journey column, sorted in C (None kept as None)."""
    if text:
        arr = np.array([v if v is not None else "\x00" for v in values], dtype=str)
        uniq, codes = np.unique(arr, return_inverse=True)
        return codes, [None if u == "\x00" else str(u) for u in uniq.tolist()]
    arr = np.array(values, dtype=np.float64)
    uniq, codes = np.unique(arr, return_inverse=True)  # NaN (None) sorts last
    return codes, [None if math.isnan(u) else int(u) for u in uniq.tolist()]


def dim_keys(dim: str, raw: dict) -> tuple[np.ndarray, list[str]]:
    """Per journey, the code of its group key in dimension `dim`, and the key texts;
    `raw` maps a journey column to its column_codes."""
    n = len(raw["site"][0])
    if dim == "all":
        return np.zeros(n, np.int64), ["all"]
    if dim == "hourwd":
        (hc, hv), (wc, wv) = raw["hour"], raw["weekday"]
        codes = wc * len(hv) + hc
        texts = [KEY_TEXT[dim]((w, h)) for w in wv for h in hv]
    else:
        codes, uniques = raw[RAW.get(dim, dim)]
        texts = [KEY_TEXT[dim](u) for u in uniques]
    kcodes, keys = factorize(texts)
    return kcodes[codes], keys


def peaks(c: dict, group: np.ndarray, n_groups: int, now: str, day_end) -> np.ndarray:
    """Most tickets waiting at once (issued, not yet first called nor cancelled) per group
    (a site and day), as figures.occupancy counts it."""
    starts, ends, owners = [], [], []
    for i, (at, left, day) in enumerate(zip(c["issued_at"], c["left_queue_at"], c["day"],
                                            strict=True)):
        end = left or min(now, day_end(day))
        if end > at:
            starts.append(at)
            ends.append(end)
            owners.append(i)
    out = np.zeros(n_groups, np.int64)
    if not owners:
        return out
    g = group[np.array(owners)]
    times = np.array(starts + ends)
    _, rank = np.unique(times, return_inverse=True)
    gg = np.concatenate([g, g])
    delta = np.concatenate([np.ones(len(g), np.int64), -np.ones(len(g), np.int64)])
    order = np.lexsort((delta, rank, gg))  # at the same instant, leaving comes first
    level = np.cumsum(delta[order])  # every group adds up to 0, so no reset is needed
    gs = gg[order]
    first = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    out[gs[first]] = np.maximum.reduceat(level, first)
    return out


def day_rows(c: dict, now: str, day_end) -> list[tuple]:
    """report_agg rows (period 'd', in STAT_COLUMNS order) for journeys given as columns
    (`SOURCE_COLUMNS` -> sequence), any number of sites and days."""
    n = len(c["site"])
    if not n:
        return []
    raw = {col: column_codes(c[col], col in TEXT_COLUMNS)
           for col in ("site", "day", "team_id", "counter", "officer", "procedure_code",
                       "field", "hour", "weekday", "priority")}
    (site_c, site_v), (day_c, day_v) = raw["site"], raw["day"]
    sd_u, sd = np.unique(site_c * len(day_v) + day_c, return_inverse=True)
    sd_keys = [(site_v[u // len(day_v)], day_v[u % len(day_v)]) for u in sd_u.tolist()]
    wait = np.array(c["wait_s"], dtype=np.float64)
    service = np.array(c["service_s"], dtype=np.float64)
    status = np.array(c["status"], dtype=object)
    rating = np.array([r if r in (1, 2, 3, 4) else 0 for r in c["rating"]], np.int64)
    transferred = np.array([1 if t else 0 for t in c["transfers"]], np.float64)
    called = ~np.isnan(wait)
    served = (status == "done") & ~np.isnan(service)
    flags = {"no_show": (status == "no_show").astype(np.float64),
             "cancelled": (status == "cancelled").astype(np.float64),
             "transferred": transferred}
    wait_b = buckets(np.where(called, wait, 0))
    serv_b = buckets(np.where(served, service, 0))
    sd_peak = peaks(c, sd, len(sd_keys), now, day_end)
    out: list[tuple] = []
    for dim in STAT_DIMS:
        kc, keys = dim_keys(dim, raw)
        uniq, g = np.unique(sd * len(keys) + kc, return_inverse=True)
        n_g = len(uniq)
        g_sd, g_key = uniq // len(keys), uniq % len(keys)

        def count(mask=None, weights=None, g=g, n_g=n_g):
            idx = g if mask is None else g[mask]
            w = weights if mask is None or weights is None else weights[mask]
            return np.bincount(idx, weights=w, minlength=n_g)

        def top(mask, values, g=g, n_g=n_g):
            m = np.full(n_g, -np.inf)
            np.maximum.at(m, g[mask], values[mask])
            return [None if v == -np.inf else v for v in m.tolist()]

        def hist(mask, b, g=g, n_g=n_g):
            u, cnt = np.unique(g[mask] * NB + b[mask], return_counts=True)
            return encode_groups(u // NB, u % NB, cnt, n_g)

        cols = {"issued": count(), "called": count(called), "served": count(served),
                "wait_sum": count(called, wait), "service_sum": count(served, service)}
        for k, w in flags.items():
            cols[k] = count(None, w)
        for s in (1, 2, 3, 4):
            cols[f"r{s}"] = count(rating == s)
        peak = sd_peak[g_sd] if dim in ("all", "site") else np.zeros(n_g, np.int64)
        sums = [cols[k].tolist() if k.endswith("_sum") else cols[k].astype(np.int64).tolist()
                for k in SUMS]
        sites = [sd_keys[i][0] for i in g_sd.tolist()]
        days = [sd_keys[i][1] for i in g_sd.tolist()]
        out += zip([dim] * n_g, ["d"] * n_g, days, sites, [keys[i] for i in g_key.tolist()],
                   *sums, top(called, wait), top(served, service), peak.tolist(),
                   hist(called, wait_b), hist(served, serv_b), strict=True)
    return out


# -- adding rows up --------------------------------------------------------------------------
class Merged:
    """Stats rows added up per group: scalar arrays, maxima and dense histograms."""

    @classmethod
    def from_parts(cls, sum_rows: Sequence[Sequence], hist_rows: Sequence[Sequence]):
        """From rows already added up in SQL, (group, *SUMS, *MAXES), and the histograms
        of every row, (group, wait_hist, service_hist)."""
        self = cls.__new__(cls)
        self.groups = [r[0] for r in sum_rows]
        n = len(self.groups)
        cols = list(zip(*sum_rows, strict=True)) if n else [()] * (1 + len(SUMS) + len(MAXES))
        self.sums = {k: np.array(cols[1 + i], np.float64) for i, k in enumerate(SUMS)}
        self.maxes = {k: np.nan_to_num(np.array(cols[1 + len(SUMS) + i], np.float64),
                                       nan=-np.inf) for i, k in enumerate(MAXES)}
        index = {g: i for i, g in enumerate(self.groups)}
        codes = np.fromiter((index[r[0]] for r in hist_rows), np.int64, len(hist_rows))
        self.wait_hist = dense([r[1] for r in hist_rows], codes, n)
        self.service_hist = dense([r[2] for r in hist_rows], codes, n)
        return self

    def maximum(self, k: str, i: int):
        v = self.maxes[k][i]
        return None if v == -np.inf else float(v)


SEP = "\x1f"  # joins (dim, site, key) into one group text in SQL: dim || SEP || site ...


def month_rows(parts: tuple, month: str) -> list[tuple]:
    """report_agg rows (period 'm') from a month's day rows added up per
    dim || SEP || site || SEP || key (`parts` as `Merged.from_parts` takes them)."""
    m = Merged.from_parts(*parts)
    n = len(m.groups)
    if not n:
        return []
    sums = [m.sums[k].tolist() if k.endswith("_sum") else m.sums[k].astype(np.int64).tolist()
            for k in SUMS]
    maxes = [[None if v == -np.inf else v for v in m.maxes[k].tolist()] for k in MAXES[:2]]
    peak = np.maximum(m.maxes["peak_waiting"], 0).astype(np.int64).tolist()
    dims, sites, keys = zip(*(g.split(SEP, 2) for g in m.groups), strict=True)
    return list(zip(dims, ["m"] * n, [month] * n, sites, keys, *sums, *maxes, peak,
                    encode_dense(m.wait_hist), encode_dense(m.service_hist), strict=True))


# -- figures from merged rows ----------------------------------------------------------------
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
    return int(h[: int(np.searchsorted(UPPER, target_s, side="right"))].sum())


def result_row(m: Merged, i: int, key, target_s: int) -> dict:
    s = {k: m.sums[k][i] for k in SUMS}
    ratings = {str(r): int(s[f"r{r}"]) for r in (4, 3, 2, 1)}
    return fig.finish_row(
        key, int(s["issued"]), int(s["called"]), int(s["served"]), int(s["no_show"]),
        int(s["transferred"]), int(s["cancelled"]),
        hist_stats(m.wait_hist[i], int(s["called"]), s["wait_sum"], m.maximum("wait_max", i)),
        hist_stats(m.service_hist[i], int(s["served"]), s["service_sum"],
                   m.maximum("service_max", i)),
        within(m.wait_hist[i], target_s), ratings)


def typed_key(dim: str, key: str):
    if dim in fig.INT_DIMS:
        return int(key) if key != "" else None
    if dim in ("officer", "procedure", "counter") and key == "":
        return None
    return key


def summarize(parts: tuple, by: str, target_s) -> list[dict]:
    """Same shape as figures.summarize, from stats rows of dimension `by` (or, for
    by='day', the 'all' rows of each day) added up per key (per day): `parts` is
    (sum rows, histogram rows) as `Merged.from_parts` takes them."""
    m = Merged.from_parts(*parts)
    keys = list(m.groups) if by == "day" else [typed_key(by, g) for g in m.groups]
    out = [result_row(m, i, k, target_s(k)) for i, k in enumerate(keys)]
    out.sort(key=lambda r: fig.sort_key(r["key"]))
    return out


def heatmap(hour_sums: Sequence[Sequence], days: Sequence[str]) -> dict:
    """hour_sums: (hourwd key, issued, wait_sum, called); days: the days with tickets."""
    arrivals = [[0] * 24 for _ in range(7)]
    wait_sum = [[0.0] * 24 for _ in range(7)]
    called = [[0] * 24 for _ in range(7)]
    for key, issued, ws, n in hour_sums:
        wd, h = (int(x) for x in key.split(":"))
        arrivals[wd][h] += int(issued)
        wait_sum[wd][h] += ws
        called[wd][h] += int(n)
    per_wd = [0] * 7
    for d in set(days):
        per_wd[date.fromisoformat(d).weekday()] += 1
    return fig.heatmap_result(arrivals, wait_sum, called, per_wd)
