"""Dossier codes and dossier-receipt QR codes (Thông tư 01/2018/TT-VPCP, Điều 19).

A dossier code printed on the receipt (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) reads
`<agency code>-<YYMMDD>-<XXXX>`: the receiving agency's code (letters, digits and dots, for
example "000.00.35.H26"), the day the dossier was received and its number of the day, for example
`000.00.35.H26-230601-0012`.

`normalise_code` turns what a citizen types or a scanner reads into that canonical form, or None:
upper case; spaces around dots removed; spaces, underscores and every dash variant read as one
separator; the letter O read as the digit 0 (and I/L as 1) in the numeric parts (the date, the
number of the day and the all-digit agency segments); the date must be a real calendar day.

`normalise_key` does the same for the short lookup key printed on the receipt (4 to 12 letters and
digits, case-insensitive). `parse_receipt_qr` reads a receipt's QR: a bare code, or a URL with the
code and key as query parameters (`?ma=...&key=...`) or as the last path segments
(`.../<code>/<key>` or `.../<code>?key=...`).

Used by the server's dossier lookup and by the kiosk's scan classifier; imports nothing of the
project but `common.text`.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qsl, unquote, urlsplit

from common.text import nfc

MAX_CODE_INPUT = 80          # characters of typed or scanned text for a code
MAX_QR_INPUT = 2000          # characters of a scanned receipt QR
MAX_AGENCY = 40              # characters of the agency part
KEY_MIN, KEY_MAX = 4, 12     # characters of a lookup key

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212_"
_SEP = re.compile(r"[\s" + re.escape(_DASHES) + r"]+")
_DOT_SPACES = re.compile(r"\s*\.\s*")
_AGENCY = re.compile(r"[A-Z0-9]+(?:\.[A-Z0-9]+)*")
_KEY = re.compile(r"[A-Z0-9]+")
_DIGITISH = re.compile(r"[0-9OIL]+")
_TO_DIGITS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_BARE_HOST = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?/")

CODE_PARAMS = ("ma", "mahoso", "ma_ho_so", "mahs", "code", "dossier", "hoso", "so_ho_so")
KEY_PARAMS = ("key", "khoa", "matracuu", "ma_tra_cuu", "mabimat", "secret", "k")


def _digits(part: str, length: int) -> str | None:
    """`part` as exactly `length` digits (O read as 0, I/L as 1), or None."""
    if len(part) != length or not _DIGITISH.fullmatch(part):
        return None
    return part.translate(_TO_DIGITS)


def _agency(part: str) -> str | None:
    if not part or len(part) > MAX_AGENCY or not _AGENCY.fullmatch(part):
        return None
    segments = [seg.translate(_TO_DIGITS) if re.fullmatch(r"[0-9O]+", seg) else seg
                for seg in part.split(".")]
    return ".".join(segments)


def received_on(code: str) -> date | None:
    """The receiving day encoded in a canonical code, or None."""
    try:
        stamp = code.rsplit("-", 2)[1]
        return date(2000 + int(stamp[:2]), int(stamp[2:4]), int(stamp[4:6]))
    except (IndexError, ValueError):
        return None


def normalise_code(text: str | None, today: date | None = None) -> str | None:
    """The canonical dossier code `AGENCY-YYMMDD-XXXX` for typed or scanned `text`, or None
    when it is not one. With `today`, a code dated after `today` is refused too."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CODE_INPUT:
        return None
    plain = _DOT_SPACES.sub(".", nfc(text).strip().upper())
    parts = [p for p in _SEP.split(plain) if p]
    if len(parts) == 2 and len(parts[1]) == 10:          # "...-2306010012": date and number joined
        parts = [parts[0], parts[1][:6], parts[1][6:]]
    if len(parts) != 3:
        return None
    agency, stamp, serial = _agency(parts[0]), _digits(parts[1], 6), _digits(parts[2], 4)
    if agency is None or stamp is None or serial is None:
        return None
    code = f"{agency}-{stamp}-{serial}"
    day = received_on(code)
    if day is None or (today is not None and day > today):
        return None
    return code


def normalise_key(text: str | None) -> str | None:
    """The canonical lookup key (upper case, spaces and dashes removed), or None."""
    if not isinstance(text, str) or len(text) > 4 * KEY_MAX:
        return None
    plain = _SEP.sub("", nfc(text).strip().upper())
    if not (KEY_MIN <= len(plain) <= KEY_MAX) or not _KEY.fullmatch(plain):
        return None
    return plain


def _from_url(text: str) -> tuple[str, str | None] | None:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = {name.lower(): value for name, value in parse_qsl(parts.query, keep_blank_values=True)}
    code = next((normalise_code(query[n]) for n in CODE_PARAMS if n in query), None)
    key = next((normalise_key(query[n]) for n in KEY_PARAMS if n in query), None)
    if code is not None:
        return code, key
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for i in range(len(segments) - 1, -1, -1):
        code = normalise_code(segments[i])
        if code is not None:
            if key is None and i + 1 < len(segments):
                key = normalise_key(segments[i + 1])
            return code, key
    return None


def parse_receipt_qr(text: str | None) -> tuple[str, str | None] | None:
    """(code, key or None) read from a dossier receipt's QR, or None when the text is not one.

    Accepted: a bare code ("000.00.35.H26-230601-0012"); a URL with the code and key as query
    parameters ("https://dichvucong.example.gov.vn/tra-cuu?ma=000.00.35.H26-230601-0012&key=K7M3PX",
    parameter names in CODE_PARAMS / KEY_PARAMS, any case); a URL with the code as a path segment
    and the key as the next one or as a query parameter. A URL without a dossier code (a booking
    QR, for example) gives None.
    """
    if not isinstance(text, str):
        return None
    plain = text.strip().strip("\x00")
    if not plain or len(plain) > MAX_QR_INPUT:
        return None
    if _BARE_HOST.match(plain):
        plain = "https://" + plain
    if "://" in plain:
        return _from_url(plain)
    code = normalise_code(plain)
    return (code, None) if code is not None else None
