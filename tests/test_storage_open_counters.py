"""The store's cached set of open counters (issue #14: read by every event and wait
estimate) is never stale: not after a rolled-back write, not after another connection's
(another server process's) commit."""

import pytest

from server.rules import CounterState
from server.storage import Store


@pytest.fixture
def stores(tmp_path):
    a = Store(tmp_path / "qms.db", create=True)
    with a.write():
        a.ensure_counters([1, 2, 3])
    b = Store(tmp_path / "qms.db")  # as another server process on the same file
    return a, b


def test_own_write_is_seen_at_once(stores):
    a, _ = stores
    assert a.open_counter_numbers() == frozenset()
    with a.write():
        a.save_counter_state(CounterState(1, "open"))
        assert a.open_counter_numbers() == {1}  # inside the transaction
    assert a.open_counter_numbers() == {1}


def test_rolled_back_write_is_forgotten(stores):
    a, _ = stores
    with pytest.raises(RuntimeError):
        with a.write():
            a.save_counter_state(CounterState(2, "open"))
            assert a.open_counter_numbers() == {2}
            raise RuntimeError("the command failed")
    with a.write():  # the write connection, whose cache saw the undone row
        assert a.open_counter_numbers() == frozenset()
    assert a.open_counter_numbers() == frozenset()


def test_another_processs_commit_is_seen(stores):
    a, b = stores
    assert a.open_counter_numbers() == frozenset()
    with a.write():
        assert a.open_counter_numbers() == frozenset()
    with b.write():
        b.save_counter_state(CounterState(3, "open"))
    assert a.open_counter_numbers() == {3}  # read connection
    with a.write():
        assert a.open_counter_numbers() == {3}  # write connection
