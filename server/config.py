"""The centre's configuration: one TOML file (`centre.toml`) in the data folder.

Sites, teams (with number bands and the fields they receive), counters (with the teams they
serve, in their own order), opening hours, the priority policy and the wait target live
here. The admin pages edit this file; the server reloads it live.

Every setting is checked in one place, :func:`from_dict` (used by :func:`load` at start-up,
by the admin configuration route and by :meth:`Config.save`), before it is applied: types,
ranges, formats, the announcement placeholders, bands, references between sites, teams and
counters. A bad value is refused with :class:`~server.errors.ValidationFailed` (code
``bad_config``) whose message names the field in Vietnamese, with the English in
parentheses, and whose ``field`` attribute (and ``details["field"]``) is the path of the
setting, e.g. ``hours.mon[0]`` or ``teams[2].band``. The rules are listed in
docs/security.md ("Configuration validation").
"""

from __future__ import annotations

import re
import reprlib
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import tomli_w

from common.templates import MAX_WORDING_LEN, TemplateError, check_template
from common.text import nfc
from common.vocabulary import PRIORITY_CLASSES, PRIORITY_LABELS_VI  # noqa: F401 (re-exported)

from .errors import ValidationFailed

CONFIG_NAME = "centre.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Team:
    id: int
    name: str
    band: tuple[int, int]
    site: str = "main"
    name_en: str = ""
    fields: list[str] = field(default_factory=list)
    target_wait_min: int | None = None


@dataclass
class Counter:
    number: int
    teams: list[int]
    site: str = "main"
    name: str = ""


@dataclass
class PriorityPolicy:
    """How priority tickets go first without starving others.

    - "ratio": at most one priority call per `ratio` normal calls while normal tickets wait;
      a waiting priority ticket waits for at most `ratio` normal calls.
    - "aging": priority tickets count as having waited `bonus_s` seconds longer.
    - "strict": priority always first (may starve others; not recommended).
    """

    policy: str = "ratio"
    ratio: int = 2
    bonus_s: int = 600


#: the kinds of a visit's step (docs/visit.md "Several steps under one number"): a "fee"
#: step is skipped for a procedure without a fee
STEP_KINDS = ("receive", "fee", "result", "other")
STEP_KIND_LABELS = {"vi": {"receive": "Tiếp nhận", "fee": "Thu phí", "result": "Trả kết quả",
                           "other": "Bước tiếp theo"},
                    "en": {"receive": "Receiving", "fee": "Fee payment", "result": "Result return",
                           "other": "Next step"}}


@dataclass
class RouteStep:
    """One step of a route: the team that serves it and its kind (`name`: what the screens
    say, default the kind's label)."""

    team: int
    kind: str = "other"
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or STEP_KIND_LABELS["vi"][self.kind]


@dataclass
class Route:
    """A visit of several steps under one number (`[[routes]]`): for the listed procedures
    (by code), fields, or (`team_default`) every ticket first issued to the first step's
    team; a procedure's own route wins over its field's, the field's over the team's."""

    steps: list[RouteStep]
    name: str = ""
    procedures: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    team_default: bool = False


@dataclass
class BookingPolicy:
    """Appointments (`[booking]`, issue #15): which slots the phone page offers and the
    limits per person. Bookable places per team and slot: `capacity` less the
    `walk_in_percent` share kept for walk-ins and priority citizens (rounded in their
    favour). The salt of the phone and CCCD hashes is in the database, never here."""

    enabled: bool = True
    days_ahead: int = 7             # today .. today + days_ahead
    slot_minutes: int = 30          # slots tile each opening span from its start
    capacity: int = 4               # citizens a team serves per slot
    walk_in_percent: int = 50       # share of `capacity` never booked
    per_day: int = 2                # bookings per person (phone or CCCD) per day
    per_field: int = 1              # ... of them in one field
    tickets_per_field: int = 1      # numbers per scanned CCCD per field per day
    checkin_before_min: int = 30    # check-in opens this long before the slot start
    checkin_after_min: int = 15     # on time until this long after; later: a late walk-in

    @property
    def bookable(self) -> int:
        return self.capacity * (100 - self.walk_in_percent) // 100


@dataclass
class DossierSettings:
    """Dossier lookup (`[dossier]`, issue #15, docs/visit.md "Dossier lookup"): which adapter
    reads the province's one-stop information system, where, how long one lookup may take,
    the team whose counters return results (0: none), and the lookups per client address per
    minute; the cache, and the circuit breaker in front of the adapter."""

    adapter: str = "off"            # off | opencps | emulator (the OpenCPS-style emulator)
    base_url: str = ""              # e.g. https://motcua.example.gov.vn/o/rest/v2
    timeout_s: float = 3.0          # one lookup, everything included
    result_team: int = 0            # the result-return team (trả kết quả); 0: none
    rate_per_minute: int = 20       # lookups (and result tickets) per client address
    cache_s: int = 60               # an answer is reused this long (0: never)
    breaker_failures: int = 3       # failures in a row that open the breaker
    breaker_open_s: int = 30        # the adapter is not called this long once it is open


@dataclass
class Config:
    name: str = "Trung tâm Phục vụ Hành chính công"
    name_en: str = "Public Administration Service Centre"
    timezone: str = "Asia/Ho_Chi_Minh"
    public_url: str = "http://127.0.0.1:5000"
    target_wait_min: int = 15
    default_service_s: int = 300
    enforce_hours: bool = False
    hours: dict[str, list[list[str]]] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=lambda: {"main": "Trụ sở chính"})
    teams: list[Team] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)
    booking: BookingPolicy = field(default_factory=BookingPolicy)
    dossier: DossierSettings = field(default_factory=DossierSettings)
    routes: list[Route] = field(default_factory=list)
    notice: str = ""
    announcement_vi: str = "Mời công dân có số thứ tự {number} đến quầy số {counter}"
    announcement_en: str = "Ticket number {number}, please go to counter {counter}"
    announce_repeat: int = 1
    #: a "next" (or "call number") less than this many seconds after the counter's current
    #: call, while that ticket is only called, is a double press: 409 too_soon (0: off)
    call_guard_s: int = 3
    #: a ticket finished or marked absent by mistake can be called back this long
    call_back_s: int = 300
    #: a finished ticket can be rated from the citizen's side this long after its finish
    rating_window_s: int = 300
    demo: bool = False
    path: Path | None = None

    # -- lookups ---------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def team(self, team_id: int) -> Team:
        for t in self.teams:
            if t.id == team_id:
                return t
        raise ValidationFailed(f"Không có tổ số {team_id} (unknown team {team_id})",
                               code="unknown_team")

    def counter(self, number: int) -> Counter:
        for c in self.counters:
            if c.number == number:
                return c
        raise ValidationFailed(f"Không có quầy số {number} (unknown counter {number})",
                               code="unknown_counter")

    def counters_for_team(self, team_id: int) -> list[Counter]:
        return [c for c in self.counters if team_id in c.teams]

    def team_for_field(self, field_name: str) -> int | None:
        for t in self.teams:
            if field_name in t.fields:
                return t.id
        return None

    def route_for(self, procedure_code: str | None, field_name: str | None,
                  team_id: int) -> Route | None:
        """The step route of a ticket: its procedure's, else its field's, else the default
        of the team it was first issued to (None: a visit of one step)."""
        for test in (lambda r: procedure_code and procedure_code in r.procedures,
                     lambda r: field_name and field_name in r.fields,
                     lambda r: r.team_default and r.steps[0].team == team_id):
            for route in self.routes:
                if test(route):
                    return route
        return None

    def is_open(self, when: datetime) -> bool:
        """Whether the centre takes tickets at `when` (always, unless enforce_hours)."""
        if not self.enforce_hours:
            return True
        local = when.astimezone(self.tz)
        spans = self.hours.get(WEEKDAYS[local.weekday()], [])
        now = local.time()
        return any(time.fromisoformat(a) <= now < time.fromisoformat(b) for a, b in spans)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("path")
        data["teams"] = [{k: v for k, v in t.items() if v not in (None, "", [])}
                         for t in data["teams"]]
        for t in data["teams"]:
            t["band"] = list(t["band"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping, path: Path | None = None) -> Config:
        """A checked configuration from plain data (see the module function)."""
        return from_dict(data, path)

    def validate(self) -> None:
        """Raise `ValidationFailed` unless every setting of this object is acceptable."""
        validate(self)

    def save(self, path: Path | None = None) -> None:
        validate(self)  # never write a centre.toml that would refuse to start
        target = Path(path or self.path)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(tomli_w.dumps(self.to_dict()).encode("utf-8"))
        tmp.replace(target)
        self.path = target


# -- validation ------------------------------------------------------------------------------
#: The highest number the announcer can read out (display_board.vi_numbers.MAX_NUMBER). A hall
#: uses 4-digit bands (counter LED displays show 4 characters); a bigger band is allowed for
#: benchmarks and central halls that need more than 9,999 numbers a day.
MAX_TICKET_NUMBER = 999_999
MAX_TEAM_ID = 99
MAX_COUNTER_NUMBER = 999
MAX_SITES = 50
MAX_FIELDS_PER_TEAM = 500
MAX_TEAMS_PER_COUNTER = 20
MAX_SPANS_PER_DAY = 6
PRIORITY_POLICIES = ("ratio", "aging", "strict")
#: (lowest, highest) of every whole-number setting.
RANGES = {
    "target_wait_min": (1, 240),
    "default_service_s": (10, 7200),
    "announce_repeat": (1, 3),
    "call_guard_s": (0, 30),
    "call_back_s": (0, 3600),
    "rating_window_s": (30, 3600),
    "priority.ratio": (1, 20),
    "priority.bonus_s": (0, 7200),
    "booking.days_ahead": (0, 60),
    "booking.slot_minutes": (5, 240),
    "booking.capacity": (1, 500),
    "booking.walk_in_percent": (0, 95),
    "booking.per_day": (1, 10),
    "booking.per_field": (1, 10),
    "booking.tickets_per_field": (1, 20),
    "booking.checkin_before_min": (0, 240),
    "booking.checkin_after_min": (0, 240),
    "dossier.rate_per_minute": (1, 600),
    "dossier.cache_s": (0, 3600),
    "dossier.breaker_failures": (1, 100),
    "dossier.breaker_open_s": (1, 3600),
}
#: (shortest, longest) of every text setting, after surrounding spaces are stripped.
TEXT_LENGTHS = {
    "name": (1, 200), "name_en": (0, 200), "notice": (0, 500), "public_url": (1, 200),
    "timezone": (1, 64), "site_name": (1, 120), "team.name": (1, 120),
    "team.name_en": (0, 120), "team.field": (1, 200), "counter.name": (0, 60),
}
SITE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")

LABELS_VI = {
    "name": "Tên trung tâm", "name_en": "Tên trung tâm tiếng Anh", "timezone": "Múi giờ",
    "public_url": "Địa chỉ công khai (mã QR)", "target_wait_min": "Mục tiêu thời gian chờ",
    "default_service_s": "Thời gian phục vụ mặc định", "enforce_hours": "Chỉ phát số trong giờ",
    "hours": "Giờ làm việc", "sites": "Điểm phục vụ", "teams": "Tổ", "counters": "Quầy",
    "priority": "Chính sách ưu tiên", "routes": "Lộ trình nhiều bước", "notice": "Thông báo",
    "booking": "Đặt lịch hẹn",
    "dossier": "Tra cứu hồ sơ",
    "announcement_vi": "Lời đọc tiếng Việt", "announcement_en": "Lời đọc tiếng Anh",
    "announce_repeat": "Số lần đọc", "demo": "Chế độ trình diễn",
    "call_guard_s": "Thời gian chống bấm gọi hai lần",
    "call_back_s": "Thời gian được gọi lại số đã xong",
    "rating_window_s": "Thời gian nhận đánh giá",
}
TEAM_LABELS_VI = {
    "id": "số tổ", "name": "tên tổ", "name_en": "tên tiếng Anh", "band": "dải số",
    "site": "điểm phục vụ", "fields": "lĩnh vực", "target_wait_min": "mục tiêu thời gian chờ",
}
COUNTER_LABELS_VI = {"number": "số quầy", "teams": "các tổ phục vụ", "site": "điểm phục vụ",
                     "name": "tên quầy"}
PRIORITY_FIELD_LABELS_VI = {"policy": "cách ưu tiên", "ratio": "tỉ lệ",
                            "bonus_s": "thời gian cộng thêm"}
DAY_LABELS_VI = {"mon": "thứ Hai", "tue": "thứ Ba", "wed": "thứ Tư", "thu": "thứ Năm",
                 "fri": "thứ Sáu", "sat": "thứ Bảy", "sun": "Chủ nhật"}
#: Control characters (Unicode Cc), lone surrogates (Cs) and bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069]")


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 40, 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def _show(value: object) -> str:
    """A short, printable rendering of a refused value for a message (bounded in length
    and depth, whatever was sent; lone surrogates and control characters escaped)."""
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _At:
    """Where a setting is: its path (`teams[2].band`) and its Vietnamese label."""

    field: str
    label: str

    def key(self, name: str, label: str | None = None) -> _At:
        name = name or '""'  # an empty key still has a path
        label = label or name
        return _At(f"{self.field}.{name}" if self.field else name,
                   f"{self.label}, {label}" if self.label else label)

    def item(self, index: int, label: str = "") -> _At:
        return _At(f"{self.field}[{index}]", f"{self.label} {label or f'mục {index + 1}'}")

    def fail(self, vi: str, en: str) -> ValidationFailed:
        where = f"{self.label} ({self.field})" if self.field else "Cấu hình"
        err = ValidationFailed(
            f"Cấu hình không hợp lệ – {where}: {vi} (invalid configuration – "
            f"{self.field or 'configuration'}: {en})",
            code="bad_config", details={"field": self.field})
        err.field = self.field
        return err


_TOP = _At("", "")


def _top(name: str) -> _At:
    return _TOP.key(name, LABELS_VI.get(name, name))


def _int(at: _At, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise at.fail(f"phải là số nguyên từ {lo} đến {hi}, không phải {_show(value)}",
                      f"must be a whole number from {lo} to {hi}, not {_show(value)}")
    return value


def _bool(at: _At, value: object) -> bool:
    if not isinstance(value, bool):
        raise at.fail(f"phải là true hoặc false, không phải {_show(value)}",
                      f"must be true or false, not {_show(value)}")
    return value


def _text(at: _At, value: object, limits: tuple[int, int], multiline: bool = False) -> str:
    """Text without control characters (a line break only where `multiline`), NFC,
    surrounding spaces stripped, of a length within `limits`."""
    lo, hi = limits
    if not isinstance(value, str):
        raise at.fail(f"phải là chữ, không phải {_show(value)}",
                      f"must be text, not {_show(value)}")
    bad = _CONTROL.search(value.replace("\n", " ") if multiline else value)
    if bad:
        raise at.fail(f"có ký tự điều khiển {_show(bad.group())}",
                      f"contains the control character {_show(bad.group())}")
    text = nfc(value).strip()
    if not lo <= len(text) <= hi:
        if lo and not text:
            raise at.fail("không được để trống", "must not be empty")
        raise at.fail(f"dài {len(text)} ký tự; được từ {lo} đến {hi}",
                      f"is {len(text)} characters long; {lo} to {hi} allowed")
    return text


def _mapping(at: _At, value: object, allowed: tuple[str, ...] | None = None) -> Mapping:
    if not isinstance(value, Mapping):
        raise at.fail(f"phải là một bảng (mục: giá trị), không phải {_show(value)}",
                      f"must be a table (key: value), not {_show(value)}")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise at.key(unknown[0], f"mục “{unknown[0]}”").fail(
                f"không có mục này; chỉ có: {', '.join(allowed)}",
                f"unknown setting; known: {', '.join(allowed)}")
    return value


def _list(at: _At, value: object, most: int, least: int = 0) -> list:
    if not isinstance(value, list | tuple):
        raise at.fail(f"phải là một danh sách, không phải {_show(value)}",
                      f"must be a list, not {_show(value)}")
    if not least <= len(value) <= most:
        raise at.fail(f"có {len(value)} mục; được từ {least} đến {most}",
                      f"has {len(value)} entries; {least} to {most} allowed")
    return list(value)


def _required(at: _At, data: Mapping, key: str, labels: dict[str, str]) -> object:
    if key not in data:
        raise at.key(key, labels.get(key)).fail("còn thiếu", "is missing")
    return data[key]


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(at: _At, value: object) -> str:
    name = _text(at, value, TEXT_LENGTHS["timezone"])
    if name not in _timezones():
        raise at.fail(f"không có múi giờ {_show(name)}; ví dụ Asia/Ho_Chi_Minh",
                      f"unknown time zone {_show(name)}; e.g. Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise at.fail(f"không đọc được múi giờ {_show(name)}",
                      f"time zone {_show(name)} cannot be loaded") from exc
    return name


def _public_url(at: _At, value: object) -> str:
    url = _text(at, value, TEXT_LENGTHS["public_url"])
    vi_hint, en_hint = "ví dụ https://qms.example.gov.vn", "e.g. https://qms.example.gov.vn"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (parts is None or not port_ok or parts.scheme not in ("http", "https")
            or not parts.hostname or any(ch.isspace() for ch in url)):
        raise at.fail(f"phải là địa chỉ http:// hoặc https:// có tên máy; {vi_hint}",
                      f"must be an http:// or https:// address with a host name; {en_hint}")
    if parts.username is not None or parts.password is not None:
        raise at.fail("không được chứa tên đăng nhập hay mật khẩu (nó được in trên vé)",
                      "must not hold a user name or password (it is printed on tickets)")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise at.fail("không được có phần ? hay # (đường dẫn vé được nối vào sau)",
                      "must not have a ? or # part (the ticket path is appended to it)")
    return url


def _announcement(at: _At, value: object) -> str:
    if not isinstance(value, str):
        raise at.fail(f"phải là chữ, không phải {_show(value)}",
                      f"must be text, not {_show(value)}")
    text = nfc(value).strip()
    if not text:
        return ""  # the default wording
    try:
        check_template(text, MAX_WORDING_LEN)
    except TemplateError as exc:
        raise at.fail(exc.vi, exc.en) from None
    return text


def _hours(at: _At, value: object) -> dict[str, list[list[str]]]:
    days = _mapping(at, value, WEEKDAYS)
    out: dict[str, list[list[str]]] = {}
    for day, spans in days.items():
        day_at = at.key(day, DAY_LABELS_VI[day])
        checked = []
        for i, span in enumerate(_list(day_at, spans, MAX_SPANS_PER_DAY)):
            span_at = day_at.item(i, f"khoảng {i + 1}")
            pair = _list(span_at, span, 2, 2)
            for hhmm in pair:
                if not isinstance(hhmm, str) or not HHMM.fullmatch(hhmm):
                    raise span_at.fail(
                        f"{_show(hhmm)} không phải giờ dạng HH:MM (00:00 đến 23:59), ví dụ "
                        f"[\"07:30\", \"11:30\"]",
                        f"{_show(hhmm)} is not a time of the form HH:MM (00:00 to 23:59), "
                        f"e.g. [\"07:30\", \"11:30\"]")
            if pair[0] >= pair[1]:
                raise span_at.fail(f"giờ mở {pair[0]} phải trước giờ đóng {pair[1]}",
                                   f"opening {pair[0]} must be before closing {pair[1]}")
            checked.append([pair[0], pair[1]])
        ordered = sorted(checked)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b[0] < a[1]:
                raise day_at.fail(f"các khoảng {a[0]}–{a[1]} và {b[0]}–{b[1]} chồng lên nhau",
                                  f"spans {a[0]}-{a[1]} and {b[0]}-{b[1]} overlap")
        out[day] = checked
    return out


def _sites(at: _At, value: object) -> dict[str, str]:
    sites = _mapping(at, value)
    if not 1 <= len(sites) <= MAX_SITES:
        raise at.fail(f"phải có từ 1 đến {MAX_SITES} điểm", f"1 to {MAX_SITES} sites allowed")
    out = {}
    for key, name in sites.items():
        if not isinstance(key, str) or not SITE_ID.fullmatch(key):
            raise at.key(str(key)).fail(
                f"mã điểm {_show(key)} chỉ gồm chữ thường không dấu, chữ số, - và _ "
                "(tối đa 32 ký tự)",
                f"site id {_show(key)} may hold only a-z, 0-9, - and _ (at most 32)")
        out[key] = _text(at.key(key), name, TEXT_LENGTHS["site_name"])
    return out


def _team(at: _At, value: object, sites: dict[str, str]) -> Team:
    data = _mapping(at, value, tuple(TEAM_LABELS_VI))

    def sub(key: str) -> _At:
        return at.key(key, TEAM_LABELS_VI[key])

    team_id = _int(sub("id"), _required(at, data, "id", TEAM_LABELS_VI), 1, MAX_TEAM_ID)
    name = _text(sub("name"), _required(at, data, "name", TEAM_LABELS_VI),
                 TEXT_LENGTHS["team.name"])
    band = _list(sub("band"), _required(at, data, "band", TEAM_LABELS_VI), 2, 2)
    for n in band:
        _int(sub("band"), n, 1, MAX_TICKET_NUMBER)
    if band[0] > band[1]:
        raise sub("band").fail(f"số đầu {band[0]} lớn hơn số cuối {band[1]}",
                               f"first number {band[0]} is above the last {band[1]}")
    site = data.get("site", "main")
    if not isinstance(site, str) or site not in sites:
        raise sub("site").fail(f"không có điểm phục vụ {_show(site)}",
                               f"unknown site {_show(site)}")
    fields = []
    for i, f in enumerate(_list(sub("fields"), data.get("fields", []), MAX_FIELDS_PER_TEAM)):
        text = _text(sub("fields").item(i), f, TEXT_LENGTHS["team.field"])
        if text in fields:
            raise sub("fields").item(i).fail(f"lĩnh vực {_show(text)} bị lặp lại",
                                             f"field {_show(text)} is listed twice")
        fields.append(text)
    target = data.get("target_wait_min")
    if target is not None:
        target = _int(sub("target_wait_min"), target, *RANGES["target_wait_min"])
    return Team(team_id, name, (band[0], band[1]), site=site,
                name_en=_text(sub("name_en"), data.get("name_en", ""),
                              TEXT_LENGTHS["team.name_en"]),
                fields=fields, target_wait_min=target)


def _teams(at: _At, value: object, sites: dict[str, str]) -> list[Team]:
    teams: list[Team] = []
    for i, raw in enumerate(_list(at, value, MAX_TEAM_ID)):
        item = at.item(i, f"thứ {i + 1}")
        team = _team(item, raw, sites)
        for other in teams:
            if other.id == team.id:
                raise item.key("id", "số tổ").fail(f"số tổ {team.id} bị trùng",
                                                   f"team id {team.id} is used twice")
            if other.site == team.site and not (team.band[1] < other.band[0]
                                                or other.band[1] < team.band[0]):
                raise item.key("band", "dải số").fail(
                    f"dải số {team.band[0]}–{team.band[1]} chồng lên dải "
                    f"{other.band[0]}–{other.band[1]} của tổ {other.id}",
                    f"number band {team.band[0]}-{team.band[1]} overlaps team {other.id}'s "
                    f"{other.band[0]}-{other.band[1]}")
            shared = set(team.fields) & set(other.fields)
            if shared:
                name = sorted(shared)[0]
                raise item.key("fields", "lĩnh vực").fail(
                    f"lĩnh vực {_show(name)} đã thuộc tổ {other.id}",
                    f"field {_show(name)} already goes to team {other.id}")
        teams.append(team)
    return teams


def _counter(at: _At, value: object, sites: dict[str, str], teams: list[Team]) -> Counter:
    data = _mapping(at, value, tuple(COUNTER_LABELS_VI))

    def sub(key: str) -> _At:
        return at.key(key, COUNTER_LABELS_VI[key])

    number = _int(sub("number"), _required(at, data, "number", COUNTER_LABELS_VI), 1,
                  MAX_COUNTER_NUMBER)
    site = data.get("site", "main")
    if not isinstance(site, str) or site not in sites:
        raise sub("site").fail(f"không có điểm phục vụ {_show(site)}",
                               f"unknown site {_show(site)}")
    by_id = {t.id: t for t in teams}
    served: list[int] = []
    raw = _list(sub("teams"), _required(at, data, "teams", COUNTER_LABELS_VI),
                MAX_TEAMS_PER_COUNTER, 1)
    for i, tid in enumerate(raw):
        item = sub("teams").item(i)
        if isinstance(tid, bool) or not isinstance(tid, int) or tid not in by_id:
            raise item.fail(f"không có tổ {_show(tid)}", f"unknown team {_show(tid)}")
        if tid in served:
            raise item.fail(f"tổ {tid} bị lặp lại", f"team {tid} is listed twice")
        if by_id[tid].site != site:
            raise item.fail(f"tổ {tid} thuộc điểm {by_id[tid].site!r}, quầy thuộc điểm "
                            f"{site!r}",
                            f"team {tid} is at site {by_id[tid].site!r}, the counter at "
                            f"{site!r}")
        served.append(tid)
    return Counter(number, served, site=site,
                   name=_text(sub("name"), data.get("name", ""), TEXT_LENGTHS["counter.name"]))


def _counters(at: _At, value: object, sites: dict[str, str], teams: list[Team]) -> list[Counter]:
    counters: list[Counter] = []
    for i, raw in enumerate(_list(at, value, MAX_COUNTER_NUMBER)):
        item = at.item(i, f"thứ {i + 1}")
        counter = _counter(item, raw, sites, teams)
        if any(c.number == counter.number for c in counters):
            raise item.key("number", "số quầy").fail(f"số quầy {counter.number} bị trùng",
                                                     f"counter {counter.number} is used twice")
        counters.append(counter)
    return counters


def _priority(at: _At, value: object) -> PriorityPolicy:
    data = _mapping(at, value, tuple(PRIORITY_FIELD_LABELS_VI))
    default = PriorityPolicy()
    policy = data.get("policy", default.policy)
    if policy not in PRIORITY_POLICIES:
        raise at.key("policy", PRIORITY_FIELD_LABELS_VI["policy"]).fail(
            f"phải là một trong {', '.join(PRIORITY_POLICIES)}, không phải {_show(policy)}",
            f"must be one of {', '.join(PRIORITY_POLICIES)}, not {_show(policy)}")
    return PriorityPolicy(
        policy,
        _int(at.key("ratio", PRIORITY_FIELD_LABELS_VI["ratio"]),
             data.get("ratio", default.ratio), *RANGES["priority.ratio"]),
        _int(at.key("bonus_s", PRIORITY_FIELD_LABELS_VI["bonus_s"]),
             data.get("bonus_s", default.bonus_s), *RANGES["priority.bonus_s"]))


MAX_ROUTES = 200
MAX_ROUTE_STEPS = 6
MAX_ROUTE_SELECTORS = 500
ROUTE_LABELS_VI = {"steps": "các bước", "name": "tên lộ trình", "procedures": "mã thủ tục",
                   "fields": "lĩnh vực", "team_default": "mặc định của tổ"}
STEP_LABELS_VI = {"team": "tổ", "kind": "loại bước", "name": "tên bước"}


def _route_step(at: _At, value: object, by_id: dict[int, Team],
                counters: list[Counter]) -> RouteStep:
    data = _mapping(at, value, tuple(STEP_LABELS_VI))
    team_at = at.key("team", STEP_LABELS_VI["team"])
    team = _required(at, data, "team", STEP_LABELS_VI)
    if isinstance(team, bool) or not isinstance(team, int) or team not in by_id:
        raise team_at.fail(f"không có tổ {_show(team)} (tổ đã xoá hoặc chưa tạo)",
                           f"unknown team {_show(team)} (deleted or never created)")
    if not any(team in c.teams for c in counters):
        raise team_at.fail(f"tổ {team} đang đóng: không quầy nào phục vụ tổ này",
                           f"team {team} is closed: no counter serves it")
    kind = data.get("kind", "other")
    if kind not in STEP_KINDS:
        raise at.key("kind", STEP_LABELS_VI["kind"]).fail(
            f"phải là một trong {', '.join(STEP_KINDS)}, không phải {_show(kind)}",
            f"must be one of {', '.join(STEP_KINDS)}, not {_show(kind)}")
    name = _text(at.key("name", STEP_LABELS_VI["name"]), data.get("name", ""), (0, 60))
    return RouteStep(team, kind, name)


def _route(at: _At, value: object, teams: list[Team], counters: list[Counter]) -> Route:
    data = _mapping(at, value, tuple(ROUTE_LABELS_VI))

    def sub(key: str) -> _At:
        return at.key(key, ROUTE_LABELS_VI[key])

    by_id = {t.id: t for t in teams}
    raw = _list(sub("steps"), _required(at, data, "steps", ROUTE_LABELS_VI), MAX_ROUTE_STEPS)
    if len(raw) < 2:
        raise sub("steps").fail("phải có ít nhất 2 bước (một bước thì không cần lộ trình)",
                                "needs at least 2 steps (one step needs no route)")
    steps = [_route_step(sub("steps").item(i, f"bước {i + 1}"), s, by_id, counters)
             for i, s in enumerate(raw)]
    for i, step in enumerate(steps):
        item = sub("steps").item(i, f"bước {i + 1}")
        if i and steps[i - 1].team == step.team:
            raise item.fail(f"tổ {step.team} lặp lại liền nhau (bước {i} và {i + 1})",
                            f"team {step.team} twice in a row (steps {i} and {i + 1})")
        earlier = [j for j in range(i) if steps[j].team == step.team]
        if earlier:
            raise item.fail(f"quay lại tổ {step.team} của bước {earlier[0] + 1}: lộ trình "
                            f"không được có vòng lặp",
                            f"goes back to team {step.team} of step {earlier[0] + 1}: a route "
                            f"must not loop")
        if by_id[step.team].site != by_id[steps[0].team].site:
            raise item.fail(f"tổ {step.team} ở điểm phục vụ khác bước 1",
                            f"team {step.team} is at another site than step 1")
    codes = [_text(sub("procedures").item(i), c, (1, 50)) for i, c in
             enumerate(_list(sub("procedures"), data.get("procedures", []),
                             MAX_ROUTE_SELECTORS))]
    fields = [_text(sub("fields").item(i), f, TEXT_LENGTHS["team.field"]) for i, f in
              enumerate(_list(sub("fields"), data.get("fields", []), MAX_ROUTE_SELECTORS))]
    default = _bool(sub("team_default"), data.get("team_default", False))
    if not (codes or fields or default):
        raise at.fail("chưa nói lộ trình dùng cho thủ tục, lĩnh vực hay tổ nào (procedures, "
                      "fields hoặc team_default = true)",
                      "applies to nothing: give procedures, fields or team_default = true")
    for i, name in enumerate(fields):
        owner = next((t.id for t in teams if name in t.fields), None)
        if owner is not None and owner != steps[0].team:
            raise sub("fields").item(i).fail(
                f"lĩnh vực {_show(name)} do tổ {owner} tiếp nhận, bước 1 phải là tổ {owner}",
                f"field {_show(name)} is received by team {owner}; step 1 must be that team")
    return Route(steps, _text(sub("name"), data.get("name", ""), (0, 120)), codes, fields,
                 default)


def _routes(at: _At, value: object, teams: list[Team], counters: list[Counter]) -> list[Route]:
    routes: list[Route] = []
    for i, raw in enumerate(_list(at, value, MAX_ROUTES)):
        item = at.item(i, f"thứ {i + 1}")
        route = _route(item, raw, teams, counters)
        for j, other in enumerate(routes):
            for key, label in (("procedures", "thủ tục"), ("fields", "lĩnh vực")):
                shared = sorted(set(getattr(route, key)) & set(getattr(other, key)))
                if shared:
                    raise item.key(key, ROUTE_LABELS_VI[key]).fail(
                        f"{label} {_show(shared[0])} đã có lộ trình thứ {j + 1}",
                        f"{_show(shared[0])} already has route {j + 1}")
            if (route.team_default and other.team_default
                    and route.steps[0].team == other.steps[0].team):
                raise item.key("team_default", ROUTE_LABELS_VI["team_default"]).fail(
                    f"tổ {route.steps[0].team} đã có lộ trình mặc định (thứ {j + 1})",
                    f"team {route.steps[0].team} already has a default route ({j + 1})")
        routes.append(route)
    return routes


BOOKING_FIELD_LABELS_VI = {
    "enabled": "bật đặt lịch", "days_ahead": "số ngày được đặt trước",
    "slot_minutes": "độ dài khung giờ (phút)", "capacity": "số người mỗi khung giờ",
    "walk_in_percent": "phần trăm dành cho người đến trực tiếp",
    "per_day": "số lịch hẹn mỗi người mỗi ngày", "per_field": "số lịch hẹn mỗi lĩnh vực",
    "tickets_per_field": "số thứ tự mỗi người mỗi lĩnh vực",
    "checkin_before_min": "nhận số sớm nhất (phút trước giờ hẹn)",
    "checkin_after_min": "nhận số muộn nhất (phút sau giờ hẹn)",
}


def _booking(at: _At, value: object) -> BookingPolicy:
    data = _mapping(at, value, tuple(BOOKING_FIELD_LABELS_VI))
    default = BookingPolicy()
    kw = {}
    for key, label in BOOKING_FIELD_LABELS_VI.items():
        raw = data.get(key, getattr(default, key))
        sub = at.key(key, label)
        kw[key] = _bool(sub, raw) if key == "enabled" else _int(sub, raw,
                                                                 *RANGES[f"booking.{key}"])
    policy = BookingPolicy(**kw)
    if policy.enabled and policy.bookable < 1:
        raise at.key("walk_in_percent", BOOKING_FIELD_LABELS_VI["walk_in_percent"]).fail(
            "không còn chỗ nào để đặt lịch với số người mỗi khung giờ này",
            "leaves no bookable place with this capacity")
    return policy


DOSSIER_ADAPTERS = ("off", "opencps", "emulator")
DOSSIER_TIMEOUT_S = (0.2, 30.0)
DOSSIER_FIELD_LABELS_VI = {
    "adapter": "cách kết nối", "base_url": "địa chỉ hệ thống một cửa",
    "timeout_s": "thời gian chờ tối đa (giây)", "result_team": "tổ trả kết quả",
    "rate_per_minute": "số lần tra cứu mỗi phút", "cache_s": "thời gian nhớ kết quả (giây)",
    "breaker_failures": "số lần lỗi liên tiếp thì tạm ngắt",
    "breaker_open_s": "thời gian tạm ngắt (giây)",
}


def _dossier(at: _At, value: object, teams: list[Team]) -> DossierSettings:
    data = _mapping(at, value, tuple(DOSSIER_FIELD_LABELS_VI))
    default = DossierSettings()

    def sub(key: str) -> _At:
        return at.key(key, DOSSIER_FIELD_LABELS_VI[key])

    adapter = data.get("adapter", default.adapter)
    if adapter not in DOSSIER_ADAPTERS:
        raise sub("adapter").fail(
            f"phải là một trong {', '.join(DOSSIER_ADAPTERS)}, không phải {_show(adapter)}",
            f"must be one of {', '.join(DOSSIER_ADAPTERS)}, not {_show(adapter)}")
    base_url = _text(sub("base_url"), data.get("base_url", default.base_url), (0, 300))
    if base_url or adapter != "off":
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname \
                or any(ch.isspace() for ch in base_url) or parts.query or parts.fragment:
            raise sub("base_url").fail(
                "phải là địa chỉ http:// hoặc https:// của hệ thống một cửa, ví dụ "
                "https://motcua.example.gov.vn/o/rest/v2",
                "must be the http:// or https:// address of the one-stop system, e.g. "
                "https://motcua.example.gov.vn/o/rest/v2")
    timeout = data.get("timeout_s", default.timeout_s)
    lo, hi = DOSSIER_TIMEOUT_S
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
            or not lo <= timeout <= hi:
        raise sub("timeout_s").fail(f"phải là số giây từ {lo} đến {hi}, không phải "
                                    f"{_show(timeout)}",
                                    f"must be {lo} to {hi} seconds, not {_show(timeout)}")
    team = _int(sub("result_team"), data.get("result_team", default.result_team), 0,
                MAX_TEAM_ID)
    if team and not any(t.id == team for t in teams):
        raise sub("result_team").fail(f"không có tổ {team}", f"unknown team {team}")
    kw = {key: _int(sub(key), data.get(key, getattr(default, key)), *RANGES[f"dossier.{key}"])
          for key in ("rate_per_minute", "cache_s", "breaker_failures", "breaker_open_s")}
    return DossierSettings(adapter, base_url, float(timeout), team, **kw)


def from_dict(data: Mapping, path: Path | None = None) -> Config:
    """A configuration from plain data (centre.toml, or the admin page's JSON), every
    setting checked; `ValidationFailed` (code `bad_config`, `.field`) names the first bad
    one. Missing settings take their defaults; texts are NFC and stripped."""
    top = _mapping(_TOP, data, tuple(CONFIG_KEYS))
    kw: dict = {}

    def get(key: str):
        return top[key] if key in top else CONFIG_DEFAULTS[key]

    kw["name"] = _text(_top("name"), get("name"), TEXT_LENGTHS["name"])
    kw["name_en"] = _text(_top("name_en"), get("name_en"), TEXT_LENGTHS["name_en"])
    kw["timezone"] = _timezone(_top("timezone"), get("timezone"))
    kw["public_url"] = _public_url(_top("public_url"), get("public_url"))
    for key in ("target_wait_min", "default_service_s", "announce_repeat", "call_guard_s",
                "call_back_s", "rating_window_s"):
        kw[key] = _int(_top(key), get(key), *RANGES[key])
    kw["enforce_hours"] = _bool(_top("enforce_hours"), get("enforce_hours"))
    kw["demo"] = _bool(_top("demo"), get("demo"))
    kw["hours"] = _hours(_top("hours"), get("hours"))
    if kw["enforce_hours"] and not any(kw["hours"].values()):
        raise _top("enforce_hours").fail(
            "đang bật nhưng chưa có giờ làm việc nào: không phát được số nào",
            "is on but no opening hours are set: no ticket could ever be issued")
    kw["sites"] = _sites(_top("sites"), get("sites"))
    kw["teams"] = _teams(_top("teams"), get("teams"), kw["sites"])
    kw["counters"] = _counters(_top("counters"), get("counters"), kw["sites"], kw["teams"])
    kw["routes"] = _routes(_top("routes"), get("routes"), kw["teams"], kw["counters"])
    kw["priority"] = _priority(_top("priority"), get("priority"))
    kw["booking"] = _booking(_top("booking"), get("booking"))
    kw["dossier"] = _dossier(_top("dossier"), get("dossier"), kw["teams"])
    kw["notice"] = _text(_top("notice"), get("notice"), TEXT_LENGTHS["notice"], multiline=True)
    for key in ("announcement_vi", "announcement_en"):
        kw[key] = _announcement(_top(key), get(key))
    return Config(**kw, path=path)


def validate(cfg: Config) -> None:
    """Raise `ValidationFailed` unless every setting of `cfg` passes :func:`from_dict`."""
    try:
        data = cfg.to_dict()
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise _TOP.fail(f"không đọc được: {_show(exc)}", f"cannot be read: {_show(exc)}") \
            from exc
    from_dict(data)


def load(data_dir: Path) -> Config:
    """The centre's configuration from `data_dir/centre.toml`; a file that is not valid TOML
    or a bad setting raises `ValidationFailed` naming the file and the setting (the server
    refuses to start)."""
    path = Path(data_dir) / CONFIG_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `qms init` first")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path}: không đọc được tệp cấu hình (not a valid TOML "
                               f"file: {exc})", code="bad_config",
                               details={"file": str(path)}) from exc
    try:
        return from_dict(data, path=path)
    except ValidationFailed as err:
        failed = ValidationFailed(f"{path}: {err.message}", code=err.code,
                                  details={**err.details, "file": str(path)})
        failed.field = getattr(err, "field", "")
        raise failed from None


#: The settings of centre.toml and their defaults.
CONFIG_KEYS = tuple(f for f in Config.__dataclass_fields__ if f != "path")
CONFIG_DEFAULTS = {k: v for k, v in asdict(Config()).items() if k != "path"}
