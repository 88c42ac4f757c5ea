"""The national portal's fee and processing-time texts, read into clean fields.

The portal (dichvucong.gov.vn) gives a procedure's fee as free text that often contradicts
itself: its amount field is empty, so the page says "Miễn phí", and the description after it
says "Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần". Crawled copies are also cut after a
fixed number of characters ("… áp dụng mức thu lệ phí là 1 …"). `parse_fee` reads such a
text into:

- `fee_free`: 1 free, 0 a fee is charged, None unknown (set by the province's People's
  Council, "theo quy định", an exemption for some people only, a cut text...). A text is
  free only when it says so without a condition; never "free" because of the portal's empty
  amount field.
- `fee_amount_min`, `fee_amount_max`: the amounts in đồng it names (None when it names none);
- `fee_text`: the original text, kept whole;
- `fee`: a short line for screens, in whole sentences (never cut mid-sentence).

`parse_time` reads "05 ngày làm việc", "Trong ngày", "04 giờ" or a bare number into
`time_days` (working days, 0 = the same day, None unknown) and keeps `time_text`.
Plain functions: no Flask, no SQL.
"""

from __future__ import annotations

import re

from common.text import fold, nfc

# limits (explicit): the longest text kept as it came, the longest line shown for a fee
FEE_TEXT_MAX = 4000
TIME_TEXT_MAX = 1000
FEE_LINE_MAX = 400

FREE = "Miễn phí"
BY_PROVINCE = "Mức thu do Hội đồng nhân dân tỉnh quy định (hỏi tại quầy)"
BY_RULES = "Theo quy định hiện hành (hỏi tại quầy)"
PAID_UNKNOWN = "Có thu phí, lệ phí (hỏi tại quầy)"

_CUT = re.compile(r"\s*(…|\.\.\.)\s*$")
# an amount in đồng: 135.000 đồng, 40.000đồng, 400.000đ/trường hợp, 2.000 VNĐ
_DONG = re.compile(r"(?<![\d.,/])(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:đồng|vnđ|vnd|đ(?!\w))",
                   re.IGNORECASE)
_FOREIGN = re.compile(r"\d\s*(?:usd|đô la|eur)\b", re.IGNORECASE)
# "Miễn phí" or "<amount> đồng" as the portal's own head, then its description in brackets
_HEAD = re.compile(r"^(?P<head>miễn phí|[\d.]+\s*(?:đồng|usd))\s*(?:\((?P<inner>.*?)\)?)?\s*$",
                   re.IGNORECASE | re.DOTALL)
# the whole text or description says the procedure is free for everybody
_FREE_FOR_ALL = re.compile(r"^(?:miễn lệ phí|miễn phí|không thu (?:lệ )?phí|"
                           r"không được quy định tại biểu phí)\b", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\b(?:đối với|cho người|trường hợp|nếu)\b", re.IGNORECASE)
_PROVINCE = re.compile(r"hội đồng nhân dân|hđnd", re.IGNORECASE)
_CHARGED = re.compile(r"\b(?:lệ phí|phí)\b[^.;]*?:\s*bằng\b|\bthu\s+\d", re.IGNORECASE)


def whole_sentences(text: str) -> str:
    """`text` without a trailing sentence that was cut off ("… là 1 …"), its brackets
    closed; the text itself when nothing was cut."""
    text = nfc(text or "").strip()
    if not _CUT.search(text):
        return text
    body = _CUT.sub("", text)
    if body.endswith((".", ";", "!", "?")):
        return body + ")" * max(0, body.count("(") - body.count(")"))
    parts = re.split(r"(?<=[.;!?])\s+", body)
    kept = " ".join(parts[:-1]).strip() if len(parts) > 1 else ""
    if not kept:
        return ""
    return kept + ")" * max(0, kept.count("(") - kept.count(")"))


def _amounts(text: str) -> list[int]:
    return [int(m.group(1).replace(".", "")) for m in _DONG.finditer(text)]


def vnd(amount: int) -> str:
    """135000 -> '135.000 đồng' (Vietnamese thousands dots)."""
    return f"{amount:,}".replace(",", ".") + " đồng"


def fee_line(fee_free: int | None, lo: int | None, hi: int | None, *,
             by_province: bool = False) -> str:
    """The short fee line a screen shows for parsed fields."""
    if fee_free == 1:
        return FREE
    if fee_free == 0:
        if lo is None:
            return PAID_UNKNOWN
        return vnd(lo) if lo == hi else f"Từ {vnd(lo)} đến {vnd(hi)}, tùy trường hợp"
    return BY_PROVINCE if by_province else BY_RULES


def parse_fee(text: str) -> dict:
    """The fee text read into `fee_free`, `fee_amount_min`, `fee_amount_max`, `fee_text`
    (the original) and `fee` (the line to show). See the module's docstring."""
    original = nfc(text or "").strip()[:FEE_TEXT_MAX]
    out = {"fee_text": original, "fee_free": None, "fee_amount_min": None,
           "fee_amount_max": None, "fee": ""}
    if not original:
        return out
    head_m = _HEAD.match(original)
    head = head_m.group("head") if head_m else ""
    # the portal's head is never cut; of its description only the sentences that were not
    inner = whole_sentences(head_m.group("inner") or "" if head_m else original).strip(" -")
    usable = f"{head} ({inner})" if head and inner else head or inner
    amounts = _amounts(usable)
    province = bool(_PROVINCE.search(original))
    free = None
    if amounts or _FOREIGN.search(usable) or _CHARGED.search(usable):
        free = 0  # an amount named anywhere: a fee, whatever the portal's head says
    elif fold(head) == "mien phi" and not (head_m.group("inner") or "").strip():
        free = 1
    elif _FREE_FOR_ALL.match(inner) and not _CONDITIONAL.search(re.split(r"[.;:]", inner)[0]):
        free = 1  # "Miễn lệ phí." for everybody, not "Miễn lệ phí cho người thuộc hộ nghèo"
    out["fee_free"] = free
    if amounts:
        out["fee_amount_min"], out["fee_amount_max"] = min(amounts), max(amounts)
    line = fee_line(free, out["fee_amount_min"], out["fee_amount_max"], by_province=province)
    out["fee"] = line[:FEE_LINE_MAX]
    return out


_DAYS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:\(\s*[^)]*\)\s*)?ngày", re.IGNORECASE)
# a duration in hours, not a time of day ("sau 15 giờ", "trước 16 giờ 30", "11 giờ sáng")
_HOURS = re.compile(r"(?<!sau )(?<!trước )(?<!lúc )(?<!từ )(?<!đến )"
                    r"(\d+(?:[.,]\d+)?)\s*giờ(?!\s*(?:\d|sáng|chiều))", re.IGNORECASE)
_SAME_DAY = re.compile(r"\b(?:trong ngày|ngay trong ngày|ngay khi|giải quyết ngay)\b",
                       re.IGNORECASE)
WORK_HOURS_PER_DAY = 8


def parse_time(text: str) -> dict:
    """A processing-time text read into `time_days` (working days: the longest duration it
    names; 0 for the same day; None unknown) and `time_text` (the original)."""
    original = nfc(str(text or "")).strip()[:TIME_TEXT_MAX]
    out = {"time_text": original, "time_days": None}
    if not original:
        return out
    try:
        days = float(original.replace(",", "."))
    except ValueError:
        usable = whole_sentences(original)
        found = [float(m.group(1).replace(",", ".")) for m in _DAYS.finditer(usable)]
        hours = [float(m.group(1).replace(",", ".")) for m in _HOURS.finditer(usable)]
        if found:
            days = max(found)
        elif hours:
            days = max(hours) / WORK_HOURS_PER_DAY
            days = 0 if days <= 1 else days
        elif _SAME_DAY.search(usable):
            days = 0
        else:
            return out
    if days < 0 or days > 3650:
        return out
    out["time_days"] = int(days) if days == int(days) else round(days, 1)
    return out


def days_value(time_days) -> str:
    """`time_days` as the catalogue's `processing_days` text: '5', '0', '0.5' or ''."""
    if time_days is None:
        return ""
    return str(int(time_days)) if float(time_days) == int(time_days) else str(time_days)
