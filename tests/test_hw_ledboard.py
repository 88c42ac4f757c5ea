"""LED bus driver against the pty LED board emulator: frames, pacing, folding, resend."""

import pytest

from common.text import ascii_display
from hardware.emulators.serial_devices import LedBoardEmulator
from hardware.framing import FrameDecoder
from hardware.ledboard import LedBus, counter_frame, line_frame


def test_frames_and_folding():
    f = FrameDecoder().feed(counter_frame(5, 1023, 5, blink=True), now=0)[0]
    assert (f.address, f.command, f.data) == (5, 0x10, b"1023 51")
    f = FrameDecoder().feed(line_frame(20, 1, "Mời số 1023 đến quầy số 5", columns=16), now=0)[0]
    assert f.data == b"\x01SMoi so 1023 den"
    assert ascii_display("Đăng ký – “khai sinh”…") == 'Dang ky - "khai sinh"...'
    with pytest.raises(ValueError):
        line_frame(0, 0, "x")
    with pytest.raises(ValueError):
        line_frame(1, 0, "x", effect="spin")


def test_counter_displays_and_hall_board_over_pty():
    with LedBoardEmulator() as emu:
        with LedBus(emu.url, frame_gap=0.01) as bus:
            assert bus.wait_online()
            bus.show_counter(5, "1023", 5, blink=True)
            bus.show_counter(6, 2001, 6)
            bus.show_lines(20, ["SỐ   QUẦY", "1023  5", "Mời công dân có số 2001 đến quầy 6"], columns=24)
            bus.brightness(20, 9)
            assert emu.wait_for(lambda: emu.brightness.get(20) == 9)
            assert emu.counters == {5: ("1023", "5", True), 6: ("2001", "6", False)}
            assert emu.lines(20) == ["SO QUAY", "1023 5", "Moi cong dan co so 2001"]
            bus.clear_counter(6)
            assert emu.wait_for(lambda: 6 not in emu.counters)


def test_frames_are_paced():
    with LedBoardEmulator() as emu:
        with LedBus(emu.url, frame_gap=0.03) as bus:
            assert bus.wait_online()
            for i in range(5):
                bus.set_line(1, i, f"line {i}")
            assert emu.wait_for(lambda: emu.frames == 5)
            gaps = [b - a for a, b in zip(emu.frame_times, emu.frame_times[1:], strict=False)]
            assert min(gaps) >= 0.025


def test_state_is_repeated_after_board_power_loss():
    with LedBoardEmulator() as emu:
        with LedBus(emu.url, frame_gap=0.0, backoff_initial=0.02) as bus:
            assert bus.wait_online()
            bus.show_counter(5, 1023, 5)
            bus.set_line(20, 0, "Xin chào")
            assert emu.wait_for(lambda: emu.frames == 2)
            emu.unplug()
            assert bus.wait_online(False)
            emu.counters.clear()
            emu.boards.clear()
            emu.replug()
            assert bus.wait_online(True)
            assert emu.wait_for(lambda: emu.counters.get(5) == ("1023", "5", False) and emu.lines(20) == ["Xin chao"])
