"""The central store's report SQL: the aggregates reports read, and the province roll-up.

Aggregates (`report_agg`, see `server.reports.stats`) are kept per site and day (period 'd')
and per site and closed month (period 'm', listed in `agg_months`). A report over every site
would add up 135 sites' rows per month and key; `province_agg` holds each closed month added
up over every site once (listed in `province_months`), so such a report reads one row per
month and key. It is a cache with one rule: whatever changes a site's rows of a month deletes
that month's province rows in the same transaction (`drop_province_months`, under the
month's advisory lock, shared), and `central.reports.roll_up_province` (the roll-up loop)
adds them up again under the same lock, exclusive. A report never sees a stale province row: in one statement it reads
the province rows of the months present and the sites' own rows of the other months.

Each report is one SQL statement: sums and maxima are added up in SQL, and the sparse
histogram BLOBs of a group are concatenated in SQL (`string_agg`; a sparse histogram is a
list of (bucket, count) words, so the concatenation adds up to the same histogram).

`ReportReads` is mixed into `central.storage.Store` (it uses its pool and `tx`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from psycopg.rows import tuple_row

from server.reports.stats import MAXES, SEP, STAT_COLUMNS, SUMS

PROVINCE = "*"  # the site column of province_agg rows


def floats(row: Sequence) -> tuple:
    """PostgreSQL sums of bigint come back as Decimal: plain numbers for numpy."""
    return tuple(float(v) if v is not None and type(v).__name__ == "Decimal" else v
                 for v in row)


def _site_sql(sites: Sequence[str] | None, params: list) -> str:
    if sites is None:
        return ""
    params.append(list(sites))
    return " AND site = ANY(%s)"


def _month_runs(months: Sequence[str]) -> list[tuple[str, str]]:
    """Consecutive months as (first, last) runs: one day range each."""
    runs: list[list[str]] = []
    for m in sorted(months):
        y, mo = int(m[:4]), int(m[5:7])
        prev = f"{y - 1}-12" if mo == 1 else f"{y}-{mo - 1:02d}"
        if runs and runs[-1][1] == prev:
            runs[-1][1] = m
        else:
            runs.append([m, m])
    return [(a, b) for a, b in runs]


def grouped_sql(group: str, src: str) -> str:
    """One row per group: the sums, the maxima and the concatenated histograms."""
    aggs = ", ".join([f"SUM({c})" for c in SUMS] + [f"MAX({c})" for c in MAXES])
    return (f"SELECT {group}, {aggs}, string_agg(wait_hist, ''::bytea), "
            f"string_agg(service_hist, ''::bytea) FROM {src} GROUP BY {group}")


def split_grouped(rows: Sequence[Sequence]) -> tuple[list[tuple], list[tuple]]:
    """(sum rows, histogram rows) as `stats.Merged.from_parts` takes them."""
    width = 1 + len(SUMS) + len(MAXES)
    return ([floats(r[:width]) for r in rows],
            [(r[0], r[width], r[width + 1]) for r in rows])


class ReportReads:
    # -- where a report's rows come from ---------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self):
        """A read-only connection whose statements all see one snapshot (a report reads
        which months have province rows, then the rows)."""
        with self.pool.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _stats_source(self, conn, dim: str, months: list[str], spans: list[tuple[str, str]],
                      sites: Sequence[str] | None, columns: str) -> tuple[str, list]:
        """Rows of `dim` covering the whole `months` and the day `spans`:
        - every site (sites None): province rows of the months present in province_months;
        - for the other months: a site's month rows where present (agg_months), its day rows
          of that month elsewhere;
        - the day rows of the leftover spans."""
        parts: list[str] = []
        params: list = []
        if months and sites is None:
            present = [r[0] for r in conn.execute(
                "SELECT month FROM province_months WHERE month = ANY(%s) ORDER BY month",
                (months,)).fetchall()]
            if present:
                parts.append(f"SELECT {columns} FROM province_agg WHERE dim=%s AND "
                             "day = ANY(%s)")
                params += [dim, present]
            months = [m for m in months if m not in set(present)]
        if months:
            p: list = [dim, months]
            parts.append(f"SELECT {columns} FROM report_agg WHERE dim=%s AND period='m' AND "
                         f"day = ANY(%s){_site_sql(sites, p)}")
            params += p
            if sites is not None:  # day rows only of months some of the sites has no rows of
                covered = {r[0] for r in conn.execute(
                    "SELECT month FROM agg_months WHERE month = ANY(%s) AND site = ANY(%s) "
                    "GROUP BY month HAVING COUNT(*) = %s",
                    (months, list(set(sites)), len(set(sites)))).fetchall()}
                months = [m for m in months if m not in covered]
            for a, b in _month_runs(months):
                p = [dim, a + "-01", b + "-31"]
                parts.append(
                    f"SELECT {columns} FROM report_agg a WHERE dim=%s AND period='d' AND day "
                    f"BETWEEN %s AND %s{_site_sql(sites, p)} AND NOT EXISTS (SELECT 1 FROM "
                    "agg_months m WHERE m.site = a.site AND m.month = substr(a.day, 1, 7))")
                params += p
        for a, b in spans:
            p = [dim, a, b]
            parts.append(f"SELECT {columns} FROM report_agg WHERE dim=%s AND period='d' AND "
                         f"day BETWEEN %s AND %s{_site_sql(sites, p)}")
            params += p
        if not parts:
            parts.append(f"SELECT {columns} FROM report_agg WHERE false")
        return "(" + " UNION ALL ".join(parts) + ") src", params

    def stats_parts(self, dim: str, months, spans, sites, group: str = "key") -> tuple:
        """As the hall's storage: (group, *SUMS, *MAXES) and (group, wait_hist,
        service_hist), here one row per group."""
        with self.snapshot() as conn, conn.cursor(row_factory=tuple_row) as cur:
            src, params = self._stats_source(cur, dim, months, spans, sites,
                                              ", ".join(STAT_COLUMNS))
            rows = cur.execute(grouped_sql(group, src), params).fetchall()
        return split_grouped(rows)

    def stats_sums(self, dim: str, months, spans, sites, columns) -> list[tuple]:
        sums = ", ".join(f"SUM({c})" for c in columns)
        with self.snapshot() as conn, conn.cursor(row_factory=tuple_row) as cur:
            src, params = self._stats_source(cur, dim, months, spans, sites,
                                              ", ".join(("key", *columns)))
            return [floats(r) for r in cur.execute(
                f"SELECT key, {sums} FROM {src} GROUP BY key", params).fetchall()]

    def stats_day_peaks(self, d0: str, d1: str, sites) -> list[tuple]:
        params: list = [d0, d1]
        where = ("dim='all' AND period='d' AND day BETWEEN %s AND %s"
                 + _site_sql(sites, params))
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return [tuple(r) for r in cur.execute(
                f"SELECT site, day, peak_waiting FROM report_agg WHERE {where} "
                "ORDER BY day, site", params).fetchall()]

    def days_with_tickets(self, d0: str, d1: str, sites) -> list[str]:
        """The days of [d0, d1] on which any of the sites issued a ticket."""
        params: list = [d0, d1]
        where = ("dim='all' AND period='d' AND day BETWEEN %s AND %s AND issued > 0"
                 + _site_sql(sites, params))
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return [r[0] for r in cur.execute(
                f"SELECT DISTINCT day FROM report_agg WHERE {where} ORDER BY day",
                params).fetchall()]

    # -- the province roll-up ----------------------------------------------------------------
    @staticmethod
    def lock_province_months(conn, months: Iterable[str], shared: bool = False) -> None:
        """The advisory locks of months' province rows, until the transaction ends (taken
        in order: no deadlock). Ingests take them shared (they never wait for each other),
        the roll-up exclusive: it adds a month up only when no change to it is in flight,
        and a change that starts meanwhile waits, then deletes what it wrote."""
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        for month in sorted(set(months)):
            conn.execute(f"SELECT {fn}(hashtext(%s))", (f"province:{month}",))

    def drop_province_months(self, conn, months: Iterable[str]) -> None:
        """A site's rows of these months changed: their province rows are out of date."""
        months = sorted(set(months))
        if not months:
            return
        self.lock_province_months(conn, months, shared=True)
        conn.execute("DELETE FROM province_months WHERE month = ANY(%s)", (months,))
        conn.execute("DELETE FROM province_agg WHERE day = ANY(%s)", (months,))

    def province_months_to_build(self, before_month: str) -> list[str]:
        """Closed months whose sites' month rows are all present and have no province rows
        (a site still on day rows for the month is rolled up first)."""
        rows = self._all(
            "SELECT DISTINCT month FROM agg_months WHERE month < %s "
            "EXCEPT SELECT month FROM province_months "
            "EXCEPT SELECT DISTINCT substr(day, 1, 7) FROM report_agg a WHERE dim = 'all' "
            "AND period = 'd' AND day < %s AND NOT EXISTS (SELECT 1 FROM agg_months m "
            "WHERE m.site = a.site AND m.month = substr(a.day, 1, 7)) ORDER BY 1",
            (before_month, before_month + "-01"))
        return [r["month"] for r in rows]

    def province_month_parts(self, conn, month: str) -> tuple:
        """Every site's rows of `month` (month rows where present, day rows elsewhere), every
        dimension, added up per dim || SEP || '*' || SEP || key (as stats.month_rows takes
        them)."""
        src, params = self._month_source(month)
        group = f"dim || '{SEP}{PROVINCE}{SEP}' || key"
        with conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(grouped_sql(group, src), params).fetchall()
        return split_grouped(rows)

    @staticmethod
    def _month_source(month: str) -> tuple[str, list]:
        cols = ", ".join(STAT_COLUMNS)
        return (f"(SELECT {cols} FROM report_agg WHERE period = 'm' AND day = %s UNION ALL "
                f"SELECT {cols} FROM report_agg a WHERE period = 'd' AND day BETWEEN %s AND "
                "%s AND NOT EXISTS (SELECT 1 FROM agg_months m WHERE m.site = a.site AND "
                "m.month = %s)) src", [month, month + "-01", month + "-31", month])

    def replace_province_month(self, conn, month: str, rows: Sequence[tuple]) -> None:
        """The province rows of `month` (stats.month_rows' rows, site '*'); the caller holds
        the month's lock."""
        conn.execute("DELETE FROM province_agg WHERE day = %s", (month,))
        n_sites = conn.execute(
            "SELECT COUNT(*) AS n FROM (SELECT site FROM report_agg WHERE dim = 'all' AND "
            "period = 'm' AND day = %s UNION SELECT site FROM report_agg WHERE dim = 'all' "
            "AND period = 'd' AND day BETWEEN %s AND %s) s",
            (month, month + "-01", month + "-31")).fetchone()["n"]
        if rows:
            with conn.cursor() as cur, cur.copy(
                    f"COPY province_agg ({', '.join(STAT_COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        conn.execute("INSERT INTO province_months (month, sites) VALUES (%s, %s) ON CONFLICT "
                     "(month) DO UPDATE SET built_at = now(), sites = EXCLUDED.sites",
                     (month, n_sites))

    def province_months(self) -> list[dict]:
        return self._all("SELECT month, built_at, sites FROM province_months ORDER BY month")
