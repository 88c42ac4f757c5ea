"""STX/ETX frames and ASCII lines: encoding, resync after garbage, partial and bad frames."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.framing import Frame, FrameDecoder, LineDecoder, checksum, encode_frame


def test_encode_frame_bytes():
    # keypad 5 pressed NEXT: STX 05 01 00 CHK(05^01^00=04) ETX
    assert encode_frame(5, 0x01) == bytes.fromhex("02 05 01 00 04 03")
    assert encode_frame(5, 0x08, b"12") == bytes.fromhex("02 05 08 02 31 32") + bytes([5 ^ 8 ^ 2 ^ 0x31 ^ 0x32, 3])
    assert checksum(b"\x05\x01\x00") == 4
    with pytest.raises(ValueError):
        encode_frame(300, 1)
    with pytest.raises(ValueError):
        encode_frame(1, 1, b"x" * 251)


def test_garbage_bad_checksum_and_split_frames():
    d = FrameDecoder()
    good = encode_frame(7, 0x30, b"4")
    bad = bytearray(encode_frame(7, 0x30, b"3"))
    bad[-2] ^= 0xFF
    stream = b"\xff\x00noise" + bytes(bad) + good[:3]
    assert d.feed(stream, now=0) == []
    assert d.feed(good[3:], now=0.1) == [Frame(7, 0x30, b"4")]
    assert d.bad_frames == 1 and d.garbage_bytes >= 7


def test_partial_frame_expires_and_next_frame_decodes():
    d = FrameDecoder(stale_after=0.5)
    d.feed(bytes.fromhex("02 05 01 10"), now=0)  # claims 16 data bytes, never finished
    assert d.feed(encode_frame(5, 2), now=1.0) == [Frame(5, 2, b"")]
    assert d.bad_frames == 1


def test_bad_length_resyncs():
    d = FrameDecoder(max_data=8)
    assert d.feed(bytes.fromhex("02 01 01 ff") + encode_frame(1, 1), now=0) == [Frame(1, 1)]


@given(st.lists(st.tuples(st.integers(1, 254), st.integers(0, 255), st.binary(max_size=20)), max_size=8),
       st.binary(max_size=30), st.integers(1, 7))
def test_frames_survive_noise_prefix_and_any_chunking(frames, noise, chunk):
    noise = noise.replace(b"\x02", b"")  # an STX in noise may legitimately swallow a frame
    data = noise + b"".join(encode_frame(*f) for f in frames)
    d = FrameDecoder()
    out = []
    for i in range(0, len(data), chunk):
        out += d.feed(data[i:i + chunk], now=0)
    assert out == [Frame(*f) for f in frames]


def test_line_decoder():
    d = LineDecoder(max_len=20)
    assert d.feed(b"#5 NEXT\r\n#5 RE", now=0) == ["#5 NEXT"]
    assert d.feed(b"CALL\n\xff\xfe\n" + b"x" * 30 + b"\n#6 PAUSE\n", now=0.1) == ["#5 RECALL", "#6 PAUSE"]
    assert d.garbage_bytes > 0
    d.feed(b"#7 NE", now=1)
    assert d.feed(b"#7 START\n", now=3) == ["#7 START"]
