"""SQL for manager reports: folded journeys, the fold cursor, and per-day/month stats
(part of the one storage module)."""

from __future__ import annotations

import json

from ..reports.fold import JOURNEY_COLUMNS
from ..reports.stats import MAXES, SEP, SOURCE_COLUMNS, STAT_COLUMNS, STAT_DIMS, SUMS

DIM_MARKS = ",".join("?" for _ in STAT_DIMS)


class ReportsMixin:
    # -- events to fold -------------------------------------------------------------------
    def event_sites(self) -> list[str]:
        """Distinct sites of the event log: one index seek per site (not a scan)."""
        return [r[0] for r in self.conn.execute(
            "WITH RECURSIVE s(site) AS (SELECT MIN(site) FROM events UNION ALL "
            "SELECT (SELECT MIN(site) FROM events WHERE site > s.site) FROM s "
            "WHERE s.site IS NOT NULL) SELECT site FROM s WHERE site IS NOT NULL")]

    def report_events(self, site: str, since: int, limit: int = 5000) -> list[dict]:
        """Events after `since` with their actor, data merged in (as event_message)."""
        out = []
        for r in self.conn.execute(
                "SELECT * FROM events WHERE site=? AND seq>? ORDER BY seq LIMIT ?",
                (site, since, limit)):
            msg = json.loads(r["data"] or "{}")
            msg.update(type=r["type"], seq=r["seq"], at=r["at"], site=r["site"],
                       ticket_id=r["ticket_id"], team_id=r["team_id"], counter=r["counter"],
                       actor=r["actor"])
            out.append(msg)
        return out

    def report_cursor(self, site: str) -> tuple[int, dict]:
        row = self._one("SELECT seq, state FROM report_cursor WHERE site=?", (site,))
        return (row["seq"], json.loads(row["state"])) if row else (0, {})

    def set_report_cursor(self, site: str, seq: int, state: dict) -> None:
        self.conn.execute("INSERT OR REPLACE INTO report_cursor (site, seq, state) "
                             "VALUES (?,?,?)", (site, seq, json.dumps(state)))

    def procedure_fields(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT code, field FROM procedures")}

    # -- journeys -------------------------------------------------------------------------
    def journeys_by_ids(self, ids) -> dict[int, dict]:
        out: dict[int, dict] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in self._all(f"SELECT * FROM journeys WHERE ticket_id IN "
                               f"({','.join('?' for _ in chunk)})", chunk):
                out[r["ticket_id"]] = r
        return out

    def upsert_journeys(self, rows) -> None:
        cols = ", ".join(JOURNEY_COLUMNS)
        marks = ", ".join("?" for _ in JOURNEY_COLUMNS)
        self.conn.executemany(
            f"INSERT OR REPLACE INTO journeys ({cols}) VALUES ({marks})",
            [tuple(r[c] for c in JOURNEY_COLUMNS) for r in rows])

    def journeys_between(self, d0: str, d1: str, site: str | None = None) -> list[dict]:
        sql = "SELECT * FROM journeys WHERE day BETWEEN ? AND ?"
        params: list = [d0, d1]
        if site:
            sql += " AND site = ?"
            params.append(site)
        return self._all(sql + " ORDER BY ticket_id", params)

    def journey_count(self, d0: str, d1: str, site: str | None = None,
                      upto: int | None = None) -> int:
        """Journeys in the range; with `upto`, counting stops there (min(count, upto))."""
        sql = "SELECT 1 FROM journeys WHERE day BETWEEN ? AND ?"
        params: list = [d0, d1]
        if site:
            sql += " AND site = ?"
            params.append(site)
        if upto is not None:
            sql += " LIMIT ?"
            params.append(upto)
        return self._value(f"SELECT COUNT(*) FROM ({sql})", params)

    def journeys_of_day(self, site: str, day: str) -> list[dict]:
        return self._all("SELECT * FROM journeys WHERE site=? AND day=?", (site, day))

    def journey_days(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT DISTINCT site, day FROM journeys ORDER BY day, site")]

    # -- stats (report_agg) -----------------------------------------------------------------
    def journey_columns(self, site_days) -> dict[str, list]:
        """The journeys of the given (site, day) pairs as columns (reports.stats.SOURCE_COLUMNS
        -> list). Many wanted days of a month are read in one range scan."""
        cols = ", ".join(SOURCE_COLUMNS)
        by_month: dict[str, set] = {}
        for site, day in site_days:
            by_month.setdefault(day[:7], set()).add((site, day))
        rows: list = []
        for _month, wanted in sorted(by_month.items()):
            if len(wanted) > 8:
                days = [day for _, day in wanted]
                got = self.conn.execute(
                    f"SELECT {cols} FROM journeys WHERE day BETWEEN ? AND ?",
                    (min(days), max(days))).fetchall()
                rows += [r for r in got if (r[0], r[1]) in wanted]
            else:
                for site, day in sorted(wanted):
                    rows += self.conn.execute(
                        f"SELECT {cols} FROM journeys WHERE day=? AND site=?",
                        (day, site)).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(SOURCE_COLUMNS)
        return dict(zip(SOURCE_COLUMNS, columns, strict=True))

    def replace_stats(self, period: str, site_days, rows) -> None:
        """Replace every report_agg row of period `period` for the given (site, day) pairs."""
        self.conn.executemany(
            f"DELETE FROM report_agg WHERE dim IN ({DIM_MARKS}) AND period=? AND day=? "
            "AND site=?", [(*STAT_DIMS, period, day, site) for site, day in site_days])
        self.conn.executemany(
            f"INSERT INTO report_agg ({', '.join(STAT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in STAT_COLUMNS)})", rows)

    def day_stats_of_month(self, sites, month: str) -> tuple:
        """The month's day rows of the given sites, added up per dim, site and key
        (reports.stats.month_rows takes them)."""
        sites = sorted(sites)
        where = (f"dim IN ({DIM_MARKS}) AND period='d' AND day BETWEEN ? AND ? AND site IN "
                 f"({','.join('?' for _ in sites)})")
        params = (*STAT_DIMS, month + "-01", month + "-31", *sites)
        group = f"dim || '{SEP}' || site || '{SEP}' || key"
        sums = ", ".join([f"SUM({c})" for c in SUMS] + [f"MAX({c})" for c in MAXES])
        cur = self.conn.cursor()
        cur.row_factory = None
        sum_rows = cur.execute(f"SELECT {group}, {sums} FROM report_agg WHERE {where} "
                               f"GROUP BY dim, site, key", params).fetchall()
        hist_rows = cur.execute(f"SELECT {group}, wait_hist, service_hist FROM report_agg "
                                f"WHERE {where} AND (called > 0 OR served > 0)",
                                params).fetchall()
        return sum_rows, hist_rows

    def stats_empty(self) -> bool:
        """True when journeys exist but no aggregates do (a new or migrated database)."""
        return bool(self._value("SELECT EXISTS (SELECT 1 FROM journeys) AND NOT EXISTS "
                                "(SELECT 1 FROM report_agg)"))

    @staticmethod
    def _stats_source(dim, months, spans, site, columns: str) -> tuple[str, list]:
        """A UNION ALL of one primary-key range per whole month set and per day span."""
        parts, params = [], []
        site_sql = " AND site=?" if site else ""
        tail = [site] if site else []
        if months:
            parts.append(f"SELECT {columns} FROM report_agg WHERE dim=? AND period='m' AND "
                         f"day IN ({','.join('?' for _ in months)}){site_sql}")
            params += [dim, *months, *tail]
        for a, b in spans:
            parts.append(f"SELECT {columns} FROM report_agg WHERE dim=? AND period='d' AND "
                         f"day BETWEEN ? AND ?{site_sql}")
            params += [dim, a, b, *tail]
        if not parts:
            parts.append(f"SELECT {columns} FROM report_agg WHERE 0")
        return f"({' UNION ALL '.join(parts)})", params

    def stats_rows(self, dim: str, months: list[str], spans: list[tuple[str, str]],
                   site: str | None = None) -> list[tuple]:
        """report_agg rows (tuples in STAT_COLUMNS order) of `dim` for whole months plus
        day spans (inclusive)."""
        src, params = self._stats_source(dim, months, spans, site, ", ".join(STAT_COLUMNS))
        return self.conn.execute(f"SELECT * FROM {src}", params).fetchall()

    def stats_parts(self, dim: str, months, spans, site, group: str = "key") -> tuple:
        """report_agg rows of `dim` added up per `group` column ('key' or 'day'): scalars in
        SQL, (group, *SUMS, *MAXES); histograms row by row, (group, wait_hist,
        service_hist)."""
        src, params = self._stats_source(dim, months, spans, site, ", ".join(STAT_COLUMNS))
        sums = ", ".join([f"SUM({c})" for c in SUMS] + [f"MAX({c})" for c in MAXES])
        cur = self.conn.cursor()
        cur.row_factory = None
        sum_rows = cur.execute(f"SELECT {group}, {sums} FROM {src} GROUP BY {group}",
                               params).fetchall()
        src, params = self._stats_source(dim, months, spans, site,
                                         f"{group}, wait_hist, service_hist, called, served")
        hist_rows = cur.execute(f"SELECT {group}, wait_hist, service_hist FROM {src} "
                                "WHERE called > 0 OR served > 0", params).fetchall()
        return sum_rows, hist_rows

    def stats_sums(self, dim: str, months, spans, site, columns) -> list[tuple]:
        """(key, SUM(column) for each column) of `dim`, added up in SQL."""
        src, params = self._stats_source(dim, months, spans, site,
                                         ", ".join(("key", *columns)))
        sums = ", ".join(f"SUM({c})" for c in columns)
        return self.conn.execute(f"SELECT key, {sums} FROM {src} GROUP BY key",
                                    params).fetchall()

    def has_month_stats(self, month: str) -> bool:
        return bool(self._value("SELECT EXISTS (SELECT 1 FROM report_agg WHERE dim='all' "
                                "AND period='m' AND day=?)", (month,)))

    def day_stats_sites(self, month: str) -> list[str]:
        """Sites with day aggregates in `month`."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT site FROM report_agg WHERE dim='all' AND period='d' "
            "AND day BETWEEN ? AND ?", (month + "-01", month + "-31"))]

    def stats_day_peaks(self, d0: str, d1: str, site: str | None = None) -> list[tuple]:
        """(site, day, peak waiting) per site and day with tickets."""
        sql = ("SELECT site, day, peak_waiting FROM report_agg WHERE dim='all' "
               "AND period='d' AND day BETWEEN ? AND ?")
        params: list = [d0, d1]
        if site:
            sql += " AND site=?"
            params.append(site)
        return self.conn.execute(sql + " ORDER BY day, site", params).fetchall()

    def low_rated_journeys(self, d0: str, d1: str, max_score: int, limit: int,
                           site: str | None = None) -> list[dict]:
        sql = ("SELECT * FROM journeys INDEXED BY journeys_low_rated_recent "
               "WHERE day BETWEEN ? AND ? AND rating <= 2 AND rating <= ?")
        params: list = [d0, d1, max_score]
        if site:
            sql += " AND site = ?"
            params.append(site)
        return self._all(sql + " ORDER BY rated_at DESC LIMIT ?", (*params, limit))
