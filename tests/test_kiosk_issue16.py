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
             {"sleep": 0.3}, {"dump": "home"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    d = res["dumps"]
    assert d["chosen"]["priority"] == "elderly"
    assert any("Ưu tiên: " + ELDERLY in t for t in d["detail"]["texts"])
    assert d["ticket"]["ticket"]["priority"] == "elderly"
    assert d["ticket"]["priority"] == ""
    assert d["chosen2"]["priority"] == "elderly"
    assert d["home"]["priority"] == ""
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
             {"type": "dang ky"}, {"wait": {"text": "Đăng ký khai sinh"}}, {"dump": "many"},
             {"touch": {"text": "‹ Xóa"}}, {"touch": {"text": "Xóa hết"}},
             {"type": "khai sinh"}, {"wait": {"text": "Đăng ký khai sinh"}}, {"dump": "few"},
             {"touch": {"text": "Đăng ký khai sinh"}}, {"wait": {"screen": "detail"}},
             {"dump": "detail"}]
    res = KioskRun(tmp_path, live_server.url, kiosk_token(live_server), steps).result()
    d = res["dumps"]

    def count(dump):
        found = [t for t in dump["texts"] if t.endswith("kết quả")]
        assert len(found) == 1, dump["texts"]
        return int(found[0].split()[-3 if found[0].startswith("Hơn") else 0])

    assert count(d["many"]) > 20  # the real number, not the 20 buttons shown
    assert 0 < count(d["few"]) < 20
    meta = " ".join(d["detail"]["texts"])
    assert "Lĩnh vực: Hộ tịch" in meta and "Ủy ban nhân dân" in meta
    assert "UBND" not in meta and " · xã · " not in meta
