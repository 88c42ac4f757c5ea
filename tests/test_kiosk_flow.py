"""Kiosk logic without a window: ticket flow, queue figures, idle timers, keys, wording."""

from __future__ import annotations

import itertools
import json
import unicodedata

import pytest

from kiosk import i18n
from kiosk.client import KioskError
from kiosk.flow import FAILED, IDLE, ISSUED, ISSUING, IdleClock, QueueInfo, TicketFlow
from kiosk.keys import BACKSPACE, CLEAR, ROWS, SPACE, KeyBuffer
from kiosk.settings import KioskSettings, load_file, settings_from_args


def counter_keys():
    n = itertools.count(1)
    return lambda: f"key-{next(n)}"


# -- ticket flow --------------------------------------------------------------------------------
def test_double_tap_is_ignored_while_issuing():
    flow = TicketFlow(key_factory=counter_keys())
    first = flow.begin("1.001193", None)
    assert first is not None and flow.state == ISSUING
    assert flow.begin("1.001193", None) is None
    assert flow.taps_ignored == 1
    flow.succeeded({"id": 1})
    assert flow.state == ISSUED


def test_retry_after_failure_reuses_the_key():
    flow = TicketFlow(key_factory=counter_keys())
    intent = flow.begin("1.001193", "elderly")
    flow.failed(KioskError("server_unreachable"))
    assert flow.state == FAILED
    again = flow.retry()
    assert again.key == intent.key and again.attempts == 2
    flow.failed(KioskError("server_unreachable"))
    # tapping "Lấy số" again for the same procedure and priority is the same intent
    assert flow.begin("1.001193", "elderly").key == intent.key


def test_new_intent_gets_a_new_key():
    flow = TicketFlow(key_factory=counter_keys())
    a = flow.begin("1.001193", None).key
    flow.failed(KioskError("server_unreachable"))
    b = flow.begin("1.000894", None).key  # another procedure
    assert a != b
    flow.succeeded({"id": 2})
    c = flow.begin("1.000894", None).key  # after a ticket: the next citizen
    assert c not in (a, b)


def test_reset_forgets_the_intent_but_not_while_issuing():
    flow = TicketFlow(key_factory=counter_keys())
    flow.begin("x", None)
    flow.reset()
    assert flow.state == ISSUING and flow.intent is not None
    flow.failed(KioskError("server_error"))
    flow.reset()
    assert flow.state == IDLE and flow.intent is None and flow.retry() is None


# -- queue figures ------------------------------------------------------------------------------
SNAP = {"centre": "Trung tâm", "notice": "Giờ làm việc", "seq": 10,
        "teams": [{"id": 1, "name": "Tổ 1", "waiting": 4, "estimated_wait_s": 600,
                   "counters": [1, 2]},
                  {"id": 2, "name": "Tổ 2", "waiting": 0, "estimated_wait_s": 0,
                   "counters": [3]}]}


def test_queue_info_from_snapshot_and_events():
    q = QueueInfo()
    q.apply_state(SNAP)
    assert q.known and q.team(1).waiting == 4 and q.team(1).counters == [1, 2]
    assert q.apply_event({"seq": 11, "waiting": {"1": 6, "2": 0}})
    assert q.team(1).waiting == 6 and q.team(1).estimated_wait_s == 900  # scaled
    assert not q.apply_event({"seq": 12, "waiting": {"1": 6}})
    assert not q.apply_event({"seq": 13, "type": "counter.paused"})
    assert q.seq == 13 and q.team(99) is None


# -- idle ---------------------------------------------------------------------------------------
def test_idle_clock():
    now = [0.0]
    idle = IdleClock(60, 120, 20, clock=lambda: now[0])
    now[0] = 30
    assert idle.due("detail") is None and idle.due("ticket") == "home"
    now[0] = 61
    assert idle.due("search") == "home" and idle.due("home") is None
    assert idle.due("search", busy=True) is None
    now[0] = 121
    assert idle.due("home") == "saver" and idle.due("saver") is None
    idle.touched()
    assert idle.due("home") is None and idle.remaining("ticket") == 20


# -- keyboard -----------------------------------------------------------------------------------
def test_keyboard_plain_and_telex():
    kb = KeyBuffer()
    assert kb.type("ddawng kys khai sinh") == "đăng ký khai sinh"
    kb.toggle_telex()
    assert kb.text == "ddawng kys khai sinh"
    kb.press(CLEAR)
    kb.telex = True
    kb.press(SPACE)
    assert kb.raw == ""  # no leading space
    kb.type("khai sinh")
    kb.press(BACKSPACE)
    assert kb.text == "khai sin"
    assert all(len(row) >= 9 for row in ROWS) and "đ" in ROWS[2]


# -- wording ------------------------------------------------------------------------------------
def test_every_string_in_both_languages_and_vietnamese_has_diacritics():
    assert set(i18n.STRINGS["vi"]) == set(i18n.STRINGS["en"])
    assert set(i18n.PRIORITY_LABELS["vi"]) == set(i18n.PRIORITY_LABELS["en"])
    # Vietnamese words that are written without marks ("Xong", "Trang sau"): listed, so a
    # new string typed without its diacritics still fails
    no_marks = {"lang_switch", "done", "access_page", "access_next"}
    unmarked = {k for k, v in i18n.STRINGS["vi"].items()
                if not any(unicodedata.decomposition(c) or c in "đĐ" for c in v)}
    assert unmarked <= no_marks, unmarked - no_marks
    for text in i18n.STRINGS["vi"].values():
        assert unicodedata.is_normalized("NFC", text)


def test_error_texts():
    assert "Ngoài giờ làm việc" in i18n.error_text("outside_hours")
    assert "Chưa có số nào được cấp" in i18n.error_text("server_unreachable")
    assert "chưa có quầy" in i18n.error_text("team_closed")
    assert "Outside opening hours" in i18n.error_text("outside_hours", lang="en")
    assert "xyz" in i18n.error_text("weird", "xyz")


def test_helpers():
    assert i18n.short_name("Thủ tục đăng ký khai sinh") == "Đăng ký khai sinh"
    assert i18n.clip("một hai ba bốn năm", 10) == "một hai…"
    assert i18n.days_text(0) == "Trong ngày" and i18n.days_text("3") == "3 ngày làm việc"
    assert i18n.wait_text(1500) == "~25 phút" and i18n.counters_text([1, 2]) == "1, 2"
    assert i18n.priority_label("elderly") == "Người cao tuổi"
    assert i18n.priority_label("") == "Không ưu tiên"


# -- settings -----------------------------------------------------------------------------------
def test_settings_from_flags_file_and_env(tmp_path):
    conf = tmp_path / "kiosk.toml"
    conf.write_text('[kiosk]\npopular = ["1.001193"]\nidle_home_s = 30\nlanguage = "en"\n',
                    encoding="utf-8")
    s, args = settings_from_args(["--server", "http://h:5000/", "--config", str(conf),
                                  "--portrait", "--printer", "dummy:"],
                                 env={"QMS_KIOSK_TOKEN": "tok"})
    assert s.server == "http://h:5000" and s.token == "tok" and s.popular == ["1.001193"]
    assert s.idle_home_s == 30 and s.language == "en" and s.window_size == (800, 1280)
    assert s.printer == "dummy:" and args.script is None
    j = tmp_path / "k.json"
    j.write_text(json.dumps({"priorities": ["elderly"], "size": [1024, 768]}))
    assert load_file(j)["size"] == (1024, 768)


def test_settings_reject_bad_values(tmp_path):
    with pytest.raises(ValueError):
        settings_from_args(["--server", "http://h"], env={})  # no token
    with pytest.raises(ValueError):
        KioskSettings(token="t", priorities=["vip"]).validate()
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'red'\n")
    with pytest.raises(ValueError):
        load_file(bad)
    for speed in (79, 261):  # the voice's limits (words per minute)
        with pytest.raises(ValueError):
            KioskSettings(token="t", voice_speed=speed).validate()


def test_voice_settings_from_file_and_flag(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('voice_speed = 120\nvoice_player = "aplay -q"\n')
    settings, _ = settings_from_args(["--token", "t", "--config", str(cfg),
                                      "--voice-dir", str(tmp_path / "v")], env={})
    assert (settings.voice, settings.voice_speed, settings.voice_player) == (True, 120, "aplay -q")
    assert settings.voice_dir == str(tmp_path / "v")


def test_run_without_token_exits_2(capsys):
    from kiosk.main import run

    assert run(["--server", "http://127.0.0.1:9"]) == 2
    assert "token" in capsys.readouterr().err


def test_queue_info_knows_a_team_with_no_counter_open():
    q = QueueInfo()
    q.apply_state({"centre": "Trung tâm", "centre_en": "The Centre", "teams": [
        {"id": 1, "name": "Tổ 1", "name_en": "Team 1", "waiting": 4, "estimated_wait_s": None,
         "counters": [1, 2], "counters_open": 0, "no_counter_open": True},
        {"id": 2, "name": "Tổ 2", "waiting": 2, "estimated_wait_s": 300, "counters": [3],
         "counters_open": 1, "no_counter_open": False}]})
    one, two = q.team(1), q.team(2)
    assert one.no_counter_open and one.estimated_wait_s is None and one.counters_open == 0
    assert not two.no_counter_open and two.estimated_wait_s == 300
    # an event: one more waiting at team 1 (still no estimate), team 2's only counter closes
    assert q.apply_event({"seq": 5, "waiting": {"1": 5, "2": 2},
                          "counters_open": {"1": 0, "2": 0}})
    assert one.waiting == 5 and one.estimated_wait_s is None
    assert two.no_counter_open and two.estimated_wait_s is None
    # a counter of team 1 opens: no longer "no counter open"
    assert q.apply_event({"seq": 6, "counters_open": {"1": 1}})
    assert not one.no_counter_open and one.counters_open == 1
    # names in the screen's language
    assert q.centre_name("en") == "The Centre" and q.centre_name("vi") == "Trung tâm"
    assert q.team_name(1, "Tổ 1", "en") == "Team 1" and q.team_name(1, "Tổ 1", "vi") == "Tổ 1"
    assert q.team_name(2, "Tổ 2", "en") == "Tổ 2"  # no English name: the Vietnamese one
    bare = QueueInfo()
    bare.apply_state({"centre": "Trung tâm"})
    assert bare.centre_name("en") == "Trung tâm"


def test_every_character_the_kiosk_shows_is_in_its_font():
    """No missing-glyph box ("← Xóa" showed one): every character of every string, every
    .kv literal and every key label has a glyph in Kivy's default font (Roboto)."""
    import importlib.util
    import re
    import tokenize
    from pathlib import Path

    from PIL import ImageFont

    from kiosk import access

    kivy_dir = Path(importlib.util.find_spec("kivy").origin).parent
    font = ImageFont.truetype(str(kivy_dir / "data/fonts/Roboto-Regular.ttf"), 40)
    missing = bytes(font.getmask("\ue000"))  # a private-use point: the .notdef box
    texts = [t for table in i18n.STRINGS.values() for t in table.values()]
    texts += [t for table in access.SPEECH.values() for t in table.values()]
    texts += ["".join(row) for row in ROWS]
    kiosk_dir = Path(__file__).resolve().parents[1] / "kiosk"
    for path in kiosk_dir.rglob("*.py"):  # string literals (not comments)
        with path.open("rb") as fh:
            texts += [tok.string for tok in tokenize.tokenize(fh.readline)
                      if tok.type == tokenize.STRING]
    for path in kiosk_dir.rglob("*.kv"):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                 if not ln.strip().startswith("#")]
        texts += re.findall(r"'([^'\n]*)'|\"([^\"\n]*)\"", "\n".join(lines))
    chars = set()
    for t in texts:
        for part in (t if isinstance(t, tuple) else (t,)):
            chars.update(c for c in part if ord(c) > 0x7E)
    assert "‹" in chars  # the backspace key's label is among them
    absent = sorted(c for c in chars if c.isprintable() and not c.isspace()
                    and bytes(font.getmask(c)) == missing)
    assert absent == [], absent
    assert bytes(font.getmask("←")) == missing  # the check does see a missing glyph
