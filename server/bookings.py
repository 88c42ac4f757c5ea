"""Appointments and check-in (issue #15), and the salted person hash behind the per-person
limits.

A citizen books a slot of a team (from a procedure or a field) on a day between today and
`[booking] days_ahead`; each team's slot has `capacity` places of which `walk_in_percent`
are never booked (walk-ins and priority citizens). Limits per person and day: `per_day`
bookings, `per_field` in one field, counted by the phone's hash and, when given, the CCCD
number's hash. A kiosk or an officer checks a booking in from `checkin_before_min` before to
`checkin_after_min` after its slot start: the number waits from the slot start (ahead of
walk-ins who came after the slot began), channel "appointment"; later the same day it is a
walk-in number (`late`); a booking never used expires as a no-show when its day is over.

Every write is a command of `QueueService.run` (rows + audit + `booking.*` event in one
transaction). The phone and the CCCD number are stored only as HMAC-SHA256 hashes with the
database's own salt (table `person_salt`, made by migration m014); the numbers a scanned
CCCD took (`person_marks`) are kept for their day only.

The person hash (phone, CCCD) and the per-person limit on numbers are in `server/persons.py`.
"""

from __future__ import annotations

import hmac
from datetime import UTC, date, datetime, time, timedelta

from common import booking_code
from common.vocabulary import (
    BOOKING_CANCELLED,
    BOOKING_CHANGED,
    BOOKING_CHECKED_IN,
    BOOKING_CREATED,
    BOOKING_EXPIRED,
)

from .config import WEEKDAYS
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .persons import clean_id_number, clean_phone, person_field, person_hash, phone_hash

#: public writes (book, cancel, change) per client address per window (mobile carriers put
#: many phones behind one address: the per-person limits and the slots' capacity are what
#: bound a hoarder; this bounds a script)
PUBLIC_WRITES = 60
PUBLIC_WRITE_WINDOW_S = 600
#: look-ups of an unknown code or with the wrong phone per client address per window
CODE_GUESSES = 30
CODE_GUESS_WINDOW_S = 60
#: the opening hours slots are cut from when the centre configured none
DEFAULT_SPANS = [["07:30", "11:30"], ["13:30", "17:00"]]
DEFAULT_DAYS = ("mon", "tue", "wed", "thu", "fri")

STATUS_VI = {"booked": "Đã đặt lịch", "checked_in": "Đã nhận số", "late": "Đã nhận số (muộn)",
             "cancelled": "Đã huỷ", "no_show": "Không đến"}
STATUS_EN = {"booked": "Booked", "checked_in": "Checked in", "late": "Checked in late",
             "cancelled": "Cancelled", "no_show": "Did not come"}


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds")


def booking_error(status: str) -> Conflict:
    """Why a booking in `status` cannot be used (checked in, cancelled, changed)."""
    if status in ("checked_in", "late"):
        return Conflict("Lịch hẹn này đã được dùng để nhận số (booking already used)",
                        code="booking_used")
    if status == "cancelled":
        return Conflict("Lịch hẹn này đã bị huỷ (booking cancelled)", code="booking_cancelled")
    return Conflict("Lịch hẹn này đã hết hạn (booking expired)", code="booking_expired")


# -- slots -------------------------------------------------------------------------------------
def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def opening_spans(config, day: date) -> list[list[str]]:
    """The opening spans of a day (the centre's hours; default office hours if it has
    none configured at all)."""
    name = WEEKDAYS[day.weekday()]
    if any(config.hours.values()):
        return config.hours.get(name, [])
    return DEFAULT_SPANS if name in DEFAULT_DAYS else []


def day_slots(config, day: date) -> list[tuple[str, str]]:
    """(start, end) of every slot of a day: each span tiled from its start."""
    step = config.booking.slot_minutes
    out = []
    for a, b in opening_spans(config, day):
        m, end = _minutes(a), _minutes(b)
        while m + step <= end:
            out.append((_hhmm(m), _hhmm(m + step)))
            m += step
    return out


class BookingService:
    """Booking commands on top of the one write path (`QueueService.run`)."""

    def __init__(self, service):
        self.service = service
        self._swept: str | None = None

    @property
    def config(self):
        return self.service.config

    @property
    def store(self):
        return self.service.store

    # -- time helpers -----------------------------------------------------------------------
    def local_now(self, now: datetime | None = None) -> datetime:
        return (now or self.service.clock()).astimezone(self.config.tz)

    def at(self, day: str, hhmm: str) -> datetime:
        """The UTC time of `hhmm` on a local `day`."""
        local = datetime.combine(date.fromisoformat(day), time.fromisoformat(hhmm),
                                 self.config.tz)
        return local.astimezone(UTC)

    def days(self, now: datetime | None = None) -> list[str]:
        """The days a citizen may book (today .. today + days_ahead, open days only)."""
        today = self.local_now(now).date()
        return [d.isoformat() for d in (today + timedelta(days=i)
                                        for i in range(self.config.booking.days_ahead + 1))
                if day_slots(self.config, d)]

    # -- what is booked where ---------------------------------------------------------------
    def _enabled(self) -> None:
        if not self.config.booking.enabled:
            raise Conflict("Trung tâm chưa nhận đặt lịch hẹn (appointments are off)",
                           code="booking_disabled")

    def resolve(self, site: str | None, procedure_code: str | None, field: str | None):
        """(team, procedure or None, field) of a booking request."""
        if site is not None and site not in self.config.sites:
            raise ValidationFailed(f"Không có điểm phục vụ {str(site)[:40]!r} (unknown site)",
                                   code="unknown_site")
        procedure = None
        team_id = None
        if procedure_code:
            with self.store.read():
                procedure = self.store.procedure(procedure_code)
            if procedure is None:
                raise NotFound(f"Không có thủ tục {procedure_code} (unknown procedure)",
                               code="unknown_procedure")
            team_id = procedure.get("team_id")
            field = procedure.get("field") or field
        elif not field:
            raise ValidationFailed("Hãy chọn thủ tục hoặc lĩnh vực (give procedure_code or "
                                   "field)", code="missing_procedure")
        candidates = [t for t in self.config.teams
                      if (t.id == team_id) or (team_id is None and field in t.fields)]
        if site is not None:
            local = [t for t in candidates if t.site == site]
            if not local and field:
                local = [t for t in self.config.teams if t.site == site and field in t.fields]
            candidates = local
        if not candidates:
            raise ValidationFailed("Không có tổ nào nhận hồ sơ này ở điểm đã chọn (no team "
                                   "takes this procedure or field here)", code="no_team")
        team = candidates[0]
        if not self.config.counters_for_team(team.id):
            raise Conflict("Tổ này chưa có quầy phục vụ (no counter serves this team)",
                           code="team_closed")
        return team, procedure, person_field(procedure, team.id) if procedure else field

    def _day(self, day, now: datetime) -> date:
        days = self.days(now)
        try:
            parsed = date.fromisoformat(day) if isinstance(day, str) and len(day) == 10 \
                else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.isoformat() not in days:
            first, last = (days[0], days[-1]) if days else ("-", "-")
            raise ValidationFailed(f"Ngày hẹn phải là ngày làm việc từ {first} đến {last} "
                                   f"(day must be an open day from {first} to {last})",
                                   code="bad_day")
        return parsed

    def slots(self, site, procedure_code, field, day) -> dict:
        """{"slots": [{"start", "end", "left"}]} of a team's day (past slots left out)."""
        self._enabled()
        now = self.service.clock()
        team, _, _ = self.resolve(site, procedure_code, field)
        d = self._day(day, now)
        with self.store.read():
            taken = self.store.slot_taken(team.site, team.id, d.isoformat())
        return {"site": team.site, "team_id": team.id, "team": team.name, "day": d.isoformat(),
                "slots": self._slot_list(d, taken, now)}

    def _slot_list(self, d: date, taken: dict[str, int], now: datetime) -> list[dict]:
        local = self.local_now(now)
        bookable = self.config.booking.bookable
        out = []
        for start, end in day_slots(self.config, d):
            if d == local.date() and start <= local.strftime("%H:%M"):
                continue
            out.append({"start": start, "end": end,
                        "left": max(0, bookable - taken.get(start, 0))})
        return out

    # -- the public view of a booking -------------------------------------------------------
    def view(self, row: dict, with_phone: bool = False) -> dict:
        team = self.config.team(row["team_id"])
        base = self.config.public_url.rstrip("/")
        b = self.config.booking
        start = self.at(row["day"], row["slot_start"])
        opens = (start - timedelta(minutes=b.checkin_before_min)).astimezone(self.config.tz)
        until = (start + timedelta(minutes=b.checkin_after_min)).astimezone(self.config.tz)
        proc = self.store.procedure(row["procedure_code"]) if row["procedure_code"] else None
        out = {"code": row["code"], "status": row["status"],
               "status_vi": STATUS_VI[row["status"]], "status_en": STATUS_EN[row["status"]],
               "day": row["day"], "start": row["slot_start"], "end": row["slot_end"],
               "site": row["site"], "site_name": self.config.sites.get(row["site"], ""),
               "team_id": row["team_id"], "team": team.name,
               "procedure_code": row["procedure_code"],
               "procedure_name": proc["name"] if proc else None, "field": row["field"],
               "checkin_from": opens.strftime("%H:%M"), "checkin_until": until.strftime("%H:%M"),
               "url": f"{base}/dat-lich/{row['code']}",
               "qr_url": f"{base}/dat-lich/{row['code']}/qr.svg"}
        if with_phone:
            out["phone"] = "••• ••• " + row["phone_tail"]
        return out

    def find(self, code_text) -> dict:
        code = booking_code.normalise(code_text)
        if code is None:
            raise ValidationFailed("Mã đặt lịch gồm 6 ký tự, ví dụ K7M3PX (a booking code is "
                                   "6 characters, e.g. K7M3PX)", code="booking_code_invalid")
        with self.store.read():
            row = self.store.booking(code)
        if row is None:
            raise NotFound(f"Không tìm thấy lịch hẹn {code} (booking not found)",
                           code="booking_not_found")
        return row

    def public(self, code_text) -> dict:
        """What the booking's own page shows without the phone: nothing personal."""
        row = self.find(code_text)
        with self.store.read():
            return self.view(self._effective(row))

    def lookup(self, code_text, phone) -> dict:
        row = self._owned(self.find(code_text), phone)
        with self.store.read():
            return self.view(self._effective(row), with_phone=True)

    def _effective(self, row: dict) -> dict:
        """A booking of a day already over that nobody swept yet reads as a no-show."""
        if row["status"] == "booked" and row["day"] < self.service.today():
            return {**row, "status": "no_show"}
        return row

    def _owned(self, row: dict, phone) -> dict:
        if not phone or not hmac.compare_digest(phone_hash(self.store, phone),
                                                row["phone_hash"]):
            raise Forbidden("Số điện thoại không khớp với lịch hẹn (the phone number does not "
                            "match this booking)", code="booking_phone_wrong")
        return row

    # -- commands ---------------------------------------------------------------------------
    def _sweep(self, now: datetime, events: list) -> None:
        """Inside a command: bookings of days already over, never used, expire as no-shows;
        their CCCD hashes are forgotten. Once per day per process (idempotent anyway)."""
        today = self.service.today(now)
        if self._swept == today:
            return
        for row in self.store.stale_bookings(today):
            self.store.update_booking(row["code"], status="no_show", changed_at=iso(now))
            self.service.append_event(events, now, BOOKING_EXPIRED, site=row["site"],
                                      team_id=row["team_id"], actor="system",
                                      **self._event_data(row))
        self.store.forget_past_id_hashes(today)
        self._swept = today

    def sweep(self, force: bool = False) -> None:
        """Expire the no-shows of days already over (the day's close): a command of its own
        before the first booking command of a day (so a refused command cannot undo it)."""
        if force:
            self._swept = None
        if self._swept != self.service.today():
            self.service.run(lambda now, events: (self._sweep(now, events), (200, None))[1])

    @staticmethod
    def _event_data(row: dict, **extra) -> dict:
        """A booking in an event: its id, never its code (the code alone checks in, and
        events reach every staff screen and device of the site)."""
        return {"booking_id": row["id"], "day": row["day"], "start": row["slot_start"],
                "end": row["slot_end"], "procedure_code": row["procedure_code"],
                "field": row["field"], **extra}

    def _event(self, events, now, kind: str, row: dict, actor: str | None, **extra) -> None:
        actor = actor or "public"
        self.service.append_event(events, now, kind, site=row["site"],
                                  team_id=row["team_id"], actor=actor,
                                  **self._event_data(row, **extra))
        self.store.audit(iso(now), actor, kind, {"code": row["code"],
                                                 **self._event_data(row, **extra)})

    def _check_limits(self, row: dict, exclude: str | None = None) -> None:
        b = self.config.booking
        for column in ("phone_hash", "id_hash"):
            if not row.get(column):
                continue
            held = self.store.person_bookings(column, row[column], row["day"], exclude)
            if len(held) >= b.per_day:
                raise Conflict(f"Mỗi người được đặt tối đa {b.per_day} lịch hẹn một ngày "
                               f"(at most {b.per_day} bookings per person per day)",
                               code="booking_limit", details={"limit": b.per_day})
            if sum(1 for h in held if h["field"] == row["field"]) >= b.per_field:
                raise Conflict(f"Mỗi người được đặt tối đa {b.per_field} lịch hẹn cho một "
                               f"lĩnh vực mỗi ngày (at most {b.per_field} booking(s) per "
                               f"field per day)", code="booking_limit",
                               details={"limit": b.per_field})

    def _place(self, row: dict, day, start, now: datetime, exclude: str | None = None):
        """Check the day and the slot and that a place is left; sets them on `row`."""
        d = self._day(day, now)
        slots = {s["start"]: s for s in self._slot_list(
            d, self.store.slot_taken(row["site"], row["team_id"], d.isoformat()), now)}
        chosen = slots.get(start) if isinstance(start, str) else None
        if chosen is None:
            raise ValidationFailed("Khung giờ không có hoặc đã qua; hãy chọn khung giờ khác "
                                   "(no such slot, or it is over)", code="bad_slot")
        own = exclude is not None and row["day"] == d.isoformat() and row["slot_start"] == start
        if chosen["left"] < 1 and not own:
            raise Conflict(f"Khung giờ {start} ngày {d:%d/%m/%Y} đã hết chỗ; hãy chọn khung "
                           f"giờ khác (this slot is full)", code="slot_full")
        row.update(day=d.isoformat(), slot_start=start, slot_end=chosen["end"])

    def book(self, *, site=None, procedure_code=None, field=None, day=None, start=None,
             phone=None, id_number=None, actor: str | None = None, idem=None):
        self._enabled()
        team, procedure, field = self.resolve(site, procedure_code, field)
        p_hash = phone_hash(self.store, phone)
        digits = clean_phone(phone)
        i_hash = person_hash(self.store, id_number) if id_number not in (None, "") else None
        self.sweep()

        def cmd(now, events):
            row = {"site": team.site, "team_id": team.id,
                   "procedure_code": procedure["code"] if procedure else None,
                   "field": field, "phone_hash": p_hash, "phone_tail": digits[-3:],
                   "id_hash": i_hash, "status": "booked", "created_at": iso(now)}
            self._place(row, day, start, now)
            self._check_limits(row)
            code = booking_code.generate()
            while self.store.booking_code_used(code):
                code = booking_code.generate()
            row["code"] = code
            row["id"] = self.store.insert_booking(row)
            self._event(events, now, BOOKING_CREATED, row, actor)
            return 201, self.view(row, with_phone=True)

        return self.service.run(cmd, idem)

    def _mutate(self, code_text, phone, fn, idem):
        row = self.find(code_text)
        self._owned(row, phone)
        self.sweep()

        def cmd(now, events):
            current = self.store.booking(row["code"])
            if current["status"] != "booked":
                raise booking_error(current["status"])
            return fn(current, now, events)

        return self.service.run(cmd, idem)

    def cancel(self, code_text, phone, actor: str | None = None, idem=None):
        def fn(row, now, events):
            self.store.update_booking(row["code"], status="cancelled", changed_at=iso(now))
            row = {**row, "status": "cancelled"}
            self._event(events, now, BOOKING_CANCELLED, row, actor)
            return 200, self.view(row, with_phone=True)
        return self._mutate(code_text, phone, fn, idem)

    def change(self, code_text, phone, day, start, actor: str | None = None, idem=None):
        def fn(row, now, events):
            old = (row["day"], row["slot_start"])
            row = dict(row)
            self._place(row, day, start, now, exclude=row["code"])
            self._check_limits(row, exclude=row["code"])
            self.store.update_booking(row["code"], day=row["day"], slot_start=row["slot_start"],
                                      slot_end=row["slot_end"], changed_at=iso(now))
            self._event(events, now, BOOKING_CHANGED, row, actor, from_day=old[0],
                         from_start=old[1])
            return 200, self.view(row, with_phone=True)
        return self._mutate(code_text, phone, fn, idem)

    # -- check-in at the kiosk or the counter -----------------------------------------------
    def _by_id_number(self, id_number, today: str, now: datetime,
                      site: str | None) -> dict:
        """Today's booking of a scanned CCCD (this site's first): the first one whose
        on-time window has not passed, else the last."""
        rows = self.store.bookings_by_id_hash(person_hash(self.store, id_number), today)
        if site is not None and any(r["site"] == site for r in rows):
            rows = [r for r in rows if r["site"] == site]
        usable = [r for r in rows if r["status"] == "booked"]
        if not usable:
            if rows:
                raise booking_error(rows[-1]["status"])
            raise NotFound("Không có lịch hẹn hôm nay cho số CCCD này (no booking today for "
                           "this CCCD)", code="booking_not_found")
        after = timedelta(minutes=self.config.booking.checkin_after_min)
        for r in usable:
            if self.at(r["day"], r["slot_start"]) + after >= now:
                return r
        return usable[-1]

    def checkin(self, *, code=None, id_number=None, site: str | None = None,
                actor: str | None = None, idem=None):
        """The booking's number: on time (window around the slot start) -> it waits from the
        slot start, channel "appointment"; later the same day -> a walk-in number, `late`."""
        if code is None and id_number is None:
            raise ValidationFailed("Hãy nhập mã đặt lịch hoặc quét CCCD (give code or "
                                   "id_number)", code="booking_code_invalid")
        found = self.find(code) if code is not None else None
        if id_number is not None:
            clean_id_number(id_number)
        b = self.config.booking
        self.sweep()

        def cmd(now, events):
            today = self.service.today(now)
            row = (self.store.booking(found["code"]) if found
                   else self._by_id_number(id_number, today, now, site))
            if site is not None and row["site"] != site:
                raise Conflict(f"Lịch hẹn này ở điểm {self.config.sites.get(row['site'])} "
                               f"(the booking is for another site)", code="booking_other_site")
            if row["status"] != "booked":
                raise booking_error(row["status"])
            start = self.at(row["day"], row["slot_start"])
            opens = start - timedelta(minutes=b.checkin_before_min)
            if row["day"] > today or now < opens:
                local = opens.astimezone(self.config.tz)
                raise Conflict(f"Chưa đến giờ nhận số: mời quay lại từ {local:%H:%M} ngày "
                               f"{local:%d/%m/%Y} (check-in opens at {local:%H:%M} on "
                               f"{local:%Y-%m-%d})", code="checkin_too_early",
                               details={"from": iso(opens)})
            if row["day"] < today:
                raise booking_error("no_show")
            late = now > start + timedelta(minutes=b.checkin_after_min)
            shown = {"code": row["code"], "late": late, "start": row["slot_start"],
                     "end": row["slot_end"]}
            issue = self.service.issue_command(
                procedure_code=row["procedure_code"], team_id=row["team_id"],
                channel="kiosk" if late else "appointment", actor=actor,
                wait_from=None if late else start, person=row["id_hash"], booking=shown)
            status, body = issue(now, events)
            self.store.update_booking(row["code"], status="late" if late else "checked_in",
                                      checked_in_at=iso(now), ticket_id=body["id"])
            # the ticket it became (the fold skips booking.* events, whatever their ticket)
            self._event(events, now, BOOKING_CHECKED_IN, row, actor, late=late,
                        ticket_id=body["id"], number=body["number"])
            return status, body

        return self.service.run(cmd, idem)

    # -- managers ---------------------------------------------------------------------------
    def report(self, site: str | None, day_from: str, day_to: str) -> list[dict]:
        """Per team and day: booked, checked in on time, late, no-shows, cancelled and the
        punctuality (on-time check-ins among the bookings that were due)."""
        today = self.service.today()
        with self.store.read():
            rows = self.store.booking_counts(site, day_from, day_to)
        out = []
        for r in rows:
            r = {k: (v or 0) if k not in ("day",) else v for k, v in r.items()}
            if r["day"] < today:  # not swept yet: a day over has no open bookings
                r["no_show"] += r["booked"]
                r["booked"] = 0
            due = r["checked_in"] + r["late"] + r["no_show"]
            try:
                team_name = self.config.team(r["team_id"]).name
            except ValidationFailed:
                team_name = f"Tổ {r['team_id']}"
            out.append({**r, "team_name": team_name, "due": due,
                        "punctuality": round(100 * r["checked_in"] / due) if due else None})
        return out
