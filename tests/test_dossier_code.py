"""common/dossier.py: dossier codes (Thông tư 01/2018/TT-VPCP Điều 19) and receipt QR codes."""

from datetime import date

import pytest

from common.dossier import normalise_code, normalise_key, parse_receipt_qr, received_on

CODE = "000.00.35.H26-230601-0012"


@pytest.mark.parametrize("text", [
    CODE,
    " 000.00.35.h26-230601-0012 ",
    "000.00.35.H26 230601 0012",
    "000.00.35.H26 – 230601 — 0012",
    "000.00.35.H26_230601_0012",
    "OOO.OO.35.H26-23O6O1-OO12",
    "000 . 00 . 35 . H26 - 230601 - 0012",
    "000.00.35.H26-2306010012",
    "000.00.35.H26--230601--0012",
    "000.00.35.H26-230601-OOl2",
])
def test_normalise_accepts_typing_variants(text):
    assert normalise_code(text) == CODE


@pytest.mark.parametrize("text", [
    None, "", "   ", "K7M3PX", "000.00.35.H26", "000.00.35.H26-230601",
    "000.00.35.H26-230631-0012",      # 31 June
    "000.00.35.H26-231301-0012",      # month 13
    "000.00.35.H26-230229-0012",      # 2023 is not a leap year
    "000.00.35.H26-23061-0012", "000.00.35.H26-230601-012", "000.00.35.H26-230601-00123",
    "000.00.35.H26-2306X1-0012", "000..35.H26-230601-0012", ".H26-230601-0012",
    "000/00/35-230601-0012", "A-B-230601-0012", "Đ26-230601-0012",
    "X" * 41 + "-230601-0012", "0" * 81,
])
def test_normalise_refuses(text):
    assert normalise_code(text) is None


def test_leap_day_and_future():
    assert normalise_code("H26-240229-0001") == "H26-240229-0001"
    assert received_on("H26-240229-0001") == date(2024, 2, 29)
    assert normalise_code("H26-240302-0001", today=date(2024, 3, 1)) is None
    assert normalise_code("H26-240301-0001", today=date(2024, 3, 1)) == "H26-240301-0001"


def test_agency_letters_keep_o():
    # O inside a segment with letters is a letter (agency codes like "SO1" are not touched)
    assert normalise_code("SOTP.H26-230601-0001") == "SOTP.H26-230601-0001"


@pytest.mark.parametrize("text,key", [("k7m3px", "K7M3PX"), (" K7M-3PX ", "K7M3PX"), ("ab12", "AB12")])
def test_key(text, key):
    assert normalise_key(text) == key


@pytest.mark.parametrize("text", [None, "", "abc", "A" * 13, "K7M3P!", "khóa12"])
def test_key_refuses(text):
    assert normalise_key(text) is None


@pytest.mark.parametrize("text,expected", [
    (CODE, (CODE, None)),
    ("000.00.35.h26 230601 0012\r\n", (CODE, None)),
    (f"https://dichvucong.example.gov.vn/tra-cuu?ma={CODE}&key=k7m3px", (CODE, "K7M3PX")),
    (f"https://dichvucong.example.gov.vn/tra-cuu?MaHoSo={CODE}", (CODE, None)),
    (f"http://10.0.0.5:8080/tra-cuu/{CODE}/K7M3PX", (CODE, "K7M3PX")),
    (f"https://x.example.vn/tra-cuu/{CODE}?key=K7M3PX", (CODE, "K7M3PX")),
    (f"dichvucong.example.gov.vn/tra-cuu?ma={CODE}&key=K7M3PX", (CODE, "K7M3PX")),
    ("https://x.example.vn/tra-cuu/000.00.35.H26%20230601%200012", (CODE, None)),
])
def test_receipt_qr(text, expected):
    assert parse_receipt_qr(text) == expected


@pytest.mark.parametrize("text", [
    None, "", "https://hall.example.vn/dat-lich/K7M3PX", "K7M3PX",
    "001234567890|123456789|Nguyễn Văn A|01011950|Nam|Hà Nội|01012021",
    "ftp://x.example.vn/000.00.35.H26-230601-0012", "https://x.example.vn/tra-cuu?ma=nope",
    "https://" + "a" * 2000,
])
def test_receipt_qr_refuses(text):
    assert parse_receipt_qr(text) is None
