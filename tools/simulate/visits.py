"""The citizen's whole visit in a simulated day (issue #15): appointments made through the
real booking API beforehand and checked in at the kiosk (on time, late, or never), walk-ins
who scan their CCCD (a few try a second number in the same field and are refused), and
visits of several steps (the officers' `Officer.finish` follows a step move to the next
team).

Bookings are public HTTP calls (`POST /api/v1/bookings`, no token, a phone number and for
some an id_number); check-ins are the kiosk's `POST /api/v1/bookings/checkin` by the code or
by the scanned CCCD number. On a server living in the simulated time (`clock.ClockFile`)
every plan is exact: an on-time citizen checks in inside the window around the slot start,
a late one after it, and the never-comers' bookings expire when the next morning's first
check-in sweeps the day; on a server on the wall clock (`qms demo`) a few bookings are made
for today's slots whose check-in window is open and the server decides on time or late.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qmsclient import Client, ServerError, new_key

from .actors import Citizen
from .profiles import hhmm

log = logging.getLogger("qms.simulate")

#: bookings a run against a wall-clock server makes at most (the public booking API allows
#: 60 writes per client address per 10 minutes, shared with whoever books from this machine,
#: and a slot has few places: the demo's newcomer must still find one)
REAL_CLOCK_BOOKINGS = 4


@dataclass
class Booking:
    """One appointment and what its holder will do (drawn when it is booked)."""

    code: str
    procedure_code: str
    team_id: int
    day: str
    start: str
    end: str
    phone: str
    id_number: str | None
    plan: str  # on_time | late | never | ahead (another day: not checked in by this run)
    by: str  # code | cccd: how the citizen checks in
    checkin_s: float | None = None  # simulated time of the check-in
    outcome: str | None = None  # on_time | late | expired | refused:<code>
    ticket_id: int | None = None
    checkin_from: str = ""
    checkin_until: str = ""


@dataclass
class VisitStats:
    bookings: list[Booking] = field(default_factory=list)
    booking_refused: dict[str, int] = field(default_factory=dict)  # at booking time
    cccd_walk_ins: int = 0
    second_tries: int = 0
    person_limit: int = 0  # second tries refused with 409 person_limit

    def summary(self) -> dict:
        by_outcome: dict[str, int] = {}
        for b in self.bookings:
            key = b.outcome or "not_checked_in"
            by_outcome[key] = by_outcome.get(key, 0) + 1
        return {
            "booked": len(self.bookings),
            "planned": {p: sum(1 for b in self.bookings if b.plan == p)
                        for p in ("on_time", "late", "never")},
            "outcomes": by_outcome,
            "by_cccd": sum(1 for b in self.bookings if b.by == "cccd"),
            "not_booked": dict(self.booking_refused),
            "cccd_walk_ins": self.cccd_walk_ins, "second_tries": self.second_tries,
            "person_limit": self.person_limit,
            "items": [{"code": b.code, "team_id": b.team_id, "day": b.day, "start": b.start,
                       "end": b.end, "plan": b.plan, "by": b.by, "outcome": b.outcome,
                       "ticket_id": b.ticket_id} for b in self.bookings],
        }


def simulated_day(today: date) -> date:
    """The day a simulated-clock run plays: today, or Saturday when today is a Sunday."""
    return today - timedelta(days=1) if today.weekday() == 6 else today


def local_dt(day: date, sim_s: float, tz: ZoneInfo) -> datetime:
    """Simulated seconds since local midnight of `day` as an aware datetime."""
    return datetime.combine(day, time(0), tz) + timedelta(seconds=sim_s)


class Visits:
    """Bookings, check-ins and CCCD walk-ins of one simulated day."""

    def __init__(self, sim, kiosk_token: str, mix, args, tz: ZoneInfo, day: date,
                 simulated_clock: bool):
        self.sim, self.mix, self.args, self.tz, self.day = sim, mix, args, tz, day
        self.simulated_clock = simulated_clock
        self.public = Client(sim.server)
        self.kiosk = Client(sim.server, kiosk_token)
        self.stats = VisitStats()
        self._ids = 0
        self._fresh = random.SystemRandom()
        self._slots: dict[int, list[dict]] = {}

    # -- people ---------------------------------------------------------------------------
    def id_number(self) -> str:
        """A fresh 12-digit CCCD number (province 001, a 1990s man), one per person: from
        the seed on a fresh simulated-clock server; on a wall-clock server (the demo, where
        runs of the same day share the per-person limits) drawn afresh for every run."""
        self._ids += 1
        if self.simulated_clock:
            return f"001090{self.args.seed % 100:02d}{self._ids % 10**4:04d}"
        return f"001{self._fresh.randrange(10**9):09d}"

    def phone(self, n: int) -> str:
        if self.simulated_clock:
            return f"09{(self.args.seed * 7919 + n) % 10**8:08d}"
        return f"09{self._fresh.randrange(10**8):08d}"

    # -- booking beforehand ---------------------------------------------------------------
    def _free_slots(self, proc: dict) -> list[dict]:
        team = proc["team_id"]
        if team not in self._slots:
            try:
                ans = self.public.get("/bookings/slots", {"procedure_code": proc["code"],
                                                          "day": self.day.isoformat()})
                self._slots[team] = ans.get("slots", [])
            except ServerError as exc:
                self.stats.booking_refused[exc.code] = (
                    self.stats.booking_refused.get(exc.code, 0) + 1)
                self._slots[team] = []
        return [s for s in self._slots[team] if s["left"] > 0]

    def book_all(self, count: int, start_s: int, end_s: int) -> None:
        """Book `count` appointments for the day's slots in [start_s, end_s) (simulated
        clock) or for today's slots whose check-in window is open now (wall clock)."""
        rng, a = self.sim.rng, self.args
        if not self.simulated_clock:
            count = min(count, REAL_CLOCK_BOOKINGS)
        for n in range(count):
            proc = self.mix.pick(rng)
            slots = [s for s in self._free_slots(proc) if self._usable(s, start_s, end_s)]
            if not slots:
                self.stats.booking_refused["no_slot"] = (
                    self.stats.booking_refused.get("no_slot", 0) + 1)
                continue
            slot = rng.choice(slots)
            with_id = rng.random() < a.booking_cccd
            body = {"procedure_code": proc["code"], "day": self.day.isoformat(),
                    "start": slot["start"], "phone": self.phone(n)}
            if with_id:
                body["id_number"] = self.id_number()
            try:
                _, ans = self.public.command("/bookings", body, key=f"sim-book-{new_key()}",
                                             retry_for=10)
            except ServerError as exc:
                self.stats.booking_refused[exc.code] = (
                    self.stats.booking_refused.get(exc.code, 0) + 1)
                continue
            slot["left"] -= 1
            waits = not self.simulated_clock and ans.get("checkin_from", "") > datetime.now(
                self.tz).strftime("%H:%M")  # the centre opens check-in later than 30 min
            b = Booking(ans["code"], proc["code"], ans["team_id"], ans["day"], ans["start"],
                        ans["end"], body["phone"], body.get("id_number"),
                        "ahead" if waits else "on_time",
                        "cccd" if with_id and rng.random() < 0.5 else "code",
                        checkin_from=ans.get("checkin_from", ""),
                        checkin_until=ans.get("checkin_until", ""),
                        outcome="booked_ahead" if waits else None)
            self.stats.bookings.append(b)
        self._plan()
        if not self.simulated_clock and count and not self.stats.bookings:
            self._book_ahead(count)

    def _book_ahead(self, n: int) -> None:
        """On the wall clock with no slot of today open for check-in (evening, weekend):
        one booking for the last slot of the next open day, so the managers' report shows
        the day's bookings; nobody checks it in, and it expires as a no-show after its day.
        The last slot is the one a newcomer trying the booking page needs least."""
        proc = self.mix.pick(self.sim.rng)
        for ahead in range(1, 8):
            d = (self.day + timedelta(days=ahead)).isoformat()
            try:
                slots = self.public.get("/bookings/slots", {"procedure_code": proc["code"],
                                                            "day": d}).get("slots", [])
            except ServerError:
                continue
            free = [x for x in slots if x["left"] > 0]
            if not free:
                continue
            body = {"procedure_code": proc["code"], "day": d, "start": free[-1]["start"],
                    "phone": self.phone(n)}
            try:
                _, ans = self.public.command("/bookings", body, key=f"sim-book-{new_key()}",
                                             retry_for=10)
            except ServerError as exc:
                self.stats.booking_refused[exc.code] = (
                    self.stats.booking_refused.get(exc.code, 0) + 1)
                return
            self.stats.bookings.append(Booking(
                ans["code"], proc["code"], ans["team_id"], ans["day"], ans["start"],
                ans["end"], body["phone"], None, "ahead", "code", outcome="booked_ahead"))
            return

    def _plan(self) -> None:
        """Who comes late and who never comes: the shares of the bookings made (at least
        one of each when the share is not 0 and there are three bookings or more)."""
        order = [b for b in self.stats.bookings if b.plan != "ahead"]
        self.sim.rng.shuffle(order)
        n = len(order)

        def count(share: float) -> int:
            return max(1 if share and n >= 3 else 0, round(n * share))

        never = count(self.args.never)
        late = count(self.args.late) if self.simulated_clock else 0  # the wall clock
        for i, b in enumerate(order):  # cannot be hurried past the window
            b.plan = "never" if i < never else "late" if i < never + late else "on_time"

    def _usable(self, slot: dict, start_s: int, end_s: int) -> bool:
        s = hhmm(slot["start"])
        if self.simulated_clock:
            return start_s <= s and s + 1800 <= end_s
        now = datetime.now(self.tz)
        opens = local_dt(now.date(), s, self.tz) - timedelta(minutes=30)
        return opens <= now

    # -- check-in at the kiosk ------------------------------------------------------------
    def schedule(self, start_s: int, end_s: int) -> int:
        """Put every check-in on the simulator's calendar; returns how many there are."""
        rng = self.sim.rng
        n = 0
        for b in self.stats.bookings:
            if b.plan in ("never", "ahead"):
                continue
            if self.simulated_clock:
                slot = hhmm(b.start)
                before = slot - hhmm(b.checkin_from)
                after = hhmm(b.checkin_until) - slot
                if b.plan == "late":
                    t = hhmm(b.checkin_until) + rng.uniform(300, 1800)
                    if t >= end_s:
                        b.plan, t = "on_time", None
                if b.plan == "on_time":
                    t = rng.uniform(slot - 0.8 * before, slot + 0.3 * after)
                t = max(t, start_s + rng.uniform(0, 60))
            else:  # now, give or take the first simulated minutes
                t = start_s + rng.uniform(0, 600)
            b.checkin_s = t
            self.sim.at(t, lambda b=b: self.check_in(b))
            n += 1
        return n

    def check_in(self, b: Booking) -> None:
        sim, p, rng = self.sim, self.sim.profile, self.sim.rng
        sim.arrivals_left -= 1
        body = {"id_number": b.id_number} if b.by == "cccd" else {"code": b.code}
        try:
            _, res = self.kiosk.command("/bookings/checkin", body, key=f"sim-{new_key()}",
                                        retry_for=10)
        except ServerError as exc:
            b.outcome = f"refused:{exc.code}"
            sim.note_error(f"check-in of a booking for {b.start} refused: {exc}")
            return
        b.outcome = "late" if res["booking"]["late"] else "on_time"
        b.ticket_id = res["id"]
        c = Citizen(b.procedure_code, res["team_id"], None, rng.random() < p.no_show,
                    slow=rng.random() < p.recall, transfer_to=None, rating=p.rating(rng),
                    arrived=sim.now, id=res["id"], number=res["number"])
        sim.citizens[c.id] = c
        sim.wake_team(c.team_id)

    def expire_never_comers(self) -> None:
        """The next morning (simulated clock moved on by the runner): a never-comer's code
        at the kiosk finds the booking expired (the first check-in sweeps the day)."""
        for b in self.stats.bookings:
            if b.plan != "never":
                continue
            try:
                self.kiosk.command("/bookings/checkin", {"code": b.code},
                                   key=f"sim-{new_key()}", retry_for=10)
            except ServerError as exc:
                b.outcome = "expired" if exc.code == "booking_expired" else f"refused:{exc.code}"
                continue
            b.outcome = "checked_in_next_day"
            self.sim.note_error(f"booking for {b.start} checked in the next day")

    # -- walk-ins with a scanned CCCD -----------------------------------------------------
    def walk_in_card(self, c: Citizen) -> None:
        """Maybe this walk-in scans the CCCD at the kiosk (sent as id_number)."""
        if self.sim.rng.random() < self.args.cccd:
            c.id_number = self.id_number()
            self.stats.cccd_walk_ins += 1

    def second_try(self, c: Citizen) -> None:
        """A card holder who already has a number asks for another in the same field:
        the server must refuse it (409 person_limit)."""
        if c.id_number is None or self.sim.rng.random() >= self.args.hoard:
            return
        self.stats.second_tries += 1
        body = {"procedure_code": c.procedure_code, "channel": "kiosk",
                "id_number": c.id_number}
        try:
            _, res = self.kiosk.command("/tickets", body, key=f"sim-{new_key()}",
                                        retry_for=10)
        except ServerError as exc:
            if exc.code == "person_limit":
                self.stats.person_limit += 1
            else:
                self.sim.note_error(f"second number refused with {exc.code}, not person_limit")
            return
        self.sim.note_error(f"a second number {res['number']} was issued to one CCCD")
