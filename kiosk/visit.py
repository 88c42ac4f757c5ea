"""The citizen's visit at the kiosk beyond a walk-in number (issue #15), without Kivy.

* `route_scan(scan, screen)`: what the kiosk does with a scan (`common.cccd.classify_scan`):
  check in by booking code or by CCCD number, remember a scanned card for the walk-in path
  (elderly priority offer, the per-person limit), look a dossier up, or explain a bad scan;
* `Person`: the scanned card held in memory for one citizen's visit only (cleared on Home,
  idle and after the ticket) - nothing is written anywhere on the kiosk;
* `Command`: one check-in / result-number intent with its Idempotency-Key, reused on retry
  (a retry after a lost answer never gives a second number);
* `CodeEntry` and `DossierForm`: the on-screen keyboards' text for a booking code and for a
  dossier code + lookup key, checked with `common.booking_code` / `common.dossier`;
* wording helpers for the screens (`person_line`, `booking_line`, `dossier_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from common import booking_code
from common.cccd import CccdCard, CccdError, Scan
from common.dossier import normalise_code, normalise_key
from qmsclient import new_key

from .i18n import tr

ELDERLY = "elderly"
ELDERLY_AGE = 60                 # default of the kiosk setting `elderly_age`

BOOKING_ROWS = (tuple("34679"), tuple("ACDEFHJK"), tuple("MNPRTUVW"), tuple("XY"))
DOSSIER_ROWS = (tuple("1234567890"), tuple("QWERTYUIOP"), tuple("ASDFGHJKL") + (".",),
                tuple("ZXCVBNM") + ("-",))
BACKSPACE, CLEAR = "backspace", "clear"
MAX_DOSSIER_CODE = 40            # characters typed for a dossier code (an agency code is <= 27)
MAX_KEY = 12                     # characters of a lookup key (common.dossier.KEY_MAX)


# --------------------------------------------------------------------------- scans


def route_scan(scan: Scan, screen: str) -> tuple[str, dict]:
    """(action, arguments) for a classified scan on `screen`:

    ``("checkin", {"code": ...})`` a booking QR or code, anywhere;
    ``("checkin", {"id_number": ...})`` a card scanned on the check-in screen;
    ``("person", {"card": ...})`` a card scanned elsewhere (the walk-in path);
    ``("lookup", {"code", "key"})`` a dossier receipt, anywhere;
    ``("error", {"error": CccdError})`` anything unusable.
    """
    if scan.error is not None:
        return "error", {"error": scan.error}
    if scan.kind == "booking":
        return "checkin", {"code": scan.booking_code}
    if scan.kind == "dossier":
        return "lookup", {"code": scan.dossier_code, "key": scan.dossier_key}
    if scan.kind == "cccd" and scan.card is not None:
        if screen == "checkin":
            return "checkin", {"id_number": scan.card.number}
        return "person", {"card": scan.card}
    return "error", {"error": CccdError("not_cccd")}


@dataclass
class Person:
    """A scanned card, for one visit, in memory only."""

    card: CccdCard
    today: date
    elderly_age: int = ELDERLY_AGE

    @property
    def age(self) -> int:
        return self.card.age(self.today)

    @property
    def elderly(self) -> bool:
        return self.card.is_elderly(self.today, self.elderly_age)

    def line(self, lang: str = "vi") -> str:
        return tr("person_line", lang, number=self.card.masked_number,
                  name=self.card.masked_name, age=self.age)


def offers_elderly(person: Person | None, priorities: list[str] | tuple[str, ...]) -> bool:
    """The elderly priority is offered when the card says so and the kiosk offers the class."""
    return person is not None and person.elderly and ELDERLY in priorities


# --------------------------------------------------------------------------- commands


class Command:
    """One intent (check in with this code, take the result number for this dossier) and its
    Idempotency-Key: the same intent after a failure is sent with the same key; a tap while
    one is in flight is ignored."""

    def __init__(self, key_factory=new_key):
        self.key_factory = key_factory
        self.what: tuple | None = None
        self.key: str | None = None
        self.busy = False
        self.attempts = 0
        self.ignored = 0

    def begin(self, what: tuple) -> str | None:
        if self.busy:
            self.ignored += 1
            return None
        if what != self.what or self.key is None:
            self.what, self.key, self.attempts = what, self.key_factory(), 0
        self.busy = True
        self.attempts += 1
        return self.key

    def succeeded(self) -> None:
        self.busy, self.what, self.key = False, None, None

    def failed(self, retry_same: bool) -> None:
        """`retry_same`: the server may have done it (no answer, 5xx): keep the key."""
        self.busy = False
        if not retry_same:
            self.what, self.key = None, None

    def reset(self) -> None:
        if not self.busy:
            self.what, self.key, self.attempts = None, None, 0


# --------------------------------------------------------------------------- typing


class CodeEntry:
    """A booking code typed on the kiosk's keyboard (only the code's alphabet)."""

    def __init__(self) -> None:
        self.text = ""

    def press(self, key: str) -> str:
        if key == BACKSPACE:
            self.text = self.text[:-1]
        elif key == CLEAR:
            self.text = ""
        elif key in booking_code.ALPHABET and len(self.text) < booking_code.LENGTH:
            self.text += key
        return self.text

    @property
    def shown(self) -> str:
        """'K7M-3PX' (groups of three, as printed)."""
        return self.text[:3] + ("-" + self.text[3:] if len(self.text) > 3 else "")

    @property
    def code(self) -> str | None:
        return booking_code.normalise(self.text)


class FormError(ValueError):
    """A dossier form not ready to send: `key` names the wording (kiosk.visit_text)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


class DossierForm:
    """The dossier code and the lookup key typed on the kiosk (one field active at a time)."""

    def __init__(self) -> None:
        self.code_text = ""
        self.key_text = ""
        self.field = "code"

    def press(self, key: str) -> None:
        value = self.code_text if self.field == "code" else self.key_text
        limit = MAX_DOSSIER_CODE if self.field == "code" else MAX_KEY
        if key == BACKSPACE:
            value = value[:-1]
        elif key == CLEAR:
            value = ""
        elif len(key) == 1 and len(value) < limit and (key.isalnum() or
                                                      (self.field == "code" and key in ".-")):
            value += key.upper()
        if self.field == "code":
            self.code_text = value
        else:
            self.key_text = value

    def fill(self, code: str, key: str | None) -> None:
        """From a scanned receipt: the code, and the key when the QR carries it."""
        self.code_text, self.key_text = code, key or ""
        self.field = "key" if not key else "code"

    def clear(self) -> None:
        self.code_text = self.key_text = ""
        self.field = "code"

    def check(self, today: date | None = None) -> tuple[str, str]:
        code = normalise_code(self.code_text, today)
        if code is None:
            raise FormError("lookup_bad_code")
        key = normalise_key(self.key_text)
        if key is None:
            raise FormError("lookup_bad_key")
        return code, key


# --------------------------------------------------------------------------- wording


def day_text(value: str | None) -> str:
    """'2023-06-15' -> '15/06/2023' (as on the receipt); anything else as it came."""
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d/%m/%Y")
    except (TypeError, ValueError):
        return str(value or "")


def booking_line(ticket: dict, lang: str = "vi") -> str:
    """The booking's slot for a checked-in ticket ('Lịch hẹn 08:00–08:30'), or ''."""
    booking = ticket.get("booking") if isinstance(ticket, dict) else None
    if not isinstance(booking, dict) or not booking.get("start"):
        return ""
    key = "checkin_late" if booking.get("late") else "checkin_slot"
    return tr(key, lang, start=booking.get("start"), end=booking.get("end") or "")


def dossier_lines(dossier: dict, lang: str = "vi") -> list[str]:
    """The lookup answer as lines for the screen (status first)."""
    status = dossier.get("status_en") if lang == "en" else dossier.get("status_vi")
    lines = [tr("lookup_status", lang, status=status or dossier.get("status") or "")]
    if dossier.get("procedure"):
        lines.append(tr("lookup_procedure", lang, v=dossier["procedure"]))
    if dossier.get("received_on"):
        lines.append(tr("lookup_received", lang, v=day_text(dossier["received_on"])))
    if dossier.get("due_on"):
        lines.append(tr("lookup_due", lang, v=day_text(dossier["due_on"])))
    return lines
