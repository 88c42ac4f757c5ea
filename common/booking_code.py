"""Booking codes: six characters a citizen can read aloud, type on a kiosk and copy from an
SMS without confusing look-alikes.

The alphabet leaves out 0/O/Q, 1/I/L, 2/Z, 5/S and 8/B (and G, which reads like 6 on some
printers): 23 characters, so 23**6 = 148 million codes. Input is normalised (upper case,
spaces and dashes removed); any other character makes the code invalid (`None`), which the
server answers with 422 `booking_code_invalid`, never a look-up.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
LENGTH = 6
#: characters a citizen may type between groups ("K7M-3PX", "k7m 3px")
SEPARATORS = " -\t"
#: the longest text `normalise` looks at (a pasted paragraph is not a code)
MAX_INPUT = 40


def generate() -> str:
    """A fresh random code (the caller checks it is not in use)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str | None) -> str | None:
    """The code in `text` (upper case, spaces and dashes removed), or None when it is not
    six characters of the alphabet."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    code = "".join(ch for ch in text.strip().upper() if ch not in SEPARATORS)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def from_scan(text: str | None) -> str | None:
    """The code of a scanned booking QR: either a bare code, or a URL whose last path
    segment is a code (`https://qms.example.gov.vn/dat-lich/K7M3PX`)."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if "://" in text:
        try:
            path = urlsplit(text).path
        except ValueError:
            return None
        return normalise(path.rstrip("/").rsplit("/", 1)[-1])
    return normalise(text)
