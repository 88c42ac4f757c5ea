"""SQL for tickets, events and counters (part of the one storage module)."""

from __future__ import annotations

import json

from ..rules import CounterState, Ticket

TICKET_COLUMNS = tuple(Ticket.__dataclass_fields__)


class QueueMixin:
    # -- tickets --------------------------------------------------------------------------
    def last_number(self, site: str, day: str, origin_team_id: int) -> int | None:
        return self._value(
            "SELECT MAX(number) FROM tickets WHERE site=? AND day=? AND origin_team_id=?",
            (site, day, origin_team_id))

    def insert_ticket(self, ticket: Ticket) -> int:
        row = ticket.to_row()
        row.pop("id")
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.memo.clear()
        cur = self.conn.execute(f"INSERT INTO tickets ({cols}) VALUES ({marks})",
                                   tuple(row.values()))
        ticket.id = cur.lastrowid
        ticket.stored = {**row, "id": ticket.id}
        return ticket.id

    def update_ticket(self, ticket: Ticket) -> None:
        """Writes the columns that changed since the ticket was read (`Ticket.changes`)."""
        changed = ticket.changes()
        changed.pop("id", None)
        self.memo.clear()
        if not changed:
            return
        sets = ", ".join(f"{k} = ?" for k in changed)
        self.conn.execute(f"UPDATE tickets SET {sets} WHERE id = ?",
                          (*changed.values(), ticket.id))
        ticket.stored = {**getattr(ticket, "stored", {}), **changed, "id": ticket.id}

    def ticket(self, ticket_id: int) -> Ticket | None:
        row = self._one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return Ticket.from_row(row) if row else None

    def ticket_by_token(self, token: str) -> Ticket | None:
        row = self._one("SELECT * FROM tickets WHERE token = ?", (token,))
        return Ticket.from_row(row) if row else None

    def ticket_by_number(self, site: str, day: str, number: int) -> Ticket | None:
        row = self._one("SELECT * FROM tickets WHERE site=? AND day=? AND number=? "
                        "ORDER BY id DESC LIMIT 1", (site, day, number))
        return Ticket.from_row(row) if row else None

    def tickets_by_number(self, site: str, day: str, number: int, team_ids: list[int],
                          counter: int) -> list[Ticket]:
        """Today's tickets printed with `number` that a counter may call: in one of its
        teams' queues now, or sent to that very counter."""
        marks = ",".join("?" for _ in team_ids) or "NULL"
        rows = self._all(
            f"SELECT * FROM tickets WHERE site=? AND day=? AND number=? AND "
            f"(team_id IN ({marks}) OR target_counter=?) ORDER BY id",
            (site, day, number, *team_ids, counter))
        return [Ticket.from_row(r) for r in rows]

    def last_finished_at(self, counter: int, day: str) -> int | None:
        """The id of the ticket finished (done) last at `counter` on `day`."""
        return self._value(
            "SELECT id FROM tickets WHERE day=? AND status='done' AND counter=? "
            "ORDER BY finished_at DESC, id DESC LIMIT 1", (day, counter))

    def issued_ranges(self, day: str) -> list[dict]:
        """Per site and numbering team: the lowest and highest number issued on `day`."""
        return self._all(
            "SELECT site, origin_team_id AS team_id, MIN(number) AS lo, MAX(number) AS hi, "
            "COUNT(*) AS n FROM tickets WHERE day=? GROUP BY site, origin_team_id", (day,))

    def open_tickets(self, day: str) -> list[dict]:
        """Tickets of `day` still in a queue or at a counter, counted by team (the queue
        they are in now), counter they are at and counter they were sent to."""
        return self._all(
            "SELECT site, team_id, counter, target_counter, status, COUNT(*) AS n FROM tickets"
            " WHERE day=? AND status IN ('waiting','called','serving') "
            "GROUP BY site, team_id, counter, target_counter, status", (day,))

    def queue_heads(self, site: str, day: str, team_ids: list[int],
                    counter: int) -> list[Ticket]:
        """The only tickets a counter can call next: per team the oldest normal and the
        oldest priority ticket, and the oldest ticket sent to this very counter. One
        statement (each head an index range read through its own LIMIT 1), not one per head
        (issue #14)."""
        base = ("SELECT * FROM (SELECT * FROM tickets WHERE site=? AND day=? "
                "AND status='waiting' AND {} ORDER BY wait_from, id LIMIT 1)")
        parts = [base.format("target_counter=?")]
        params: list = [site, day, counter]
        for team in team_ids:
            for cls in ("priority IS NULL", "priority IS NOT NULL"):
                parts.append(base.format(f"team_id=? AND target_counter IS NULL AND {cls}"))
                params += [site, day, team]
        return [Ticket.from_row(r) for r in self._all(" UNION ALL ".join(parts), params)]

    def count_ahead(self, t: Ticket, normal_before: str, priority_before: str) -> int:
        """Waiting tickets of t's queue whose wait clock is before the cut-off of their
        class (ties broken by id). Two counts, each a range of one index: the normal class
        through the covering index of migration m016 (no table row read per ticket ahead;
        was a third of an issue's view with a long queue, issue #14), the priority class
        through its partial index (few rows)."""
        target = "target_counter IS NULL" if t.target_counter is None else "target_counter=?"
        extra = () if t.target_counter is None else (t.target_counter,)
        base = ("SELECT COUNT(*) FROM tickets WHERE site=? AND day=? AND team_id=? "
                f"AND status='waiting' AND {target} AND id != ? AND ")
        normal = self._value(
            base + "priority IS NULL AND (wait_from < ? OR (wait_from = ? AND id < ?))",
            (t.site, t.day, t.team_id, *extra, t.id, normal_before, normal_before, t.id))
        priority = self._value(
            base + "priority IS NOT NULL AND (wait_from < ? OR (wait_from = ? AND id < ?))",
            (t.site, t.day, t.team_id, *extra, t.id, priority_before, priority_before, t.id))
        return (normal or 0) + (priority or 0)

    def stale_waiting(self, day: str) -> list[Ticket]:
        """Tickets still waiting from an earlier business day."""
        return [Ticket.from_row(r) for r in self._all(
            "SELECT * FROM tickets WHERE status IN ('waiting','called','serving') AND day < ?",
            (day,))]

    def waiting_counts(self, site: str, day: str) -> dict[int, dict]:
        rows = self._all(
            "SELECT team_id, COUNT(*) AS waiting, MIN(wait_from) AS oldest, "
            "SUM(priority IS NOT NULL) AS priority FROM tickets "
            "WHERE status='waiting' AND site=? AND day=? GROUP BY team_id", (site, day))
        return {r["team_id"]: r for r in rows}

    def waiting_totals(self, site: str, day: str) -> dict[int, int]:
        """Waiting tickets per team: one small table kept by triggers (migration m011)."""
        rows = self.conn.execute(
            "SELECT team_id, waiting FROM queue_waiting WHERE site=? AND day=? AND waiting > 0",
            (site, day)).fetchall()
        return {r[0]: r[1] for r in rows}

    def open_counters(self, numbers: list[int]) -> int:
        return self._value(
            f"SELECT COUNT(*) FROM counters WHERE status='open' AND number IN "
            f"({','.join('?' for _ in numbers)})", tuple(numbers)) if numbers else 0

    def recent_calls(self, team_id: int, day: str, limit: int) -> list[bool]:
        """Newest first: whether each recent first call of the team was a priority ticket."""
        rows = self.conn.execute(
            "SELECT priority IS NOT NULL FROM tickets WHERE team_id=? AND day=? "
            "AND first_called_at IS NOT NULL ORDER BY first_called_at DESC LIMIT ?",
            (team_id, day, limit)).fetchall()
        return [bool(r[0]) for r in rows]

    def mean_service_s(self, team_id: int, day: str, last: int = 20) -> float | None:
        return self._value(
            "SELECT AVG(s) FROM (SELECT (julianday(finished_at) - julianday(started_at)) * 86400"
            " AS s FROM tickets WHERE team_id=? AND day=? AND status='done' "
            "AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?)",
            (team_id, day, last))

    def append_event(self, site: str, type_: str, at: str, *, ticket_id=None, team_id=None,
                     counter=None, actor=None, data: dict | None = None) -> dict:
        seq = self.current_seq(site) + 1
        payload = json.dumps(data or {}, ensure_ascii=False)
        self.conn.execute(
            "INSERT INTO events (site, seq, type, at, ticket_id, team_id, counter, actor, data)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (site, seq, type_, at, ticket_id, team_id, counter, actor, payload))
        if self._in_write:
            self.txn_seq[site] = seq
        return event_message({"site": site, "seq": seq, "type": type_, "at": at,
                              "ticket_id": ticket_id, "team_id": team_id, "counter": counter,
                              "actor": actor, "data": payload})

    def events_since(self, site: str, since: int, limit: int = 1000) -> list[dict]:
        rows = self._all("SELECT * FROM events WHERE site=? AND seq>? ORDER BY seq LIMIT ?",
                         (site, since, limit))
        return [event_message(r) for r in rows]

    def current_seq(self, site: str) -> int:
        """The site's last event number. Inside a write transaction it is read once and then
        kept (`txn_seq`, dropped when the transaction ends): nobody else can append while we
        hold the write lock, and a command asked it up to three times (issue #14)."""
        if self._in_write:
            seq = self.txn_seq.get(site)
            if seq is None:
                seq = self.txn_seq[site] = self._value(
                    "SELECT MAX(seq) FROM events WHERE site = ?", (site,)) or 0
            return seq
        return self._value("SELECT MAX(seq) FROM events WHERE site = ?", (site,)) or 0

    def events_between(self, start: str, end: str, types: tuple[str, ...] | None = None):
        sql = "SELECT * FROM events WHERE at >= ? AND at < ?"
        params: list = [start, end]
        if types:
            sql += f" AND type IN ({','.join('?' for _ in types)})"
            params += list(types)
        sql += " ORDER BY site, seq"
        for row in self.conn.execute(sql, params):
            yield event_message(dict(row))

    def recent_events(self, site: str, types: tuple[str, ...], since_at: str,
                      limit: int) -> list[dict]:
        rows = self._all(
            f"SELECT * FROM events WHERE site=? AND at>=? AND type IN "
            f"({','.join('?' for _ in types)}) ORDER BY seq DESC LIMIT ?",
            (site, since_at, *types, limit))
        return [event_message(r) for r in rows]

    def events_after(self, site: str, types: tuple[str, ...], since_seq: int,
                     limit: int) -> list[dict]:
        """Events of these types after `since_seq`, oldest first (at most `limit`, newest)."""
        rows = []
        for type_ in types:  # one index range (site, type, seq) each
            rows += self._all("SELECT * FROM events WHERE site=? AND type=? AND seq > ? "
                              "ORDER BY seq DESC LIMIT ?", (site, type_, since_seq, limit))
        rows.sort(key=lambda r: r["seq"])
        return [event_message(r) for r in rows[-limit:]]

    def ensure_counters(self, numbers: list[int]) -> None:
        self._counters_written = getattr(self, "_counters_written", 0) + 1
        self.conn.executemany("INSERT OR IGNORE INTO counters (number) VALUES (?)",
                                 [(n,) for n in numbers])

    def counter_state(self, number: int) -> CounterState:
        row = self._one("SELECT * FROM counters WHERE number = ?", (number,))
        return CounterState(**row) if row else CounterState(number=number)

    def counter_states(self) -> dict[int, CounterState]:
        """Every counter's state (tuples straight into the dataclass: this runs for every
        event's open-counter figures and every wait estimate, issue #14)."""
        rows = self.conn.execute("SELECT number, status, ticket_id, officer, reason "
                                 "FROM counters ORDER BY number").fetchall()
        return {r[0]: CounterState(*r) for r in rows}

    def open_counter_numbers(self) -> frozenset[int]:
        """The numbers of the open counters: every event's open-counter figures and every wait
        estimate ask (issue #14), so the set is kept until a counter is written through this
        store or another connection commits (`PRAGMA data_version` of the connection in use:
        a reader never trusts a set older than the last commit it could see)."""
        conn = self.conn
        key = (id(conn), conn.execute("PRAGMA data_version").fetchone()[0],
               getattr(self, "_counters_written", 0))
        cached = getattr(self, "_open_counters", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        numbers = frozenset(r[0] for r in conn.execute(
            "SELECT number FROM counters WHERE status = 'open'"))
        self._open_counters = (key, numbers)
        return numbers

    def save_counter_state(self, state: CounterState) -> None:
        self._counters_written = getattr(self, "_counters_written", 0) + 1
        self.conn.execute(
            "INSERT OR REPLACE INTO counters (number, status, ticket_id, officer, reason) "
            "VALUES (?,?,?,?,?)",
            (state.number, state.status, state.ticket_id, state.officer, state.reason))


def event_message(row: dict) -> dict:
    """An event row as pushed to clients: `{"type", "seq", "at", ...}`."""
    data = row["data"]
    msg = {"type": row["type"], "seq": row["seq"], "at": row["at"], "site": row["site"],
           "ticket_id": row["ticket_id"], "team_id": row["team_id"], "counter": row["counter"]}
    msg.update(json.loads(data) if isinstance(data, str) else data)
    return msg
