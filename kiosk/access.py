"""The accessible mode's rules (no Kivy): its colours, its text sizes, its pages of
procedures and what the voice says at each step.

The mode is for citizens who read small text badly, cannot reach the top of a tall
screen, or cannot read at all: text at least `MIN_TEXT_SP`, light on black with a
contrast of at least `MIN_CONTRAST` (WCAG AAA), every control in the lower half of the
screen, and each step read aloud in Vietnamese (kiosk/voice.py). It is left on the next
idle timeout or the screensaver, like the language and the priority choice.
"""

from __future__ import annotations

from .i18n import counters_text, short_name, wait_text

# colours (RGBA 0..1)
BLACK = (0.0, 0.0, 0.0, 1)
WHITE = (1.0, 1.0, 1.0, 1)
YELLOW = (1.0, 0.86, 0.0, 1)
NAVY = (0.0, 0.13, 0.40, 1)
GREEN = (0.0, 0.30, 0.12, 1)
PURPLE = (0.35, 0.05, 0.30, 1)
KEY = (0.16, 0.16, 0.16, 1)  # the search keyboard's keys: white on near-black, edged by black

MIN_TEXT_SP = 26  # every text on the accessible screens (the normal screens go down to 18)
MIN_CONTRAST = 7.0  # WCAG 2 AAA for normal text
PAGE_SIZE = 4  # procedures per page: 2 x 2 large buttons in the lower half


def luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour with channels in 0..1."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(float(c)) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg) -> float:
    """WCAG contrast ratio between two colours (1 .. 21)."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def pages(items: list, size: int = PAGE_SIZE) -> list[list]:
    """`items` in pages of `size` (at least one page, maybe empty)."""
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


# -- what the voice says ------------------------------------------------------------------

SPEECH = {
    "vi": {
        "home": "Chế độ hỗ trợ. Các nút bấm ở nửa dưới màn hình. Chạm vào thủ tục bạn cần: "
                "{names}.",
        "home_more": " Chạm nút Trang sau ở góc dưới bên phải để xem thêm thủ tục.",
        "search": "Gõ tên thủ tục bằng bàn phím ở nửa dưới màn hình. Kết quả hiện ở phía "
                  "trên bàn phím. Chạm vào kết quả để chọn.",
        "detail": "Thủ tục {name}. Đang có {n} người chờ. {wait} "
                  "Chạm nút Lấy số màu xanh ở phía dưới để lấy số thứ tự.",
        "detail_wait": "Dự kiến chờ {wait}.",
        "detail_closed": "Hiện chưa có quầy mở cho thủ tục này, chưa biết phải chờ bao lâu. "
                         "Bạn vẫn có thể lấy số để giữ lượt.",
        "ticket": "Số thứ tự của bạn là {number}. Mời đến quầy số {counters} khi được gọi. "
                  "{wait} {paper}",
        "ticket_wait": "Số người chờ trước bạn: {ahead}. Thời gian chờ dự kiến {wait}.",
        "ticket_closed": "Số người chờ trước bạn: {ahead}. Hiện chưa có quầy mở cho thủ tục "
                         "này.",
        "paper": "Mời nhận phiếu ở khe máy in bên dưới.",
        "no_paper": "Hãy ghi nhớ số này.",
        "message": "Chưa lấy được số. {reason} Chạm nút ở phía dưới để thử lại hoặc quay lại.",
    },
    "en": {
        "home": "Assisted mode. The buttons are in the lower half of the screen. Touch the "
                "procedure you need: {names}.",
        "home_more": " Touch Next at the bottom right for more procedures.",
        "search": "Type the procedure's name on the keyboard in the lower half of the screen. "
                  "The results appear above the keyboard. Touch one to choose it.",
        "detail": "{name}. {n} people are waiting. {wait} "
                  "Touch the green Take a number button at the bottom.",
        "detail_wait": "The estimated wait is {wait}.",
        "detail_closed": "No counter is open for this procedure yet, so the wait is unknown. "
                         "You can still take a number to keep your turn.",
        "ticket": "Your number is {number}. Please go to counter {counters} when called. "
                  "{wait} {paper}",
        "ticket_wait": "People ahead of you: {ahead}. Estimated wait {wait}.",
        "ticket_closed": "People ahead of you: {ahead}. No counter is open for this "
                         "procedure yet.",
        "paper": "Please take your ticket from the printer below.",
        "no_paper": "Please remember this number.",
        "message": "No number was issued. {reason} Use the buttons at the bottom to try "
                   "again or go back.",
    },
}


def _s(lang: str) -> dict[str, str]:
    return SPEECH.get(lang, SPEECH["vi"])


def _spoken_wait(seconds, lang: str) -> str:
    """'~12 phút' read aloud: 'khoảng 12 phút'."""
    text = wait_text(seconds, lang)
    return text.replace("~", "khoảng " if lang == "vi" else "about ")


def home_speech(names: list[str], more: bool, lang: str = "vi") -> str:
    s = _s(lang)
    text = s["home"].format(names=", ".join(short_name(n) for n in names))
    return text + (s["home_more"] if more else "")


def search_speech(lang: str = "vi") -> str:
    return _s(lang)["search"]


def detail_speech(name: str, waiting: int | None, wait_s: int | None, closed: bool,
                  lang: str = "vi") -> str:
    s = _s(lang)
    if closed:
        wait = s["detail_closed"]
    elif wait_s is not None and waiting is not None:
        wait = s["detail_wait"].format(wait=_spoken_wait(wait_s, lang))
    else:
        wait = ""
    return " ".join(s["detail"].format(name=short_name(name), n=waiting or 0, wait=wait).split())


def ticket_speech(ticket: dict, printed: bool, lang: str = "vi") -> str:
    s = _s(lang)
    ahead = ticket.get("waiting_ahead") or 0
    if ticket.get("no_counter_open"):
        wait = s["ticket_closed"].format(ahead=ahead)
    else:
        wait = s["ticket_wait"].format(ahead=ahead,
                                       wait=_spoken_wait(ticket.get("estimated_wait_s"), lang))
    text = s["ticket"].format(number=ticket.get("number", ""),
                              counters=counters_text(ticket.get("counters") or []),
                              wait=wait, paper=s["paper"] if printed else s["no_paper"])
    return " ".join(text.split())


def message_speech(reason: str, lang: str = "vi") -> str:
    return " ".join(_s(lang)["message"].format(reason=reason).split())
