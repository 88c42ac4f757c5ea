"""Telex conversion for the kiosk's on-screen keyboard."""

import pytest

from common.search.telex import telex_to_vietnamese


@pytest.mark.parametrize(
    ("keys", "text"),
    [
        ("ddawng kys", "đăng ký"),
        ("ddang kys", "đang ký"),  # "dd" + "a" is đa, not đă: Telex needs "aw" for ă
        ("Ddawng kys khai sinh", "Đăng ký khai sinh"),
        ("DDAWNG KYS", "ĐĂNG KÝ"),
        ("giaasy pheps lasi xe", "giấy phép lái xe"),
        ("Thur tucj", "Thủ tục"),
        ("chuwngs thuwcj", "chứng thực"),
        ("cuw trus", "cư trú"),
        ("hooj chieeus", "hộ chiếu"),
        ("Vieetj Nam", "Việt Nam"),
        ("tieengs Vieetj", "tiếng Việt"),
        ("nguowif", "người"),
        ("dduwowngf", "đường"),
        ("huwowngr", "hưởng"),
        ("cuwus", "cứu"),
        ("tuwf", "từ"),
        ("muwa", "mưa"),
        ("caanf", "cần"),
        ("cana", "cân"),  # the modifier may come after the final consonant
        ("phesp", "phép"),  # the tone key may come before the final consonant
        ("toans", "toán"),
        ("ngoaif", "ngoài"),
        ("khuyeets", "khuyết"),
        ("oo", "ô"),
        ("w", "ư"),
        ("tw", "tư"),
    ],
)
def test_common_words(keys, text):
    assert telex_to_vietnamese(keys) == text


@pytest.mark.parametrize(
    ("keys", "text"),
    [("hoaf", "hòa"), ("xoas", "xóa"), ("thuyr", "thủy"), ("quys", "quý"), ("gif", "gì"),
     ("giaf", "già"), ("giaays", "giấy")],
)
def test_tone_placement_matches_catalogue_style(keys, text):
    assert telex_to_vietnamese(keys) == text


@pytest.mark.parametrize(
    ("keys", "text"),
    [("ass", "as"), ("aaa", "aa"), ("ddd", "dd"), ("asz", "a"), ("aww", "aw"), ("z", "z")],
)
def test_double_keys_undo_and_z_removes_tone(keys, text):
    assert telex_to_vietnamese(keys) == text


def test_plain_words_digits_and_vietnamese_pass_through():
    assert telex_to_vietnamese("khai sinh") == "khai sinh"
    assert telex_to_vietnamese("1.001193") == "1.001193"
    assert telex_to_vietnamese("Đăng ký khai sinh, 14 tuổi") == "Đăng ký khai sinh, 14 tuổi"
    assert telex_to_vietnamese("") == ""


def test_editing_already_accented_text():
    assert telex_to_vietnamese("đăng kys") == "đăng ký"
    assert telex_to_vietnamese("thủz") == "thu"
