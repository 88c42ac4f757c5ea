"""The Vietnamese number reader, checked against the reading rules.

Three independent checks: a table of hand-verified readings, a second
rule-based reader written per digit pattern (string-based, no shared code),
and a parser that turns every reading back into its number.
"""

from __future__ import annotations

import re

import pytest

from display_board.vi_numbers import (
    WORD_CLIPS,
    ReadingOptions,
    clip_name,
    number_words,
    read_number,
)

HAND_VERIFIED = {
    0: "không",
    1: "một",
    4: "bốn",
    5: "năm",
    10: "mười",
    11: "mười một",
    14: "mười bốn",
    15: "mười lăm",
    20: "hai mươi",
    21: "hai mươi mốt",
    24: "hai mươi tư",
    25: "hai mươi lăm",
    31: "ba mươi mốt",
    41: "bốn mươi mốt",
    44: "bốn mươi tư",
    50: "năm mươi",
    51: "năm mươi mốt",
    55: "năm mươi lăm",
    99: "chín mươi chín",
    100: "một trăm",
    101: "một trăm linh một",
    104: "một trăm linh bốn",
    105: "một trăm linh năm",
    110: "một trăm mười",
    111: "một trăm mười một",
    115: "một trăm mười lăm",
    121: "một trăm hai mươi mốt",
    500: "năm trăm",
    1000: "một nghìn",
    1001: "một nghìn không trăm linh một",
    1005: "một nghìn không trăm linh năm",
    1010: "một nghìn không trăm mười",
    1015: "một nghìn không trăm mười lăm",
    1023: "một nghìn không trăm hai mươi ba",
    1100: "một nghìn một trăm",
    1234: "một nghìn hai trăm ba mươi tư",
    2005: "hai nghìn không trăm linh năm",
    5555: "năm nghìn năm trăm năm mươi lăm",
    9999: "chín nghìn chín trăm chín mươi chín",
    10000: "mười nghìn",
    15000: "mười lăm nghìn",
    21000: "hai mươi mốt nghìn",
    24024: "hai mươi tư nghìn không trăm hai mươi tư",
    105105: "một trăm linh năm nghìn một trăm linh năm",
    999999: "chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
}


@pytest.mark.parametrize(("n", "expected"), sorted(HAND_VERIFIED.items()))
def test_hand_verified(n: int, expected: str) -> None:
    assert read_number(n) == expected
    assert number_words(n) == expected.split()


def test_dialect_options() -> None:
    assert read_number(105, odd="lẻ") == "một trăm lẻ năm"
    assert read_number(1005, odd="lẻ", thousand="ngàn") == "một ngàn không trăm lẻ năm"
    assert read_number(24, four="bốn") == "hai mươi bốn"
    assert read_number(1234, four="bốn") == "một nghìn hai trăm ba mươi bốn"
    assert read_number(14, four="tư") == "mười bốn"  # never tư after mười
    assert read_number(104, four="tư") == "một trăm linh bốn"  # never tư after linh
    opts = ReadingOptions(odd="lẻ", thousand="ngàn", four="bốn")
    assert read_number(3004, opts) == "ba ngàn không trăm lẻ bốn"
    # keyword arguments override a given options object
    assert read_number(3004, opts, odd="linh") == "ba ngàn không trăm linh bốn"


@pytest.mark.parametrize("bad", [-1, 1_000_000])
def test_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        read_number(bad)


def test_bad_types_and_options() -> None:
    with pytest.raises(TypeError):
        read_number("12")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        read_number(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReadingOptions(odd="le")
    with pytest.raises(ValueError):
        read_number(1, thousand="ngan")


# --- an independent reader, per digit pattern --------------------------------

NAMES = "không một hai ba bốn năm sáu bảy tám chín".split()


def expected_reading(n: int, odd: str = "linh", thousand: str = "nghìn", four: str = "tư") -> str:
    """Reads 0..9999 from the decimal string, one digit pattern at a time."""
    s = str(n)
    if s == "0":
        return "không"

    def two(t: str, u: str) -> list[str]:
        # pattern "tu" for the last two digits
        if t == "0":
            return [NAMES[int(u)]] if u != "0" else []
        head = ["mười"] if t == "1" else [NAMES[int(t)], "mươi"]
        tail = {
            "0": [],
            "1": ["một"] if t == "1" else ["mốt"],
            "4": ["bốn"] if t == "1" else [four],
            "5": ["lăm"],
        }.get(u, [NAMES[int(u)]])
        return head + tail

    def three(h: str, t: str, u: str) -> list[str]:
        if t == "0" and u == "0":
            return [NAMES[int(h)], "trăm"]
        if t == "0":
            return [NAMES[int(h)], "trăm", odd, NAMES[int(u)]]
        return [NAMES[int(h)], "trăm"] + two(t, u)

    if len(s) == 1:
        words = two("0", s)
    elif len(s) == 2:
        words = two(s[0], s[1])
    elif len(s) == 3:
        words = three(*s)
    else:
        words = [NAMES[int(s[0])], thousand]
        if s[1:] != "000":
            words += three(*s[1:])
    return " ".join(words)


def test_expected_reader_agrees_with_hand_table() -> None:
    for n, text in HAND_VERIFIED.items():
        if n < 10000:
            assert expected_reading(n) == text, n


@pytest.mark.parametrize(
    "dialect",
    [
        {},
        {"odd": "lẻ"},
        {"thousand": "ngàn"},
        {"four": "bốn"},
        {"odd": "lẻ", "thousand": "ngàn", "four": "bốn"},
    ],
)
def test_every_number_up_to_9999(dialect: dict[str, str]) -> None:
    for n in range(10000):
        assert read_number(n, **dialect) == expected_reading(n, **dialect), n


def test_every_counter_number() -> None:
    for n in range(1, 100):
        words = number_words(n)
        assert read_number(n) == expected_reading(n)
        assert 1 <= len(words) <= 3
        assert "trăm" not in words and "linh" not in words


# --- a parser: every reading maps back to its number -----------------------

VALUE = {w: i for i, w in enumerate(NAMES)} | {"mốt": 1, "tư": 4, "lăm": 5}


def parse(text: str) -> int:
    words = text.split()
    total = 0
    if "nghìn" in words:
        i = words.index("nghìn")
        total += 1000 * parse(" ".join(words[:i]))
        words = words[i + 1 :]
    group = 0
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w == "mười":
            group += 10
        elif w == "linh":
            pass
        elif nxt == "trăm":
            group += 100 * VALUE[w]
            i += 1
        elif nxt == "mươi":
            group += 10 * VALUE[w]
            i += 1
        else:
            group += VALUE[w]
        i += 1
    return total + group


def test_every_reading_parses_back_and_is_unique() -> None:
    seen = {}
    for n in range(10000):
        text = read_number(n)
        assert parse(text) == n, text
        assert text not in seen
        seen[text] = n


def test_word_level_rules_hold_everywhere() -> None:
    for n in range(10000):
        words = number_words(n)
        text = " ".join(words)
        for i, w in enumerate(words):
            prev = words[i - 1] if i else None
            if w in ("mốt", "tư"):
                assert prev == "mươi", text
            if w == "lăm":
                assert prev in ("mười", "mươi"), text
            if w == "linh":
                assert prev == "trăm", text
        assert not re.search(r"(mười|mươi) (năm|một)$", text) or text.endswith("mười một"), text
        assert not re.search(r"mươi (một|bốn|năm)\b", text), text
        assert "không" not in words or n == 0 or "không trăm" in text, text


def test_clip_names_cover_every_word() -> None:
    words = set()
    for dialect in ({}, {"odd": "lẻ", "thousand": "ngàn", "four": "bốn"}):
        for n in range(0, 1_000_000, 7):
            words.update(number_words(n, **dialect))
        for n in range(1000):
            words.update(number_words(n, **dialect))
    assert words == set(WORD_CLIPS)
    assert clip_name("mươi") == "muoi2" and clip_name("mười") == "muoi"
    assert len(set(WORD_CLIPS.values())) == len(WORD_CLIPS)
    with pytest.raises(KeyError):
        clip_name("triệu")
