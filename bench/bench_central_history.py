"""A province-sized history for the central reports benchmark, generated inside PostgreSQL.

135 sites (the province centre ~235 tickets a working day and 2,000-2,400 on the first
Monday of every month, 8 district branches ~100, 126 commune desks ~25; Saturdays 40 %, no
Sundays; each day's volume drawn between 60 % and 140 % of the site's mean).

Journeys are written by one `INSERT ... SELECT` over `generate_series` per month (no row
passes through Python); the aggregates are then built by the central server's own code, the
one ingest uses: `central.reports.rebuild_stats` (day rows from the journeys with
`server.reports.stats.day_rows`, each closed month's site rows with `roll_up`), then
`roll_up_province` (the month added up over every site). So the figures the benchmark reads
are what the server would hold after ingesting the same tickets event by event.

Building the aggregates is the slow part (about 10-20 s a month of 135 sites on this
2-core machine when it is quiet, several times that when it is shared), so a five-year
history is one generated year and `--copies 4` copies of it, each a year earlier
(`replicate`: `INSERT ... SELECT` with the dates moved, inside PostgreSQL). The copies have
the rows and keys of a real five years; only their weekday keys are the original dates'.

    python -m bench.bench_central_history --dsn DSN --months 12 [--copies 4]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta

from central import reports as central_reports
from central.storage import Store

FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Doanh nghiệp", "Cư trú", "Xây dựng",
          "Lao động", "Giáo dục", "Giao thông", "Y tế"]
EPOCH = "bench"
CENTRE = "tinh-trungtam"
BRANCHES = [f"huyen-{i:02d}" for i in range(1, 9)]
COMMUNES = [f"xa-{i:03d}" for i in range(1, 127)]
END = date(2026, 10, 31)  # the last day of the history (a closed month)

# one month of every site's tickets; %(d0)s .. %(d1)s the month's days
GENERATE = """
INSERT INTO journeys (epoch, ticket_id, site, day, hour, weekday, number, issued_at, team_id,
    serve_team, counter, officer, procedure_code, field, priority, channel, status,
    first_called_at, wait_s, started_at, finished_at, service_s, left_queue_at, transfers,
    recalls, rating, rating_reason, rated_at)
SELECT %(epoch)s, (g.day - date '2000-01-01') * 10000 + g.i, g.site, to_char(g.day,
    'YYYY-MM-DD'), g.hour, extract(isodow FROM g.day)::int - 1, 1000 + g.i, iso(g.issued),
    g.team, g.team, g.team * 2, 'canbo' || lpad((g.team * 2)::text, 2, '0'),
    'P' || lpad(g.f::text, 2, '0') || lpad(g.p::text, 2, '0'), (%(fields)s::text[])[g.f + 1],
    CASE WHEN g.u_prio < 0.1 THEN 'elderly' END, 'kiosk', g.status,
    CASE WHEN g.status <> 'cancelled' THEN iso(g.issued + g.wait * interval '1 second') END,
    CASE WHEN g.status <> 'cancelled' THEN g.wait END, NULL, NULL,
    CASE WHEN g.status = 'done' THEN g.service END,
    iso(g.issued + g.wait * interval '1 second'), 0, 0, g.rating, '',
    CASE WHEN g.rating IS NOT NULL THEN iso(g.issued + g.wait * interval '1 second') END
FROM (
    SELECT r.*, r.day + make_interval(hours => r.hour - 7, mins => r.minute) AS issued,
        CASE WHEN r.u_status < 0.88 THEN 'done' WHEN r.u_status < 0.96 THEN 'no_show'
             ELSE 'cancelled' END AS status,
        CASE WHEN r.u_status >= 0.88 OR r.u_rating < 0.6 THEN NULL
             WHEN r.u_rating < 0.62 THEN 1 WHEN r.u_rating < 0.65 THEN 2
             WHEN r.u_rating < 0.8 THEN 3 ELSE 4 END AS rating
    FROM (
        SELECT s.site, d.day::date AS day, t.i,
            8 + floor(random() * 9)::int AS hour, floor(random() * 60)::int AS minute,
            1 + floor(random() * 6)::int AS team, floor(random() * 10)::int AS f,
            floor(random() * 30)::int AS p, random() AS u_prio, random() AS u_status,
            random() AS u_rating,
            round((-600 * ln(1 - random()))::numeric, 3)::float8 AS wait,
            round((-420 * ln(1 - random()))::numeric, 3)::float8 AS service
        FROM bench_sites s
        CROSS JOIN generate_series(%(d0)s::date, %(d1)s::date, interval '1 day') AS d(day)
        CROSS JOIN LATERAL generate_series(1, CASE
            WHEN extract(isodow FROM d.day) = 7 THEN 0
            WHEN s.kind = 'centre' AND extract(isodow FROM d.day) = 1
                 AND extract(day FROM d.day) <= 7 THEN 2000 + floor(random() * 400)::int
            ELSE round(s.volume * CASE WHEN extract(isodow FROM d.day) = 6 THEN 0.4
                                       ELSE 1 END * (0.6 + 0.8 * random()))::int
            END) AS t(i)
    ) r
) g
"""

SETUP = """
CREATE OR REPLACE FUNCTION iso(t timestamp) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') $$;
CREATE TEMP TABLE bench_sites (site text PRIMARY KEY, kind text, volume int);
"""


def _years_back(col: str, k: int) -> str:
    """SQL: the ISO text (a day, a month or a time) in `col`, `k` years earlier."""
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE (left({col}, 4)::int - {k})::text || " \
           f"substr({col}, 5) END"


def replicate(conn, k: int, first_month: str) -> int:
    """Copy the generated history (from `first_month` on: journeys, site and province
    aggregates, the month lists) `k` years earlier, inside PostgreSQL. The copies have the same row counts and
    keys as the original months (weekday keys are those of the original dates); the
    generated months must hold no 29 February. The number of journeys copied."""
    from central.storage import JOURNEY_COLUMNS
    from server.reports.stats import STAT_COLUMNS

    shifted = {"day", "issued_at", "first_called_at", "started_at", "finished_at",
               "left_queue_at", "rated_at"}
    src = ", ".join(_years_back(c, k) if c in shifted else
                    f"ticket_id + {k} * 1000000000000" if c == "ticket_id" else c
                    for c in JOURNEY_COLUMNS)
    n = conn.execute(f"INSERT INTO journeys (epoch, {', '.join(JOURNEY_COLUMNS)}) "
                     f"SELECT epoch, {src} FROM journeys WHERE epoch = %s AND day >= %s "
                     "AND day <= %s", (EPOCH, first_month, END.isoformat())).rowcount
    agg = ", ".join(_years_back(c, k) if c == "day" else c for c in STAT_COLUMNS)
    latest = first_month  # the generated rows only (a day or a month from then on)
    last = END.isoformat()  # not the month still open (other benchmarks' tickets of today)
    for table in ("report_agg", "province_agg"):
        conn.execute(f"INSERT INTO {table} ({', '.join(STAT_COLUMNS)}) SELECT {agg} FROM "
                     f"{table} WHERE day >= %s AND day <= %s", (latest, last))
    conn.execute(f"INSERT INTO agg_months (site, month) SELECT site, "
                 f"{_years_back('month', k)} FROM agg_months WHERE month >= %s AND "
                 "month <= %s", (latest, last))
    conn.execute(f"INSERT INTO province_months (month, sites) SELECT "
                 f"{_years_back('month', k)}, sites FROM province_months WHERE month >= %s",
                 (latest,))
    return n


def province_sites() -> list[tuple[str, str, int]]:
    return ([(CENTRE, "centre", 235)] + [(s, "branch", 100) for s in BRANCHES]
            + [(s, "commune", 25) for s in COMMUNES])


def months_of(n: int, end: date = END) -> list[tuple[date, date]]:
    """(first day, last day) of the `n` months ending with `end`'s month."""
    out: list[tuple[date, date]] = []
    month = end.replace(day=1)
    for _ in range(n):
        nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        out.append((month, nxt - timedelta(days=1)))
        month = (month - timedelta(days=1)).replace(day=1)
    return out[::-1]


def load(store: Store, months: int, tz, say=print, seed: float = 0.5,
         copies: int = 0) -> dict:
    """Generate `months` months of the province's tickets (ending with END) and build
    their aggregates; then `copies` copies of the generated months, each one more year
    earlier (`replicate`); figures."""
    sites = province_sites()
    now = datetime.now(UTC)
    with store.tx() as conn:
        for site, kind, _v in sites:
            conn.execute("INSERT INTO sites (id, name, kind, epoch, next_seq) VALUES "
                         "(%s, %s, %s, %s, 1) ON CONFLICT DO NOTHING",
                         (site, site, kind, EPOCH))
    t0 = time.perf_counter()
    journeys = 0
    gen_s = agg_s = prov_s = 0.0
    spans = months_of(months)
    for i, (d0, d1) in enumerate(spans):
        month = d0.strftime("%Y-%m")
        t1 = time.perf_counter()
        with store.tx() as conn:
            conn.execute("SELECT setseed(%s)", ((seed + i / 1000) % 1,))  # each month its own
            conn.execute(SETUP)
            with conn.cursor() as cur, cur.copy("COPY bench_sites FROM STDIN") as copy:
                for row in sites:
                    copy.write_row(row)
            n = conn.execute(GENERATE, {"epoch": EPOCH, "fields": FIELDS, "d0": d0,
                                        "d1": d1}).rowcount
            site_days = [(r["site"], r["day"]) for r in conn.execute(
                "SELECT DISTINCT site, day FROM journeys WHERE day BETWEEN %s AND %s",
                (d0.isoformat(), d1.isoformat())).fetchall()]
            conn.execute("DROP TABLE bench_sites")
        t2 = time.perf_counter()
        with store.tx() as conn:
            central_reports.rebuild_stats(store, conn, site_days, tz, now)
        t3 = time.perf_counter()
        with store.tx() as conn:
            central_reports.roll_up_province(store, conn, month)
        t4 = time.perf_counter()
        gen_s, agg_s, prov_s = gen_s + t2 - t1, agg_s + t3 - t2, prov_s + t4 - t3
        journeys += n
        say(f"  {month}: {n:,} journeys ({journeys:,} so far; generate {t2 - t1:.1f} s, "
            f"aggregate {t3 - t2:.1f} s, province {t4 - t3:.1f} s; "
            f"{time.perf_counter() - t0:.0f} s in all)")
    t5 = time.perf_counter()
    if copies and months % 12:
        raise ValueError("copies need whole years of generated months")
    for k in range(1, copies + 1):
        with store.tx() as conn:
            n = replicate(conn, k * months // 12, spans[0][0].strftime("%Y-%m"))
        journeys += n
        say(f"  copy {k}: {n:,} journeys, {k * months // 12} year(s) earlier ({journeys:,} so far; "
            f"{time.perf_counter() - t0:.0f} s in all)")
    copy_s = time.perf_counter() - t5
    t5 = time.perf_counter()
    with store.pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.autocommit = False
    with store.tx() as conn:
        sizes = conn.execute(
            "SELECT (SELECT COUNT(*) FROM report_agg) AS agg_rows, "
            "(SELECT COUNT(*) FROM province_agg) AS province_rows, "
            "pg_database_size(current_database()) AS db_bytes").fetchone()
    first = spans[0][0].replace(year=spans[0][0].year - copies * months // 12)
    return {"sites": len(sites), "months": months, "copies": copies,
            "journeys": journeys, "copy_s": copy_s,
            "from": first.isoformat(), "to": spans[-1][1].isoformat(),
            "generate_s": gen_s, "aggregate_s": agg_s, "province_s": prov_s,
            "vacuum_s": time.perf_counter() - t5, "load_s": time.perf_counter() - t0,
            **sizes}


def main(argv=None) -> int:
    from zoneinfo import ZoneInfo

    from central.storage import migrate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--copies", type=int, default=0)
    args = ap.parse_args(argv)
    migrate(args.dsn)
    store = Store(args.dsn, max_size=2)
    try:
        print(load(store, args.months, ZoneInfo("Asia/Ho_Chi_Minh"), copies=args.copies))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
