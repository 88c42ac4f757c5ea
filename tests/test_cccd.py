"""The CCCD QR parser and the scan classifier (common/cccd.py): every bad scan of issue #15."""

from __future__ import annotations

from datetime import date

import pytest

from common.cccd import CccdError, classify_scan, mask_name, parse_cccd

TODAY = date(2026, 11, 30)
GOOD = ("001060012345|012345678|Nguyễn Văn An|01021960|Nam|"
        "Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội|15082021")
YOUNG = "079303001122||Trần Thị B|15062003|Nữ|Phường 1, Quận 3, TP Hồ Chí Minh|20042021"


def err(text: str) -> str:
    with pytest.raises(CccdError) as exc:
        parse_cccd(text, TODAY)
    assert exc.value.message_vi and exc.value.message_en
    return exc.value.code


def test_a_good_card_keeps_only_number_birth_sex_and_a_masked_name():
    card = parse_cccd(GOOD, TODAY)
    assert card.number == "001060012345"
    assert card.birth_date == date(1960, 2, 1) and card.sex == "Nam"
    assert card.masked_name == "N** V** A**"
    assert card.issued_on == date(2021, 8, 15)
    assert card.age(TODAY) == 66 and card.is_elderly(TODAY, 60)
    assert card.masked_number == "********2345"
    # neither the full name, the address nor the full number show up in a repr / log line
    text = repr(card)
    assert "Nguyễn" not in text and "Tràng Tiền" not in text and "001060012345" not in text
    assert not hasattr(card, "name") and not hasattr(card, "address")


def test_empty_old_id_field_and_a_young_woman():
    card = parse_cccd(YOUNG, TODAY)
    assert card.sex == "Nữ" and card.birth_date == date(2003, 6, 15)
    assert not card.is_elderly(TODAY, 60) and card.age(TODAY) == 23
    assert card.masked_name == "T** T** B"


def test_age_threshold_is_exact_to_the_day():
    card = parse_cccd(GOOD.replace("01021960", "30111966").replace("001060", "001066"), TODAY)
    assert card.is_elderly(TODAY, 60)
    assert not card.is_elderly(date(2026, 11, 29), 60)
    assert not card.is_elderly(TODAY, 65)


def test_newer_cards_add_fields_and_trailing_crlf_is_the_scanner_suffix():
    newer = GOOD + "|Nguyễn Văn Cha|Lê Thị Mẹ||"
    assert parse_cccd(newer, TODAY).number == "001060012345"
    assert parse_cccd(GOOD + "\r\n", TODAY).number == "001060012345"
    assert parse_cccd(GOOD + "\n", TODAY).number == "001060012345"


def test_one_letter_words_are_kept_and_nfd_is_read():
    import unicodedata

    assert mask_name("Nguyễn Văn A") == "N** V** A"
    nfd = unicodedata.normalize("NFD", GOOD)
    assert parse_cccd(nfd, TODAY).masked_name == "N** V** A**"


def test_year_only_birth_date_of_older_citizens():
    card = parse_cccd(GOOD.replace("01021960", "00001960"), TODAY)
    assert card.birth_year_only and card.birth_date == date(1960, 1, 1)
    card = parse_cccd(GOOD.replace("01021960", "00051960"), TODAY)
    assert card.birth_date == date(1960, 5, 1)


@pytest.mark.parametrize("text", [
    GOOD.replace("|Nam|", "|Nuwx|").replace("001060", "001160"),   # Telex keys: "Nữ"
    GOOD.replace("Nguyễn Văn", "Nguyeenx Vawn"),                   # Telex keys in the name
    GOOD.replace("|Nam|", "|Nu74|").replace("001060", "001160"),   # VNI keys: "Nữ"
    GOOD.replace("Nguyễn", "Nguye64n"),                            # VNI digits in the name
    GOOD.replace("001060012345", "0010600123ê5"),                  # an input method ate digits
    GOOD.replace("01021960", "01021960".replace("6", "ố")),
    GOOD.replace("|", "<"),                                         # a layout moved '|'
])
def test_telex_vni_and_layout_garbling_says_turn_the_vietnamese_input_off(text):
    assert err(text) == "ime_garbled"
    assert "Hãy tắt bộ gõ tiếng Việt" in CccdError("ime_garbled").message_vi


def test_a_real_minority_name_is_not_mistaken_for_telex():
    card = parse_cccd(GOOD.replace("Nguyễn Văn An", "Ksor H'Ơn"), TODAY)
    assert card.masked_name == "K** H**"


def test_line_break_inside_the_code():
    assert err(GOOD.replace("|Số 1", "\r\n|Số 1")) == "line_break"
    assert err(GOOD.replace("|Nam|", "|Nam\n|")) == "line_break"
    assert classify_scan("K7M\r\n3PX").error.code == "line_break"


@pytest.mark.parametrize("cut", [12, 13, 30, 45, len(GOOD) - 10])
def test_partial_reads(cut):
    assert err(GOOD[:cut]) == "partial"


def test_zero_and_impossible_dates():
    assert err(GOOD.replace("01021960", "00000000")) == "zero_date"
    assert err(GOOD.replace("15082021", "00000000")) == "zero_date"
    assert err(GOOD.replace("01021960", "31021960")) == "bad_date"       # 31 February
    assert err(GOOD.replace("01021960", "0102196")) == "bad_date"        # 7 digits
    assert err(GOOD.replace("15082021", "15082030")) == "bad_date"       # issued in the future
    assert err(YOUNG.replace("15062003", "15062027").replace("079303", "079327")) == "bad_date"
    assert err(GOOD.replace("01021960", "01210960")) == "bad_date"       # month 21


def test_wrong_digit_counts_and_checks():
    assert err(GOOD.replace("001060012345", "00106001234")) == "bad_number"     # 11 digits
    assert err(GOOD.replace("001060012345", "0010600123456")) == "bad_number"   # 13 digits
    assert err(GOOD.replace("001060012345", "00106O012345")) == "bad_number"    # letter O
    assert err(GOOD.replace("001060012345", "003060012345")) == "bad_number"    # no province 003
    assert err(GOOD.replace("012345678", "01234567")) == "bad_number"           # old CMND 8 digits
    # digit 4 says a woman, or digits 5-6 another year: the number was misread
    assert err(GOOD.replace("001060012345", "001160012345")) == "number_mismatch"
    assert err(GOOD.replace("001060012345", "001061012345")) == "number_mismatch"
    assert err(GOOD.replace("001060012345", "001260012345")) == "number_mismatch"  # 2060
    assert err(GOOD.replace("|Nam|", "|X|")) == "bad_sex"


def test_url_empty_and_oversized_scans():
    assert err("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html") == "url"
    assert err("") == "empty"
    assert err("   \r\n") == "empty"
    assert err(GOOD + "|" + "x" * 1000) == "too_long"
    assert err("hello world") == "not_cccd"


# --------------------------------------------------------------------------- classify


def test_classify_a_card():
    scan = classify_scan(GOOD, TODAY)
    assert scan.kind == "cccd" and scan.ok and scan.card.number == "001060012345"
    bad = classify_scan(GOOD[:40], TODAY)
    assert bad.kind == "cccd" and not bad.ok and bad.error.code == "partial"
    assert classify_scan("001060012345", TODAY).error.code == "partial"


@pytest.mark.parametrize("text", ["K7M3PX", "k7m-3px", " K7M 3PX\r\n",
                                  "https://hcc.example.gov.vn/dat-lich/K7M3PX",
                                  "http://127.0.0.1:5000/dat-lich/k7m3px/",
                                  "www.hcc.example.gov.vn/dat-lich/K7M3PX"])
def test_classify_booking_codes_and_booking_urls(text):
    scan = classify_scan(text, TODAY)
    assert (scan.kind, scan.booking_code, scan.error) == ("booking", "K7M3PX", None)


def test_classify_dossier_receipts():
    scan = classify_scan("https://dvc.example.gov.vn/tra-cuu?ma=000.00.35.H26-230601-0012"
                         "&key=ab12cd", TODAY)
    assert (scan.kind, scan.dossier_code, scan.dossier_key) == (
        "dossier", "000.00.35.H26-230601-0012", "AB12CD")
    scan = classify_scan("000.00.35.h26 - 230601 - OO12", TODAY)
    assert (scan.kind, scan.dossier_code, scan.dossier_key) == (
        "dossier", "000.00.35.H26-230601-0012", None)


@pytest.mark.parametrize("text,code", [
    ("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", "url"),
    ("https://hcc.example.gov.vn/dat-lich/K7M3PB", "url"),   # B is not in the code alphabet
    ("xin chào", "not_cccd"),
    ("", "empty"),
    ("x" * 2000, "too_long"),
])
def test_classify_unknown(text, code):
    scan = classify_scan(text, TODAY)
    assert scan.kind == "unknown" and scan.error.code == code
