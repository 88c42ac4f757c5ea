"""The admin-editable synonym list used by the kiosk search."""

from pathlib import Path

from common.search.synonyms import DEFAULT_PATH, Synonyms, load_synonyms

TEXT = """
# comment line
bằng lái | Bằng lái xe = giấy phép lái xe   # trailing comment
đăng ký kinh doanh = đăng ký doanh nghiệp | hộ kinh doanh
xin =
this line is broken
= nothing on the left
"""


def test_parse_alternatives_comments_and_errors():
    syn = Synonyms.from_text(TEXT)
    lhs = {r.lhs for r in syn.rules}
    assert ("bang", "lai") in lhs and ("bang", "lai", "xe") in lhs  # folded
    business = next(r for r in syn.rules if r.lhs == ("dang", "ki", "kinh", "doanh"))
    assert business.rhs == (("dang", "ki", "doanh", "nghiep"), ("ho", "kinh", "doanh"))
    drop = next(r for r in syn.rules if r.lhs == ("xin",))
    assert drop.rhs == ((),)
    assert len(syn.errors) == 2 and "line 6" in syn.errors[0] and "line 7" in syn.errors[1]


def test_find_longest_match_and_prefix_while_typing():
    syn = Synonyms.from_text(TEXT)
    [m] = syn.find(["bang", "lai", "xe", "may"])
    assert (m.start, m.end, m.partial) == (0, 3, False)
    [m] = syn.find(["doi", "bang", "l"], last_incomplete=True)
    assert (m.start, m.end, m.partial) == (1, 3, True)
    assert syn.find(["doi", "bang", "l"], last_incomplete=False) == []
    assert [m.rule.lhs for m in syn.find(["xin", "bang", "lai"])] == [("xin",), ("bang", "lai")]


def test_load_from_text_path_and_default(tmp_path: Path):
    path = tmp_path / "syn.txt"
    path.write_text("sổ đỏ = giấy chứng nhận quyền sử dụng đất\n", encoding="utf-8")
    assert len(load_synonyms(path)) == 1
    assert len(load_synonyms(str(path))) == 1
    assert len(load_synonyms("sổ đỏ = giấy chứng nhận")) == 1
    assert len(load_synonyms("")) == 0
    syn = Synonyms.from_pairs({"bằng lái": "giấy phép lái xe"})
    assert load_synonyms(syn) is syn and len(syn) == 1


def test_builtin_list_is_clean_and_covers_the_domain():
    syn = load_synonyms()
    assert syn.errors == []
    lines = {r.line for r in syn.rules}
    assert len(lines) >= 30
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    for words in ["bằng lái", "sổ đỏ", "làm căn cước", "giấy khai sinh", "đăng ký kinh doanh",
                  "hộ khẩu", "xây nhà", "sao y", "bhxh", "thất nghiệp", "tạm trú"]:
        assert words in text
