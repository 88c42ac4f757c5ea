"""Queue rules: plain Python, no Flask, no SQL.

The store loads tickets and counters, these functions decide and mutate them, and the
service writes the result (ticket row + one event row) in one transaction.

Ticket life: waiting -> called (-> recalled ...) -> serving -> done, or called -> no_show;
a transfer sends a called/serving ticket back to `waiting` at another team or counter,
keeping its original wait clock (`wait_from`). Waiting tickets may be cancelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common.vocabulary import PRIORITY_CLASSES

from .config import Counter, PriorityPolicy
from .errors import Conflict, Forbidden, IllegalMove, NotFound, ValidationFailed

CHANNELS = ("kiosk", "web", "counter", "appointment")
STATUSES = ("waiting", "called", "serving", "done", "no_show", "cancelled")
ACTIVE = ("called", "serving")
CLOSED = ("done", "no_show")
RATING_LABELS_VI = {4: "Rất hài lòng", 3: "Hài lòng", 2: "Bình thường", 1: "Không hài lòng"}

#: a "next" (or "call number") this soon after the current ticket was called, while it is
#: still only called, is taken for a double press (or console and keypad together) and
#: refused with 409 `too_soon`: it would finish a citizen who has not reached the counter
CALL_GUARD_S = 3.0
#: a ticket finished or marked absent by mistake can be called back to its counter this long
CALL_BACK_S = 300.0
#: a finished ticket can be rated (from the counter's rating pad or page) this long
RATING_WINDOW_S = 300.0
#: share of a team's number band used at which managers are warned
BAND_LOW_SHARE = 0.9


@dataclass
class Ticket:
    site: str
    team_id: int
    origin_team_id: int
    day: str
    number: int
    token: str
    issued_at: datetime
    wait_from: datetime
    channel: str = "kiosk"
    priority: str | None = None
    procedure_code: str | None = None
    status: str = "waiting"
    counter: int | None = None
    target_counter: int | None = None
    called_at: datetime | None = None
    first_called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recalls: int = 0
    transfers: int = 0
    rating: int | None = None
    note: str | None = None
    #: the visit's step (0: the first) and, once it left its first step, its steps as
    #: JSON (resolved from the route and the procedure's fee when it first moved on)
    step: int = 0
    route: str | None = None
    id: int | None = None

    @classmethod
    def from_row(cls, row: dict) -> Ticket:
        kwargs = {name: row.get(name) for name in TICKET_FIELDS}
        stored = dict(kwargs)
        for name in TIME_FIELDS:
            value = kwargs[name]
            kwargs[name] = datetime.fromisoformat(value) if value else None
        ticket = cls(**kwargs)
        ticket.stored = stored
        return ticket

    def to_row(self) -> dict:
        """The ticket as a row: datetimes as ISO text (built directly: `asdict` deep-copies
        every field and was 8-15 % of a command's CPU, issue #14)."""
        row = {name: getattr(self, name) for name in TICKET_FIELDS}
        for key in TIME_FIELDS:
            value = row[key]
            if value is not None:
                row[key] = value.isoformat(timespec="milliseconds")
        return row

    def changes(self) -> dict:
        """The row's columns whose values differ from the row as last read or written
        (`stored`; all of them for a ticket never stored): an UPDATE that sets only these
        leaves alone the indexes (and triggers) on columns it does not change — a call or a
        finish rewrote every index of the tickets table before (issue #14)."""
        row = self.to_row()
        stored = getattr(self, "stored", None)
        if stored is None:
            return row
        return {k: v for k, v in row.items() if k not in stored or stored[k] != v}

    @property
    def is_priority(self) -> bool:
        return self.priority is not None


TICKET_FIELDS = tuple(f.name for f in fields(Ticket))
TIME_FIELDS = tuple(n for n in TICKET_FIELDS if n.endswith("_at") or n == "wait_from")


@dataclass
class CounterState:
    number: int
    status: str = "closed"  # open | paused | closed
    ticket_id: int | None = None
    officer: str | None = None
    reason: str | None = None


# -- numbers and days ------------------------------------------------------------------------
def business_day(now: datetime, tz: ZoneInfo) -> str:
    """The business day (local date in the centre's timezone) of an aware UTC time."""
    return now.astimezone(tz).date().isoformat()


def next_number(band: tuple[int, int], last: int | None) -> int:
    """The next printed number in a team's band; numbers never repeat within a day and are
    never outside the band in force (a band moved up mid-day starts at its first number)."""
    number = band[0] if last is None else max(last + 1, band[0])
    if number > band[1]:
        raise Conflict("Đã hết số thứ tự của tổ hôm nay (the team's number band is used up)",
                       code="band_exhausted")
    return number


def _low_mark(size: int) -> int:
    """How many numbers of a band of `size` are used when managers are warned."""
    return max(1, math.ceil(round(size * BAND_LOW_SHARE, 6)))


def band_alert(band: tuple[int, int], number: int) -> str | None:
    """Whether issuing `number` crosses a threshold managers must hear about: "exhausted"
    when it is the band's last number (the next issue will be refused), "low" when with it
    BAND_LOW_SHARE of the band is used; None otherwise (so each is raised once a day, by
    the issue that crosses it)."""
    if number >= band[1]:
        return "exhausted"
    return "low" if number - band[0] + 1 == _low_mark(band[1] - band[0] + 1) else None


def band_state(band: tuple[int, int], last: int | None) -> dict:
    """How much of a band today's numbers use: {"used", "size", "left", "level"} with level
    None, "low" (at least BAND_LOW_SHARE used) or "exhausted" (nothing left)."""
    size = band[1] - band[0] + 1
    used = 0 if last is None else max(0, min(last, band[1]) - band[0] + 1)
    left = size - used
    level = "exhausted" if left == 0 else "low" if used >= _low_mark(size) else None
    return {"used": used, "size": size, "left": left, "level": level}


def check_issued_within(bands: dict[int, tuple[int, int]],
                        issued: list[tuple[int, int, int]], changed: set[int]) -> None:
    """A change of number bands must keep every number issued today unambiguous. `issued`
    is [(team_id, lowest, highest)] of today's numbers at one site, `bands` the new bands of
    that site's teams, `changed` the teams whose band (or site) changes, or that are added
    or removed. A changed team's issued numbers stay inside its new band, and no other team's
    band covers them (it would print them a second time, and "number 2002" would name two
    citizens). Settings already in force are not judged again (an unrelated edit passes)."""
    for team_id, lo, hi in issued:
        own = bands.get(team_id)
        if team_id in changed and own is not None and not own[0] <= lo <= hi <= own[1]:
            raise Conflict(
                f"Tổ {team_id} đã phát các số {lo}–{hi} hôm nay: dải số mới {own[0]}–{own[1]} "
                f"phải chứa các số này; đổi dải số sau khi hết ngày làm việc (team {team_id} "
                f"issued {lo}-{hi} today; the new band must contain them)",
                code="band_in_use", details={"team_id": team_id, "issued": [lo, hi]})
        for other, band in bands.items():
            if (other != team_id and (other in changed or team_id in changed)
                    and not (band[1] < lo or hi < band[0])):
                raise Conflict(
                    f"Dải số {band[0]}–{band[1]} của tổ {other} trùng các số {lo}–{hi} tổ "
                    f"{team_id} đã phát hôm nay: một số gọi ra sẽ chỉ hai người; đổi dải số "
                    f"sau khi hết ngày làm việc (team {other}'s band covers numbers team "
                    f"{team_id} issued today)", code="band_in_use",
                    details={"team_id": other, "issued_by": team_id, "issued": [lo, hi]})


def check_issue(priority: str | None, channel: str) -> None:
    if priority is not None and priority not in PRIORITY_CLASSES:
        raise ValidationFailed(f"Unknown priority class {priority!r}; "
                               f"one of {', '.join(PRIORITY_CLASSES)}", code="bad_priority")
    if channel not in CHANNELS:
        raise ValidationFailed(f"Unknown channel {channel!r}; one of {', '.join(CHANNELS)}",
                               code="bad_channel")


# -- choosing the next ticket ----------------------------------------------------------------
def order_key(ticket: Ticket, policy: PriorityPolicy) -> tuple:
    """Queue position inside one team: by wait clock (aging shifts priority tickets)."""
    start = ticket.wait_from
    if policy.policy == "aging" and ticket.is_priority:
        start = start - timedelta(seconds=policy.bonus_s)
    elif policy.policy == "strict":
        return (0 if ticket.is_priority else 1, start, ticket.id or 0)
    return (start, ticket.id or 0)


def pick_for_team(waiting: list[Ticket], recent_calls: list[bool],
                  policy: PriorityPolicy) -> Ticket | None:
    """Pick the next ticket of one team's queue.

    `recent_calls` holds, newest first, whether each recent call of the team was a priority
    ticket. With the "ratio" policy a waiting priority ticket goes first unless a priority
    ticket was called among the last `ratio` calls while normal tickets were waiting.
    """
    if not waiting:
        return None
    if policy.policy != "ratio":
        return min(waiting, key=lambda t: order_key(t, policy))
    normal = [t for t in waiting if not t.is_priority]
    prio = [t for t in waiting if t.is_priority]
    oldest = min(normal or prio, key=lambda t: order_key(t, policy))
    if not prio or not normal:
        return oldest
    if any(recent_calls[: policy.ratio]):
        return oldest
    return min(prio, key=lambda t: order_key(t, policy))


def pick_next(counter: Counter, waiting: list[Ticket], recent_calls: dict[int, list[bool]],
              policy: PriorityPolicy) -> Ticket | None:
    """The ticket a counter calls next: tickets sent to this very counter first (by wait
    clock), then its teams in the counter's own order."""
    direct = [t for t in waiting if t.target_counter == counter.number]
    if direct:
        return min(direct, key=lambda t: (t.wait_from, t.id or 0))
    for team_id in counter.teams:
        team_waiting = [t for t in waiting if t.team_id == team_id and t.target_counter is None]
        chosen = pick_for_team(team_waiting, recent_calls.get(team_id, []), policy)
        if chosen:
            return chosen
    return None


FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def ahead_cutoffs(ticket: Ticket, policy: PriorityPolicy) -> tuple[datetime, datetime]:
    """Who is ahead of `ticket` in its queue: normal tickets whose wait clock is before the
    first cut-off, priority tickets before the second (the store counts them)."""
    start = ticket.wait_from
    if policy.policy == "aging":
        bonus = timedelta(seconds=policy.bonus_s)
        return (start - bonus, start) if ticket.is_priority else (start, start + bonus)
    if policy.policy == "strict":
        return (FAR_PAST, start) if ticket.is_priority else (start, FAR_FUTURE)
    return start, start


def position(ticket: Ticket, waiting: list[Ticket], policy: PriorityPolicy) -> int:
    """How many tickets of the same queue are ahead of `ticket` (approximate under ratio)."""
    mine = order_key(ticket, policy)
    return sum(1 for t in waiting if t.id != ticket.id and t.team_id == ticket.team_id
               and t.target_counter == ticket.target_counter and order_key(t, policy) < mine)


def estimate_wait(ahead: int, mean_service_s: float, open_counters: int) -> int:
    """Seconds until a ticket with `ahead` people in front of it is called."""
    return int(round((ahead + 0.5) * mean_service_s / max(open_counters, 1)))


# -- officer actions -------------------------------------------------------------------------
def ensure_can_call(state: CounterState) -> None:
    if state.status == "paused":
        raise IllegalMove(f"Quầy {state.number} đang tạm dừng (counter is paused)",
                          code="counter_paused")


def ensure_not_too_soon(current: Ticket | None, counter: int, now: datetime,
                        guard_s: float) -> None:
    """Refuse a call that would finish the counter's current ticket `guard_s` seconds or
    less after it was called (or recalled) while it is still only called: a double press,
    or the console and the keypad pressed together, must not finish a citizen who is still
    walking to the counter. Once the officer started serving, "next" finishes as before."""
    if (current is None or current.counter != counter or current.status != "called"
            or current.called_at is None or guard_s <= 0):
        return
    age = (now - current.called_at).total_seconds()
    if age < guard_s:
        raise Conflict(
            f"Số {current.number} vừa được gọi {max(age, 0):.1f} giây trước và chưa được phục "
            f"vụ: chờ {guard_s:g} giây trước khi gọi số tiếp theo (a number was called "
            f"{max(age, 0):.1f} s ago; wait {guard_s:g} s before calling the next)",
            code="too_soon", details={"retry_after_s": round(guard_s - age, 1)})


def call(ticket: Ticket, counter: int, now: datetime) -> None:
    if ticket.status not in ("waiting", "no_show"):
        raise IllegalMove(f"Số {ticket.number} không ở trạng thái chờ (status {ticket.status})")
    ticket.status = "called"
    ticket.counter = counter
    ticket.target_counter = None
    ticket.called_at = now
    ticket.first_called_at = ticket.first_called_at or now


ACTION_NAMES = {"recall": "gọi lại", "start": "bắt đầu", "finish": "kết thúc",
                "no-show": "đánh dấu vắng mặt", "transfer": "chuyển",
                "next-step": "chuyển sang bước tiếp theo"}


def require(ticket: Ticket | None, counter: int, allowed: tuple[str, ...], action: str) -> Ticket:
    """The ticket at `counter` in one of the `allowed` states, else 409 no_current_ticket."""
    if ticket is None or ticket.counter != counter or ticket.status not in allowed:
        raise IllegalMove(f"Quầy {counter} không có số nào để {ACTION_NAMES[action]} "
                          f"(nothing to {action} at counter {counter})", code="no_current_ticket")
    return ticket


def recall(ticket: Ticket | None, counter: int, now: datetime) -> Ticket:
    t = require(ticket, counter, ("called",), "recall")
    t.recalls += 1
    t.called_at = now
    return t


def start(ticket: Ticket | None, counter: int, now: datetime) -> Ticket:
    t = require(ticket, counter, ("called",), "start")
    t.status = "serving"
    t.started_at = now
    return t


def finish(ticket: Ticket | None, counter: int, now: datetime) -> Ticket:
    """Finish the ticket at the counter; a ticket never started counts from its call."""
    t = require(ticket, counter, ACTIVE, "finish")
    t.started_at = t.started_at or t.called_at
    t.status = "done"
    t.finished_at = now
    return t


def no_show(ticket: Ticket | None, counter: int, now: datetime) -> Ticket:
    t = require(ticket, counter, ("called",), "no-show")
    t.status = "no_show"
    t.finished_at = now
    return t


def transfer(ticket: Ticket | None, counter: int, *, team_id: int | None = None,
             to_counter: Counter | None = None, note: str | None = None) -> Ticket:
    """Send the ticket back to waiting at another team or a given counter; the wait clock
    (`wait_from`) is kept, so it is not sent to the back of the queue."""
    t = require(ticket, counter, ACTIVE, "transfer")
    if (team_id is None) == (to_counter is None):
        raise ValidationFailed("Give either team_id or counter to transfer to",
                               code="bad_transfer")
    if to_counter is not None:
        if to_counter.number == counter:
            raise ValidationFailed("Cannot transfer a ticket to the same counter",
                                   code="bad_transfer")
        t.target_counter = to_counter.number
        t.team_id = to_counter.teams[0]
    else:
        t.team_id = team_id
        t.target_counter = None
    t.status = "waiting"
    t.counter = None
    t.started_at = None
    t.transfers += 1
    t.note = note
    return t


def call_back(ticket: Ticket, counter: int, now: datetime, window_s: float) -> None:
    """Call back to `counter` a ticket it finished or marked absent by mistake, within
    `window_s` seconds: it is called again there (its wait clock and first call are kept;
    a service starts anew with "start")."""
    if ticket.counter != counter or ticket.status not in CLOSED:
        raise IllegalMove(f"Quầy {counter} chỉ gọi lại được số mình vừa kết thúc hoặc đánh "
                          f"dấu vắng mặt (ticket {ticket.number} was not closed at counter "
                          f"{counter}; status {ticket.status})", code="not_closed_here")
    if ticket.finished_at is None or (now - ticket.finished_at).total_seconds() > window_s:
        raise IllegalMove(f"Số {ticket.number} đã kết thúc quá {window_s / 60:g} phút, không "
                          f"gọi lại được (closed more than {window_s / 60:g} min ago)",
                          code="too_late")
    ticket.status = "called"
    ticket.called_at = now
    ticket.started_at = None
    ticket.finished_at = None
    ticket.target_counter = None


def step_aside(ticket: Ticket | None, counter: int) -> Ticket | None:
    """Before a ticket is called back, the ticket called at the counter in the meantime (by
    the mistaken "next") goes back to waiting for this very counter, first in its line
    (direct tickets are called first; its wait clock is kept). A ticket already being
    served is not pushed aside: finish it first."""
    if ticket is None or ticket.counter != counter or ticket.status not in ACTIVE:
        return None
    if ticket.status == "serving":
        raise IllegalMove(f"Quầy {counter} đang phục vụ số {ticket.number}: kết thúc số này "
                          f"trước khi gọi lại số khác (finish the ticket being served first)",
                          code="counter_busy")
    ticket.status = "waiting"
    ticket.counter = None
    ticket.target_counter = counter
    ticket.started_at = None
    ticket.transfers += 1  # as the event log counts it (a `ticket.transferred` event)
    return ticket


@dataclass(frozen=True)
class TicketScope:
    """The tickets a principal may act on by id: None means any; `sites` the sites, `teams`
    the queues (teams) of the counter an officer sits at."""
    sites: frozenset[str] | None = None
    teams: frozenset[int] | None = None

    def covers(self, ticket: Ticket) -> bool:
        return ((self.sites is None or ticket.site in self.sites)
                and (self.teams is None or ticket.team_id in self.teams))


def check_scope(ticket: Ticket | None, scope: TicketScope) -> Ticket:
    if ticket is None:
        raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
    if not scope.covers(ticket):
        raise Forbidden(f"Số {ticket.number} không thuộc tổ do quầy của bạn phục vụ "
                        f"(not a ticket you may act on)", code="not_your_ticket")
    return ticket


def cancel(ticket: Ticket) -> None:
    if ticket.status != "waiting":
        raise IllegalMove(f"Chỉ huỷ được số đang chờ (status {ticket.status})")
    ticket.status = "cancelled"


def rate(ticket: Ticket, score: int) -> None:
    if score not in RATING_LABELS_VI:
        raise ValidationFailed("score must be 1 (Không hài lòng) to 4 (Rất hài lòng)",
                               code="bad_score")
    if ticket.status != "done":
        raise IllegalMove("Chỉ đánh giá được sau khi đã phục vụ xong (ticket not finished)")
    if ticket.rating is not None:
        raise Conflict("Số này đã được đánh giá (already rated)", code="already_rated")
    ticket.rating = score


def check_rating(ticket: Ticket, counters: list[int] | None, latest_id: int | None,
                 now: datetime, window_s: float) -> None:
    """A rating comes from the citizen's side of the counter that served the ticket (its
    rating pad or page: `counters`, None for the service itself), for the ticket finished
    last there, within `window_s` seconds of its finish; and only once (`rate`)."""
    if counters is not None and ticket.counter not in counters:
        raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
    if ticket.status != "done":
        raise IllegalMove("Chỉ đánh giá được sau khi đã phục vụ xong (ticket not finished)")
    if ticket.rating is not None:
        raise Conflict("Số này đã được đánh giá (already rated)", code="already_rated")
    if latest_id is not None and latest_id != ticket.id:
        raise IllegalMove(f"Quầy {ticket.counter} đã phục vụ xong số khác sau số "
                          f"{ticket.number}: chỉ đánh giá được số vừa phục vụ (only the ticket "
                          f"finished last at the counter can be rated)", code="rating_closed")
    if ticket.finished_at is None or (now - ticket.finished_at).total_seconds() > window_s:
        raise IllegalMove(f"Đã quá {window_s / 60:g} phút sau khi phục vụ số {ticket.number},"
                          f" không đánh giá được nữa (rating window closed)",
                          code="rating_closed")


def pause(state: CounterState, reason: str | None) -> None:
    if state.status == "paused":
        raise IllegalMove(f"Quầy {state.number} đã tạm dừng", code="counter_paused")
    state.status = "paused"
    state.reason = reason or "break"


def resume(state: CounterState) -> None:
    if state.status == "open":
        raise IllegalMove(f"Quầy {state.number} đang mở", code="counter_open")
    state.status = "open"
    state.reason = None
