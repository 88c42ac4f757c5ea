"""Central reports over every site, one site, or sites side by side.

The same definitions as a hall's own reports, from the same code:
- the central copy of each site's event log is folded into journeys by the hall's one fold
  (`server.reports.fold.fold_into`), per (site, epoch), as batches arrive;
- day aggregates (and month aggregates of closed months) are built by
  `server.reports.stats.day_rows` / `month_rows`, and added up by `stats.summarize`;
- ranges holding up to EXACT_LIMIT tickets are computed exactly from journey rows by
  `server.reports.figures`, as the hall does (so one site's central figures equal the
  hall's own).

Month rows are kept only for closed months of a site (`agg_months` marks them); a report
over a whole month uses them where present and the day rows elsewhere, so a late batch or a
roll-up not yet done never changes a figure. A closed month is also added up over every site
(`roll_up_province`, rows in `province_agg`): a report over every site reads those, one row
per month and key instead of one per site, month and key (see `central.report_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from server.errors import ValidationFailed
from server.reports import figures as fig
from server.reports import stats as rs
from server.reports.engine import EXACT_LIMIT, WEEKDAYS_VI, dim_label, split_range
from server.reports.fold import fold_into

from .storage import Store

FOLD_CHUNK = 5000


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def open_month(now: datetime, tz) -> str:
    return now.astimezone(tz).strftime("%Y-%m")


# -- the writer side: fold and aggregate (inside an ingest transaction) ----------------------
def fold_new(store: Store, conn, site: str, epoch: str, tz, field_of: Callable,
             now: datetime) -> int:
    """Fold the site's events not yet folded into journeys, then rebuild the aggregates of
    the (site, day)s touched. Runs inside the caller's transaction (the site row locked)."""
    seq, state = store.fold_cursor(conn, site, epoch)
    officers = state.get("officers", {})
    touched: set[tuple[str, str]] = set()
    folded = 0
    while True:
        evts = store.events_for_fold(conn, site, epoch, seq, FOLD_CHUNK)
        if not evts:
            break
        ids = {e["ticket_id"] for e in evts
               if e.get("ticket_id") is not None and e["type"] != "ticket.issued"}
        js = store.journeys_by_ids(conn, site, epoch, ids)
        changed = fold_into(js, evts, tz, field_of, officers)
        store.upsert_journeys(conn, epoch, [js[t] for t in changed])
        touched |= {(js[t]["site"], js[t]["day"]) for t in changed}
        folded += len(evts)
        seq = evts[-1]["seq"]
    if folded:
        store.set_fold_cursor(conn, site, epoch, seq, {"officers": officers})
    rebuild_stats(store, conn, touched, tz, now)
    return folded


def rebuild_stats(store: Store, conn, site_days, tz, now: datetime) -> None:
    """Day rows of the (site, day)s, then month rows of each closed (site, month) touched;
    the month rows of open months touched are dropped (they are never kept)."""
    site_days = sorted(set(site_days))
    if not site_days:
        return
    # first: the province rows of these months go (a roll-up in flight finishes first)
    store.drop_province_months(conn, [day[:7] for _site, day in site_days])
    ends: dict[str, str] = {}

    def day_end(day: str) -> str:
        if day not in ends:
            ends[day] = fig.day_end(day, tz)
        return ends[day]

    for i in range(0, len(site_days), 400):
        part = site_days[i:i + 400]
        rows = rs.day_rows(store.journey_columns(conn, part), iso(now), day_end)
        store.replace_stats(conn, "d", part, rows)
    current = open_month(now, tz)
    months = sorted({(site, day[:7]) for site, day in site_days})
    store.drop_month_rows(conn, months)
    for site, month in months:
        if month < current:
            roll_up(store, conn, site, month)


def roll_up(store: Store, conn, site: str, month: str) -> None:
    rows = rs.month_rows(store.day_stats_of_month(conn, site, month), month)
    store.replace_stats(conn, "m", [(site, month)], rows)
    store.mark_month(conn, site, month)


def roll_up_province(store: Store, conn, month: str) -> int:
    """The province rows of a closed month: every site's rows of the month added up per
    dimension and key (by the same month_rows as a site's month). Under the month's lock,
    so a site's change to the month in flight either deletes these rows after they are
    written or is already in them. The number of rows."""
    store.lock_province_months(conn, [month])
    rows = rs.month_rows(store.province_month_parts(conn, month), month)
    store.replace_province_month(conn, month, rows)
    return len(rows)


def roll_up_closed(store: Store, tz, now: datetime) -> int:
    """Month rows for closed months that have none yet (the month that just ended), one
    transaction per (site, month) under the site's lock; then the province rows of closed
    months that have none, one transaction per month. The number of months rolled up."""
    n = 0
    current = open_month(now, tz)
    for site, month in store.months_to_roll_up(current):
        with store.tx() as conn:
            store.lock_site(conn, site)
            store.drop_province_months(conn, [month])
            store.drop_month_rows(conn, [(site, month)])
            roll_up(store, conn, site, month)
        n += 1
    for month in store.province_months_to_build(current):
        with store.tx() as conn:
            roll_up_province(store, conn, month)
        n += 1
    return n


# -- the reader side -------------------------------------------------------------------------
class CentralReports:
    """Report figures over the sites in `sites` (None: every site).

    `precision=auto` computes a range exactly from its journeys when it holds at most
    `exact_limit` tickets, from the aggregates otherwise. The central limit is lower than
    the hall's (EXACT_LIMIT): on a machine answering a whole province, the exact fold costs
    ~30-70 µs a ticket in Python, so 5,000 tickets stay well under a second; above that,
    counts, means, maxima and within-target shares are the same and p50/p90 are read from
    one-minute histogram buckets (`precision=exact` still asks for the fold)."""

    exact_limit = min(EXACT_LIMIT, 5_000)
    exact_max = 200_000  # precision=exact folds at most this many tickets (then 422)

    def __init__(self, store: Store, tz, clock: Callable[[], datetime], target_wait_min: int,
                 site_names: dict[str, str]):
        self.store = store
        self.tz = tz
        self.clock = clock
        self.target_wait_s = target_wait_min * 60
        self.site_names = site_names

    def open_month(self) -> str:
        return open_month(self.clock(), self.tz)

    def target(self, _key) -> int:
        return self.target_wait_s

    def exact(self, d0: date, d1: date, sites, precision: str) -> bool:
        if precision == "fast":
            return False
        if precision == "exact":
            n = self.store.journey_count(d0.isoformat(), d1.isoformat(), sites,
                                         self.exact_max + 1)
            if n > self.exact_max:
                raise ValidationFailed(
                    f"Khoảng này có hơn {self.exact_max:,} lượt; hãy thu hẹp khoảng ngày "
                    "hoặc bỏ precision=exact (too many tickets for an exact report)",
                    code="too_many_for_exact", details={"max_tickets": self.exact_max})
            return True
        return self.store.journey_count(d0.isoformat(), d1.isoformat(), sites,
                                        self.exact_limit + 1) <= self.exact_limit

    def _parts(self, dim: str, d0: date, d1: date, sites):
        if dim == "day":
            return self.store.stats_parts("all", [], [(d0.isoformat(), d1.isoformat())],
                                          sites, "day")
        months, spans = split_range(d0, d1, self.open_month())
        return self.store.stats_parts(dim, months, spans, sites)

    def label(self, by: str, key) -> str:
        if key is None or key == "":
            return "—"
        if by == "site":
            return self.site_names.get(key, key)
        if by == "team":
            return f"Tổ {key}"
        return dim_label(by, key)

    def summary(self, d0: date, d1: date, by: str, sites: Sequence[str] | None,
                precision: str = "auto") -> dict:
        fig.check_dim(by)
        exact = self.exact(d0, d1, sites, precision)
        if exact:
            js = self.store.journeys_between(d0.isoformat(), d1.isoformat(), sites)
            rows = fig.summarize(js, by, self.target)
            total = fig.summarize(js, "all", self.target)
        else:
            rows = rs.summarize(self._parts(by, d0, d1, sites), by, self.target)
            total = rs.summarize(self._parts("all", d0, d1, sites), "all", self.target)
        for r in rows:
            r["label"] = self.label(by, r["key"])
        return {"from": d0.isoformat(), "to": d1.isoformat(), "by": by,
                "sites": None if sites is None else list(sites), "exact": exact,
                "target_wait_s": self.target_wait_s, "rows": rows,
                "total": total[0] if total else None}

    def compare(self, d0: date, d1: date, by: str, sites: Sequence[str],
                precision: str = "auto") -> dict:
        """Sites side by side: one summary per site, and the total over them. One path for
        all of them (exact when the sites together hold at most EXACT_LIMIT tickets), so the
        columns compare like with like and one count decides, not one per site."""
        precision = "exact" if self.exact(d0, d1, sites, precision) else "fast"
        per_site = []
        for site in sites:
            one = self.summary(d0, d1, by, [site], precision)
            per_site.append({"site": site, "name": self.site_names.get(site, site),
                             "exact": one["exact"], "rows": one["rows"],
                             "total": one["total"]})
        both = self.summary(d0, d1, "site", list(sites), precision)
        return {"from": d0.isoformat(), "to": d1.isoformat(), "by": by, "sites": per_site,
                "by_site": both["rows"], "total": both["total"]}

    def heatmap(self, d0: date, d1: date, sites, precision: str = "auto") -> dict:
        exact = self.exact(d0, d1, sites, precision)
        if exact:
            out = fig.heatmap(self.store.journeys_between(d0.isoformat(), d1.isoformat(),
                                                          sites))
        else:
            months, spans = split_range(d0, d1, self.open_month())
            days = self.store.days_with_tickets(d0.isoformat(), d1.isoformat(), sites)
            out = rs.heatmap(self.store.stats_sums("hourwd", months, spans, sites,
                                                   ("issued", "wait_sum", "called")), days)
        return {"from": d0.isoformat(), "to": d1.isoformat(), "exact": exact,
                "weekdays": list(WEEKDAYS_VI), **out}

    def low_ratings(self, d0: date, d1: date, sites, max_score: int = 2,
                    limit: int = 500) -> dict:
        js = self.store.low_rated(d0.isoformat(), d1.isoformat(), sites, max_score, limit)
        items = fig.low_ratings(js, max_score, limit)
        for item, j in zip(items, js, strict=False):
            item["site"] = j["site"]
        return {"from": d0.isoformat(), "to": d1.isoformat(), "items": items}
