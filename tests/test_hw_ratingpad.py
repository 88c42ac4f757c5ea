"""Rating pad driver against the pty rating pad emulator."""

import queue

from hardware.emulators.serial_devices import RatingPadEmulator
from hardware.framing import encode_frame
from hardware.ratingpad import SCORES, RatingPad, RatingPress, rate_frame


def test_scores_and_labels():
    assert [SCORES[s] for s in (4, 3, 2, 1)] == ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
    assert RatingPress(3, 4).label == "Rất hài lòng"
    assert rate_frame(3, 4) == bytes.fromhex("02 03 30 01 34") + bytes([3 ^ 0x30 ^ 1 ^ 0x34, 3])


def test_enable_press_disable_over_pty():
    q = queue.Queue()
    with RatingPadEmulator(only_when_enabled=True) as emu:
        with RatingPad(emu.url, q.put) as pad:
            assert pad.wait_online()
            assert not emu.press(3, 4)  # dark pad: nothing sent
            pad.enable(3, "1023")
            assert emu.wait_for(lambda: emu.enabled.get(3) == "1023")
            for score in (4, 3, 2, 1):
                assert emu.press(3, score)
            assert [q.get(timeout=3) for _ in range(4)] == [RatingPress(3, s) for s in (4, 3, 2, 1)]
            pad.disable(3)
            assert emu.wait_for(lambda: 3 not in emu.enabled)


def test_invalid_presses_ignored_and_enable_repeated_after_reconnect():
    q = queue.Queue()
    with RatingPadEmulator() as emu:
        with RatingPad(emu.url, q.put, backoff_initial=0.02) as pad:
            assert pad.wait_online()
            emu.send(encode_frame(3, 0x30, b"9") + encode_frame(3, 0x30, b"") + b"\x02\x03junk")
            emu.garbage()
            emu.press(3, 2)
            assert q.get(timeout=3) == RatingPress(3, 2)
            assert pad.ignored == 2
            pad.enable(4, "2001")
            assert emu.wait_for(lambda: 4 in emu.enabled)
            emu.unplug()
            assert pad.wait_online(False)
            emu.enabled.clear()
            emu.replug()
            assert emu.wait_for(lambda: emu.enabled.get(4) == "2001")
