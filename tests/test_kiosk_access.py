"""The kiosk's accessible mode (issue #16): its rules without Kivy, the real espeak-ng voice,
and one run of the real (offscreen) Kivy window against the real server: the button on
Home, large light-on-black text, every control in the lower half, each step read aloud,
and the mode left on idle and on the screensaver."""

from __future__ import annotations

import shutil
import time
import wave

import pytest

from kiosk import access
from kiosk.voice import MAX_CHARS, Speaker, clean

ESPEAK = shutil.which("espeak-ng")


# -- rules --------------------------------------------------------------------------------

def test_palette_pairs_reach_aaa_contrast_and_the_old_blue_does_not():
    pairs = [(access.WHITE, access.BLACK), (access.YELLOW, access.BLACK),
             (access.WHITE, access.NAVY), (access.WHITE, access.GREEN),
             (access.BLACK, access.YELLOW), (access.WHITE, access.PURPLE)]
    for fg, bg in pairs:
        assert access.contrast(fg, bg) >= access.MIN_CONTRAST, (fg, bg)
    assert access.contrast(access.WHITE, access.BLACK) == pytest.approx(21.0)
    # the normal screens' blue text on black would fail: the mode must not reuse it
    assert access.contrast((0.05, 0.28, 0.63, 1), access.BLACK) < access.MIN_CONTRAST


def test_pages_of_four():
    assert access.pages(list(range(9))) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert access.pages([]) == [[]]


def test_speech_for_each_step():
    home = access.home_speech(["Thủ tục đăng ký khai sinh", "Đăng ký kết hôn"], more=True)
    assert "Đăng ký khai sinh, Đăng ký kết hôn" in home and "Trang sau" in home
    assert "Trang sau" not in access.home_speech(["Đăng ký kết hôn"], more=False)
    detail = access.detail_speech("Đăng ký khai sinh", 3, 720, closed=False)
    assert "Đang có 3 người chờ" in detail and "khoảng 12 phút" in detail
    assert "Lấy số" in detail
    closed = access.detail_speech("Đăng ký khai sinh", 3, None, closed=True)
    assert "chưa có quầy mở" in closed and "phút" not in closed
    ticket = {"number": 1023, "counters": [5, 6], "waiting_ahead": 0, "estimated_wait_s": 30}
    said = access.ticket_speech(ticket, printed=True)
    assert said.startswith("Số thứ tự của bạn là 1023. Mời đến quầy số 5, 6")
    assert "Số người chờ trước bạn: 0" in said and "khe máy in" in said
    said = access.ticket_speech({**ticket, "no_counter_open": True, "estimated_wait_s": None},
                                printed=False)
    assert "Hiện chưa có quầy mở" in said and "dự kiến" not in said and "ghi nhớ" in said
    assert access.search_speech("en").startswith("Type the procedure")


def test_text_is_cut_to_the_limit_at_a_word():
    text = clean("Đăng ký  khai\nsinh " * 100)
    assert len(text) <= MAX_CHARS and not text.endswith(" ") and "  " not in text


# -- the real espeak-ng ---------------------------------------------------------------------

@pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")
def test_speaker_renders_vietnamese_wav_and_the_newest_sentence_wins(tmp_path):
    speaker = Speaker(out_dir=tmp_path)
    try:
        speaker.say("Mời số 1023 đến quầy số 5")
        deadline = time.monotonic() + 10
        while not speaker.history() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = speaker.history()[0]
        with wave.open(first["wav"]) as w:
            seconds = w.getnframes() / w.getframerate()
        assert 1.0 < seconds < 10, seconds
        # three steps in a row (a citizen touching quickly): the last is always said, and
        # a sentence overtaken before it started is never said
        for text in ("Một", "Hai", "Chạm nút Lấy số màu xanh ở phía dưới"):
            speaker.say(text)
        while speaker.history()[-1]["text"] != "Chạm nút Lấy số màu xanh ở phía dưới":
            assert time.monotonic() < deadline, speaker.history()
            time.sleep(0.02)
        said = [x["text"] for x in speaker.history()]
        assert said[-1] == "Chạm nút Lấy số màu xanh ở phía dưới"
        assert len(said) <= 4
    finally:
        speaker.close()


# -- the real window ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(demo_template, tmp_path_factory):
    from tests.conftest import LiveServer

    data = tmp_path_factory.mktemp("access") / "data"
    shutil.copytree(demo_template, data)
    srv = LiveServer(data).start()
    yield srv
    srv.stop()


def _controls_below_half(dump: dict) -> None:
    half = dump["window"][1] / 2
    buttons = [w for w in dump["layout"] if w["button"]]
    assert buttons, dump["layout"]
    for b in buttons:  # y is the bottom edge (Kivy's origin is the bottom left)
        assert b["y"] + b["height"] <= half + 1, (b["text"], b["y"], b["height"], half)


def _large_and_contrasted(dump: dict) -> None:
    for w in dump["layout"]:
        assert w["font_sp"] >= access.MIN_TEXT_SP, (w["text"], w["font_sp"])
        bg = w["bg"] if w["button"] else access.BLACK
        assert access.contrast(w["color"], bg) >= access.MIN_CONTRAST, (w["text"], w["color"], bg)
        assert w["text_height"] <= w["room_height"] + 1, w  # no line dropped


@pytest.mark.gui
@pytest.mark.e2e
@pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")
def test_accessible_mode_large_contrasted_lower_half_spoken_then_reset(server, tmp_path):
    from tests.test_kiosk_gui import READY, KioskRun, kiosk_token, not_blank

    voice = tmp_path / "voice"
    shots = {n: tmp_path / f"access-{n}.png" for n in ("home", "detail", "ticket")}
    steps = [READY, {"touch": {"text": "Chế độ hỗ trợ"}}, {"wait": {"screen": "access_home"}},
             {"wait": {"spoken": "Chế độ hỗ trợ. Các nút bấm ở nửa dưới màn hình"}},
             {"screenshot": str(shots["home"])}, {"dump": "home"},
             {"touch": {"text": "Trang sau"}}, {"wait": {"text": "Trang 2/"}},
             {"touch": {"text": "Trang trước"}}, {"wait": {"text": "Trang 1/"}},
             # typing a name: the normal keyboard, with larger results and no top buttons
             {"touch": {"text": "Gõ tên thủ tục"}}, {"wait": {"screen": "search"}},
             {"wait": {"spoken": "Gõ tên thủ tục bằng bàn phím ở nửa dưới màn hình"}},
             {"type": "khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}}, {"dump": "search"},
             {"touch": {"text": "‹ Quay lại"}}, {"wait": {"screen": "access_home"}},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "access_detail"}},
             {"wait": {"spoken": "Thủ tục Đăng ký khai sinh. Đang có 0 người chờ"}},
             {"touch": {"text": "Người cao tuổi"}},
             {"screenshot": str(shots["detail"])}, {"dump": "detail"},
             {"touch": {"id": "take"}}, {"wait": {"screen": "access_ticket"}},
             {"wait": {"spoken": "Số thứ tự của bạn là 1001"}},
             {"screenshot": str(shots["ticket"])}, {"dump": "ticket"},
             # the ticket screen's idle timeout: the next citizen finds the normal Home
             {"idle": {"home": 30, "saver": 30, "ticket": 1.0}},
             {"wait": {"screen": "home"}, "timeout": 5}, {"dump": "after_ticket"},
             # in again, then idle all the way to the screensaver: normal again
             {"touch": {"id": "access_button"}}, {"wait": {"screen": "access_home"}},
             {"idle": {"home": 1.0, "saver": 1.0, "ticket": 1.0}},
             {"wait": {"screen": "saver"}, "timeout": 8}, {"dump": "saver"},
             {"idle": {"home": 30, "saver": 30, "ticket": 1.0}},
             {"touch": {"screen_centre": True}}, {"wait": {"screen": "home"}}, {"dump": "woken"}]
    run = KioskRun(tmp_path, server.url, kiosk_token(server), steps,
                   extra=("--voice-dir", str(voice)))
    d = run.result()["dumps"]

    home = d["home"]
    assert home["access"] is True
    _controls_below_half(home)
    _large_and_contrasted(home)
    assert {"Đăng ký khai sinh", "Thoát chế độ hỗ trợ", "Đọc lại"} <= set(home["texts"])

    search = d["search"]
    assert "Trang chủ" not in search["texts"] and "Thoát chế độ hỗ trợ" in search["texts"]
    half = search["window"][1] / 2
    for w in search["layout"]:
        if w["text"] in ("‹ Quay lại", "Thoát chế độ hỗ trợ") or len(w["text"]) == 1:
            assert w["y"] + w["height"] <= half + 1, w  # keys and the way back: lower half
        if "Đăng ký khai sinh" in w["text"]:
            assert w["font_sp"] >= access.MIN_TEXT_SP, w

    detail = d["detail"]
    _controls_below_half(detail)
    _large_and_contrasted(detail)
    assert detail["priority"] == "elderly"
    assert any("Đang chờ: 0 người" in t for t in detail["texts"])

    ticket = d["ticket"]
    assert ticket["ticket"]["number"] == 1001 and ticket["ticket"]["priority"] == "elderly"
    _controls_below_half(ticket)
    _large_and_contrasted(ticket)
    assert "1001" in ticket["texts"]
    said = ticket["spoken"]
    assert said[0].startswith("Chế độ hỗ trợ") and "Đăng ký khai sinh" in said[0]
    assert any(s.startswith("Số thứ tự của bạn là 1001. Mời đến quầy số") for s in said)
    for path in ticket["wavs"]:  # each step really rendered by espeak-ng
        with wave.open(path) as w:
            assert w.getnframes() / w.getframerate() > 0.5

    assert d["after_ticket"]["access"] is False and d["after_ticket"]["priority"] == ""
    assert d["saver"]["access"] is False
    assert d["woken"]["screen"] == "home" and d["woken"]["access"] is False
    for path in shots.values():
        not_blank(path)


# -- the search and message screens in the mode -----------------------------------------

def _rendered_bg(img, window, w) -> tuple:
    """The colour most of a widget's box shows in the screenshot (its background: text
    covers far less of it), as RGBA 0..1."""
    height = window[1]
    box = (round(w["x"]), round(height - w["y"] - w["height"]),
           round(w["x"] + w["width"]), round(height - w["y"]))
    _, colour = max(img.crop(box).getcolors(1 << 20))
    return (*(c / 255 for c in colour), 1)


def _in_window(window, w) -> bool:
    return (w["x"] >= 0 and w["y"] >= 0 and w["x"] + w["width"] <= window[0]
            and w["y"] + w["height"] <= window[1])


def _overlap(a, b) -> bool:
    return (a["x"] + 1 < b["x"] + b["width"] and b["x"] + 1 < a["x"] + a["width"]
            and a["y"] + 1 < b["y"] + b["height"] and b["y"] + 1 < a["y"] + a["height"])


def _in_view(dump: dict, w) -> bool:
    """In the window and not under a widget drawn after it (a result scrolled under the
    keyboard is in the layout, the keys drawn over it)."""
    after = dump["layout"][dump["layout"].index(w) + 1:]
    return _in_window(dump["window"], w) and not any(_overlap(o, w) for o in after)


def _drawn_light_on_black(dump: dict, shot) -> list[str]:
    """Every visible text of the screen checked against what the screenshot really shows
    behind it: the mode's colours, at least MIN_CONTRAST, at least MIN_TEXT_SP."""
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    window = dump["window"]
    assert list(img.size) == window, (img.size, window)
    checked = []
    for w in dump["layout"]:
        if not _in_view(dump, w):
            continue
        bg = _rendered_bg(img, window, w)
        if w["button"]:
            assert bg == pytest.approx(w["bg"], abs=0.02), (w["text"], bg, w["bg"])
        else:
            assert bg == pytest.approx(access.BLACK, abs=0.02), (w["text"], bg)
        assert access.contrast(w["color"], bg) >= access.MIN_CONTRAST, (w["text"], w["color"], bg)
        assert w["font_sp"] >= access.MIN_TEXT_SP, (w["text"], w["font_sp"])
        checked.append(w["text"])
    return checked


@pytest.mark.gui
@pytest.mark.e2e
def test_search_and_message_screens_light_on_black_in_the_mode_and_normal_after(server,
                                                                                tmp_path):
    from tests.test_kiosk_gui import READY, KioskRun, kiosk_token, not_blank

    shots = {n: tmp_path / f"{n}.png" for n in ("search", "message", "search_normal",
                                                "message_normal")}
    not_a_card = "NOT-A-CARD-12345"
    steps = [READY, {"touch": {"id": "access_button"}}, {"wait": {"screen": "access_home"}},
             {"touch": {"text": "Gõ tên thủ tục"}}, {"wait": {"screen": "search"}},
             {"type": "khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}},
             {"screenshot": str(shots["search"])}, {"dump": "search"},
             {"touch": {"text": "‹ Quay lại"}}, {"wait": {"screen": "access_home"}},
             # a scan that is no card: the error (message) screen, still in the mode
             {"scan": not_a_card}, {"wait": {"screen": "message"}},
             {"screenshot": str(shots["message"])}, {"dump": "message"},
             {"touch": {"text": "Trang chủ"}}, {"wait": {"screen": "access_home"}},
             # the mode ends: both screens in their normal colours again
             {"touch": {"text": "Thoát chế độ hỗ trợ"}}, {"wait": {"screen": "home"}},
             {"touch": {"id": "search_box"}}, {"wait": {"screen": "search"}},
             {"type": "khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}},
             {"screenshot": str(shots["search_normal"])}, {"dump": "search_normal"},
             {"touch": {"text": "Trang chủ"}}, {"wait": {"screen": "home"}},
             {"scan": not_a_card}, {"wait": {"screen": "message"}},
             {"screenshot": str(shots["message_normal"])}, {"dump": "message_normal"}]
    d = KioskRun(tmp_path, server.url, kiosk_token(server), steps).result()["dumps"]

    search = d["search"]
    assert search["access"] is True
    checked = _drawn_light_on_black(search, shots["search"])
    # the query, the count, the keys (letters and the last row) and the results
    assert {"khai sinh|", "A", "Dấu cách"} <= set(checked), checked
    assert any("kết quả" in t for t in checked)
    results = [t for t in checked if "khai sinh" in t and t != "khai sinh|"]
    assert len(results) >= search["results_visible"] >= 2, (results, search["results_visible"])

    message = d["message"]
    assert message["access"] is True and message["error_code"].startswith("scan_")
    checked = _drawn_light_on_black(message, shots["message"])
    assert {"Chưa lấy được số", "Trang chủ", "Quay lại"} <= set(checked), checked

    # normal again: the light grey screen, the blue results, the dark keys, the pale message
    from PIL import Image

    for name, text in (("search_normal", "khai sinh|"), ("message_normal", "Chưa lấy được số")):
        dump = d[name]
        assert dump["access"] is False
        img = Image.open(shots[name]).convert("RGB")
        label = next(w for w in dump["layout"] if w["text"] == text)
        assert access.luminance(_rendered_bg(img, dump["window"], label)) > 0.8, name
        not_blank(shots[name])
    by_text = {w["text"]: w for w in d["search_normal"]["layout"]}
    result = next(w for w in d["search_normal"]["layout"]
                  if w["button"] and "Đăng ký khai sinh" in w["text"])
    assert result["bg"] == pytest.approx([0.05, 0.28, 0.63, 1]) and result["font_sp"] == 21
    assert by_text["A"]["bg"] == pytest.approx([0.20, 0.24, 0.30, 1])
    assert by_text["A"]["font_sp"] == 28 and by_text["Dấu cách"]["font_sp"] == 22
