"""The report engine: keeps the `journeys` table and the per-day/month stats up to date from
the event log (incrementally, by seq), and answers every manager report.

Two sides that never mix:
- `refresh()` is the writer of the derived report data (journeys, cursor, aggregates), each
  step in its own write transaction. Only the report writer (`refresher.ReportRefresher`, a
  worker thread outside any request) and tools such as the benchmarks call it.
- everything else only reads: `behind()` says whether the writer still has work, the
  report methods answer from journey rows and aggregates. A GET never writes.

Ranges holding up to EXACT_LIMIT tickets are computed exactly from journey rows
(`figures`); longer ranges add up pre-aggregated `report_agg` rows (`stats`): counts, means,
maxima and within-target shares stay exact there, p50/p90 come from sparse histograms
(1-minute buckets to 2 h, 10-minute buckets to 8 h). Journeys are folded from the event log
by the one fold, `fold.fold_into`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from common.vocabulary import TICKET_EVENTS

from ..config import PRIORITY_LABELS_VI, Config
from ..errors import ValidationFailed
from . import figures as fig
from . import stats as rs
from .fold import fold_into, fold_steps

EXACT_LIMIT = 30_000
#: the by-step report folds the range's events when asked: at most this many days
STEP_REPORT_MAX_DAYS = 31
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def dim_label(by: str, key) -> str:
    """The Vietnamese label of a report row's key for the dimensions that need no
    configuration (counter, hour, weekday, priority); a hall's engine and the central server
    add team and site names of their own."""
    if by == "counter":
        return f"Quầy {key}"
    if by == "hour":
        return f"{key:02d}:00–{key:02d}:59"
    if by == "weekday":
        return WEEKDAYS_VI[key]
    if by == "priority":
        return {"priority": "Ưu tiên", "normal": "Thông thường"}.get(key, str(key))
    if by == "priority_class":
        return PRIORITY_LABELS_VI.get(key, "Thông thường")
    return str(key)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def split_range(d0: date, d1: date, open_month: str = "9999-12") -> tuple[
        list[str], list[tuple[str, str]]]:
    """Whole months inside [d0, d1] (before `open_month`, the month still running, whose
    month rows are not kept) and the leftover day spans."""
    months, spans = [], []
    cur = d0
    span_start = None
    while cur <= d1:
        first = cur.replace(day=1)
        nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        if cur == first and nxt - timedelta(days=1) <= d1 and \
                cur.strftime("%Y-%m") < open_month:
            if span_start:
                spans.append((span_start.isoformat(), (cur - timedelta(days=1)).isoformat()))
                span_start = None
            months.append(cur.strftime("%Y-%m"))
            cur = nxt
            continue
        span_start = span_start or cur
        cur += timedelta(days=1)
    if span_start:
        spans.append((span_start.isoformat(), d1.isoformat()))
    return months, spans


class ReportEngine:
    def __init__(self, store, config: Config, clock):
        self.store = store
        self.config = config
        self.clock = clock

    # -- keeping up with the event log (the writer side) ---------------------------------
    def refresh(self, chunk: int = 5000) -> int:
        """Fold events not yet folded; rebuild the stats of the days and months touched; roll
        up the month that just closed. Writes, each step in its own transaction: only the
        report writer calls this, never a request."""
        tz = self.config.tz
        touched: set[tuple[str, str]] = set()
        folded = 0
        with self.store.write():
            fields = None
            for site in self.store.event_sites():
                seq, state = self.store.report_cursor(site)
                officers = state.get("officers", {})
                start_seq = seq
                while True:
                    evts = self.store.report_events(site, seq, chunk)
                    if not evts:
                        break
                    if fields is None:
                        fields = self.store.procedure_fields()
                    ids = {e["ticket_id"] for e in evts
                           if e.get("ticket_id") is not None and e["type"] != "ticket.issued"}
                    js = self.store.journeys_by_ids(ids)
                    changed = fold_into(js, evts, tz, fields.get, officers)
                    self.store.upsert_journeys([js[t] for t in changed])
                    touched |= {(js[t]["site"], js[t]["day"]) for t in changed}
                    folded += len(evts)
                    seq = evts[-1]["seq"]
                if seq != start_seq:
                    self.store.set_report_cursor(site, seq, {"officers": officers})
            if touched:
                self.rebuild_stats(touched)
        with self.store.read():
            empty = self.store.stats_empty()
            days = self.store.journey_days() if empty else []
        if empty:  # upgraded database: rebuild, one month per transaction
            self.rebuild_stats(days)
        with self.store.read():
            closed = self.month_to_roll_up()
        if closed:  # the month that just closed
            with self.store.write():
                if self.month_to_roll_up() == closed:  # not done meanwhile elsewhere
                    self.rollup_month(closed, self.store.day_stats_sites(closed))
        return folded

    def behind(self) -> bool:
        """True when `refresh()` has work to do: events not yet folded, aggregates missing
        (an upgraded database) or the month that just closed not yet rolled up. Read-only,
        a few index seeks: a report GET asks this and leaves the work to the writer."""
        with self.store.read():
            for site in self.store.event_sites():
                if self.store.current_seq(site) > self.store.report_cursor(site)[0]:
                    return True
            return self.store.stats_empty() or self.month_to_roll_up() is not None

    def month_to_roll_up(self) -> str | None:
        """The month that just closed (local time), when it has day rows but no month rows
        yet (call inside a read or write)."""
        first = date.fromisoformat(self.open_month() + "-01")
        last = (first - timedelta(days=1)).strftime("%Y-%m")
        if self.store.has_month_stats(last) or not self.store.day_stats_sites(last):
            return None
        return last

    def open_month(self) -> str:
        """The month still running (local time): its month rows are not kept, reports add
        up its day rows, so a refresh re-adds no month."""
        return self.clock().astimezone(self.config.tz).strftime("%Y-%m")

    def rollup_month(self, month: str, sites) -> None:
        rows = rs.month_rows(self.store.day_stats_of_month(sites, month), month)
        self.store.replace_stats("m", [(s, month) for s in sites], rows)

    def rebuild_stats(self, site_days, batch: int = 400) -> None:
        """Recompute the day aggregates of the given (site, day) pairs from their journeys,
        then the month aggregates of every closed (site, month) touched. The same code serves the
        incremental refresh (today's site-days) and a full rebuild (`journey_days()`)."""
        now = iso(self.clock())
        tz = self.config.tz
        ends: dict[str, str] = {}

        def day_end(day: str) -> str:
            if day not in ends:
                ends[day] = fig.day_end(day, tz)
            return ends[day]

        by_month: dict[str, set] = {}
        for site, day in site_days:
            by_month.setdefault(day[:7], set()).add((site, day))
        for month, wanted in sorted(by_month.items()):
            with self.store.write():  # part of the caller's transaction when inside one
                pairs = sorted(wanted, key=lambda p: (p[1], p[0]))
                sites = {site for site, _ in pairs}
                for i in range(0, len(pairs), batch):
                    part = pairs[i:i + batch]
                    rows = rs.day_rows(self.store.journey_columns(part), now, day_end)
                    self.store.replace_stats("d", part, rows)
                if month < self.open_month():
                    self.rollup_month(month, sites)

    # -- helpers --------------------------------------------------------------------------
    def target_s(self, by: str):
        default = self.config.target_wait_min * 60
        if by != "team":
            return lambda key: default
        targets = {t.id: (t.target_wait_min or self.config.target_wait_min) * 60
                   for t in self.config.teams}
        return lambda key: targets.get(key, default)

    def label(self, by: str, key) -> str:
        if key is None or key == "":
            return {"field": "(không theo thủ tục)", "procedure": "(không theo thủ tục)"}.get(
                by, "—")
        if by == "team":
            try:
                return self.config.team(key).name
            except Exception:
                return f"Tổ {key}"
        if by == "site":
            return self.config.sites.get(key, key)
        return dim_label(by, key)

    def exact(self, d0: date, d1: date, site: str | None, precision: str) -> bool:
        if precision in ("exact", "fast"):
            return precision == "exact"
        with self.store.read():
            n = self.store.journey_count(d0.isoformat(), d1.isoformat(), site,
                                         EXACT_LIMIT + 1)
        return n <= EXACT_LIMIT

    def _journeys(self, d0, d1, site):
        return self.store.journeys_between(d0.isoformat(), d1.isoformat(), site)

    def _stats(self, dim, d0, d1, site):
        if dim == "day":
            return self.store.stats_parts("all", [], [(d0.isoformat(), d1.isoformat())], site,
                                          "day")
        months, spans = split_range(d0, d1, self.open_month())
        return self.store.stats_parts(dim, months, spans, site)

    def _sums(self, dim, d0, d1, site, columns):
        months, spans = split_range(d0, d1, self.open_month())
        return self.store.stats_sums(dim, months, spans, site, columns)

    # -- reports --------------------------------------------------------------------------
    def summary(self, d0: date, d1: date, by: str, site: str | None = None,
                precision: str = "auto") -> dict:
        fig.check_dim(by)
        exact = self.exact(d0, d1, site, precision)
        with self.store.read():
            if exact:
                js = self._journeys(d0, d1, site)
                rows = fig.summarize(js, by, self.target_s(by))
                total = fig.summarize(js, "all", self.target_s("all"))
            else:
                rows = rs.summarize(self._stats(by, d0, d1, site), by, self.target_s(by))
                total = rs.summarize(self._stats("all", d0, d1, site), "all",
                                     self.target_s("all"))
        for r in rows:
            r["label"] = self.label(by, r["key"])
        return {"from": d0.isoformat(), "to": d1.isoformat(), "by": by, "site": site,
                "exact": exact, "target_wait_s": self.config.target_wait_min * 60,
                "rows": rows, "total": total[0] if total else None}

    def heatmap(self, d0, d1, site=None, precision="auto") -> dict:
        exact = self.exact(d0, d1, site, precision)
        with self.store.read():
            if exact:
                out = fig.heatmap(self._journeys(d0, d1, site))
            else:
                days = [day for _, day, _ in self.store.stats_day_peaks(
                    d0.isoformat(), d1.isoformat(), site)]
                out = rs.heatmap(self._sums("hourwd", d0, d1, site,
                                            ("issued", "wait_sum", "called")), days)
        return {"from": d0.isoformat(), "to": d1.isoformat(), "exact": exact,
                "weekdays": list(WEEKDAYS_VI), **out}

    def occupancy(self, d0, d1, site=None, precision="auto") -> dict:
        exact = self.exact(d0, d1, site, precision)
        with self.store.read():
            if exact:
                days = fig.occupancy(self._journeys(d0, d1, site), self.config.tz,
                                     iso(self.clock()))
            else:
                days = [{"site": s, "day": day, "peak": peak, "at": None}
                        for s, day, peak in self.store.stats_day_peaks(
                            d0.isoformat(), d1.isoformat(), site)]
        peak = max(days, key=lambda d: d["peak"], default=None)
        return {"from": d0.isoformat(), "to": d1.isoformat(), "exact": exact, "peak": peak,
                "days": days}

    def low_ratings(self, d0, d1, site=None, max_score: int = 2, limit: int = 500) -> dict:
        with self.store.read():
            js = self.store.low_rated_journeys(d0.isoformat(), d1.isoformat(), max_score,
                                               limit, site)
        items = fig.low_ratings(js, max_score, limit)
        for item in items:
            item["team"] = self.label("team", item["team_id"])
        return {"from": d0.isoformat(), "to": d1.isoformat(), "items": items}

    def priority(self, d0, d1, site=None, precision="auto") -> dict:
        both = self.summary(d0, d1, "priority", site, precision)
        classes = self.summary(d0, d1, "priority_class", site, precision)
        return {"from": both["from"], "to": both["to"], "exact": both["exact"],
                "target_wait_s": both["target_wait_s"], "rows": both["rows"],
                "classes": classes["rows"]}

    def monthly(self, d0, d1, site=None, precision="auto") -> dict:
        """The summary a centre reports upward: received, handled, on-time and satisfied
        shares, by team and by field."""
        teams = self.summary(d0, d1, "team", site, precision)
        fields = self.summary(d0, d1, "field", site, precision)
        return {"from": teams["from"], "to": teams["to"], "exact": teams["exact"],
                "centre": self.config.name, "target_wait_s": teams["target_wait_s"],
                "total": teams["total"], "teams": teams["rows"], "fields": fields["rows"]}

    def steps(self, d0: date, d1: date, site: str | None = None) -> dict:
        """Every step's wait and service time of the visits of several steps (docs/visit.md),
        folded from the range's events by the one fold (`fold.fold_steps`)."""
        if (d1 - d0).days + 1 > STEP_REPORT_MAX_DAYS:
            raise ValidationFailed(
                f"Báo cáo theo bước chỉ tính tối đa {STEP_REPORT_MAX_DAYS} ngày (the by-step "
                f"report covers at most {STEP_REPORT_MAX_DAYS} days)", code="range_too_long")
        tz = self.config.tz
        start = iso(datetime.combine(d0, time(), tz))
        with self.store.read():
            events = [e for e in self.store.events_between(start, fig.day_end(d1.isoformat(), tz),
                                                           TICKET_EVENTS)
                      if site is None or e["site"] == site]
        step_rows = fold_steps(events, tz)
        rows = fig.step_summary(step_rows)
        for r in rows:
            r["team"] = self.label("team", r["team_id"])
            r["label"] = f"Bước {r['step_index']} · {r['step_name']} · {r['team']}"
        visits = {r["ticket_id"] for r in step_rows if r["step_name"] is not None}
        return {"from": d0.isoformat(), "to": d1.isoformat(), "site": site, "exact": True,
                "visits": len(visits), "rows": rows,
                "counters": fig.step_counters(step_rows)}

    def journeys(self, d0, d1, site=None) -> list[dict]:
        with self.store.read():
            return self._journeys(d0, d1, site)
