"""A ticket's UPDATE writes only the columns that changed since it was read or written
(issue #14: a call or a finish rewrote every index of the tickets table), and never loses a
change: the row read back equals the ticket, across several updates of one object."""

from datetime import UTC, datetime, timedelta

from server.rules import Ticket
from server.storage import Store


def test_only_changed_columns_are_written_and_none_is_lost(tmp_path):
    store = Store(tmp_path / "qms.db", create=True)
    now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    t = Ticket(site="main", team_id=1, origin_team_id=1, day="2026-11-30", number=1001,
               token="tok", issued_at=now, wait_from=now)
    statements: list[str] = []
    with store.write():
        store.insert_ticket(t)
        store.conn.set_trace_callback(statements.append)
        assert t.changes() == {}  # just written
        t.status, t.counter, t.called_at = "called", 3, now + timedelta(minutes=2)
        assert set(t.changes()) == {"status", "counter", "called_at"}
        store.update_ticket(t)
        t.started_at, t.status = now + timedelta(minutes=3), "serving"
        store.update_ticket(t)
        store.update_ticket(t)  # nothing changed: no statement
        store.conn.set_trace_callback(None)
    # (the trace repeats a statement for each trigger it fires: distinct ones)
    updates = list(dict.fromkeys(s for s in statements if s.startswith("UPDATE tickets")))
    assert len(updates) == 2
    assert "token" not in updates[0] and "status" in updates[0] and "counter" in updates[0]
    assert "called_at" not in updates[1] and "started_at" in updates[1]
    back = store.ticket(t.id)
    assert back.to_row() == t.to_row()
    back.recalls += 1  # a ticket read from the store diffs against what it read
    assert back.changes() == {"recalls": 1}
    fresh = Ticket(site="main", team_id=1, origin_team_id=1, day="2026-11-30", number=1002,
                   token="tok2", issued_at=now, wait_from=now)
    assert set(fresh.changes()) == set(fresh.to_row())  # never stored: every column
