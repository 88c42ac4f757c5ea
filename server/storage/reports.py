"""SQL for manager reports: folded journeys, the fold cursor, and per-day/month stats
(part of the one storage module)."""

from __future__ import annotations

import json

from ..report_fold import JOURNEY_COLUMNS

STAT_COLUMNS = ("dim", "period", "day", "site", "key", "issued", "called", "served", "no_show",
                "transferred", "cancelled", "wait_sum", "wait_max", "service_sum",
                "service_max", "r1", "r2", "r3", "r4", "peak_waiting", "wait_hist",
                "service_hist")


class ReportsMixin:
    # -- events to fold -------------------------------------------------------------------
    def event_sites(self) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT DISTINCT site FROM events")]

    def report_events(self, site: str, since: int, limit: int = 5000) -> list[dict]:
        """Events after `since` with their actor, data merged in (as event_message)."""
        out = []
        for r in self.db.conn.execute(
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
        self.db.conn.execute("INSERT OR REPLACE INTO report_cursor (site, seq, state) "
                             "VALUES (?,?,?)", (site, seq, json.dumps(state)))

    def procedure_fields(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.conn.execute("SELECT code, field FROM procedures")}

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
        self.db.conn.executemany(
            f"INSERT OR REPLACE INTO journeys ({cols}) VALUES ({marks})",
            [tuple(r[c] for c in JOURNEY_COLUMNS) for r in rows])

    def journeys_between(self, d0: str, d1: str, site: str | None = None) -> list[dict]:
        sql = "SELECT * FROM journeys WHERE day BETWEEN ? AND ?"
        params: list = [d0, d1]
        if site:
            sql += " AND site = ?"
            params.append(site)
        return self._all(sql + " ORDER BY ticket_id", params)

    def journey_count(self, d0: str, d1: str, site: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM journeys WHERE day BETWEEN ? AND ?"
        params: list = [d0, d1]
        if site:
            sql += " AND site = ?"
            params.append(site)
        return self._value(sql, params)

    def journeys_of_day(self, site: str, day: str) -> list[dict]:
        return self._all("SELECT * FROM journeys WHERE site=? AND day=?", (site, day))

    def journey_days(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.conn.execute(
            "SELECT DISTINCT site, day FROM journeys ORDER BY day, site")]

    # -- stats ----------------------------------------------------------------------------
    def replace_stats(self, period: str, day: str, site: str, rows: list[dict]) -> None:
        self.db.conn.execute("DELETE FROM report_stats WHERE period=? AND day=? AND site=?",
                             (period, day, site))
        self.db.conn.executemany(
            f"INSERT INTO report_stats ({', '.join(STAT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in STAT_COLUMNS)})",
            [tuple(r[c] for c in STAT_COLUMNS) for r in rows])

    def day_stats_of_month(self, site: str, month: str) -> list[dict]:
        return self._all("SELECT * FROM report_stats WHERE period='d' AND site=? "
                         "AND day BETWEEN ? AND ?", (site, month + "-01", month + "-31"))

    def stats_rows(self, dim: str, months: list[str], spans: list[tuple[str, str]],
                   site: str | None = None) -> list[dict]:
        """Stats rows of `dim` for whole months plus day spans (inclusive)."""
        parts, params = [], []
        if months:
            parts.append(f"(period='m' AND day IN ({','.join('?' for _ in months)}))")
            params += months
        for a, b in spans:
            parts.append("(period='d' AND day BETWEEN ? AND ?)")
            params += [a, b]
        if not parts:
            return []
        sql = f"SELECT * FROM report_stats WHERE dim=? AND ({' OR '.join(parts)})"
        params.insert(0, dim)
        if site:
            sql += " AND site=?"
            params.append(site)
        return self._all(sql, params)

    def low_rated_journeys(self, d0: str, d1: str, max_score: int, limit: int,
                           site: str | None = None) -> list[dict]:
        sql = ("SELECT * FROM journeys WHERE day BETWEEN ? AND ? AND rating <= 2 "
               "AND rating <= ?")
        params: list = [d0, d1, max_score]
        if site:
            sql += " AND site = ?"
            params.append(site)
        return self._all(sql + " ORDER BY rated_at DESC LIMIT ?", (*params, limit))
