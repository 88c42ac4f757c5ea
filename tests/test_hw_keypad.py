"""Keypad driver against the pty keypad emulator (both protocols) and the fake link."""

import queue

import pytest

from hardware.emulators.serial_devices import KeypadEmulator
from hardware.fake_link import FakeLink
from hardware.keypad import Key, Keypad, KeyPress, encode_key_frame, encode_line, parse_line


def collect():
    q = queue.Queue()
    return q, q.put


def test_parse_line_variants():
    assert parse_line("#5 NEXT") == KeyPress(5, Key.NEXT)
    assert parse_line("#5 no-show") == KeyPress(5, Key.NO_SHOW)
    assert parse_line("#12 TRANSFER 3") == KeyPress(12, Key.TRANSFER, "3")
    assert parse_line("#5 DIGITS 1023") == KeyPress(5, Key.DIGITS, "1023")
    for bad in ("#5 DIGITS", "#0 NEXT", "#5 FLY", "5 NEXT", "#5 NEXT x"):
        assert parse_line(bad) is None
    assert encode_line(KeyPress(5, Key.NO_SHOW)) == b"#5 NOSHOW\r\n"


@pytest.mark.parametrize("protocol", ["frame", "line"])
def test_every_key_over_pty(protocol):
    q, put = collect()
    with KeypadEmulator(protocol=protocol) as emu:
        with Keypad(emu.url, put, protocol=protocol, backoff_initial=0.02) as kp:
            assert kp.wait_online()
            presses = [KeyPress(3, k) for k in Key if k != Key.DIGITS]
            presses += [KeyPress(4, Key.DIGITS, "1023"), KeyPress(4, Key.TRANSFER, "2")]
            for p in presses:
                emu.press(p.address, p.key, p.digits)
            got = [q.get(timeout=3) for _ in presses]
            assert got == presses


@pytest.mark.parametrize("protocol", ["frame", "line"])
def test_garbage_and_bad_frames_ignored(protocol):
    q, put = collect()
    with KeypadEmulator(protocol=protocol) as emu:
        with Keypad(emu.url, put, protocol=protocol) as kp:
            assert kp.wait_online()
            emu.garbage()
            bad = bytearray(encode_key_frame(KeyPress(5, Key.NEXT)))
            bad[-2] ^= 0x55
            emu.send(bytes(bad) + b"#5 FLY\r\n")
            emu.press(5, "recall")
            assert q.get(timeout=3) == KeyPress(5, Key.RECALL)
            assert q.empty()


def test_keypad_display_and_unplug_reconnect():
    q, put = collect()
    states = queue.Queue()
    with KeypadEmulator() as emu:
        with Keypad(emu.url, put, listener=lambda *a: states.put(a[1]), backoff_initial=0.02) as kp:
            assert states.get(timeout=3) is True
            kp.show(5, "Số 1023")
            assert emu.wait_for(lambda: emu.displays.get(5) == "So 1023")
            emu.unplug()
            assert states.get(timeout=3) is False
            emu.replug()
            assert states.get(timeout=3) is True
            emu.press(5, "finish")
            assert q.get(timeout=3) == KeyPress(5, Key.FINISH)


def test_fake_keypad_selected_by_url():
    q, put = collect()
    fake = FakeLink.get("kp-fake")
    with Keypad("fake:kp-fake", put, protocol="line") as kp:
        assert kp.wait_online()
        fake.inject(b"#9 PAUSE\n")
        assert q.get(timeout=3) == KeyPress(9, Key.PAUSE)
        kp.show(9, "OK")
        assert fake.wait_written(lambda b: b == b"#9 SHOW OK\r\n")
