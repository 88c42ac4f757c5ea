"""Hypothesis on the serial wire protocols (hardware/framing.py, keypad.py, ratingpad.py,
ledboard.py and the emulators' decoders): random and mutated input never crashes a
decoder, garbage is ignored, and valid messages embedded in garbage are still decoded.

The 100,000-case run per target: `.venv/bin/python bench/fuzz_serial.py`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hardware.emulators.serial_devices import KeypadEmulator, LedBoardEmulator, RatingPadEmulator
from hardware.framing import (
    ETX,
    MAX_DATA,
    STX,
    Frame,
    FrameDecoder,
    LineDecoder,
    checksum,
    encode_frame,
)
from hardware.keypad import Key, KeyPress, encode_key_frame, encode_line, parse_frame, parse_line
from hardware.ledboard import counter_frame, line_frame
from hardware.ratingpad import parse_rating, rate_frame

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

no_stx = st.binary(max_size=200).map(lambda b: b.replace(bytes((STX,)), b""))
frames = st.builds(Frame, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40))
presses = st.builds(
    KeyPress, st.integers(1, 254), st.sampled_from(list(Key)),
    st.none() | st.text("0123456789", min_size=1, max_size=8)).filter(
    lambda p: p.key != Key.DIGITS or p.digits)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


def feed_all(decoder, parts: list[bytes]) -> list:
    out = []
    for part in parts:
        out += decoder.feed(part, now=0.0)  # one instant: nothing goes stale
    return out


# -- STX/ETX frames ----------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
def test_frame_decoder_never_crashes_and_only_yields_valid_frames(data, cuts):
    dec = FrameDecoder("fuzz")
    for f in feed_all(dec, chunks(data, cuts)):
        assert len(f.data) <= MAX_DATA
        wire = encode_frame(f.address, f.command, f.data)
        assert wire in data  # a decoded frame was really on the wire, checksum and all
    assert len(dec.buf) <= len(data)


@FUZZ
@given(no_stx, st.lists(frames, min_size=1, max_size=4), no_stx,
       st.lists(st.integers(0, 2000), max_size=6))
def test_valid_frames_inside_garbage_are_decoded(before, sent, after, cuts):
    wire = before + b"".join(encode_frame(f.address, f.command, f.data) for f in sent) + after
    assert feed_all(FrameDecoder("fuzz"), chunks(wire, cuts)) == sent


@FUZZ
@given(st.binary(max_size=300), frames)
def test_decoder_resynchronises_after_any_garbage(garbage, frame):
    """Whatever came before (half frames, stray STX), a frame sent after a quiet gap longer
    than `stale_after` is decoded."""
    dec = FrameDecoder("fuzz", stale_after=0.5)
    dec.feed(garbage, now=0.0)
    assert dec.feed(encode_frame(frame.address, frame.command, frame.data), now=1.0)[-1:] \
        == [frame]


@FUZZ
@given(frames, st.integers(0, 200), st.integers(0, 255))
def test_mutated_frames_never_decode_to_something_else(frame, pos, byte):
    wire = bytearray(encode_frame(frame.address, frame.command, frame.data))
    wire[pos % len(wire)] = byte
    for f in FrameDecoder("fuzz").feed(bytes(wire), now=0.0):
        body = bytes((f.address, f.command, len(f.data))) + f.data
        assert bytes((STX,)) + body + bytes((checksum(body), ETX)) in bytes(wire)


# -- text lines --------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_line_decoder_never_crashes(data, cuts):
    for line in feed_all(LineDecoder("fuzz"), chunks(data, cuts)):
        assert line.isascii() and 0 < len(line) <= 64 and "\n" not in line
        parse_line(line)  # never raises


@FUZZ
@given(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")), presses,
       st.binary(max_size=100).map(lambda b: b.replace(b"\n", b"")))
def test_keypad_line_inside_garbage_lines_is_decoded(before, press, after):
    wire = before + b"\n" + encode_line(press) + after + b"\n"
    got = [p for p in map(parse_line, LineDecoder("fuzz").feed(wire, now=0.0)) if p]
    assert press in got


@FUZZ
@given(st.text(max_size=80))
def test_parse_line_on_any_text(text):
    press = parse_line(text)
    assert press is None or (0 < press.address < 255 and isinstance(press.key, Key))


# -- keypad frames, rating pads, LED boards -----------------------------------------------------
@FUZZ
@given(frames)
def test_parse_frame_and_rating_on_any_frame(frame):
    press = parse_frame(frame)
    assert press is None or press.key in Key
    rating = parse_rating(frame)
    assert rating is None or 1 <= rating.score <= 4


@FUZZ
@given(no_stx, presses, st.integers(1, 254), st.integers(1, 4), no_stx)
def test_keypad_and_rating_frames_round_trip_through_garbage(before, press, pad, score, after):
    wire = before + encode_key_frame(press) + rate_frame(pad, score) + after
    key_frame, rate = FrameDecoder("fuzz").feed(wire, now=0.0)
    assert parse_frame(key_frame) == press
    assert parse_rating(rate).score == score and parse_rating(rate).address == pad


@FUZZ
@given(st.integers(1, 255), st.text(max_size=12), st.text(max_size=4), st.booleans(),
       st.integers(0, 15), st.text(max_size=60), no_stx)
def test_led_frames_encode_any_text_and_the_board_decodes_them(addr, number, counter, blink,
                                                               index, text, garbage):
    board = LedBoardEmulator()
    board.on_bytes(garbage + counter_frame(addr, number, counter, blink) + garbage
                   + line_frame(addr, index, text))
    assert board.counters[addr][2] is blink
    assert board.lines(addr)[-1].isascii()


@FUZZ
@given(st.binary(max_size=400), frames)
@example(b"", Frame(1, 0x10, b"\xff" * 7))  # found: LED COUNTER_SHOW with non-ASCII data
@example(b"", Frame(1, 0x00, b""))  # found: keypad line "#" + " SHOW x" -> int("")
def test_emulators_survive_any_bytes_and_any_checksummed_frame(data, frame):
    """What the drivers send is decoded by the emulators; garbage (even with a valid
    checksum and non-ASCII data) must not kill their reader thread."""
    wire = data + encode_frame(frame.address, frame.command, frame.data)
    for dev in (LedBoardEmulator(), RatingPadEmulator(), KeypadEmulator(),
                KeypadEmulator(protocol="line")):
        dev.on_bytes(wire)
        dev.on_bytes(data.replace(b"\x00", b"") + b"\n#" + data[:5] + b" SHOW x\n")
