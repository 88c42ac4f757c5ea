"""SQL for the procedure catalogue (part of the one storage module).

Searching the catalogue is not SQL: `server/procedure_search.py` answers it with the one
search engine (`common.search`) over `procedures()`, rebuilt when `catalogue_version()`
changes and ranked with the hall's popularity read by `procedure_uses()`."""

from __future__ import annotations

import json

from common.text import fold

from ..procedure_texts import whole_sentences

PROCEDURE_FIELDS = ("code", "name", "field", "agency", "level", "processing_days", "fee",
                    "documents", "team_id", "source", "fee_text", "time_text")
# the clean fields read from the fee and time texts (migration m015): NULL when unknown
PROCEDURE_NUMBERS = ("fee_free", "fee_amount_min", "fee_amount_max", "time_days")


class CatalogMixin:
    def upsert_procedures(self, rows: list[dict]) -> int:
        records = []
        for r in rows:
            rec = {k: r.get(k, "") for k in PROCEDURE_FIELDS}
            rec.update({k: r.get(k) for k in PROCEDURE_NUMBERS})
            rec["team_id"] = r.get("team_id")
            docs = r.get("documents") or []
            rec["documents"] = json.dumps(docs if isinstance(docs, list) else [docs],
                                          ensure_ascii=False)
            rec["name_folded"] = fold(rec["name"])
            records.append(rec)
        if records:
            cols = list(records[0])
            self.conn.executemany(
                f"INSERT OR REPLACE INTO procedures ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [tuple(rec[c] for c in cols) for rec in records])
        return len(records)

    def procedure(self, code: str) -> dict | None:
        row = self._one("SELECT * FROM procedures WHERE code = ?", (code,))
        return _procedure(row) if row else None

    def procedures(self, field: str | None = None) -> list[dict]:
        if field:
            rows = self._all("SELECT * FROM procedures WHERE field = ? ORDER BY name", (field,))
        else:
            rows = self._all("SELECT * FROM procedures ORDER BY field, name")
        return [_procedure(r) for r in rows]

    def fields(self) -> list[dict]:
        return self._all("SELECT field, COUNT(*) AS count, MIN(team_id) AS team_id "
                         "FROM procedures GROUP BY field ORDER BY count DESC, field")

    def procedure_count(self) -> int:
        return self._value("SELECT COUNT(*) FROM procedures")

    def route_procedures(self, field: str, team_id: int) -> int:
        cur = self.conn.execute("UPDATE procedures SET team_id = ? WHERE field = ?",
                                   (team_id, field))
        return cur.rowcount

    # -- for the search engine ----------------------------------------------------------------
    def catalogue_version(self) -> tuple:
        """Changes whenever the catalogue does, in this process or another one on the same
        file: rows added or replaced (their number, the newest rowid: INSERT OR REPLACE gives
        a new one) or edited in place (the newest `config.changed` event about procedures,
        which every import, edit and routing writes). Three index lookups."""
        row = self.conn.execute(
            "SELECT (SELECT COUNT(*) FROM procedures), (SELECT MAX(rowid) FROM procedures), "
            "(SELECT MAX(id) FROM events WHERE type = 'config.changed' "
            "AND json_extract(data, '$.what') = 'procedures')").fetchone()
        return tuple(row)

    def ticket_id_range(self) -> tuple[int, int]:
        """(first, last) ticket id; (0, 0) without tickets."""
        row = self.conn.execute("SELECT MIN(id), MAX(id) FROM tickets").fetchone()
        return (row[0] or 0, row[1] or 0)

    def first_ticket_id_on(self, day: str) -> int:
        """The id of the first ticket of business day `day` or later (ids grow with time),
        by a binary search over the primary key: a few lookups, never a scan. The last id
        + 1 when every ticket is older."""
        lo, hi = self.ticket_id_range()
        a, b = lo, hi + 1
        while a < b:
            mid = (a + b) // 2
            row = self.conn.execute(
                "SELECT id, day FROM tickets WHERE id >= ? ORDER BY id LIMIT 1", (mid,)).fetchone()
            if row is None or row[1] >= day:
                b = mid
            else:
                a = row[0] + 1
        return a

    def procedure_uses(self, since_day: str, after_id: int, upto_id: int
                       ) -> list[tuple[str, str, int]]:
        """How often each procedure was chosen: (procedure code, business day, tickets) for
        the tickets with `after_id` < id <= `upto_id` issued on `since_day` or later. One
        read query over a range of the primary key, so a caller can read the history once
        and then only the tickets issued since (`server/procedure_search.py`)."""
        rows = self.conn.execute(
            "SELECT procedure_code, day, COUNT(*) FROM tickets "
            "WHERE id > ? AND id <= ? AND day >= ? AND procedure_code IS NOT NULL "
            "AND procedure_code != '' GROUP BY procedure_code, day",
            (after_id, upto_id, since_day)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]


def _procedure(row: dict) -> dict:
    row = dict(row)
    row.pop("name_folded", None)
    row["documents"] = json.loads(row["documents"] or "[]")
    # what a screen may show of the portal's texts: whole sentences, never cut mid-sentence
    row["fee_detail"] = whole_sentences(row.get("fee_text") or "")
    row["time_detail"] = whole_sentences(row.get("time_text") or "")
    days = row.get("time_days")
    if isinstance(days, float) and days.is_integer():
        row["time_days"] = int(days)
    return row
