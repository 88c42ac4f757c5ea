"""The one write path: every command loads state from the store, applies the queue rules,
writes the ticket/counter rows and one event row per change in one transaction, records
the idempotency key with the answer, and publishes the events after commit.

The other services (accounts and sessions in `server/auth.py`, configuration and the
catalogue in `server/admin_service.py`, the catalogue import in `server/importer.py`) run
their commands through the same `QueueService.run` and add their events with
`append_event` / `config_changed`: one transaction, one per-site `seq`, one idempotency
table, one publisher."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from common.vocabulary import TEAM_BAND_EXHAUSTED, TEAM_BAND_LOW

from . import estimate, persons, rules, visit
from .config import Config
from .errors import Conflict, IdempotencyMismatch, NotFound, ValidationFailed
from .rules import Ticket
from .storage import Store

CALL_TYPES = ("ticket.called", "ticket.recalled")
BAND_EVENTS = {"low": TEAM_BAND_LOW, "exhausted": TEAM_BAND_EXHAUSTED}


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds")


def public_ticket(t: Ticket) -> dict:
    """What anyone may see of a ticket: no token, nothing personal."""
    return {"id": t.id, "number": t.number, "team_id": t.team_id, "status": t.status,
            "counter": t.counter, "target_counter": t.target_counter, "priority": t.priority,
            "channel": t.channel, "procedure_code": t.procedure_code, "day": t.day,
            "issued_at": iso(t.issued_at), "wait_from": iso(t.wait_from),
            "called_at": iso(t.called_at) if t.called_at else None,
            "recalls": t.recalls, "transfers": t.transfers}


class QueueService:
    def __init__(self, store: Store, config: Config,
                 publish: Callable[[list[dict]], None] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.config = config
        self.publish = publish or (lambda events: None)
        self.clock = clock
        self._day_checked: str | None = None
        self._request: str | None = None
        self._served_cache: dict[str, tuple] = {}
        with store.write():
            store.ensure_counters([c.number for c in config.counters])

    # -- plumbing -------------------------------------------------------------------------
    def run(self, fn, idem: tuple[str, str] | None = None) -> tuple[int, dict | None]:
        """Run a command `fn(now, events) -> (status, body)` in one transaction."""
        events: list[dict] = []
        with self.store.write():
            if idem and idem[1]:
                hit = self.store.idem_get(idem[0], idem[1])
                if hit:
                    status, body, fingerprint = hit
                    if fingerprint and len(idem) > 2 and idem[2] and idem[2] != fingerprint:
                        raise IdempotencyMismatch(
                            "Mã Idempotency-Key này đã dùng cho một yêu cầu khác "
                            "(Idempotency-Key reused with a different request)")
                    return status, body
            now = self.clock()
            self._close_stale_days(now, events)
            # events carry the command's idempotency key, so every acknowledged command
            # can be traced to exactly the events it wrote
            self._request = idem[1] if idem and idem[1] else None
            try:
                status, body = fn(now, events)
            finally:
                self._request = None
            if idem and idem[1]:
                self.store.idem_put(idem[0], idem[1], status, body, iso(now),
                                    idem[2] if len(idem) > 2 else None)
        if events:
            self.publish(events)
        return status, body

    def today(self, now: datetime | None = None) -> str:
        return rules.business_day(now or self.clock(), self.config.tz)

    def append_event(self, events: list, now: datetime, type_: str, *, site: str,
                     counter: int | None = None, actor: str | None = None, **data) -> dict:
        """Add one event that is not about a ticket (a user, a device, the configuration...)
        to the command running in `run`: its row with the site's next `seq`, tagged with the
        command's idempotency key, published after commit."""
        return self._event(events, now, type_, counter=counter, actor=actor, site=site, **data)

    def config_changed(self, events: list, now: datetime, *, what: str, action: str,
                       actor: str | None, sites=None) -> None:
        """One `config.changed` event per site (open pages reload what changed)."""
        for site in (self.config.sites if sites is None else sites):
            self.append_event(events, now, "config.changed", site=site, actor=actor,
                              what=what, action=action)

    def _event(self, events: list, now: datetime, type_: str, ticket: Ticket | None = None,
               *, counter: int | None = None, actor: str | None = None,
               site: str | None = None, team_id: int | None = None, **data) -> dict:
        if self._request:
            data["request"] = self._request
        if ticket is not None:
            data["ticket"] = public_ticket(ticket)
            data["waiting"] = self._waiting_for(ticket.site, ticket.day)
            data["counters_open"] = self._open_for(ticket.site)
        evt = self.store.append_event(
            site or (ticket.site if ticket else "main"), type_, iso(now),
            ticket_id=ticket.id if ticket else None,
            team_id=ticket.team_id if ticket else team_id,
            counter=counter if counter is not None else (ticket.counter if ticket else None),
            actor=actor, data=data)
        events.append(evt)
        return evt

    def _waiting_for(self, site: str, day: str) -> dict[str, int]:
        counts = self.store.waiting_totals(site, day)
        return {str(t.id): counts.get(t.id, 0) for t in self.config.teams if t.site == site}

    def _open_for(self, site: str) -> dict[str, int]:
        """Open counters per team of the site (0: no wait can be estimated for the team)."""
        open_numbers = self.store.open_counter_numbers()
        open_now = [c for c in self.config.counters if c.site == site
                    and c.number in open_numbers]
        return {str(t.id): sum(1 for c in open_now if t.id in c.teams)
                for t in self.config.teams if t.site == site}

    def _close_stale_days(self, now: datetime, events: list) -> None:
        """Tickets left open from an earlier business day are closed with an event."""
        day = self.today(now)
        if self._day_checked == day:
            return
        for t in self.store.stale_waiting(day):
            if t.status == "waiting":
                t.status = "cancelled"
                kind = "ticket.cancelled"
            else:
                t.status, t.finished_at = "done", now
                t.started_at = t.started_at or t.called_at
                kind = "ticket.finished"
            self.store.update_ticket(t)
            self._event(events, now, kind, t, reason="day_closed", actor="system")
        for state in self.store.counter_states().values():
            if state.ticket_id:
                held = self.store.ticket(state.ticket_id)
                if held is None or held.status not in rules.ACTIVE:
                    state.ticket_id = None
                    self.store.save_counter_state(state)
        # idempotency answers are needed for retries, not forever
        self.store.idem_prune(iso(now - timedelta(days=2)))
        self._day_checked = day

    def _current(self, counter: int) -> tuple[rules.CounterState, Ticket | None]:
        self.config.counter(counter)
        state = self.store.counter_state(counter)
        ticket = self.store.ticket(state.ticket_id) if state.ticket_id else None
        return state, ticket

    def _open(self, state: rules.CounterState, now, events, actor) -> None:
        if state.status == "closed":
            state.status = "open"
            self._event(events, now, "counter.opened", counter=state.number, actor=actor,
                        site=self.config.counter(state.number).site)

    # -- citizens and kiosks --------------------------------------------------------------
    def issue(self, *, procedure_code: str | None = None, team_id: int | None = None,
              priority: str | None = None, channel: str = "kiosk", actor: str | None = None,
              idem=None, wait_from: datetime | None = None, id_number: str | None = None,
              booking: dict | None = None) -> tuple[int, dict]:
        """Issue a number. `wait_from`: its place in the queue (default: now; a booking
        checked in on time: its slot start); `id_number`: the citizen's scanned CCCD number,
        only its salted hash is used, for the per-person limit of numbers per field per day
        (409 `person_limit`); `booking`: the booking it comes from, shown in the answer."""
        return self.run(self.issue_command(
            procedure_code=procedure_code, team_id=team_id, priority=priority,
            channel=channel, actor=actor, wait_from=wait_from, id_number=id_number,
            booking=booking), idem)

    def issue_command(self, *, procedure_code: str | None = None, team_id: int | None = None,
                      priority: str | None = None, channel: str = "kiosk",
                      actor: str | None = None, wait_from: datetime | None = None,
                      id_number: str | None = None, person: str | None = None,
                      booking: dict | None = None):
        """`issue` as a command `fn(now, events)` for `run` (a booking's check-in runs it
        inside its own command); `person`: an already salted CCCD hash."""
        rules.check_issue(priority, channel)
        procedure = None
        if procedure_code:
            procedure = self.store.procedure(procedure_code)
            if procedure is None:
                raise NotFound(f"Không có thủ tục {procedure_code} (unknown procedure)",
                               code="unknown_procedure")
            team_id = team_id or procedure["team_id"]
        if team_id is None:
            raise ValidationFailed("Give procedure_code or team_id", code="missing_team")
        team = self.config.team(int(team_id))
        if id_number is not None:
            person = persons.person_hash(self.store, id_number)

        def cmd(now, events):
            if not self.config.is_open(now):
                raise Conflict("Ngoài giờ làm việc, xin quay lại sau (outside opening hours)",
                               code="outside_hours")
            if not self.config.counters_for_team(team.id):
                raise Conflict("Tổ này chưa có quầy phục vụ (no counter serves this team)",
                               code="team_closed")
            day = self.today(now)
            field = persons.person_field(procedure, team.id)
            if person:
                persons.check_person_limit(self.store, self.config, person, day, field)
            number = rules.next_number(team.band,
                                       self.store.last_number(team.site, day, team.id))
            t = Ticket(site=team.site, team_id=team.id, origin_team_id=team.id, day=day,
                       number=number, token=secrets.token_urlsafe(24), issued_at=now,
                       wait_from=wait_from or now, channel=channel, priority=priority,
                       procedure_code=procedure["code"] if procedure else None)
            self.store.insert_ticket(t)
            if person:
                self.store.add_person_mark(person, day, field, t.id, iso(now))
            # the booking's code lets its holder check in: in the answer, never in an event
            shown = {k: v for k, v in (booking or {}).items() if k != "code"}
            extra = {"booking": shown} if booking else {}
            self._event(events, now, "ticket.issued", t, actor=actor, **extra)
            self._band_alert(team, number, now, events)
            view = self.ticket_view(t, now, include_token=True, procedure=procedure)
            return 201, ({**view, "booking": booking} if booking else view)

        return cmd

    def _band_alert(self, team, number: int, now, events) -> None:
        """Managers hear when a team's band is nearly used up, and when its last number was
        issued (the next issue would be refused): one event each, by the issue crossing."""
        level = rules.band_alert(team.band, number)
        if level is None:
            return
        state = rules.band_state(team.band, number)
        self._event(events, now, BAND_EVENTS[level], site=team.site, team_id=team.id,
                    actor="system", band=list(team.band), level=level, last=number,
                    **{k: state[k] for k in ("used", "size", "left")},
                    message=band_message(team.name, team.band, state))

    def band_alerts(self, site: str, day: str | None = None) -> list[dict]:
        """The dashboard's alerts for number bands nearly or wholly used today."""
        day = day or self.today()
        out = []
        for team in (t for t in self.config.teams if t.site == site):
            state = rules.band_state(team.band, self.store.last_number(site, day, team.id))
            if state["level"]:
                out.append({"kind": f"band_{state['level']}", "team_id": team.id,
                            "band": list(team.band), **state,
                            "message": band_message(team.name, team.band, state)})
        return out

    def day_start(self, day: str) -> str:
        """The UTC ISO time at which a local business day starts."""
        local = datetime.combine(date.fromisoformat(day), time(), self.config.tz)
        return iso(local.astimezone(UTC))

    def ticket_view(self, t: Ticket, now: datetime | None = None,
                    include_token: bool = False, procedure: dict | None = None) -> dict:
        now = now or self.clock()
        team = self.config.team(t.team_id)
        view = public_ticket(t)
        view["team_name"] = team.name
        view["counters"] = [c.number for c in self.config.counters_for_team(t.team_id)]
        # honest waits (issue #16): with no open counter of the team nobody can call the
        # number, so no wait is estimated (null) and the views say so
        if t.status == "waiting":
            open_n = self.wait_estimator(team.site, t.day).open_counters(t.team_id)
        else:  # a called or finished ticket needs no estimator built (one count)
            open_n = self.store.open_counters(view["counters"])
        ahead, wait = 0, (0 if open_n else None)
        if t.status == "waiting":
            normal_before, priority_before = rules.ahead_cutoffs(t, self.config.priority)
            ahead = self.store.count_ahead(t, iso(normal_before), iso(priority_before))
            if open_n:
                wait = self.estimate(t.team_id, ahead, t.day)
        view["waiting_ahead"] = ahead
        view["estimated_wait_s"] = wait
        view["counters_open"] = open_n
        view["no_counter_open"] = open_n == 0
        if t.procedure_code:
            proc = procedure or self.store.procedure(t.procedure_code)
            view["procedure_name"] = proc["name"] if proc else None
        view.update(self.step_view(t, procedure))
        if include_token:
            view["token"] = t.token
            view["status_url"] = f"{self.config.public_url.rstrip('/')}/t/{t.token}"
        return view

    def estimate(self, team_id: int, ahead: int, day: str) -> int:
        """Seconds until a ticket with `ahead` people in front is called (server/estimate.py:
        per-counter occupancy and shared-counter shares; cached per site state `seq`)."""
        return self.wait_estimator(self.config.team(team_id).site, day).wait_s(team_id, ahead)

    def estimate_naive(self, team_id: int, ahead: int, day: str) -> int:
        """The baseline: ahead x team mean service time / open counters (for comparison)."""
        mean = self.store.mean_service_s(team_id, day) or self.config.default_service_s
        open_n = self.store.open_counters([c.number for c in
                                           self.config.counters_for_team(team_id)])
        return rules.estimate_wait(ahead, mean, open_n)

    def wait_estimator(self, site: str, day: str) -> estimate.WaitEstimator:
        key = (site, day, self.store.current_seq(site))
        cached = getattr(self, "_estimator", None)
        if cached and cached[0] == key:
            return cached[1]
        open_numbers = self.store.open_counter_numbers()
        counters = [estimate.CounterLoad(c.number, tuple(c.teams), c.number in open_numbers)
                    for c in self.config.counters if c.site == site]
        est = estimate.WaitEstimator(counters, self.store.waiting_totals(site, day),
                                     self._served(site, day), self.clock(),
                                     self.config.default_service_s)
        self._estimator = (key, est)
        return est

    def _served(self, site: str, day: str) -> list[estimate.Served]:
        """The last 200 tickets the site's counters finished today, newest first; read
        incrementally (only events after the last one seen), since every issue asks."""
        types = ("ticket.finished", "ticket.no_show")
        seen_day, seen_seq, served = self._served_cache.get(site, (None, 0, []))
        if seen_day != day:
            seen_seq, served = 0, []
            events = list(reversed(self.store.recent_events(site, types, self.day_start(day),
                                                            200)))
        else:
            events = self.store.events_after(site, types, seen_seq, 200)
        if events:
            served = (estimate.served_from_events(events) + served)[:200]
            seen_seq = events[-1]["seq"]
        self._served_cache[site] = (day, seen_seq, served)
        return served

    def citizen_view(self, token: str) -> dict:
        with self.store.read():
            t = self.store.ticket_by_token(token)
            if t is None:
                raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
            view = self.ticket_view(t)
            view.pop("id")
            calls = self.store.recent_events(t.site, CALL_TYPES, self.day_start(t.day), 20)
            team_calls = [e for e in calls if e["team_id"] == t.team_id]
            view["now_calling"] = ({"number": team_calls[0]["ticket"]["number"],
                                    "counter": team_calls[0]["counter"]}
                                   if team_calls else None)
            return view

    def report_device(self, device: str, part: str, online: bool, detail: str) -> dict:
        def cmd(now, events):
            if self.store.set_device_status(device, part, online, detail, iso(now)):
                self._event(events, now, "device.status", device=device, part=part,
                            online=online, detail=detail, actor=device)
            return 200, {"device": device, "part": part, "online": online, "detail": detail}
        return self.run(cmd)[1]

    # -- officers at counters -------------------------------------------------------------
    def counter_action(self, counter: int, action: str, *, actor: str | None = None,
                       idem=None, **kwargs) -> tuple[int, dict | None]:
        handler = getattr(self, f"_do_{action.replace('-', '_')}", None)
        if handler is None:
            raise NotFound(f"Unknown counter action {action!r}", code="unknown_action")
        self.config.counter(counter)

        def cmd(now, events):
            state, ticket = self._current(counter)
            return handler(state, ticket, now, events, actor=actor, **kwargs)

        return self.run(cmd, idem)

    def _finish_current(self, state, ticket, now, events, actor) -> None:
        if ticket is not None and ticket.status in rules.ACTIVE and ticket.counter == state.number:
            steps = self.steps(ticket)
            if visit.next_step(ticket, steps):  # a visit of several steps moves on
                self._move_step(state, ticket, steps, now, events, actor, implicit=True)
                return
            rules.finish(ticket, state.number, now)
            self.store.update_ticket(ticket)
            self._event(events, now, "ticket.finished", ticket, actor=actor, implicit=True,
                        **self._step_data(ticket, steps))
        state.ticket_id = None

    def _call(self, state, ticket, chosen: Ticket, now, events, actor, **extra):
        rules.call(chosen, state.number, now)
        self.store.update_ticket(chosen)
        state.ticket_id = chosen.id
        self.store.save_counter_state(state)
        steps = self.steps(chosen)
        if steps:  # a visit of several steps: screens say which step (console, board)
            extra.update(self.step_view(chosen))
        self._event(events, now, "ticket.called", chosen, actor=actor, **extra)
        return 200, self.ticket_view(chosen, now)

    def _guard(self, state, ticket, now) -> None:
        """Refuse a call that would finish a citizen called moments ago (a double press)."""
        try:
            rules.ensure_not_too_soon(ticket, state.number, now,
                                      self.config.call_guard_s)
        except Conflict as err:
            err.details["ticket"] = self.ticket_view(ticket, now)
            raise

    def _do_call_next(self, state, ticket, now, events, actor=None):
        rules.ensure_can_call(state)
        self._guard(state, ticket, now)
        self._open(state, now, events, actor)
        self._finish_current(state, ticket, now, events, actor)
        cfg = self.config.counter(state.number)
        day = self.today(now)
        waiting = self.store.queue_heads(cfg.site, day, cfg.teams, state.number)
        recent = {tid: self.store.recent_calls(tid, day, self.config.priority.ratio)
                  for tid in cfg.teams}
        chosen = rules.pick_next(cfg, waiting, recent, self.config.priority)
        if chosen is None:
            self.store.save_counter_state(state)
            return 204, None
        return self._call(state, ticket, chosen, now, events, actor)

    def _do_call_number(self, state, ticket, now, events, actor=None, number=None,
                        reason=None, team_id=None):
        """Call a number out of order. The number must name exactly one of today's tickets
        in the queues this counter serves (or sent to it); when two teams' tickets carry it,
        the officer says which team (`team_id`)."""
        if not isinstance(number, int):
            raise ValidationFailed("number must be an integer", code="bad_number")
        rules.ensure_can_call(state)
        cfg = self.config.counter(state.number)
        found = self.store.tickets_by_number(cfg.site, self.today(now), number, cfg.teams,
                                             state.number)
        if team_id is not None:
            found = [t for t in found if t.team_id == team_id]
        if not found:
            raise NotFound(f"Quầy {state.number} không có số {number} hôm nay (no such ticket "
                           f"today in the queues this counter serves)", code="unknown_ticket")
        if len(found) > 1:
            teams = sorted({t.team_id for t in found})
            raise Conflict(f"Có {len(found)} số {number} hôm nay (tổ "
                           f"{', '.join(map(str, teams))}): hãy chọn tổ (team_id) để gọi đúng "
                           f"người (number {number} is ambiguous; give team_id)",
                           code="ambiguous_number", details={"teams": teams})
        chosen = found[0]
        if chosen.status not in ("waiting", "no_show"):
            raise Conflict(f"Số {number} không chờ gọi (status {chosen.status})",
                           code="illegal_move")
        self._guard(state, ticket, now)
        self._open(state, now, events, actor)
        self._finish_current(state, ticket, now, events, actor)
        return self._call(state, ticket, chosen, now, events, actor, out_of_order=True,
                          reason=reason or "")

    def _do_call_back(self, state, ticket, now, events, actor=None, ticket_id=None):
        """Call back a ticket this counter finished or marked absent by mistake (within
        `call_back_s`, default 5 minutes): it is called here again; a ticket called in the
        meantime goes back to wait for this counter, first in line."""
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise ValidationFailed("ticket_id must be an integer", code="bad_ticket")
        rules.ensure_can_call(state)
        t = self.store.ticket(ticket_id)
        if t is None or t.day != self.today(now) or t.counter != state.number:
            raise NotFound(f"Quầy {state.number} không có số này hôm nay (unknown ticket)",
                           code="unknown_ticket")
        rules.call_back(t, state.number, now, self.config.call_back_s)
        self._open(state, now, events, actor)
        aside = rules.step_aside(ticket, state.number)
        if aside is not None:
            self.store.update_ticket(aside)
            self._event(events, now, "ticket.transferred", aside, counter=state.number,
                        actor=actor, from_team=aside.team_id, to_team=aside.team_id,
                        to_counter=state.number, note="", reason="call_back")
        self.store.update_ticket(t)
        state.ticket_id = t.id
        self.store.save_counter_state(state)
        self._event(events, now, "ticket.called", t, actor=actor, call_back=True,
                    out_of_order=True, reason="call_back")
        return 200, self.ticket_view(t, now)

    def _ticket_step(self, state, ticket, now, events, actor, rule, kind, release, **extra):
        t = rule(ticket, state.number, now)
        self.store.update_ticket(t)
        if release:
            state.ticket_id = None
            self.store.save_counter_state(state)
        self._event(events, now, kind, t, counter=state.number, actor=actor, **extra)
        return 200, self.ticket_view(t, now)

    def _do_recall(self, state, ticket, now, events, actor=None):
        return self._ticket_step(state, ticket, now, events, actor, rules.recall,
                                 "ticket.recalled", False)

    def _do_start(self, state, ticket, now, events, actor=None):
        return self._ticket_step(state, ticket, now, events, actor, rules.start,
                                 "ticket.started", False)

    def _do_finish(self, state, ticket, now, events, actor=None, end_visit=False):
        """Finish the ticket's step: a visit of several steps moves on to its next step
        (`ticket.step_moved`); its last step, or `end_visit`, finishes it."""
        steps = self.steps(ticket) if ticket is not None else []
        if (not end_visit and ticket is not None and ticket.counter == state.number
                and ticket.status in rules.ACTIVE and visit.next_step(ticket, steps)):
            return self._move_step(state, ticket, steps, now, events, actor)
        return self._ticket_step(state, ticket, now, events, actor, rules.finish,
                                 "ticket.finished", True,
                                 **(self._step_data(ticket, steps) if ticket else {}),
                                 **({"end_visit": True} if end_visit and steps else {}))

    # -- several steps under one number (issue #15, docs/visit.md) --------------------------
    def _do_next_step(self, state, ticket, now, events, actor=None, ticket_id=None):
        """Send the ticket served at the counter on to its next step. `ticket_id`: the
        ticket the officer's screen shows; a visit that has ended is refused (409
        `ticket_closed`), as is a ticket at its last step (409 `no_next_step`)."""
        if ticket_id is not None:
            shown = self.store.ticket(ticket_id)
            if shown is None:
                raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
            visit.check_movable(shown)
            if ticket is None or shown.id != ticket.id:
                ticket = shown  # refused below: not served at this counter
        steps = self.steps(ticket) if ticket is not None else []
        return self._move_step(state, ticket, steps, now, events, actor)

    def _move_step(self, state, ticket, steps, now, events, actor, **extra):
        first_move = ticket is not None and ticket.route is None
        from_team = ticket.team_id if ticket is not None else None
        from_step = visit.step_info(ticket, steps) if ticket is not None else None
        t = visit.move_step(ticket, state.number, steps)
        skipped = []
        if first_move:
            t.route = json.dumps(steps, ensure_ascii=False, separators=(",", ":"))
            skipped = self._visit(t)[1]
        self.store.update_ticket(t)
        state.ticket_id = None
        self.store.save_counter_state(state)
        goto = self._goto(t.team_id)
        self._event(events, now, "ticket.step_moved", t, counter=state.number, actor=actor,
                    from_team=from_team, to_team=t.team_id, from_step=from_step,
                    **self._step_data(t, steps), to=goto,
                    skipped=[s["name"] for s in skipped], **extra)
        return 200, self.ticket_view(t, now)

    def _visit(self, t: Ticket, procedure: dict | None = None) -> tuple[list[dict],
                                                                        list[dict]]:
        """The steps of the ticket's route for its procedure and the steps left out."""
        if not self.config.routes:
            return [], []
        proc = procedure or (self.store.procedure(t.procedure_code)
                             if t.procedure_code else None)
        route = self.config.route_for(t.procedure_code, proc.get("field") if proc else None,
                                      t.origin_team_id)
        if route is None:
            return [], []
        return visit.visit_steps(route, visit.has_fee(proc),
                                 {team.id: team.name for team in self.config.teams})

    def steps(self, t: Ticket, procedure: dict | None = None) -> list[dict]:
        """The ticket's steps (empty: a visit of one step): fixed on the ticket once it
        moved on, else its route's in force."""
        if t.route:
            return json.loads(t.route)
        return self._visit(t, procedure)[0]

    def _goto(self, team_id: int) -> dict:
        """Where a citizen goes for a team: {"team_id", "team_name", "counter_hint"}."""
        team = self.config.team(team_id)
        names = [c.name or f"Quầy {c.number}" for c in self.config.counters_for_team(team_id)]
        hint = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
        return {"team_id": team.id, "team_name": team.name, "counter_hint": hint}

    def _step_data(self, t: Ticket, steps: list[dict]) -> dict:
        info = visit.step_info(t, steps)
        return {"step": info} if info else {}

    def step_view(self, t: Ticket, procedure: dict | None = None) -> dict:
        """A ticket view's `step` ({"index" from 1, "count", "name", "kind", and
        "counter_hint": where this step is served} or None) and `next_step` (where the
        citizen goes after this step: {"team_id", "team_name", "counter_hint", "name"}, or
        None)."""
        steps = self.steps(t, procedure)
        info = visit.step_info(t, steps)
        if info:
            info["counter_hint"] = self._goto(t.team_id)["counter_hint"]
        after = visit.next_step(t, steps)
        return {"step": info,
                "next_step": self._goto(after["team_id"]) | {"name": after["name"]}
                if after else None}

    def _do_no_show(self, state, ticket, now, events, actor=None):
        return self._ticket_step(state, ticket, now, events, actor, rules.no_show,
                                 "ticket.no_show", True,
                                 **(self._step_data(ticket, self.steps(ticket))
                                    if ticket is not None else {}))

    def _do_transfer(self, state, ticket, now, events, actor=None, team_id=None,
                     to_counter=None, note=None):
        from_team = ticket.team_id if ticket else None
        target = self.config.counter(int(to_counter)) if to_counter is not None else None
        if team_id is not None:
            self.config.team(int(team_id))
            team_id = int(team_id)
        t = rules.transfer(ticket, state.number, team_id=team_id, to_counter=target, note=note)
        self.store.update_ticket(t)
        state.ticket_id = None
        self.store.save_counter_state(state)
        self._event(events, now, "ticket.transferred", t, counter=state.number, actor=actor,
                    from_team=from_team, to_team=t.team_id,
                    to_counter=target.number if target else None, note=note or "")
        return 200, self.ticket_view(t, now)

    def _counter_step(self, state, now, events, actor, kind, **extra):
        self.store.save_counter_state(state)
        self._event(events, now, kind, counter=state.number, actor=actor,
                    site=self.config.counter(state.number).site, **extra)
        return 200, self.counter_view(state)

    def _do_pause(self, state, ticket, now, events, actor=None, reason=None):
        rules.pause(state, reason)
        return self._counter_step(state, now, events, actor, "counter.paused",
                                  reason=state.reason)

    def _do_resume(self, state, ticket, now, events, actor=None):
        rules.resume(state)
        return self._counter_step(state, now, events, actor, "counter.opened")

    def _do_close(self, state, ticket, now, events, actor=None):
        self._finish_current(state, ticket, now, events, actor)
        state.status, state.reason = "closed", None
        return self._counter_step(state, now, events, actor, "counter.closed")

    def counter_view(self, state: rules.CounterState, with_officer: bool = False) -> dict:
        cfg = self.config.counter(state.number)
        view = {"number": cfg.number, "name": cfg.name or f"Quầy {cfg.number}",
                "teams": cfg.teams, "status": state.status, "reason": state.reason,
                "ticket": None}
        if state.ticket_id:
            t = self.store.ticket(state.ticket_id)
            view["ticket"] = public_ticket(t) | self.step_view(t) if t else None
        if with_officer:
            view["officer"] = state.officer
        return view

    def sit(self, counter: int, username: str | None) -> None:
        """Record which officer sits at a counter (on sign-in / sign-out)."""
        def cmd(now, events):
            self.seat(counter, username)
            return 200, None
        self.run(cmd)

    def seat(self, counter: int, username: str | None) -> None:
        """Inside a running command: the officer at a counter (None: nobody)."""
        state = self.store.counter_state(counter)
        state.officer = username
        self.store.save_counter_state(state)

    # -- ratings and cancellations --------------------------------------------------------
    def rate(self, ticket_id: int, score, reason: str | None = None, actor=None,
             counters: list[int] | None = None, idem=None) -> tuple[int, dict]:
        if not isinstance(score, int) or isinstance(score, bool):
            raise ValidationFailed("score must be an integer from 1 to 4", code="bad_score")

        def cmd(now, events):
            t = self.store.ticket(ticket_id)
            if t is None:
                raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")
            latest = self.store.last_finished_at(t.counter, t.day) if t.counter else None
            rules.check_rating(t, counters, latest, now,
                               self.config.rating_window_s)
            rules.rate(t, score)
            self.store.update_ticket(t)
            self._event(events, now, "ticket.rated", t, actor=actor, score=score,
                        reason=reason or "")
            return 200, {"ticket_id": t.id, "score": score, "counter": t.counter}

        return self.run(cmd, idem)

    def cancel(self, ticket_id: int, actor=None, idem=None,
               scope: rules.TicketScope | None = None) -> tuple[int, dict]:
        """Cancel a waiting ticket, within `scope` (what the principal may act on: see
        `server.auth.ticket_scope`); None only for the service's own callers."""
        def cmd(now, events):
            t = rules.check_scope(self.store.ticket(ticket_id), scope or rules.TicketScope())
            rules.cancel(t)
            self.store.update_ticket(t)
            self._event(events, now, "ticket.cancelled", t, actor=actor)
            return 200, public_ticket(t)
        return self.run(cmd, idem)

    # -- snapshot -------------------------------------------------------------------------
    def snapshot(self, site: str = "main", with_officer: bool = False) -> dict:
        with self.store.read():
            now = self.clock()
            day = self.today(now)
            counts = self.store.waiting_counts(site, day)
            states = self.store.counter_states()
            teams = []
            for team in (t for t in self.config.teams if t.site == site):
                c = counts.get(team.id, {})
                oldest = c.get("oldest")
                open_n = self.wait_estimator(site, day).open_counters(team.id)
                teams.append({
                    "id": team.id, "name": team.name, "name_en": team.name_en,
                    "waiting": c.get("waiting", 0), "priority_waiting": c.get("priority") or 0,
                    "longest_wait_s": int((now - datetime.fromisoformat(oldest))
                                          .total_seconds()) if oldest else 0,
                    "estimated_wait_s": (self.estimate(team.id, c.get("waiting", 0), day)
                                         if open_n else None),
                    "counters_open": open_n, "no_counter_open": open_n == 0,
                    "counters": [x.number for x in self.config.counters_for_team(team.id)]})
            counters = [self.counter_view(states.get(c.number, rules.CounterState(c.number)),
                                          with_officer)
                        for c in self.config.counters if c.site == site]
            calls = self.store.recent_events(site, CALL_TYPES, self.day_start(day), 10)
            moves = self.store.recent_events(site, ("ticket.step_moved",),
                                             self.day_start(day), 5) if self.config.routes \
                else []
            last_moves = [{"seq": e["seq"], "at": e["at"], "number": e["ticket"]["number"],
                           "team_id": e["team_id"], "counter": e["counter"],
                           "to": e.get("to"), "step": e.get("step")}
                          for e in moves if e.get("ticket")]
            last_calls = [{"seq": e["seq"], "at": e["at"], "type": e["type"],
                           "number": e["ticket"]["number"], "counter": e["counter"],
                           "team_id": e["team_id"]} for e in calls if e.get("ticket")]
            return {"site": site, "day": day, "at": iso(now),
                    "seq": self.store.current_seq(site), "centre": self.config.name,
                    "centre_en": self.config.name_en,  # the kiosk's English screens
                    "timezone": self.config.timezone,
                    "notice": self.config.notice, "teams": teams, "counters": counters,
                    "last_calls": last_calls, "last_moves": last_moves}


def band_message(team_name: str, band, state: dict) -> str:
    if state["level"] == "exhausted":
        return (f"{team_name}: đã phát hết dải số {band[0]}–{band[1]} hôm nay, không cấp "
                f"thêm số được; hãy mở rộng dải số (number band used up)")
    return (f"{team_name}: đã dùng {state['used']}/{state['size']} số của dải "
            f"{band[0]}–{band[1]}, còn {state['left']} số (number band nearly used up)")
