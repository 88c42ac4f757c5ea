"""Kiosk wording in Vietnamese (first) and English, and small formatting helpers.

No Kivy here: screens call `tr(key, lang, **values)`; tests check every key exists in both
languages and that the Vietnamese carries its diacritics.
"""

from __future__ import annotations

from common.vocabulary import PRIORITY_LABELS
from hardware.ticket_layout import format_wait

from . import visit_text

LANGS = ("vi", "en")

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "app_title": "Lấy số thứ tự",
        "welcome": "Xin mời chọn thủ tục để lấy số thứ tự",
        "lang_switch": "English",
        "search_box": "Tìm thủ tục: chạm vào đây để gõ",
        "popular": "Thủ tục hay dùng",
        "fields": "Tìm theo lĩnh vực",
        "all_fields": "Tất cả lĩnh vực",
        "priority_title": "Ưu tiên (nếu có):",
        "priority_chosen": "Ưu tiên: {label}",
        "priority_none": "Không ưu tiên",
        "loading": "Đang tải danh mục thủ tục…",
        "catalogue_offline": "Chưa kết nối được máy chủ. Đang thử lại…",
        "back": "Quay lại",
        "home": "Trang chủ",
        "search_title": "Tìm thủ tục",
        "search_hint": "Gõ tên thủ tục, ví dụ: khai sinh",
        "search_none": "Không tìm thấy thủ tục nào. Hãy gõ ít chữ hơn hoặc hỏi cán bộ hướng dẫn.",
        "search_count": "{n} kết quả",
        "search_count_many": "Hơn {n} kết quả",
        "detail_field": "Lĩnh vực: {v}",
        "detail_agency": "Nơi giải quyết: {v}",
        "key_space": "Dấu cách",
        "key_clear": "Xóa hết",
        "key_back": "Xóa",
        "telex_on": "Gõ dấu Telex: Bật",
        "telex_off": "Gõ dấu Telex: Tắt",
        "browse_title": "Chọn lĩnh vực",
        "field_count": "{n} thủ tục",
        "detail_documents": "Thành phần hồ sơ cần mang",
        "detail_no_documents": "Cán bộ tại quầy sẽ hướng dẫn hồ sơ cần mang.",
        "detail_days": "Thời gian giải quyết",
        "detail_days_value": "{n} ngày làm việc",
        "detail_days_same": "Trong ngày",
        "detail_fee": "Phí, lệ phí",
        "detail_fee_none": "Không có thông tin",
        "detail_where": "Nơi tiếp nhận",
        "detail_counters": "Quầy số {counters}",
        "detail_waiting": "Đang chờ: {n} người\nDự kiến chờ {wait}",
        "detail_waiting_unknown": "Đang cập nhật số người chờ…",
        "take_number": "LẤY SỐ",
        "issuing": "Đang lấy số…",
        "ticket_your_number": "SỐ THỨ TỰ CỦA BẠN",
        "ticket_counters": "Mời đến quầy số {counters} khi được gọi",
        "ticket_ahead": "Số người chờ trước bạn: {n}",
        "ticket_wait": "Thời gian chờ dự kiến: {wait}",
        "ticket_scan": "Quét mã QR để theo dõi lượt gọi trên điện thoại",
        "ticket_printing": "Đang in phiếu…",
        "ticket_printed": "Mời nhận phiếu ở khe máy in bên dưới.",
        "ticket_no_printer": "Hãy ghi nhớ số này hoặc chụp ảnh màn hình.",
        "ticket_print_failed": "{printer}. Số của bạn vẫn hợp lệ: hãy chụp ảnh màn hình này "
                               "hoặc ghi nhớ số. Cán bộ đã được báo.",
        "reprint": "In lại phiếu",
        "done": "Xong",
        "auto_home": "Tự động về trang chủ sau {s} giây",
        "error_title": "Chưa lấy được số",
        "retry": "Thử lại",
        "ask_staff": "Nếu cần giúp đỡ, xin hỏi cán bộ hướng dẫn tại sảnh.",
        "err_server_unreachable": "Không kết nối được máy chủ. Chưa có số nào được cấp. "
                                  "Xin chạm “Thử lại” sau ít giây.",
        "err_outside_hours": "Ngoài giờ làm việc, xin quay lại sau.",
        "err_team_closed": "Tổ tiếp nhận thủ tục này hiện chưa có quầy làm việc.",
        "err_unknown_procedure": "Thủ tục này không còn trong danh mục. Xin chọn thủ tục khác.",
        "err_server_error": "Máy chủ đang gặp sự cố. Chưa có số nào được cấp.",
        "err_unauthorized": "Máy lấy số chưa được cấp quyền. Xin báo cán bộ.",
        "err_other": "Không lấy được số: {message}",
        "hours_label": "Giờ làm việc: {hours}",
        "saver_touch": "Chạm vào màn hình để lấy số thứ tự",
        "saver_waiting": "{team}: {n} người đang chờ",
        "minutes": "phút",
        # honest waits (issue #16): no open counter, no estimate
        "no_counter_open": "Hiện chưa có quầy mở cho thủ tục này",
        "detail_waiting_closed": "Đang chờ: {n} người",
        "detail_closed_warning": "Hiện chưa có quầy mở cho thủ tục này: chưa biết phải chờ "
                                 "bao lâu. Bạn vẫn có thể lấy số để giữ lượt.",
        "keyboard_show": "Hiện bàn phím",
        # the accessible mode (issue #16)
        "access_button": "Chế độ hỗ trợ: chữ to, có đọc",
        "access_title": "Chế độ hỗ trợ",
        "access_choose": "Chạm vào thủ tục bạn cần. Máy sẽ đọc hướng dẫn.",
        "access_page": "Trang {page}/{pages}",
        "access_prev": "‹ Trang trước",
        "access_next": "Trang sau ›",
        "access_search": "Gõ tên thủ tục",
        "access_exit": "Thoát chế độ hỗ trợ",
        "access_repeat": "Đọc lại",
    },
    "en": {
        "app_title": "Take a number",
        "welcome": "Please choose a procedure to take a number",
        "lang_switch": "Tiếng Việt",
        "search_box": "Search procedures: touch here to type",
        "popular": "Most used procedures",
        "fields": "Browse by field",
        "all_fields": "All fields",
        "priority_title": "Priority (if any):",
        "priority_chosen": "Priority: {label}",
        "priority_none": "No priority",
        "loading": "Loading the procedure catalogue…",
        "catalogue_offline": "Cannot reach the server yet. Retrying…",
        "back": "Back",
        "home": "Home",
        "search_title": "Search procedures",
        "search_hint": "Type a procedure name, e.g. birth registration",
        "search_none": "No procedure found. Type fewer letters or ask the staff.",
        "search_count": "{n} results",
        "search_count_many": "More than {n} results",
        "detail_field": "Area: {v}",
        "detail_agency": "Handled by: {v}",
        "key_space": "Space",
        "key_clear": "Clear",
        "key_back": "Delete",
        "telex_on": "Telex accents: On",
        "telex_off": "Telex accents: Off",
        "browse_title": "Choose a field",
        "field_count": "{n} procedures",
        "detail_documents": "Documents to bring",
        "detail_no_documents": "The officer at the counter will tell you what to bring.",
        "detail_days": "Processing time",
        "detail_days_value": "{n} working days",
        "detail_days_same": "Same day",
        "detail_fee": "Fees",
        "detail_fee_none": "No information",
        "detail_where": "Received by",
        "detail_counters": "Counters {counters}",
        "detail_waiting": "Waiting now: {n}\nEstimated wait {wait}",
        "detail_waiting_unknown": "Updating the queue…",
        "take_number": "TAKE A NUMBER",
        "issuing": "Taking a number…",
        "ticket_your_number": "YOUR NUMBER",
        "ticket_counters": "Go to counter {counters} when called",
        "ticket_ahead": "People ahead of you: {n}",
        "ticket_wait": "Estimated wait: {wait}",
        "ticket_scan": "Scan the QR code to follow your turn on your phone",
        "ticket_printing": "Printing your ticket…",
        "ticket_printed": "Please take your ticket from the printer below.",
        "ticket_no_printer": "Please remember this number or take a photo of the screen.",
        "ticket_print_failed": "{printer}. Your number is valid: take a photo of this screen "
                               "or remember the number. Staff have been notified.",
        "reprint": "Print again",
        "done": "Done",
        "auto_home": "Back to the home screen in {s} s",
        "error_title": "No number issued yet",
        "retry": "Try again",
        "ask_staff": "If you need help, please ask the staff in the hall.",
        "err_server_unreachable": "Cannot reach the server. No number was issued. "
                                  "Please touch “Try again” in a few seconds.",
        "err_outside_hours": "Outside opening hours, please come back later.",
        "err_team_closed": "No counter of the team for this procedure is open now.",
        "err_unknown_procedure": "This procedure is no longer offered. Please choose another.",
        "err_server_error": "The server has a problem. No number was issued.",
        "err_unauthorized": "This kiosk is not authorised. Please tell the staff.",
        "err_other": "No number issued: {message}",
        "hours_label": "Opening hours: {hours}",
        "saver_touch": "Touch the screen to take a number",
        "saver_waiting": "{team}: {n} waiting",
        "minutes": "min",
        "no_counter_open": "No counter is open for this procedure yet",
        "detail_waiting_closed": "Waiting now: {n}",
        "detail_closed_warning": "No counter is open for this procedure yet: the wait is "
                                 "unknown. You can still take a number to keep your turn.",
        "keyboard_show": "Show keyboard",
        "access_button": "Assisted mode: large text, spoken",
        "access_title": "Assisted mode",
        "access_choose": "Touch the procedure you need. The kiosk reads the steps aloud.",
        "access_page": "Page {page}/{pages}",
        "access_prev": "‹ Previous",
        "access_next": "Next ›",
        "access_search": "Type a procedure",
        "access_exit": "Leave assisted mode",
        "access_repeat": "Read again",
    },
}


def tr(key: str, lang: str = "vi", **values) -> str:
    """The text for `key` in `lang` (Vietnamese when missing), formatted with `values`."""
    table = STRINGS.get(lang, STRINGS["vi"])
    text = table.get(key) or STRINGS["vi"].get(key) or key
    return text.format(**values) if values else text


def priority_label(code: str | None, lang: str = "vi") -> str:
    if not code:
        return tr("priority_none", lang)
    return PRIORITY_LABELS.get(lang, PRIORITY_LABELS["vi"]).get(code, code)


def wait_text(seconds: int | None, lang: str = "vi") -> str:
    """'~25 phút', 'dưới 1 phút' (same wording as the printed ticket)."""
    return format_wait(int(seconds or 0), lang)


def counters_text(counters: list[int] | tuple[int, ...]) -> str:
    return ", ".join(str(c) for c in counters)


def short_name(name: str) -> str:
    """Procedure name without the leading 'Thủ tục ', capitalised (button labels)."""
    name = (name or "").strip()
    if name.lower().startswith("thủ tục "):
        name = name[8:]
    return name[:1].upper() + name[1:]


def clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:–-")
    return cut + "…"


def days_text(days, lang: str = "vi") -> str:
    try:
        n = float(days)
    except (TypeError, ValueError):
        return str(days or "") or tr("detail_fee_none", lang)
    if n <= 0:
        return tr("detail_days_same", lang)
    return tr("detail_days_value", lang, n=int(n) if n == int(n) else n)


ERROR_KEYS = {"server_unreachable", "outside_hours", "team_closed", "unknown_procedure",
              "server_error", "unauthorized"}


def error_text(code: str, message: str = "", lang: str = "vi") -> str:
    """The citizen-facing explanation for an error code from the server or the client."""
    if code in ERROR_KEYS:
        return tr(f"err_{code}", lang)
    return tr("err_other", lang, message=message or code)


# The catalogue's agency wording ("UBND cấp xã") in a citizen's words.
AGENCY_WORDS = {
    "vi": {"ubnd cấp xã": "Ủy ban nhân dân xã, phường",
           "ubnd cấp huyện": "Ủy ban nhân dân huyện, quận",
           "ubnd cấp tỉnh": "Ủy ban nhân dân tỉnh, thành phố"},
    "en": {"ubnd cấp xã": "the commune or ward People's Committee",
           "ubnd cấp huyện": "the district People's Committee",
           "ubnd cấp tỉnh": "the provincial People's Committee"},
}


def procedure_meta(proc: dict, lang: str = "vi") -> str:
    """'Lĩnh vực: Hộ tịch · Nơi giải quyết: Ủy ban nhân dân xã, phường', not the catalogue's
    'Hộ tịch · xã · UBND cấp xã' (the level is for officials and is left out)."""
    parts = []
    if proc.get("field"):
        parts.append(tr("detail_field", lang, v=proc["field"]))
    agency = str(proc.get("agency") or "").strip()
    if agency:
        words = AGENCY_WORDS.get(lang, AGENCY_WORDS["vi"])
        agency = words.get(agency.lower(), agency.replace("UBND", "Ủy ban nhân dân"))
        parts.append(tr("detail_agency", lang, v=agency))
    return " · ".join(parts)


# The visit's wording (check-in, the CCCD scan, the dossier lookup: issue #15) lives in
# kiosk/visit_text.py; merged here so tr() and error_text() know it.
for _lang in LANGS:
    STRINGS[_lang].update(visit_text.STRINGS[_lang])
ERROR_KEYS |= visit_text.ERROR_CODES
