"""SQL for the admin pages: editing users and procedures (part of the one storage module)."""

from __future__ import annotations

import json

from common.text import fold

from ..procedure_texts import parse_fee, parse_time


class AdminMixin:
    def update_user(self, username: str, *, role: str | None = None,
                    full_name: str | None = None, counters: list[int] | None = None,
                    password_hash: str | None = None, active: bool | None = None) -> bool:
        sets, params = [], []
        for col, value in (("role", role), ("full_name", full_name),
                           ("password_hash", password_hash)):
            if value is not None:
                sets.append(f"{col} = ?")
                params.append(value)
        if counters is not None:
            sets.append("counters = ?")
            params.append(json.dumps(counters))
        if active is not None:
            sets.append("active = ?")
            params.append(int(active))
        if not sets:
            return self.user(username) is not None
        cur = self.conn.execute(f"UPDATE users SET {', '.join(sets)} WHERE username = ?",
                                   (*params, username))
        if active is False or password_hash is not None:
            self.conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
            self.end_rating_tokens(username)  # the rating pages they opened, too
        return cur.rowcount > 0

    def update_procedure(self, code: str, changes: dict) -> bool:
        allowed = ("name", "field", "agency", "level", "processing_days", "fee", "team_id",
                   "documents")
        sets, params = [], []
        for col in allowed:
            if col in changes:
                value = changes[col]
                if col == "documents":
                    value = json.dumps(value, ensure_ascii=False)
                sets.append(f"{col} = ?")
                params.append(value)
                if col == "name":
                    sets.append("name_folded = ?")
                    params.append(fold(value))
        # an edited fee or time text: its clean fields read again (issue #16, m015)
        derived = {}
        if "fee" in changes:
            fee = parse_fee(str(changes["fee"] or ""))
            derived |= {k: fee[k] for k in ("fee_free", "fee_amount_min", "fee_amount_max",
                                            "fee_text")}
        if "processing_days" in changes:
            derived |= parse_time(str(changes["processing_days"] or ""))
        for col, value in derived.items():
            sets.append(f"{col} = ?")
            params.append(value)
        if not sets:
            return self.procedure(code) is not None
        cur = self.conn.execute(f"UPDATE procedures SET {', '.join(sets)} WHERE code = ?",
                                   (*params, code))
        return cur.rowcount > 0
