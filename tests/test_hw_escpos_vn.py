"""CP1258 encoding and raster text rendering for Vietnamese tickets."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.escpos_vn import (
    cp1258_table,
    decode_cp1258,
    encode_cp1258,
    ink_ratio,
    load_font,
    render_lines,
    wrap_columns,
    wrap_pixels,
)

PHRASE = "Đăng ký khai sinh – Hộ tịch, quầy số 5"
VI_LETTERS = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)
VI_ALPHABET = VI_LETTERS + VI_LETTERS.upper() + " 0123456789,.–-:"


def test_phrase_round_trips_through_cp1258():
    data = encode_cp1258(PHRASE)
    assert b"?" not in data
    assert decode_cp1258(data) == PHRASE


def test_toned_letter_is_base_plus_combining_tone():
    # "ế" = "ê" (0xEA) + combining acute (0xEC); "ộ" = "ô" (0xF4) + dot below (0xF2)
    assert encode_cp1258("ế") == b"\xea\xec"
    assert encode_cp1258("ộ") == b"\xf4\xf2"
    assert encode_cp1258("Đ") == b"\xd0"
    assert encode_cp1258("–") == b"\x96"


def test_decomposed_input_is_normalised_first():
    nfd = unicodedata.normalize("NFD", PHRASE)
    assert encode_cp1258(nfd) == encode_cp1258(PHRASE)


def test_unencodable_characters_become_question_marks():
    assert encode_cp1258("số 5 ✓") == encode_cp1258("số 5 ") + b"?"


@given(st.text(alphabet=VI_ALPHABET, max_size=60))
def test_every_vietnamese_text_round_trips(text):
    assert decode_cp1258(encode_cp1258(text)) == unicodedata.normalize("NFC", text)


def test_cp1258_table_numbers():
    assert cp1258_table(None) == 52
    assert cp1258_table("94") == 94
    assert cp1258_table("Epson") == 52
    assert cp1258_table(27) == 27
    with pytest.raises(ValueError):
        cp1258_table("nonsense")


def test_wrap_columns_counts_letters_not_bytes():
    lines = wrap_columns(PHRASE, 32)
    assert all(len(line) <= 32 for line in lines)
    assert " ".join(lines) == PHRASE


def test_wrap_pixels_fits_width():
    font = load_font(22)
    for line in wrap_pixels(PHRASE * 3, font, 200):
        assert font.getlength(line) <= 200


@pytest.mark.parametrize("width", [384, 576])
def test_render_lines_draws_ink_within_width(width):
    img = render_lines([(PHRASE, 24, True, "center"), ("Giờ lấy số: 08:15", 22, False, "left")], width)
    assert img.width == width
    assert 0.02 < ink_ratio(img) < 0.5


def test_default_font_fallback_renders():
    font = load_font(20, path="/nonexistent/font.ttf")
    assert font.getlength("Hộ tịch") > 0
