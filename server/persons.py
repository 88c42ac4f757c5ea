"""The salted person hash (issue #15) and the per-person limit of numbers per field per day.

A phone number or a CCCD number is never stored: only HMAC-SHA256 with the database's own
salt (table `person_salt`, made once by migration m014; never in the configuration). The
numbers a scanned CCCD took (`person_marks`: hash, day, field, ticket) are kept for their
day only. Used by `QueueService.issue` (`id_number`) and by the bookings (`server/bookings.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .errors import Conflict, ValidationFailed

CCCD = re.compile(r"\d{12}")
PHONE = re.compile(r"0[1-9]\d{8,9}")


def _hash(store, kind: str, value: str) -> str:
    salt = store.person_salt()
    return hmac.new(bytes.fromhex(salt), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def clean_id_number(id_number) -> str:
    text = re.sub(r"[\s.-]", "", id_number) if isinstance(id_number, str) else ""
    if not CCCD.fullmatch(text):
        raise ValidationFailed("Số CCCD phải gồm đúng 12 chữ số (the CCCD number must be "
                               "12 digits)", code="id_number_invalid")
    return text


def person_hash(store, id_number) -> str:
    """The salted hash of a 12-digit CCCD number (422 `id_number_invalid` otherwise)."""
    return _hash(store, "cccd", clean_id_number(id_number))


def clean_phone(phone) -> str:
    text = re.sub(r"[\s.()-]", "", phone) if isinstance(phone, str) else ""
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) >= 11:
        text = "0" + text[2:]
    if not PHONE.fullmatch(text):
        raise ValidationFailed("Số điện thoại không hợp lệ, ví dụ 0912345678 (invalid phone "
                               "number, e.g. 0912345678)", code="phone_invalid")
    return text


def phone_hash(store, phone: str) -> str:
    return _hash(store, "phone", clean_phone(phone))


def person_field(procedure: dict | None, team_id: int) -> str:
    """The field a number or a booking counts against (the team when no procedure)."""
    if procedure and procedure.get("field"):
        return procedure["field"]
    return f"team:{team_id}"


def check_person_limit(store, config, person: str, day: str, field: str) -> None:
    """409 `person_limit` when this CCCD already took its numbers in `field` today."""
    store.purge_person_marks(day)
    most = config.booking.tickets_per_field
    if store.person_marks_count(person, day, field) >= most:
        raise Conflict(f"Mỗi người chỉ được lấy {most} số mỗi lĩnh vực mỗi ngày; bạn đã lấy "
                       f"số cho lĩnh vực này hôm nay (at most {most} number(s) per person, "
                       f"field and day)", code="person_limit", details={"limit": most})
