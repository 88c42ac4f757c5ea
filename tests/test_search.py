"""Kiosk procedure search over the real sample catalogue (349 procedures)."""

import csv
import time
from pathlib import Path

import pytest

from common.search import Hit, SearchIndex, Synonyms

CSV = Path(__file__).resolve().parents[1] / "server" / "data" / "procedures-sample.csv"
BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh
MARRIAGE = "1.000894"  # Thủ tục đăng ký kết hôn
LICENCE_CODES = {"3.000347", "3.000348", "3.000349", "3.000351"}  # giấy phép lái xe


@pytest.fixture(scope="module")
def rows():
    with CSV.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def index(rows):
    return SearchIndex(rows)


def codes(hits):
    return [h.procedure["code"] for h in hits]


@pytest.mark.parametrize(
    "query",
    ["khai sinh", "dang ky khai sinh", "Đăng ký khai sinh", "ĐĂNG KÝ KHAI SINH", "  khai   sinh ",
     "dang ki khai sinh", "thu tuc dang ky khai sinh"],
)
def test_birth_registration_first(index, query):
    hits = index.search(query)
    assert hits[0].procedure["code"] == BIRTH
    assert hits[0].procedure["name"] == "Thủ tục đăng ký khai sinh"


def test_exact_phrase_ranks_before_scattered_words(index):
    hits = index.search("dang ky ket hon")
    assert hits[0].procedure["code"] == MARRIAGE
    kinds = [h.kind for h in hits]
    assert kinds[0] == "phrase"
    # "Thủ tục đăng ký lại kết hôn" has all words but not side by side.
    relai = next(h for h in hits if h.procedure["name"] == "Thủ tục đăng ký lại kết hôn")
    assert relai.kind == "all"
    assert kinds.index("all") > max(i for i, k in enumerate(kinds) if k == "phrase")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_driving_licence(index):
    hits = index.search("giay phep lai xe", limit=5)
    assert set(codes(hits[:4])) == LICENCE_CODES
    assert hits[0].procedure["name"] == "Đổi giấy phép lái xe"  # shortest name first


@pytest.mark.parametrize(
    "query", ["dang ky khai si", "dang ky khai s", "khai si", "Đăng ký khai sin", "dang ky khai sinh "]
)
def test_prefix_of_last_word_while_typing(index, query):
    assert index.search(query)[0].procedure["code"] == BIRTH


def test_every_keystroke_of_a_query_keeps_results(index):
    query = "dang ky khai sinh"
    for end in range(1, len(query) + 1):
        assert index.search(query[:end]), query[:end]
    assert index.search("dang ky khai si")[0].kind == "prefix"


def test_trailing_space_means_the_word_is_complete(index):
    # "si" is a word of its own ("liệt sĩ"), so "khai si " must not complete to "sinh".
    assert index.search("khai si")[0].kind == "prefix"
    assert index.search("khai si ") == []


def test_words_far_apart_in_long_names_rank_last(index):
    # One 300-character land procedure contains "khai ... sinh" in different clauses.
    hits = index.search("khai sinh", field="Đất đai")
    assert hits and {h.kind for h in hits} == {"scattered"}
    kinds = [h.kind for h in index.search("khai sinh", limit=100)]
    assert kinds[-1] == "scattered" and "scattered" not in kinds[:10]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("khaisinh", BIRTH),  # run-together words
        ("khai sihn", BIRTH),  # swapped letters
        ("dang ky khai sinhh", BIRTH),  # extra letter
        ("dang ky khia sinh", BIRTH),
        ("dang ky ket hom", MARRIAGE),  # wrong letter ("hom" has 3 letters but "dang"...)
    ],
)
def test_one_edit_typos(index, query, expected):
    top = codes(index.search(query)[:3])
    assert expected in top


def test_typo_in_licence(index):
    hits = index.search("giay phepp lai xe", limit=4)
    assert set(codes(hits)) == LICENCE_CODES
    assert all(h.kind == "fuzzy" for h in hits)
    assert all("giấy phép" in h.procedure["name"].lower() for h in index.search("giay phepp"))


def test_typos_rank_below_exact_matches(index):
    hits = index.search("khai sinh", limit=100)
    assert "fuzzy" not in {h.kind for h in hits}


def test_short_words_are_not_fuzzed(index):
    # Words under 4 letters are never corrected: "xe" must not become "xa", "se", ...
    assert index.search("qxe") == []


def test_code_lookup(index):
    hits = index.search("1.001193")
    assert hits[0].procedure["code"] == BIRTH and hits[0].kind == "code"
    assert hits[0].score == 1.0
    assert BIRTH in codes(index.search("1.00119"))
    assert BIRTH in codes(index.search("001193"))
    assert index.get(BIRTH)["name"] == "Thủ tục đăng ký khai sinh"
    assert index.get("9.999999") is None


@pytest.mark.parametrize("query", ["", "   ", "?!", "...", "\n"])
def test_empty_query(index, query):
    assert index.search(query) == []


@pytest.mark.parametrize(
    "query", ["xyzxyz qwerty", "qqqq", "zzz", "abcdefgh", "blah blah blah", "hello world", "9.9999"]
)
def test_nonsense_returns_nothing(index, query):
    assert index.search(query) == []


def test_field_filter(index):
    hits = index.search("dang ky", field="Hộ tịch", limit=50)
    assert hits and all(h.procedure["field"] == "Hộ tịch" for h in hits)
    # diacritics and case of the field name do not matter
    assert codes(index.search("dang ky", field="ho tich", limit=50)) == codes(hits)
    assert index.search("ket hon", field="Đất đai") == []
    land = index.search("giay chung nhan", field="Đất đai", limit=50)
    assert len(land) >= 5 and all(h.procedure["field"] == "Đất đai" for h in land)
    assert index.search("khai sinh", field="no such field") == []


def test_fields_and_by_field(index, rows):
    fields = index.fields()
    assert fields[0] == ("Hộ tịch", 35)
    counts = [c for _, c in fields]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == sum(1 for r in rows if r["field"])
    civil = index.by_field("Hộ tịch")
    assert len(civil) == 35 and all(p["field"] == "Hộ tịch" for p in civil)
    assert civil[0]["name"] == "Thủ tục đăng ký giám hộ"  # fewest words, then alphabetical
    assert index.by_field("HO TICH") == civil
    assert index.by_field("nowhere") == []


def test_limit(index):
    assert len(index.search("cap", limit=3)) == 3
    assert index.search("cap", limit=0) == []
    assert len(index.search("d", limit=500)) > 100


def test_synonyms_find_official_names(index):
    top = index.search("bằng lái", limit=4)
    assert set(codes(top)) == LICENCE_CODES and top[0].via
    assert index.search("bang lai xe")[0].procedure["code"] in LICENCE_CODES
    land = index.search("sổ đỏ", limit=3)
    assert all("giấy chứng nhận quyền sử dụng đất" in h.procedure["name"].lower() for h in land)
    assert "căn cước" in index.search("làm căn cước")[0].procedure["name"]
    assert index.search("giấy khai sinh")[0].procedure["code"] == BIRTH
    business = {h.procedure["name"] for h in index.search("đăng ký kinh doanh", limit=20)}
    assert "Đăng ký thành lập hộ kinh doanh" in business
    assert any("doanh nghiệp" in name for name in business)
    assert index.search("nhập hộ khẩu")[0].procedure["name"] == "Đăng ký thường trú"
    assert "Giải quyết hưởng chế độ thai sản" in {h.procedure["name"] for h in index.search("bhxh")}
    assert index.search("xây nhà")[0].procedure["field"] == "Hoạt động xây dựng"
    assert index.search("sao y bản chính")[0].procedure["field"] == "Chứng thực"


def test_typed_diacritics_prefer_the_synonym_over_lookalike_words(index):
    # "sổ đỏ" folds to "so do", which also occurs literally as "cơ sở do ..." in one name.
    hits = index.search("sổ đỏ", limit=6)
    assert all("quyền sử dụng đất" in h.procedure["name"] for h in hits[:4])
    lookalike = [h for h in hits if "quyền sử dụng đất" not in h.procedure["name"]]
    assert all(h.kind == "fuzzy" for h in lookalike)
    assert index.search("Hoá giải")[0].kind == "phrase"  # tone placement does not matter


def test_synonym_while_typing_and_filler_words(index):
    hits = index.search("bang l", limit=4)
    assert LICENCE_CODES & set(codes(hits))
    assert index.search("xin đăng ký khai sinh")[0].procedure["code"] == BIRTH
    assert index.search("tôi muốn đăng ký kết hôn")[0].procedure["code"] == MARRIAGE
    assert "xin phép" in index.search("xin")[0].procedure["name"]  # a real word when alone


def test_custom_and_disabled_synonyms(rows):
    plain = SearchIndex(rows, synonyms=Synonyms())
    assert plain.search("sổ đỏ") == [] or all(
        "quyền sử dụng đất" not in h.procedure["name"] for h in plain.search("sổ đỏ", limit=3))
    custom = SearchIndex(rows, synonyms="giấy đi đường = hộ chiếu")
    assert "hộ chiếu" in custom.search("giấy đi đường")[0].procedure["name"]
    custom.set_synonyms(None)  # back to the built-in list
    assert custom.search("bằng lái")[0].procedure["code"] in LICENCE_CODES


def test_hit_shape(index):
    hit = index.search("khai sinh")[0]
    assert isinstance(hit, Hit)
    assert hit.code == BIRTH and hit.name == "Thủ tục đăng ký khai sinh"
    assert 0 < hit.score <= 1 and hit.kind == "phrase" and hit.via is None


def test_update_rebuilds(rows):
    idx = SearchIndex(rows[:10])
    assert idx.search("ket hon")
    assert not idx.search("giay phep lai xe")
    idx.update(rows)
    assert len(idx) == len(rows)
    assert idx.search("giay phep lai xe")[0].procedure["code"] in LICENCE_CODES


def test_popularity_breaks_ties(rows):
    boosted = [dict(r, popularity=100) if r["code"] == "2.000522" else r for r in rows]
    idx = SearchIndex(boosted)
    assert idx.search("khai sinh")[0].procedure["code"] == "2.000522"


def test_procedures_without_code_or_field(index):
    names = {h.procedure["name"] for h in index.search("ban le ruou")}
    assert "Thủ tục cấp Giấy phép bán lẻ rượu" in names  # this row has no code


def test_keystrokes_are_fast(index):
    queries = ["dang ky khai sinh", "giấy phép lái xe", "khai sihn", "bằng lái", "cap lai the can cuoc"]
    started = time.perf_counter()
    n = 0
    for q in queries:
        for end in range(1, len(q) + 1):
            index.search(q[:end] + "x")  # defeat the result cache
            n += 1
    assert (time.perf_counter() - started) / n < 0.01
