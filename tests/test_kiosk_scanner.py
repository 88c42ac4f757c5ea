"""The keyboard-wedge scanner assembler (kiosk/scanner.py), driven with exact key times."""

from __future__ import annotations

from kiosk.scanner import ScanAssembler

CARD = "001060012345|012345678|Nguyễn Văn An|01021960|Nam|Hà Nội|15082021"


class Keys:
    """Types into an assembler with explicit times (seconds)."""

    def __init__(self, **kwargs):
        self.scans: list[str] = []
        self.t = 100.0
        self.asm = ScanAssembler(self.scans.append, clock=lambda: self.t, **kwargs)

    def type(self, text: str, gap: float, enter: str = "\r") -> None:
        for ch in text:
            self.t += gap
            self.asm.text(ch)
        for ch in enter:
            self.t += gap
            self.asm.text(ch)

    def wait(self, seconds: float) -> None:
        steps = int(seconds / 0.01)
        for _ in range(steps):
            self.t += 0.01
            self.asm.poll()


def test_a_fast_burst_with_enter_is_one_scan():
    k = Keys()
    k.type(CARD, 0.004)
    assert k.scans == []          # not before the keys have stopped (a line break may follow)
    k.wait(0.2)
    assert k.scans == [CARD] and k.asm.scans == 1


def test_crlf_suffix_is_one_enter_and_two_scans_in_a_row():
    k = Keys()
    k.type(CARD, 0.003, enter="\r\n")
    k.wait(0.3)
    k.type("K7M3PX", 0.003, enter="\n\r")
    k.wait(0.3)
    assert k.scans == [CARD, "K7M3PX"]


def test_no_suffix_the_pause_ends_the_scan():
    k = Keys()
    k.type("K7M3PX", 0.005, enter="")
    k.wait(0.1)
    assert k.scans == []
    k.wait(0.1)
    assert k.scans == ["K7M3PX"]


def test_a_person_typing_is_not_a_scan():
    k = Keys()
    k.type("K7M3PX", 0.15)        # 150 ms a key, then Enter
    k.wait(0.5)
    k.type("001060012345", 0.09)  # a fast typist, 90 ms a key
    k.wait(0.5)
    assert k.scans == [] and k.asm.typed_dropped >= 18


def test_typing_right_before_a_scan_does_not_stick_to_it():
    k = Keys()
    k.type("abc", 0.2, enter="")
    k.t += 0.3
    k.type(CARD, 0.004)
    k.wait(0.2)
    assert k.scans == [CARD]


def test_an_enter_inside_the_burst_is_kept_as_a_line_break():
    k = Keys()
    head, tail = CARD[:30], CARD[30:]
    k.type(head, 0.004, enter="\r\n")
    k.type(tail, 0.004)
    k.wait(0.2)
    assert k.scans == [head + "\n" + tail]


def test_too_short_and_too_long_bursts_are_dropped():
    k = Keys(max_length=100)
    k.type("12", 0.003)           # a bounce, not a code
    k.wait(0.3)
    k.type("x" * 150, 0.002)
    k.wait(0.3)
    k.type("K7M3PX", 0.003)       # the next scan works
    k.wait(0.3)
    assert k.scans == ["K7M3PX"] and k.asm.overflows == 1


def test_several_characters_in_one_event_and_the_real_clock():
    got: list[str] = []
    asm = ScanAssembler(got.append)
    asm.text(CARD + "\r")         # a scanner faster than the event loop: one event
    assert asm.poll() is None
    import time
    time.sleep(0.2)
    assert asm.poll() == CARD and got == [CARD]
