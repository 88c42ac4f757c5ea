"""Kiosk wording of the visit (issue #15): check-in, the CCCD scan, the dossier lookup.

Vietnamese first, English second; merged into `kiosk.i18n.STRINGS` (so `tr()` and the tests
that check every key in both languages see them). A bad scan's explanation is the parser's own
(`common.cccd.MESSAGES`), under ``err_scan_<code>``.
"""

from __future__ import annotations

from common.cccd import MESSAGES as SCAN_MESSAGES

# server error codes the visit screens explain (kiosk.i18n.error_text)
ERROR_CODES = {
    "person_limit", "booking_not_found", "checkin_too_early", "booking_used",
    "booking_cancelled", "booking_expired", "booking_code_invalid", "dossier_not_found",
    "dossier_key_wrong", "dossier_code_invalid", "dossier_service_unavailable", "rate_limited",
    "dossier_not_ready", "dossier_no_result_team",
}
# codes whose server message adds something the citizen needs (from what time ...)
SHOW_SERVER_MESSAGE = {"checkin_too_early", "person_limit"}

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "tile_checkin": "Đã đặt lịch hẹn",
        "tile_checkin_hint": "Nhập mã hoặc quét mã QR / CCCD",
        "tile_lookup": "Tra cứu hồ sơ",
        "tile_lookup_hint": "Xem tình trạng, nhận kết quả",
        "consent": "Số CCCD chỉ dùng để tìm lịch hẹn, ưu tiên và giới hạn lượt lấy số trong "
                   "ngày; máy không lưu họ tên, máy chủ chỉ lưu mã băm và xóa mỗi ngày.",
        "person_line": "Đã quét CCCD {number} · {name} · {age} tuổi",
        "person_elderly_offer": "Bạn được ưu tiên người cao tuổi: chạm để nhận",
        "person_elderly_taken": "Đã chọn ưu tiên người cao tuổi",
        "person_forget": "Bỏ thẻ này",
        "checkin_title": "Nhận số theo lịch hẹn",
        "checkin_help": "Nhập mã lịch hẹn (6 ký tự) rồi chạm “Nhận số”, hoặc quét mã QR "
                        "lịch hẹn hay mã QR trên thẻ CCCD gắn chip vào máy quét.",
        "checkin_code_hint": "Mã lịch hẹn",
        "checkin_go": "Nhận số",
        "checkin_busy": "Đang nhận số…",
        "checkin_need_code": "Mã lịch hẹn gồm 6 ký tự.",
        "checkin_slot": "Lịch hẹn {start}–{end}",
        "checkin_late": "Lịch hẹn {start}–{end} (đến muộn: nhận số như khách vãng lai)",
        "lookup_title": "Tra cứu hồ sơ",
        "lookup_help": "Quét mã QR trên giấy tiếp nhận hồ sơ, hoặc nhập mã hồ sơ và mã tra cứu "
                       "in trên giấy.",
        "lookup_code": "Mã hồ sơ",
        "lookup_code_hint": "Ví dụ: 000.00.35.H26-230601-0012",
        "lookup_key": "Mã tra cứu",
        "lookup_key_hint": "4–12 chữ và số",
        "lookup_go": "Tra cứu",
        "lookup_busy": "Đang tra cứu…",
        "lookup_bad_code": "Mã hồ sơ chưa đúng dạng: mã cơ quan-YYMMDD-XXXX.",
        "lookup_bad_key": "Mã tra cứu gồm 4–12 chữ và số, in trên giấy tiếp nhận.",
        "lookup_status": "Tình trạng: {status}",
        "lookup_procedure": "Thủ tục: {v}",
        "lookup_received": "Ngày tiếp nhận: {v}",
        "lookup_due": "Ngày hẹn trả: {v}",
        "lookup_take": "Lấy số trả kết quả",
        "lookup_ready_note": "Hồ sơ đã có kết quả. Chạm “Lấy số trả kết quả” để nhận số.",
        "scan_error_title": "Chưa đọc được mã",
        "err_person_limit": "Số CCCD này đã lấy đủ số lượt cho lĩnh vực này trong hôm nay.",
        "err_booking_not_found": "Không tìm thấy lịch hẹn với mã hoặc số CCCD này cho hôm nay.",
        "err_checkin_too_early": "Chưa đến giờ nhận số cho lịch hẹn này.",
        "err_booking_used": "Lịch hẹn này đã được nhận số rồi.",
        "err_booking_cancelled": "Lịch hẹn này đã bị hủy.",
        "err_booking_expired": "Lịch hẹn này đã quá giờ nhận số. Xin lấy số như khách vãng lai.",
        "err_booking_code_invalid": "Mã lịch hẹn không đúng dạng (6 ký tự).",
        "err_dossier_not_found": "Không tìm thấy hồ sơ với mã này. Xin kiểm tra lại mã trên giấy "
                                 "tiếp nhận.",
        "err_dossier_key_wrong": "Mã tra cứu không đúng. Xin nhập đúng mã tra cứu in trên giấy "
                                 "tiếp nhận.",
        "err_dossier_code_invalid": "Mã hồ sơ chưa đúng dạng: mã cơ quan-YYMMDD-XXXX.",
        "err_dossier_service_unavailable": "Hệ thống thông tin một cửa của tỉnh đang không trả "
                                           "lời. Việc lấy số không bị ảnh hưởng; xin tra cứu "
                                           "lại sau ít phút.",
        "err_dossier_not_ready": "Hồ sơ chưa có kết quả để trả.",
        "err_dossier_no_result_team": "Trung tâm chưa có tổ trả kết quả đang làm việc. Xin hỏi "
                                      "cán bộ hướng dẫn.",
        "err_rate_limited": "Tra cứu quá nhiều lần. Xin thử lại sau một phút.",
    },
    "en": {
        "tile_checkin": "I have a booking",
        "tile_checkin_hint": "Type the code or scan the QR / ID card",
        "tile_lookup": "Dossier status",
        "tile_lookup_hint": "See the status, collect the result",
        "consent": "The ID number is used only to find your booking, for priority and the daily "
                   "limit of numbers; the kiosk keeps no name, the server only a hash, erased "
                   "daily.",
        "person_line": "ID card scanned {number} · {name} · age {age}",
        "person_elderly_offer": "You qualify for elderly priority: touch to use it",
        "person_elderly_taken": "Elderly priority chosen",
        "person_forget": "Forget this card",
        "checkin_title": "Check in for a booking",
        "checkin_help": "Type the booking code (6 characters) and touch “Check in”, or scan the "
                        "booking QR code or the QR code on your chip ID card.",
        "checkin_code_hint": "Booking code",
        "checkin_go": "Check in",
        "checkin_busy": "Checking in…",
        "checkin_need_code": "A booking code has 6 characters.",
        "checkin_slot": "Booking {start}–{end}",
        "checkin_late": "Booking {start}–{end} (late: a walk-in number)",
        "lookup_title": "Dossier status",
        "lookup_help": "Scan the QR code on the dossier receipt, or type the dossier code and "
                       "the lookup key printed on it.",
        "lookup_code": "Dossier code",
        "lookup_code_hint": "e.g. 000.00.35.H26-230601-0012",
        "lookup_key": "Lookup key",
        "lookup_key_hint": "4–12 letters and digits",
        "lookup_go": "Look up",
        "lookup_busy": "Looking up…",
        "lookup_bad_code": "The dossier code should read agency-YYMMDD-XXXX.",
        "lookup_bad_key": "The lookup key has 4–12 letters and digits, printed on the receipt.",
        "lookup_status": "Status: {status}",
        "lookup_procedure": "Procedure: {v}",
        "lookup_received": "Received on: {v}",
        "lookup_due": "Due on: {v}",
        "lookup_take": "Take a number to collect the result",
        "lookup_ready_note": "The result is ready. Touch the button to take a number.",
        "scan_error_title": "The code could not be read",
        "err_person_limit": "This ID number has taken its numbers for this field today.",
        "err_booking_not_found": "No booking for today with this code or ID number.",
        "err_checkin_too_early": "It is too early to check in for this booking.",
        "err_booking_used": "This booking has already been checked in.",
        "err_booking_cancelled": "This booking was cancelled.",
        "err_booking_expired": "This booking's check-in time is over. Please take a walk-in "
                               "number.",
        "err_booking_code_invalid": "That is not a booking code (6 characters).",
        "err_dossier_not_found": "No dossier with this code. Please check the code on the "
                                 "receipt.",
        "err_dossier_key_wrong": "Wrong lookup key. Please type the key printed on the receipt.",
        "err_dossier_code_invalid": "The dossier code should read agency-YYMMDD-XXXX.",
        "err_dossier_service_unavailable": "The province's one-stop system is not answering. "
                                           "Taking numbers is not affected; please try again "
                                           "in a few minutes.",
        "err_dossier_not_ready": "The dossier's result is not ready yet.",
        "err_dossier_no_result_team": "No result-return team is working now. Please ask the "
                                      "staff.",
        "err_rate_limited": "Too many look-ups. Please try again in a minute.",
    },
}

# bad scans: error code "scan_<code>" (kiosk.i18n.error_text), the parser's wording
for _code, (_vi, _en) in SCAN_MESSAGES.items():
    STRINGS["vi"][f"err_scan_{_code}"] = _vi
    STRINGS["en"][f"err_scan_{_code}"] = _en
    ERROR_CODES.add(f"scan_{_code}")
