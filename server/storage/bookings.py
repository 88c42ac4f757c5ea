"""SQL for appointments and the per-person daily limits (part of the one storage module).

Nothing personal is stored in clear: the phone number and the CCCD number arrive here only
as salted hashes (`server/bookings.py` hashes them with the salt of `person_salt`, made
once per database by migration m014); a booking keeps the phone's last three digits so the
citizen can tell which phone it was booked with."""

from __future__ import annotations

#: a booking that still holds its place in a slot
HOLDING = ("booked", "checked_in", "late")
BOOKING_COLUMNS = ("code", "site", "team_id", "procedure_code", "field", "day", "slot_start",
                   "slot_end", "phone_hash", "phone_tail", "id_hash", "status", "created_at",
                   "changed_at", "checked_in_at", "ticket_id")


class BookingsMixin:
    # -- the salt ---------------------------------------------------------------------------
    def person_salt(self) -> str:
        return self._value("SELECT salt FROM person_salt WHERE id = 1")

    # -- bookings ---------------------------------------------------------------------------
    def booking(self, code: str) -> dict | None:
        return self._one("SELECT * FROM bookings WHERE code = ?", (code,))

    def booking_code_used(self, code: str) -> bool:
        return self._value("SELECT 1 FROM bookings WHERE code = ?", (code,)) is not None

    def insert_booking(self, row: dict) -> int:
        cols = [c for c in BOOKING_COLUMNS if c in row]
        cur = self.conn.execute(
            f"INSERT INTO bookings ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            tuple(row[c] for c in cols))
        return cur.lastrowid

    def update_booking(self, code: str, **changes) -> None:
        bad = set(changes) - set(BOOKING_COLUMNS)
        if bad:
            raise KeyError(f"unknown booking columns {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.conn.execute(f"UPDATE bookings SET {sets} WHERE code = ?",
                          (*changes.values(), code))

    def slot_taken(self, site: str, team_id: int, day: str) -> dict[str, int]:
        """Places held per slot start ("08:00" -> 3) of a team on a day."""
        rows = self.conn.execute(
            "SELECT slot_start, COUNT(*) FROM bookings WHERE site = ? AND team_id = ? "
            "AND day = ? AND status IN (?, ?, ?) GROUP BY slot_start",
            (site, team_id, day, *HOLDING)).fetchall()
        return {r[0]: r[1] for r in rows}

    def person_bookings(self, column: str, value: str, day: str,
                        exclude_code: str | None = None) -> list[dict]:
        """The bookings holding a place on `day` of one person, by `phone_hash` or
        `id_hash` (the per-person limits)."""
        if column not in ("phone_hash", "id_hash"):
            raise KeyError(column)
        return self._all(
            f"SELECT code, field FROM bookings WHERE {column} = ? AND day = ? "
            f"AND status IN (?, ?, ?) AND code != ?",
            (value, day, *HOLDING, exclude_code or ""))

    def bookings_by_id_hash(self, id_hash: str, day: str) -> list[dict]:
        return self._all("SELECT * FROM bookings WHERE id_hash = ? AND day = ? "
                         "ORDER BY slot_start, id", (id_hash, day))

    def stale_bookings(self, day: str) -> list[dict]:
        """Bookings of days before `day` never used (they expire as no-shows)."""
        return self._all("SELECT * FROM bookings WHERE day < ? AND status = 'booked' "
                         "ORDER BY day, slot_start, id", (day,))

    def forget_past_id_hashes(self, day: str) -> int:
        """The CCCD hash of a booking is needed until its day only."""
        cur = self.conn.execute("UPDATE bookings SET id_hash = NULL WHERE day < ? "
                                "AND id_hash IS NOT NULL", (day,))
        return cur.rowcount

    def booking_counts(self, site: str | None, day_from: str, day_to: str) -> list[dict]:
        """Per team and day: bookings by status, and the on-time check-ins' lateness
        (minutes from the slot start to the check-in, local times as text)."""
        where, params = "day BETWEEN ? AND ?", [day_from, day_to]
        if site:
            where += " AND site = ?"
            params.append(site)
        return self._all(
            f"SELECT day, team_id, "
            f"COUNT(*) AS total, "
            f"SUM(status = 'booked') AS booked, "
            f"SUM(status = 'checked_in') AS checked_in, "
            f"SUM(status = 'late') AS late, "
            f"SUM(status = 'no_show') AS no_show, "
            f"SUM(status = 'cancelled') AS cancelled "
            f"FROM bookings WHERE {where} GROUP BY day, team_id ORDER BY day, team_id",
            tuple(params))

    # -- per-person marks (numbers taken with a scanned CCCD) --------------------------------
    def person_marks_count(self, person: str, day: str, field: str) -> int:
        """Numbers this person took today in this field (cancelled ones do not count)."""
        return self._value(
            "SELECT COUNT(*) FROM person_marks m JOIN tickets t ON t.id = m.ticket_id "
            "WHERE m.hash = ? AND m.day = ? AND m.field = ? AND t.status != 'cancelled'",
            (person, day, field)) or 0

    def add_person_mark(self, person: str, day: str, field: str, ticket_id: int,
                        at: str) -> None:
        self.conn.execute("INSERT INTO person_marks (hash, day, field, ticket_id, at) "
                          "VALUES (?,?,?,?,?)", (person, day, field, ticket_id, at))

    def purge_person_marks(self, day: str) -> int:
        """Marks are kept for their day only."""
        cur = self.conn.execute("DELETE FROM person_marks WHERE day < ?", (day,))
        return cur.rowcount
