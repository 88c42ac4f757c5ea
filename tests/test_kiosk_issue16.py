"""The kiosk's first-week fixes (issue #16), on the real (offscreen) Kivy window against the
real server: a priority choice is one citizen's (reset after the ticket and on Home),
catalogue changes reach a running kiosk live, and times are the centre's, not the PC's."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from tests.test_kiosk_gui import READY, KioskRun, kiosk_token

pytestmark = [pytest.mark.gui, pytest.mark.e2e]

ELDERLY = "Người cao tuổi"


def test_priority_is_reset_after_the_ticket_and_on_home(live_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # the kiosk PC's clock zone: the screen must not use it
    steps = [READY,
             {"touch": {"text": ELDERLY}}, {"dump": "chosen"},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"dump": "detail"},
             {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}}, {"dump": "ticket"},
             {"touch": {"text": "Xong"}}, {"wait": {"screen": "home"}},
             # the next citizen chooses a priority, opens the search, then goes back Home
             {"touch": {"text": ELDERLY}}, {"dump": "chosen2"},
             {"touch": {"id": "search_box"}}, {"wait": {"screen": "search"}},
             {"touch": {"text": "Trang chủ"}}, {"wait": {"screen": "home"}},
             {"sleep": 0.3}, {"dump": "home"},
             # a third citizen chooses a priority and walks away: idle clears it
             {"touch": {"text": ELDERLY}}, {"dump": "chosen3"},
             {"idle": {"home": 30, "saver": 1.0, "ticket": 1.0}},
             {"wait": {"screen": "saver"}, "timeout": 8}, {"dump": "idle"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    d = res["dumps"]
    assert d["chosen"]["priority"] == "elderly"
    assert any("Ưu tiên: " + ELDERLY in t for t in d["detail"]["texts"])
    assert d["ticket"]["ticket"]["priority"] == "elderly"
    assert d["ticket"]["priority"] == ""
    assert d["chosen2"]["priority"] == "elderly"
    assert d["home"]["priority"] == ""
    assert d["chosen3"]["priority"] == "elderly" and d["idle"]["priority"] == ""
    # the clock on screen is the centre's (Asia/Ho_Chi_Minh), not the PC's UTC
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    ok = {(now + timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 0)}
    assert d["home"]["clock_text"] in ok, (d["home"]["clock_text"], ok)


def test_catalogue_changes_reach_a_running_kiosk(live_server, tmp_path):
    name = "Cấp giấy phép nuôi ong mật"
    steps = [READY, {"wait": {"attr": "live", "value": True}},
             {"write": str(tmp_path / "ready")},
             {"wait": {"attr": "catalogue_loads", "value": 2}, "timeout": 30},
             {"touch": {"id": "search_box"}}, {"wait": {"screen": "search"}},
             {"type": "nuoi ong mat"}, {"wait": {"text": name}}, {"dump": "found"}]
    run = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps)
    run.wait_flag("ready")
    admin = live_server.login("admin")
    csv = f"Mã thủ tục,Tên thủ tục,Lĩnh vực\n9.000001,{name},Lĩnh vực thử\n"
    res = requests.post(live_server.url + "/api/v1/admin/procedures/import",
                        headers={"Authorization": f"Bearer {admin}"},
                        files={"file": ("catalogue.csv", io.BytesIO(csv.encode()))}, timeout=10)
    assert res.status_code == 202, res.text
    for _ in range(100):
        job = live_server.get(f"/admin/imports/{res.json()['job']}", admin).json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "done", job
    out = run.result()
    assert any(name in t for t in out["dumps"]["found"]["texts"])


def test_search_counts_real_matches_and_detail_speaks_plainly(live_server, tmp_path):
    steps = [READY, {"touch": {"id": "search_box"}}, {"wait": {"screen": "search"}},
             # a few matches, and a result's detail (before any scrolling: a touch on a list
             # still folding or unfolding the keyboard may be taken for a scroll)
             {"type": "khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}}, {"sleep": 1.0},
             {"dump": "few"},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"dump": "detail"},
             {"touch": {"text": "Quay lại"}}, {"wait": {"screen": "search"}},
             {"touch": {"text": "Xóa hết"}},
             # many matches: the real count; a finger scrolling the results folds the
             # keyboard away; a button brings it back
             {"type": "dang ky"}, {"wait": {"text": "Đăng ký khai sinh"}}, {"sleep": 1.0},
             {"dump": "many"},
             {"drag": {"id": "scroll", "dy": 120}}, {"wait": {"text": "Hiện bàn phím"}},
             {"sleep": 0.8}, {"dump": "folded"},
             {"touch": {"text": "Hiện bàn phím"}}, {"wait": {"text": "Xóa hết"}}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    d = res["dumps"]

    def count(dump):
        found = [t for t in dump["texts"] if t.endswith("kết quả")]
        assert len(found) == 1, dump["texts"]
        return int(found[0].split()[-3 if found[0].startswith("Hơn") else 0])

    assert count(d["many"]) > 20  # the real number, not the 20 buttons shown
    # compact rows: more than the ~2.5 results that used to show above the keyboard
    assert d["many"]["results_visible"] >= 3, d["many"]["results_visible"]
    assert d["folded"]["results_visible"] >= 6, d["folded"]["results_visible"]
    assert not any(t == "Xóa hết" for t in d["folded"]["texts"])  # the keyboard is away
    assert 0 < count(d["few"]) < 20
    meta = " ".join(d["detail"]["texts"])
    assert "Lĩnh vực: Hộ tịch" in meta and "Ủy ban nhân dân" in meta
    assert "UBND" not in meta and " · xã · " not in meta


def _tiles(dump: dict) -> list[dict]:
    return [w for w in dump["layout"] if "full_text" in w]


def _whole_on_screen(dump: dict) -> None:
    """Every tile inside the window, and no line of its text dropped."""
    width, height = dump["window"]
    tiles = _tiles(dump)
    assert tiles
    for w in tiles:
        assert w["x"] >= 0 and w["x"] + w["width"] <= width + 1, w
        assert w["y"] >= 0 and w["y"] + w["height"] <= height + 1, w
        assert w["text_height"] <= w["room_height"] + 1, w
        # a name too long for its tile is cut at a word with "…", never mid-line
        assert w["text"] == w["full_text"] or (
            w["text"].endswith("…") and w["full_text"].startswith(w["text"][:-1].rstrip())), w


def test_home_tiles_are_whole_in_portrait_and_english_names_are_shown(live_server, tmp_path):
    steps = [READY, {"dump": "portrait"},
             {"touch": {"id": "lang_button"}}, {"wait": {"text": "Take a number"}},
             {"dump": "en"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps,
                   extra=("--size", "800x1280")).result()
    d = res["dumps"]
    for name in ("portrait", "en"):
        _whole_on_screen(d[name])
    # the popular tiles (2 columns in portrait) all get their full height: the third row
    # used to be squeezed into the height of two
    popular = [w for w in _tiles(d["portrait"]) if w["font_sp"] == 24]
    assert len(popular) >= 5
    assert min(w["height"] for w in popular) >= 0.95 * max(w["height"] for w in popular)
    assert "Chứng thực bản sao" in " ".join(w["text"] for w in popular)
    # English: the centre's English name (centre.toml name_en), not the Vietnamese one
    texts = d["en"]["texts"]
    assert "Bac Ninh Public Administration Service Centre" in texts, texts
    header = next(w for w in d["en"]["layout"]
                  if w["text"] == "Bac Ninh Public Administration Service Centre")
    assert header["text_height"] <= header["room_height"] + 1, header  # whole, beside buttons
    assert not any("Trung tâm Phục vụ" in t for t in texts)


def test_no_open_counter_is_said_on_screen_and_paper_until_one_opens(live_server, tmp_path,
                                                                     monkeypatch):
    """No counter of the team open (the demo starts with all closed): the detail warns before
    the number is taken, the ticket screen and the printed ticket say so instead of a wait;
    once an officer opens a counter, the estimate comes back. The kiosk PC's clock zone is
    UTC: the paper still has the centre's time."""
    from hardware.emulators.escpos_stream import decode_text
    from hardware.emulators.printer_server import PrinterEmulator

    closed = "Hiện chưa có quầy mở cho thủ tục này"
    monkeypatch.setenv("TZ", "UTC")
    with PrinterEmulator() as printer:
        steps = [READY, {"wait": {"attr": "live", "value": True}},
                 {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
                 {"wait": {"text": closed}}, {"dump": "closed"},
                 {"touch": {"id": "take"}}, {"wait": {"screen": "ticket"}},
                 {"wait": {"attr": "print_state", "value": "printed"}},
                 {"screenshot": str(tmp_path / "ticket.png")}, {"dump": "ticket"},
                 {"write": str(tmp_path / "issued")},
                 {"wait": {"file": str(tmp_path / "opened")}, "timeout": 20},
                 {"touch": {"text": "Xong"}}, {"wait": {"screen": "home"}},
                 {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
                 {"wait": {"text": "Dự kiến chờ"}, "timeout": 15}, {"dump": "open"}]
        run = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps, printer.url)
        run.wait_flag("issued")
        officer = live_server.login("canbo01", 1)
        assert live_server.post("/counters/1/resume", officer).status_code == 200
        run.set_flag("opened")
        d = run.result()["dumps"]
        paper = decode_text(printer.wait_for_jobs(1)[0])
    detail = " ".join(d["closed"]["texts"])
    assert "Bạn vẫn có thể lấy số" in detail and "Dự kiến chờ" not in detail
    ticket = d["ticket"]
    assert ticket["ticket"]["no_counter_open"] is True
    assert closed in ticket["texts"]
    assert not any("Thời gian chờ dự kiến" in t for t in ticket["texts"])
    assert closed in " ".join(paper.split()) and "Thời gian chờ dự kiến" not in paper
    assert "Số người chờ trước bạn: 0" in paper
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    printed = {f"Giờ lấy số: {now + timedelta(minutes=m):%H:%M %d/%m/%Y}" for m in (-1, 0)}
    assert any(p in paper for p in printed), (printed, paper)
    after = " ".join(d["open"]["texts"])
    assert closed not in after and "Dự kiến chờ" in after
    # the number is centred like the lines under it (it used to sit at the left)
    number = next(w for w in ticket["layout"] if w["text"] == "1001")
    title = next(w for w in ticket["layout"] if w["text"] == "SỐ THỨ TỰ CỦA BẠN")
    assert abs((number["x"] + number["width"] / 2) - (title["x"] + title["width"] / 2)) <= 2
    img = Image.open(tmp_path / "ticket.png").convert("RGB")
    red = [x for x in range(img.width) for y in range(0, img.height, 4)
           if (lambda p: p[0] > 150 and p[1] < 80 and p[2] < 80)(img.getpixel((x, y)))]
    ink_centre = (min(red) + max(red)) / 2
    assert abs(ink_centre - (number["x"] + number["width"] / 2)) <= 0.03 * number["width"]
