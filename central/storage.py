"""The central store: every SQL statement of the central server, on PostgreSQL via psycopg 3.

The schema is changed only by Alembic migrations written in plain SQL
(`central/migrations/versions/`); `migrate(dsn)` brings a database to the newest one.
Connections come from a psycopg pool; `tx()` is one transaction (committed when the block
ends without an exception, rolled back otherwise). Methods that take `conn` run inside the
caller's transaction; the others open their own.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from server.reports.fold import JOURNEY_COLUMNS
from server.reports.stats import SEP, SOURCE_COLUMNS, STAT_COLUMNS

from .report_store import ReportReads, grouped_sql, split_grouped

MIGRATIONS = Path(__file__).parent / "migrations"
SITE_COLUMNS = ("id", "name", "kind", "active", "epoch", "next_seq", "hall_seq", "hall_clock",
                "oldest_unsent_at", "last_sync_at", "last_event_at", "last_refusal",
                "software", "stale_after_min", "created_at")


def sqlalchemy_url(dsn: str) -> str:
    """Alembic speaks SQLAlchemy URLs: postgresql://... -> postgresql+psycopg://..."""
    for prefix in ("postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix):]
    return dsn


def alembic_config(dsn: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))
    return cfg


def migrate(dsn: str) -> str:
    """Upgrade the database at `dsn` to the newest migration; its revision."""
    from alembic import command

    command.upgrade(alembic_config(dsn), "head")
    return current_revision(dsn)


def current_revision(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return row[0] if row else None


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://x/y")).get_current_head()


class Store(ReportReads):
    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8):
        self.dsn = dsn
        # check: a connection is tried before it is handed out, so after PostgreSQL
        # restarts no request fails on a connection of the old server
        self.pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=True,
                                   kwargs={"autocommit": False}, timeout=30,
                                   check=ConnectionPool.check_connection)

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def tx(self):
        """One transaction on a pooled connection."""
        with self.pool.connection() as conn:
            conn.row_factory = dict_row
            with conn.transaction():
                yield conn

    def _all(self, sql: str, params=()) -> list[dict]:
        with self.tx() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params=()) -> dict | None:
        with self.tx() as conn:
            return conn.execute(sql, params).fetchone()

    # -- sites -----------------------------------------------------------------------------
    def add_site(self, site: str, name: str, kind: str, token_hash: str) -> None:
        with self.tx() as conn:
            conn.execute("INSERT INTO sites (id, name, kind, token_hash) VALUES (%s,%s,%s,%s)",
                         (site, name, kind, token_hash))

    def set_site_token(self, site: str, token_hash: str | None) -> bool:
        with self.tx() as conn:
            cur = conn.execute("UPDATE sites SET token_hash = %s, active = true WHERE id = %s",
                               (token_hash, site))
            return cur.rowcount == 1

    def set_site_active(self, site: str, active: bool) -> bool:
        with self.tx() as conn:
            cur = conn.execute("UPDATE sites SET active = %s WHERE id = %s", (active, site))
            return cur.rowcount == 1

    def site_by_token(self, token_hash: str) -> dict | None:
        return self._one("SELECT id, active FROM sites WHERE token_hash = %s", (token_hash,))

    def site(self, site: str) -> dict | None:
        return self._one(f"SELECT {', '.join(SITE_COLUMNS)} FROM sites WHERE id = %s",
                         (site,))

    def sites(self, only: Sequence[str] | None = None) -> list[dict]:
        sql = f"SELECT {', '.join(SITE_COLUMNS)} FROM sites"
        params: tuple = ()
        if only is not None:
            sql += " WHERE id = ANY(%s)"
            params = (list(only),)
        return self._all(sql + " ORDER BY id", params)

    def lock_site(self, conn, site: str) -> dict | None:
        return conn.execute(f"SELECT {', '.join(SITE_COLUMNS)} FROM sites WHERE id = %s "
                            "FOR UPDATE", (site,)).fetchone()

    def note_sync(self, conn, site: str, *, next_seq: int | None = None,
                  epoch: str | None = None, hall_seq: int | None = None,
                  hall_clock: str | None = None, oldest_unsent_at: str | None = None,
                  last_event_at: str | None = None, software: str | None = None,
                  refusal: str | None = None) -> None:
        """A sync request arrived from `site`: its position and the hall's own figures."""
        conn.execute(
            "UPDATE sites SET last_sync_at = now(), "
            "next_seq = COALESCE(%s, next_seq), epoch = COALESCE(%s, epoch), "
            "hall_seq = COALESCE(%s, hall_seq), hall_clock = COALESCE(%s, hall_clock), "
            "oldest_unsent_at = %s, last_event_at = COALESCE(%s, last_event_at), "
            "software = COALESCE(%s, software), last_refusal = %s WHERE id = %s",
            (next_seq, epoch, hall_seq, hall_clock, oldest_unsent_at, last_event_at,
             software, refusal, site))

    def accept_epoch(self, site: str, epoch: str, actor: str) -> bool:
        """Start the site's log over under `epoch` (after an operator checked why it changed):
        the old epoch's events stay, under their own epoch."""
        with self.tx() as conn:
            cur = conn.execute("UPDATE sites SET epoch = %s, next_seq = COALESCE((SELECT "
                               "MAX(seq) + 1 FROM events WHERE site = %s AND epoch = %s), 1) "
                               "WHERE id = %s", (epoch, site, epoch, site))
            if cur.rowcount != 1:
                return False
            conn.execute("UPDATE epoch_flags SET resolved_at = now(), resolution = 'accepted' "
                         "WHERE site = %s AND epoch = %s", (site, epoch))
            conn.execute("UPDATE epoch_flags SET resolved_at = now(), resolution = 'superseded'"
                         " WHERE site = %s AND epoch <> %s AND resolved_at IS NULL",
                         (site, epoch))
            self.audit(conn, actor, "site.accept_epoch", {"site": site, "epoch": epoch})
            return True

    # -- epochs ----------------------------------------------------------------------------
    def flag_epoch(self, conn, site: str, epoch: str, known: str | None,
                   first_seq: int | None) -> None:
        conn.execute(
            "INSERT INTO epoch_flags (site, epoch, known_epoch, first_seq) VALUES (%s,%s,%s,%s)"
            " ON CONFLICT (site, epoch) DO UPDATE SET last_at = now(), "
            "attempts = epoch_flags.attempts + 1", (site, epoch, known, first_seq))

    def epoch_flags(self, sites: Sequence[str] | None = None,
                    open_only: bool = True) -> list[dict]:
        sql = "SELECT * FROM epoch_flags WHERE true"
        params: list = []
        if open_only:
            sql += " AND resolved_at IS NULL"
        if sites is not None:
            sql += " AND site = ANY(%s)"
            params.append(list(sites))
        return self._all(sql + " ORDER BY site, first_at", params)

    # -- events ----------------------------------------------------------------------------
    def insert_events(self, conn, site: str, epoch: str, schema: int,
                      events: Sequence[dict]) -> list[int]:
        """Insert a batch; rows already present under (site, epoch, seq) are left as they
        are. The seqs inserted."""
        if not events:
            return []
        cols = list(zip(*((e["seq"], e["type"], e["at"], e.get("ticket_id"), e.get("team_id"),
                           e.get("counter"), e.get("actor"),
                           json.dumps(e.get("data") or {}, ensure_ascii=False))
                          for e in events), strict=True))
        rows = conn.execute(
            "INSERT INTO events (site, epoch, seq, type, at, ticket_id, team_id, counter, "
            "actor, data, schema) SELECT %s, %s, s, t, a, ti, te, c, ac, d::jsonb, %s FROM "
            "unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::int[], %s::int[],"
            " %s::text[], %s::text[]) AS u(s, t, a, ti, te, c, ac, d) "
            "ON CONFLICT (site, epoch, seq) DO NOTHING RETURNING seq",
            (site, epoch, schema, *[list(c) for c in cols])).fetchall()
        return sorted(r["seq"] for r in rows)

    def event_heads(self, conn, site: str, epoch: str, lo: int, hi: int) -> dict[int, tuple]:
        """(type, at) of the stored events lo..hi, by seq (to check a replay)."""
        rows = conn.execute("SELECT seq, type, at FROM events WHERE site=%s AND epoch=%s AND "
                            "seq BETWEEN %s AND %s", (site, epoch, lo, hi)).fetchall()
        return {r["seq"]: (r["type"], r["at"]) for r in rows}

    def events_for_fold(self, conn, site: str, epoch: str, after: int,
                        limit: int = 5000) -> list[dict]:
        rows = conn.execute("SELECT seq, type, at, ticket_id, team_id, counter, actor, data "
                            "FROM events WHERE site=%s AND epoch=%s AND seq > %s ORDER BY seq "
                            "LIMIT %s", (site, epoch, after, limit)).fetchall()
        return [message(site, r) for r in rows]

    def event_keys(self, sites: Sequence[str] | None = None) -> list[tuple]:
        """(site, epoch, seq, type, at) of every stored event (tests, audits)."""
        sql = "SELECT site, epoch, seq, type, at FROM events"
        params: tuple = ()
        if sites is not None:
            sql += " WHERE site = ANY(%s)"
            params = (list(sites),)
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return [tuple(r) for r in cur.execute(sql + " ORDER BY site, epoch, seq",
                                                   params).fetchall()]

    def event_count(self) -> int:
        return self._one("SELECT COUNT(*) AS n FROM events")["n"]

    # -- users and sessions -----------------------------------------------------------------
    def add_user(self, username: str, role: str, site: str | None, password_hash: str,
                 full_name: str) -> None:
        with self.tx() as conn:
            conn.execute("INSERT INTO users (username, role, site, password_hash, full_name) "
                         "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (username) DO UPDATE SET "
                         "role = EXCLUDED.role, site = EXCLUDED.site, password_hash = "
                         "EXCLUDED.password_hash, full_name = EXCLUDED.full_name, active = "
                         "true", (username, role, site, password_hash, full_name))
            conn.execute("DELETE FROM sessions WHERE username = %s", (username,))

    def user(self, username: str) -> dict | None:
        return self._one("SELECT * FROM users WHERE username = %s", (username,))

    def add_session(self, token_hash: str, username: str, hours: int) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < now()")
            conn.execute("INSERT INTO sessions (token_hash, username, expires_at) VALUES "
                         "(%s, %s, now() + make_interval(hours => %s))",
                         (token_hash, username, hours))

    def session_user(self, token_hash: str) -> dict | None:
        return self._one("SELECT u.username, u.role, u.site, u.full_name FROM sessions s "
                         "JOIN users u USING (username) WHERE s.token_hash = %s AND "
                         "s.expires_at > now() AND u.active", (token_hash,))

    def drop_session(self, token_hash: str) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))

    # -- bundles ---------------------------------------------------------------------------
    def add_bundle(self, kind: str, scope: str, body: dict, sha256: str, actor: str,
                   note: str) -> dict:
        """A new version of a bundle (the same content as the newest one adds nothing)."""
        with self.tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{kind}:{scope}",))
            last = conn.execute("SELECT version, sha256 FROM bundles WHERE kind=%s AND "
                                "scope=%s ORDER BY version DESC LIMIT 1",
                                (kind, scope)).fetchone()
            if last and last["sha256"] == sha256:
                return {"kind": kind, "scope": scope, "version": last["version"],
                        "sha256": sha256, "new": False}
            version = (last["version"] if last else 0) + 1
            conn.execute("INSERT INTO bundles (kind, scope, version, body, sha256, note, "
                         "created_by) VALUES (%s,%s,%s,%s::jsonb,%s,%s,%s)",
                         (kind, scope, version, json.dumps(body, ensure_ascii=False), sha256,
                          note, actor))
            self.audit(conn, actor, "bundle.publish",
                       {"kind": kind, "scope": scope, "version": version, "note": note})
            return {"kind": kind, "scope": scope, "version": version, "sha256": sha256,
                    "new": True}

    def latest_bundle(self, kind: str, scope: str, with_body: bool = True) -> dict | None:
        cols = "kind, scope, version, sha256, note, created_at" + (", body" if with_body else "")
        return self._one(f"SELECT {cols} FROM bundles WHERE kind=%s AND scope=%s "
                         "ORDER BY version DESC LIMIT 1", (kind, scope))

    def bundle_versions(self) -> list[dict]:
        return self._all("SELECT kind, scope, MAX(version) AS version FROM bundles "
                         "GROUP BY kind, scope ORDER BY kind, scope")

    def set_bundle_status(self, site: str, kind: str, version: int, status: str,
                          detail: str) -> None:
        with self.tx() as conn:
            conn.execute("INSERT INTO bundle_status (site, kind, version, status, detail) "
                         "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (site, kind) DO UPDATE SET "
                         "version = EXCLUDED.version, status = EXCLUDED.status, "
                         "detail = EXCLUDED.detail, at = now()",
                         (site, kind, version, status, detail))

    def bundle_status(self, sites: Sequence[str] | None = None) -> list[dict]:
        sql = "SELECT * FROM bundle_status"
        params: tuple = ()
        if sites is not None:
            sql += " WHERE site = ANY(%s)"
            params = (list(sites),)
        return self._all(sql + " ORDER BY site, kind", params)

    # -- the fold (journeys) ----------------------------------------------------------------
    def fold_cursor(self, conn, site: str, epoch: str) -> tuple[int, dict]:
        row = conn.execute("SELECT seq, state FROM fold_cursor WHERE site=%s AND epoch=%s",
                           (site, epoch)).fetchone()
        return (row["seq"], row["state"]) if row else (0, {})

    def set_fold_cursor(self, conn, site: str, epoch: str, seq: int, state: dict) -> None:
        conn.execute("INSERT INTO fold_cursor (site, epoch, seq, state) VALUES "
                     "(%s,%s,%s,%s::jsonb) ON CONFLICT (site, epoch) DO UPDATE SET "
                     "seq = EXCLUDED.seq, state = EXCLUDED.state",
                     (site, epoch, seq, json.dumps(state, ensure_ascii=False)))

    def journeys_by_ids(self, conn, site: str, epoch: str, ids: Iterable[int]) -> dict:
        ids = list(ids)
        if not ids:
            return {}
        rows = conn.execute(f"SELECT {', '.join(JOURNEY_COLUMNS)} FROM journeys WHERE "
                            "site=%s AND epoch=%s AND ticket_id = ANY(%s)",
                            (site, epoch, ids)).fetchall()
        return {r["ticket_id"]: dict(r) for r in rows}

    def upsert_journeys(self, conn, epoch: str, rows: Sequence[dict]) -> None:
        if not rows:
            return
        cols = ", ".join(("epoch", *JOURNEY_COLUMNS))
        marks = ", ".join(["%s"] * (len(JOURNEY_COLUMNS) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in JOURNEY_COLUMNS
                            if c not in ("site", "ticket_id"))
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO journeys ({cols}) VALUES ({marks}) ON CONFLICT "
                            f"(site, epoch, ticket_id) DO UPDATE SET {updates}",
                            [(epoch, *(r[c] for c in JOURNEY_COLUMNS)) for r in rows])

    def journey_columns(self, conn, site_days: Iterable[tuple[str, str]]) -> dict[str, list]:
        """The journeys of the (site, day) pairs as columns (stats.SOURCE_COLUMNS -> list)."""
        pairs = sorted(set(site_days))
        if not pairs:
            return {c: [] for c in SOURCE_COLUMNS}
        sites, days = zip(*pairs, strict=True)
        with conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(SOURCE_COLUMNS)} FROM journeys j JOIN unnest(%s::text[], "
                "%s::text[]) AS p(s, d) ON j.site = p.s AND j.day = p.d",
                (list(sites), list(days))).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(SOURCE_COLUMNS)
        return {c: list(v) for c, v in zip(SOURCE_COLUMNS, columns, strict=True)}

    def replace_stats(self, conn, period: str, site_days: Sequence[tuple[str, str]],
                      rows: Sequence[tuple]) -> None:
        """Replace the report_agg rows of `period` of the (site, day-or-month) pairs."""
        if site_days:
            sites, days = zip(*site_days, strict=True)
            conn.execute("DELETE FROM report_agg a USING unnest(%s::text[], %s::text[]) "
                         "AS p(s, d) WHERE a.period = %s AND a.site = p.s AND a.day = p.d",
                         (list(sites), list(days), period))
        if rows:
            with conn.cursor() as cur, cur.copy(
                    f"COPY report_agg ({', '.join(STAT_COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)

    def drop_month_rows(self, conn, site_months: Iterable[tuple[str, str]]) -> None:
        pairs = sorted(set(site_months))
        if not pairs:
            return
        sites, months = zip(*pairs, strict=True)
        conn.execute("DELETE FROM agg_months m USING unnest(%s::text[], %s::text[]) AS "
                     "p(s, mo) WHERE m.site = p.s AND m.month = p.mo",
                     (list(sites), list(months)))
        self.replace_stats(conn, "m", pairs, [])

    def day_stats_of_month(self, conn, site: str, month: str) -> tuple:
        """One site's day rows of `month` added up per dim||SEP||site||SEP||key, as
        reports.stats.month_rows takes them."""
        where = "period='d' AND site=%s AND day BETWEEN %s AND %s"
        params = (site, month + "-01", month + "-31")
        group = f"dim || '{SEP}' || site || '{SEP}' || key"
        src = f"(SELECT {', '.join(STAT_COLUMNS)} FROM report_agg WHERE {where}) src"
        with conn.cursor(row_factory=tuple_row) as cur:
            return split_grouped(cur.execute(grouped_sql(group, src), params).fetchall())

    def mark_month(self, conn, site: str, month: str) -> None:
        conn.execute("INSERT INTO agg_months (site, month) VALUES (%s, %s) ON CONFLICT DO "
                     "NOTHING", (site, month))

    def months_to_roll_up(self, before_month: str) -> list[tuple[str, str]]:
        """Closed (site, month) pairs with day rows but no current month rows."""
        rows = self._all("SELECT DISTINCT site, substr(day, 1, 7) AS month FROM report_agg "
                         "WHERE dim = 'all' AND period = 'd' AND day < %s "
                         "EXCEPT SELECT site, month FROM agg_months ORDER BY 2, 1",
                         (before_month + "-01",))
        return [(r["site"], r["month"]) for r in rows]

    # -- reports ---------------------------------------------------------------------------
    @staticmethod
    def _site_sql(sites: Sequence[str] | None, params: list) -> str:
        if sites is None:
            return ""
        params.append(list(sites))
        return " AND site = ANY(%s)"

    def journey_count(self, d0: str, d1: str, sites: Sequence[str] | None,
                      upto: int) -> int:
        params: list = [d0, d1]
        where = "day BETWEEN %s AND %s" + self._site_sql(sites, params)
        params.append(upto)
        return self._one(f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM journeys WHERE {where} "
                         "LIMIT %s) x", params)["n"]

    def journeys_between(self, d0: str, d1: str, sites: Sequence[str] | None) -> list[dict]:
        params: list = [d0, d1]
        where = "day BETWEEN %s AND %s" + self._site_sql(sites, params)
        return self._all(f"SELECT {', '.join(JOURNEY_COLUMNS)} FROM journeys WHERE {where} "
                         "ORDER BY site, issued_at", params)

    def low_rated(self, d0: str, d1: str, sites, max_score: int, limit: int) -> list[dict]:
        params: list = [d0, d1, max_score]
        where = ("day BETWEEN %s AND %s AND rating <= 2 AND rating <= %s"
                 + self._site_sql(sites, params))
        params.append(limit)
        return self._all(f"SELECT {', '.join(JOURNEY_COLUMNS)} FROM journeys WHERE {where} "
                         "ORDER BY rated_at DESC LIMIT %s", params)

    # -- audit -----------------------------------------------------------------------------
    def audit(self, conn, actor: str, action: str, detail: dict) -> None:
        conn.execute("INSERT INTO audit (actor, action, detail) VALUES (%s, %s, %s::jsonb)",
                     (actor, action, json.dumps(detail, ensure_ascii=False)))

    def audit_log(self, limit: int = 200) -> list[dict]:
        return self._all("SELECT * FROM audit ORDER BY id DESC LIMIT %s", (limit,))


def message(site: str, r: dict) -> dict:
    """A stored event as the fold reads it (as the hall's report_events gives it)."""
    msg = dict(r["data"] or {})
    msg.update(type=r["type"], seq=r["seq"], at=r["at"], site=site, ticket_id=r["ticket_id"],
               team_id=r["team_id"], counter=r["counter"], actor=r["actor"])
    return msg
