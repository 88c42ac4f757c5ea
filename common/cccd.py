"""The chip-based citizen ID card's QR (CCCD gắn chip) and what a kiosk scanner may read.

The card's QR reads ``số CCCD|số CMND cũ|Họ tên|ngày sinh DDMMYYYY|giới tính|nơi thường
trú|ngày cấp DDMMYYYY``, for example::

    001160012345|012345678|Nguyễn Văn An|01021960|Nam|Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội|15082021

The old 9-digit CMND field may be empty; newer cards add fields after the seventh (they are
ignored). `parse_cccd` keeps only what the kiosk needs - the 12-digit number (sent to the
server, which stores only a salted hash), the birth date (elderly priority), the sex and a
masked name ("N** V** A"); the full name and the address are dropped at once and never leave
this function. A bad read raises `CccdError` with a stable `code` and a message in
Vietnamese and English saying what to do:

* ``ime_garbled`` - the text went through a Vietnamese input method (Telex/VNI) or a wrong
  keyboard layout on its way from the scanner: "Hãy tắt bộ gõ tiếng Việt";
* ``line_break`` - CR/LF inside the text (a trailing CR/LF, the scanner's suffix, is fine);
* ``partial`` - fewer fields than a card has (the card moved during the read);
* ``bad_number`` / ``number_mismatch`` - not 12 digits, an unknown province code, or digits 4-6
  (sex and century, year of birth) that disagree with the card's other fields;
* ``zero_date`` / ``bad_date`` - 00000000, an impossible or future date;
* ``bad_sex``, ``too_long``, ``empty``, ``url`` (a URL QR, not a card), ``not_cccd``.

`classify_scan` tells what a scanned text is: a card (``cccd``), a booking code or a booking
URL (``booking``), a dossier receipt (``dossier``, via `common.dossier.parse_receipt_qr`) or
``unknown``. No Kivy, no I/O: used by the kiosk (`kiosk/scanner.py` assembles the keystrokes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote, urlsplit

from common import booking_code
from common.dossier import parse_receipt_qr
from common.search.telex import telex_to_vietnamese
from common.text import nfc, strip_marks

MAX_SCAN = 1000      # characters of one scan (a card's QR is 150-300)
MIN_FIELDS = 7       # a card's QR has 7 fields; newer cards add more
MAX_FIELDS = 24
MAX_NAME = 100       # characters of the name field
EARLIEST_BIRTH = 1880

# Province codes (digits 1-3 of a CCCD number: the place of birth registration), the 63
# provinces' administrative codes; they stay valid on existing cards after the 2025 merger.
PROVINCES = frozenset((
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 "
    "034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 "
    "067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096"
).split())
# digit 4: sex and century of birth (Thông tư 07/2016/TT-BCA, Điều 7)
CENTURY = {"0": (1900, "Nam"), "1": (1900, "Nữ"), "2": (2000, "Nam"), "3": (2000, "Nữ"),
           "4": (2100, "Nam"), "5": (2100, "Nữ"), "6": (2200, "Nam"), "7": (2200, "Nữ"),
           "8": (1800, "Nam"), "9": (1800, "Nữ")}
SEXES = {"nam": "Nam", "nữ": "Nữ", "nu": "Nữ"}

_VIET_LETTERS = frozenset("ăâđêôơưĂÂĐÊÔƠƯ")
_VNI_RESIDUE = re.compile(r"[aeiouyd][1-9]", re.IGNORECASE)  # "Nguye64n", "Nu74"
_MODIFIED = frozenset("ăâđêôơư")

MESSAGES = {
    "empty": ("Chưa đọc được gì từ máy quét. Xin quét lại.",
              "Nothing was read from the scanner. Please scan again."),
    "too_long": ("Mã quét quá dài, không phải mã trên thẻ căn cước. Xin quét lại.",
                 "The scanned text is too long for an ID card. Please scan again."),
    "line_break": ("Máy quét gửi ký tự xuống dòng (CR/LF) giữa chừng nên mã bị cắt. Xin báo cán bộ "
                   "đặt hậu tố của máy quét là Enter, rồi quét lại.",
                   "The scanner sent a line break (CR/LF) in the middle of the code. Please ask "
                   "the staff to set the scanner's suffix to Enter, then scan again."),
    "ime_garbled": ("Mã quét bị bộ gõ tiếng Việt (Telex/VNI) làm sai ký tự. Hãy tắt bộ gõ tiếng "
                    "Việt (Unikey, ibus) trên máy lấy số rồi quét lại; nếu cần, xin báo cán bộ.",
                    "The scan was changed by a Vietnamese input method (Telex/VNI). Turn the "
                    "Vietnamese input method off on the kiosk and scan again, or ask the staff."),
    "partial": ("Máy quét mới đọc được một phần mã trên thẻ. Xin giữ yên thẻ dưới máy quét "
                "và quét lại.",
                "Only part of the card's code was read. Hold the card still under the scanner "
                "and scan again."),
    "bad_number": ("Số căn cước đọc được không hợp lệ (cần đúng 12 chữ số). Xin quét lại.",
                   "The ID number read is not valid (12 digits needed). Please scan again."),
    "number_mismatch": ("Số căn cước không khớp với ngày sinh hoặc giới tính trên mã: mã có thể "
                        "bị đọc sai. Xin quét lại.",
                        "The ID number does not match the birth date or sex in the code; it may "
                        "have been misread. Please scan again."),
    "zero_date": ("Ngày trên mã là 00000000 (không có ngày). Xin quét lại hoặc nhập mã lịch hẹn.",
                  "The date in the code is 00000000 (no date). Scan again or type your booking "
                  "code."),
    "bad_date": ("Ngày sinh hoặc ngày cấp trên mã không hợp lệ. Xin quét lại.",
                 "The birth or issue date in the code is not valid. Please scan again."),
    "bad_sex": ("Giới tính trên mã không đọc được. Xin quét lại.",
                "The sex field in the code could not be read. Please scan again."),
    "url": ("Đây là mã QR đường dẫn, không phải thẻ căn cước.",
            "This is a link QR code, not an ID card."),
    "not_cccd": ("Mã vừa quét không phải thẻ căn cước, mã lịch hẹn hay mã hồ sơ.",
                 "The code scanned is not an ID card, a booking or a dossier receipt."),
}


class CccdError(ValueError):
    """A scan that is not a usable card: `code`, `message_vi`, `message_en`."""

    def __init__(self, code: str):
        self.code = code
        self.message_vi, self.message_en = MESSAGES[code]
        super().__init__(f"{code}: {self.message_en}")

    def message(self, lang: str = "vi") -> str:
        return self.message_en if lang == "en" else self.message_vi


@dataclass(frozen=True)
class CccdCard:
    """What the kiosk keeps of a card, in memory, for one citizen's visit (never stored)."""

    number: str = field(repr=False)  # 12 digits: sent to the server, never shown in full
    birth_date: date
    sex: str                         # "Nam" | "Nữ"
    masked_name: str                 # "N** V** A"
    issued_on: date | None = None
    birth_year_only: bool = False    # the card has 00 for the day (and month) of birth
    old_id: bool = field(default=False, repr=False)  # the old 9-digit CMND field was filled

    @property
    def masked_number(self) -> str:
        return "*" * 8 + self.number[-4:]

    def age(self, on: date) -> int:
        """Full years on `on` (a year-only birth date counts from 1 January)."""
        b = self.birth_date
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))

    def is_elderly(self, on: date, threshold: int = 60) -> bool:
        return self.age(on) >= threshold


def mask_name(name: str) -> str:
    """ "Nguyễn Văn An" -> "N** V** A**": each word's first letter; a one-letter word stays."""
    words = nfc(name).split()
    return " ".join(w[0] + ("**" if len(w) > 1 else "") for w in words)


def _shape(text: str) -> str:
    """Lower case with the tone marks removed but the letter shapes kept: "Nguyễn" -> "nguyên"."""
    marks = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    plain = "".join(ch for ch in unicodedata.normalize("NFD", text.lower()) if ch not in marks)
    return unicodedata.normalize("NFC", plain)


def _looks_ime_garbled(text: str) -> bool:
    """Signs that a Vietnamese input method (Telex/VNI) or a foreign layout changed the keys."""
    fields = text.split("|")
    numeric = [fields[i] for i in (0, 1, 3, 6) if i < len(fields)]
    for value in numeric:
        if any(ch in _VIET_LETTERS or unicodedata.category(ch) == "Mn"
               or (ch.isalpha() and strip_marks(ch) != ch) for ch in nfc(value)):
            return True
    words = []
    if len(fields) > 2:
        words += fields[2].split()
    if len(fields) > 4:
        words.append(fields[4].strip())
    for word in words:
        if _VNI_RESIDUE.search(word):
            return True
        # Telex keys ("Nguyeenx", "Vawn", "Nuwx"): they spell a letter a card would print
        # with its diacritic (ă â đ ê ô ơ ư); a plain tone key alone ("Ksor") is a real name
        if word.isascii() and word.isalpha() and _MODIFIED & set(_shape(telex_to_vietnamese(word))):
            return True
    return False


def _separator_garbled(text: str) -> bool:
    """12 digits then, instead of '|', some other character used as the separator (a scanner
    typing on a keyboard layout that moves '|')."""
    m = re.match(r"\d{12}(\D)", text)
    if not m or "|" in text:
        return False
    sep = m.group(1)
    return not sep.isalnum() and not sep.isspace() and text.count(sep) >= MIN_FIELDS - 2


def _date(value: str, *, birth: bool) -> tuple[date, bool]:
    """DDMMYYYY -> (date, year only). 00000000 -> zero_date; a birth date with 00 for the day
    (and month) is a year-only date (common for older citizens) read as the 1st."""
    value = value.strip()
    if not re.fullmatch(r"\d{8}", value):
        raise CccdError("bad_date")
    if value == "00000000":
        raise CccdError("zero_date")
    day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    if year == 0:
        raise CccdError("zero_date")
    year_only = False
    if birth and (day == 0 or month == 0):
        if month == 0 and day != 0:
            raise CccdError("bad_date")
        year_only = True
        day, month = 1, month or 1
    try:
        return date(year, month, day), year_only
    except ValueError:
        raise CccdError("bad_date") from None


def parse_cccd(text: str, today: date | None = None) -> CccdCard:
    """The card in a scanned QR text, or `CccdError`. `today` bounds the dates (default: the
    machine's date)."""
    today = today or date.today()
    if not isinstance(text, str) or not text.strip():
        raise CccdError("empty")
    if len(text) > MAX_SCAN:
        raise CccdError("too_long")
    text = nfc(text).strip(" \t\r\n\x00")
    if "\r" in text or "\n" in text:
        raise CccdError("line_break")
    low = text.lower()
    if low.startswith(("http://", "https://", "www.")):
        raise CccdError("url")
    if _looks_ime_garbled(text) or _separator_garbled(text):
        raise CccdError("ime_garbled")
    fields = text.split("|")
    if len(fields) > MAX_FIELDS:
        raise CccdError("too_long")
    number = fields[0].strip()
    if not re.fullmatch(r"\d+", number):
        raise CccdError("not_cccd" if len(fields) == 1 else "bad_number")
    if len(fields) < MIN_FIELDS:
        raise CccdError("partial" if len(number) == 12 or len(fields) > 1 else "bad_number")
    if len(number) != 12 or number[:3] not in PROVINCES:
        raise CccdError("bad_number")
    old = fields[1].strip()
    if old and not re.fullmatch(r"\d{9}", old):
        raise CccdError("bad_number")
    name = fields[2].strip()
    if not name or len(name) > MAX_NAME or any(ch.isdigit() for ch in name):
        raise CccdError("partial" if not name else "not_cccd")
    sex = SEXES.get(nfc(fields[4]).strip().lower())
    if sex is None:
        raise CccdError("bad_sex")
    birth, year_only = _date(fields[3], birth=True)
    issued, _ = _date(fields[6], birth=False)
    if birth.year < EARLIEST_BIRTH or birth > today or issued > today or issued < birth:
        raise CccdError("bad_date")
    century, number_sex = CENTURY[number[3]]
    if number_sex != sex or century + int(number[4:6]) != birth.year:
        raise CccdError("number_mismatch")
    return CccdCard(number=number, birth_date=birth, sex=sex, masked_name=mask_name(name),
                    issued_on=issued, birth_year_only=year_only, old_id=bool(old))


# --------------------------------------------------------------------------- classify


@dataclass(frozen=True)
class Scan:
    """What one scan is. `kind`: cccd | booking | dossier | unknown; `error` set when it is
    (or looks like) a card but unusable, or when nothing was recognised."""

    kind: str
    card: CccdCard | None = None
    booking_code: str | None = None
    dossier_code: str | None = None
    dossier_key: str | None = None
    error: CccdError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _booking_from_url(text: str) -> str | None:
    parts = urlsplit(text)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    return booking_code.normalise(segments[-1]) if segments else None


def classify_scan(text: str, today: date | None = None) -> Scan:
    """A card, a booking (bare code or a URL whose last path segment is a code), a dossier
    receipt (bare code or URL) or unknown."""
    if not isinstance(text, str) or not text.strip():
        return Scan("unknown", error=CccdError("empty"))
    if len(text) > MAX_SCAN:
        return Scan("unknown", error=CccdError("too_long"))
    plain = nfc(text).strip(" \t\r\n\x00")
    low = plain.lower()
    is_url = low.startswith(("http://", "https://", "www."))
    if is_url and "\r" not in plain and "\n" not in plain:
        dossier = parse_receipt_qr(plain)
        if dossier is not None:
            return Scan("dossier", dossier_code=dossier[0], dossier_key=dossier[1])
        code = _booking_from_url(plain if "://" in plain else "https://" + plain)
        if code is not None:
            return Scan("booking", booking_code=code)
        return Scan("unknown", error=CccdError("url"))
    if "|" in plain or re.match(r"\d{9,}", plain):
        try:
            return Scan("cccd", card=parse_cccd(plain, today))
        except CccdError as err:
            return Scan("cccd", error=err)
    if "\r" in plain or "\n" in plain:
        return Scan("unknown", error=CccdError("line_break"))
    dossier = parse_receipt_qr(plain)
    if dossier is not None:
        return Scan("dossier", dossier_code=dossier[0], dossier_key=dossier[1])
    code = booking_code.normalise(plain)
    if code is not None:
        return Scan("booking", booking_code=code)
    return Scan("unknown", error=CccdError("not_cccd"))
