"""Queue rules: plain Python, no Flask, no SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server import rules as q
from server.config import Counter, PriorityPolicy
from server.errors import Conflict, IllegalMove, ValidationFailed

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def ticket(tid, team=1, minutes=0, priority=None, target=None) -> q.Ticket:
    at = T0 + timedelta(minutes=minutes)
    return q.Ticket(site="main", team_id=team, origin_team_id=team, day="2026-11-23",
                    number=1000 + tid, token=f"tok{tid}", issued_at=at, wait_from=at,
                    priority=priority, target_counter=target, id=tid)


def test_business_day_uses_local_time():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    assert q.business_day(datetime(2026, 11, 22, 16, 59, tzinfo=UTC), tz) == "2026-11-22"
    assert q.business_day(datetime(2026, 11, 22, 17, 0, tzinfo=UTC), tz) == "2026-11-23"


def test_numbers_in_band_and_exhaustion():
    assert q.next_number((1001, 1999), None) == 1001
    assert q.next_number((1001, 1999), 1500) == 1501
    with pytest.raises(Conflict) as err:
        q.next_number((1001, 1999), 1999)
    assert err.value.code == "band_exhausted"


def test_ratio_policy_gives_priority_without_starving():
    policy = PriorityPolicy("ratio", ratio=2)
    waiting = [ticket(1, minutes=0), ticket(2, minutes=1), ticket(3, minutes=2, priority="elderly")]
    # nobody called yet: the priority ticket goes first
    assert q.pick_for_team(waiting, [], policy).id == 3
    # a priority ticket was among the last 2 calls: oldest normal goes first
    assert q.pick_for_team(waiting, [False, True], policy).id == 1
    assert q.pick_for_team(waiting, [False, False, True], policy).id == 3


def test_ratio_sequence_bounds_both_classes():
    policy = PriorityPolicy("ratio", ratio=2)
    waiting = [ticket(i, minutes=i) for i in range(1, 7)]
    waiting += [ticket(10 + i, minutes=10 + i, priority="pregnant") for i in range(4)]
    recent: list[bool] = []
    order = []
    while waiting:
        chosen = q.pick_for_team(waiting, recent, policy)
        waiting.remove(chosen)
        recent.insert(0, chosen.is_priority)
        order.append("P" if chosen.is_priority else "N")
    assert "".join(order) == "PNNPNNPNNP"


def test_aging_and_strict_policies():
    old_normal = ticket(1, minutes=0)
    young_prio = ticket(2, minutes=5, priority="disabled")
    assert q.pick_for_team([old_normal, young_prio], [], PriorityPolicy("aging", bonus_s=600)
                           ).id == 2
    assert q.pick_for_team([old_normal, young_prio], [], PriorityPolicy("aging", bonus_s=60)
                           ).id == 1
    assert q.pick_for_team([old_normal, young_prio], [True] * 5, PriorityPolicy("strict")).id == 2


def test_counter_serves_its_teams_in_its_own_order():
    counter = Counter(6, teams=[5, 1])
    waiting = [ticket(1, team=1, minutes=0), ticket(2, team=5, minutes=9)]
    assert q.pick_next(counter, waiting, {}, PriorityPolicy()).id == 2
    direct = ticket(3, team=1, minutes=20, target=6)
    assert q.pick_next(counter, waiting + [direct], {}, PriorityPolicy()).id == 3
    other = ticket(4, team=5, minutes=0, target=7)
    assert q.pick_next(counter, [other], {}, PriorityPolicy()) is None


def test_ticket_life_and_illegal_moves():
    t = ticket(1)
    with pytest.raises(IllegalMove):
        q.finish(t, 1, T0)
    q.call(t, 1, T0)
    assert t.status == "called" and t.first_called_at == T0
    with pytest.raises(IllegalMove):
        q.start(t, 2, T0)  # not this counter's ticket
    q.recall(t, 1, T0 + timedelta(seconds=30))
    assert t.recalls == 1 and t.first_called_at == T0
    q.start(t, 1, T0 + timedelta(minutes=1))
    q.finish(t, 1, T0 + timedelta(minutes=5))
    assert t.status == "done"
    with pytest.raises(IllegalMove):
        q.no_show(t, 1, T0)
    q.rate(t, 4)
    with pytest.raises(Conflict):
        q.rate(t, 3)


def test_finish_without_start_counts_from_call():
    t = ticket(1)
    q.call(t, 1, T0)
    q.finish(t, 1, T0 + timedelta(minutes=4))
    assert t.started_at == T0


def test_transfer_keeps_wait_clock():
    t = ticket(1)
    q.call(t, 1, T0 + timedelta(minutes=10))
    q.transfer(t, 1, team_id=3, note="sang tổ 3")
    assert (t.status, t.team_id, t.wait_from, t.transfers) == ("waiting", 3, T0, 1)
    q.call(t, 11, T0 + timedelta(minutes=12))
    q.transfer(t, 11, to_counter=Counter(7, teams=[2]))
    assert (t.team_id, t.target_counter) == (2, 7)
    with pytest.raises(IllegalMove):
        q.transfer(ticket(2), 1, team_id=1)  # not called at this counter
    t2 = ticket(3)
    q.call(t2, 1, T0)
    with pytest.raises(ValidationFailed):
        q.transfer(t2, 1)
    with pytest.raises(ValidationFailed):
        q.transfer(t2, 1, to_counter=Counter(1, teams=[1]))


def test_pause_resume_and_call_guard():
    state = q.CounterState(5, status="open")
    q.pause(state, "họp")
    with pytest.raises(IllegalMove) as err:
        q.ensure_can_call(state)
    assert err.value.code == "counter_paused"
    with pytest.raises(IllegalMove):
        q.pause(state, None)
    q.resume(state)
    assert state.status == "open" and state.reason is None
    with pytest.raises(IllegalMove):
        q.resume(state)


def test_validation_of_issue_and_rating():
    q.check_issue("elderly", "kiosk")
    with pytest.raises(ValidationFailed):
        q.check_issue("vip", "kiosk")
    with pytest.raises(ValidationFailed):
        q.check_issue(None, "fax")
    t = ticket(1)
    with pytest.raises(ValidationFailed):
        q.rate(t, 5)


def test_position_and_estimate():
    waiting = [ticket(i, minutes=i) for i in range(1, 5)]
    assert q.position(waiting[2], waiting, PriorityPolicy()) == 2
    assert q.estimate_wait(4, 300, 2) == 675
    assert q.estimate_wait(0, 300, 0) == 150


def test_ticket_row_round_trip():
    t = ticket(1, priority="meritorious")
    q.call(t, 2, T0)
    assert q.Ticket.from_row(t.to_row()) == t


def test_ahead_cutoffs_match_order_key():
    """The store counts who is ahead with these cut-offs; they must agree with order_key."""
    for policy in (PriorityPolicy("ratio"), PriorityPolicy("aging", bonus_s=300),
                   PriorityPolicy("strict")):
        waiting = [ticket(i, minutes=i * 2, priority="elderly" if i % 3 == 0 else None)
                   for i in range(1, 12)]
        for t in waiting:
            normal_before, prio_before = q.ahead_cutoffs(t, policy)
            by_cutoff = sum(1 for o in waiting if o.id != t.id and (
                (o.wait_from < (prio_before if o.is_priority else normal_before)) or
                (o.wait_from == (prio_before if o.is_priority else normal_before)
                 and o.id < t.id)))
            assert by_cutoff == q.position(t, waiting, policy), (policy.policy, t.id)
