"""SQL for the procedure catalogue (part of the one storage module)."""

from __future__ import annotations

import json

from common.text import fold, tokens

PROCEDURE_FIELDS = ("code", "name", "field", "agency", "level", "processing_days", "fee",
                    "documents", "team_id", "source")


class CatalogMixin:
    def upsert_procedures(self, rows: list[dict]) -> int:
        records = []
        for r in rows:
            rec = {k: r.get(k, "") for k in PROCEDURE_FIELDS}
            rec["team_id"] = r.get("team_id")
            docs = r.get("documents") or []
            rec["documents"] = json.dumps(docs if isinstance(docs, list) else [docs],
                                          ensure_ascii=False)
            rec["name_folded"] = fold(rec["name"])
            records.append(rec)
        if records:
            cols = list(records[0])
            self.db.conn.executemany(
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

    def search_procedures(self, query: str, field: str | None = None,
                          limit: int = 20) -> list[dict]:
        """Diacritic-insensitive: every folded word of the query must appear in the folded
        name (the last word as a prefix); the code matches too. Whole-phrase and
        start-of-name matches rank first, then shorter names."""
        words = tokens(query)
        phrase = fold(query)
        where, params = [], []
        for w in words:
            where.append("(' ' || name_folded) LIKE ?")
            params.append(f"% {w}%")
        sql = "SELECT * FROM procedures WHERE (" + (" AND ".join(where) or "1") + ")"
        if query.strip():
            sql += " OR code = ?"
            params.append(query.strip())
        if field:
            sql = f"SELECT * FROM ({sql}) WHERE field = ?"
            params.append(field)
        sql += (" ORDER BY (code = ?) DESC, (name_folded LIKE ?) DESC, "
                "instr(name_folded, ?) = 0, length(name) LIMIT ?")
        params += [query.strip(), f"%{phrase}%", phrase, limit]
        return [_procedure(r) for r in self._all(sql, params)]

    def fields(self) -> list[dict]:
        return self._all("SELECT field, COUNT(*) AS count, MIN(team_id) AS team_id "
                         "FROM procedures GROUP BY field ORDER BY count DESC, field")

    def procedure_count(self) -> int:
        return self._value("SELECT COUNT(*) FROM procedures")

    def route_procedures(self, field: str, team_id: int) -> int:
        cur = self.db.conn.execute("UPDATE procedures SET team_id = ? WHERE field = ?",
                                   (team_id, field))
        return cur.rowcount


def _procedure(row: dict) -> dict:
    row = dict(row)
    row.pop("name_folded", None)
    row["documents"] = json.loads(row["documents"] or "[]")
    return row
