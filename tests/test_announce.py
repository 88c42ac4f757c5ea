"""Announcement wording and the ordered announcement queue."""

from __future__ import annotations

import threading
import time

import pytest

from display_board.announce import (
    DEFAULT_TEMPLATES,
    AnnouncementTemplates,
    announcement_text,
    build_announcement,
    en_read_number,
    phrase_clip_name,
)
from display_board.announce_queue import AnnouncementQueue, QueuedCall
from display_board.vi_numbers import ReadingOptions, read_number

# --- wording -------------------------------------------------------------------


def test_default_vietnamese_call() -> None:
    assert announcement_text(1023, 5) == (
        "Mời công dân có số thứ tự một nghìn không trăm hai mươi ba đến quầy số năm"
    )
    assert announcement_text(2005, 21) == (
        "Mời công dân có số thứ tự hai nghìn không trăm linh năm đến quầy số hai mươi mốt"
    )


def test_vietnamese_clip_order() -> None:
    ann = build_announcement(1234, 15)
    assert ann.clip_names == [
        "moi_cong_dan",
        "mot", "nghin", "hai", "tram", "ba", "muoi2", "tu",
        "den_quay_so",
        "muoi", "lam",
    ]  # fmt: skip
    assert [s.kind for s in ann.segments] == ["phrase", "number", "phrase", "number"]
    assert ann.segments[1].text == "một nghìn hai trăm ba mươi tư"


def test_recall_wording() -> None:
    text = announcement_text(1023, 5, recall=True)
    assert text.startswith("Xin nhắc lại. Mời công dân có số thứ tự một nghìn")
    ann = build_announcement(1023, 5, recall=True)
    assert ann.recall and ann.clip_names[:2] == ["nhac_lai", "moi_cong_dan"]


def test_english_call() -> None:
    assert announcement_text(1023, 5, "en") == "Ticket number 1023, please go to counter 5"
    ann = build_announcement(1023, 5, "en")
    assert ann.clip_names == [
        "en_ticket_number",
        "en_one", "en_thousand", "en_twenty", "en_three",
        "en_please_go_to_counter",
        "en_five",
    ]  # fmt: skip
    assert announcement_text(7, 12, "en", recall=True) == (
        "Calling again: ticket number 7, please go to counter 12"
    )


def test_english_in_words() -> None:
    words = {
        "en": AnnouncementTemplates(**{**DEFAULT_TEMPLATES["en"].__dict__, "number_style": "words"})
    }
    assert announcement_text(1023, 5, "en", templates=words) == (
        "Ticket number one thousand twenty-three, please go to counter five"
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"), (5, "five"), (13, "thirteen"), (20, "twenty"), (21, "twenty-one"),
        (100, "one hundred"), (101, "one hundred one"), (999, "nine hundred ninety-nine"),
        (1000, "one thousand"), (1023, "one thousand twenty-three"),
        (21000, "twenty-one thousand"), (999999, "nine hundred ninety-nine thousand nine hundred ninety-nine"),
    ],
)  # fmt: skip
def test_english_numbers(n: int, text: str) -> None:
    assert en_read_number(n) == text


def test_custom_templates_and_dialect() -> None:
    templates = {
        "vi": AnnouncementTemplates(
            call="Xin mời số {number}, quầy {counter}",
            recall="Mời lần nữa số {number}, quầy {counter}",
        )
    }
    opts = ReadingOptions(odd="lẻ", thousand="ngàn")
    ann = build_announcement(1005, 3, templates=templates, options=opts)
    assert ann.text == "Xin mời số một ngàn không trăm lẻ năm, quầy ba"
    assert ann.clip_names == [
        "xin_moi_so", "mot", "ngan", "khong", "tram", "le", "nam", "quay", "ba",
    ]  # fmt: skip
    assert build_announcement(9, 3, recall=True, templates=templates).clip_names[0] == (
        "moi_lan_nua_so"
    )
    with pytest.raises(ValueError):
        build_announcement(1, 1, "en", templates=templates)


def test_template_validation() -> None:
    with pytest.raises(ValueError):
        AnnouncementTemplates(call="Mời quầy {counter}", recall="{number}")
    with pytest.raises(ValueError):
        AnnouncementTemplates(call="{number} {ticket}", recall="{number}")
    with pytest.raises(ValueError):
        AnnouncementTemplates(call="{number}", recall="{number}", number_style="roman")
    one_counter = {
        "vi": AnnouncementTemplates(call="Mời số {number}", recall="Mời lại số {number}")
    }
    assert announcement_text(12, None, templates=one_counter) == "Mời số mười hai"
    with pytest.raises(ValueError):
        announcement_text(12, None)  # the default wording needs a counter


def test_phrase_clip_names() -> None:
    assert phrase_clip_name("Mời công dân có số thứ tự") == "moi_cong_dan"
    assert phrase_clip_name("đến  quầy số") == "den_quay_so"
    assert phrase_clip_name("Đề nghị") == "de_nghi"
    assert phrase_clip_name("Now serving", "en") == "en_now_serving"


def test_every_counter_number_reads() -> None:
    for counter in range(1, 100):
        text = announcement_text(1001, counter)
        assert text.endswith("đến quầy số " + read_number(counter))


# --- the queue -----------------------------------------------------------------


def test_pull_mode_in_order_without_overlap() -> None:
    q = AnnouncementQueue(repeat=2)
    a = q.enqueue(1001, 1)
    b = q.enqueue(1001, 1)  # same call twice, 0 ms apart: both kept
    c = q.recall(1001, 1)
    assert [x.seq for x in q.pending()] == [1, 2, 3]
    first = q.next(timeout=0.1)
    assert first == a and first.repeat == 2
    assert q.next(timeout=0.05) is None  # the first is still playing
    q.done(first)
    assert q.next(timeout=0.1) == b
    with pytest.raises(ValueError):
        q.done(c)
    q.done(b)
    third = q.next(timeout=0.1)
    assert third == c and third.recall
    q.done(third)
    assert q.wait_idle(0.1)
    assert [x.seq for x in q.history()] == [1, 2, 3]


def test_push_mode_plays_serially_in_arrival_order() -> None:
    playing = threading.Lock()
    overlaps: list[int] = []
    played: list[QueuedCall] = []

    def render(call: QueuedCall) -> bytes:
        return f"{call.number}/{call.counter}/{call.recall}".encode()

    def player(call: QueuedCall, wav: bytes) -> None:
        if not playing.acquire(blocking=False):
            overlaps.append(call.seq)
            return
        try:
            assert wav == f"{call.number}/{call.counter}/{call.recall}".encode()
            time.sleep(0.01)
            played.append(call)
        finally:
            playing.release()

    q = AnnouncementQueue(player, render=render)
    q.start()
    try:
        threads = [
            threading.Thread(target=lambda i=i: [q.enqueue(1000 + i * 10 + k, i) for k in range(5)])
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        q.recall(1000, 0)
        assert q.wait_idle(5)
    finally:
        q.stop()
    assert not overlaps
    assert [c.seq for c in played] == list(range(1, 22))
    assert played[-1].recall and played[-1].number == 1000
    # per producer, calls keep their order
    for i in range(4):
        mine = [c.number for c in played if c.counter == i and not c.recall]
        assert mine == sorted(mine)


def test_player_failure_does_not_stop_the_queue() -> None:
    seen: list[int] = []

    def player(call: QueuedCall, wav: bytes) -> None:
        seen.append(call.number)
        if call.number == 1:
            raise RuntimeError("speaker unplugged")

    q = AnnouncementQueue(player, render=lambda c: b"")
    q.start()
    q.enqueue(1, 1)
    q.enqueue(2, 1)
    assert q.wait_idle(5)
    q.stop()
    assert seen == [1, 2]


def test_stop_keeps_pending_calls() -> None:
    release = threading.Event()
    q = AnnouncementQueue(lambda call, wav: release.wait(5), render=lambda c: b"")
    q.start()
    q.enqueue(1, 1)
    q.enqueue(2, 1)
    deadline = time.monotonic() + 2
    while q.current is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert q.current is not None and q.current.number == 1
    stopper = threading.Thread(target=q.stop)
    stopper.start()
    release.set()
    stopper.join(5)
    assert [c.number for c in q.pending()] == [2]
    assert q.next(timeout=0.1).number == 2


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        AnnouncementQueue(repeat=0)
    with pytest.raises(ValueError):
        AnnouncementQueue().start()
