"""The catalogue's clean fee and time fields and the public records of the most used
procedures (issue #16, catalogue): imported by the demo centre, served by the real server at
`GET /api/v1/procedures/<code>`."""

from __future__ import annotations

import csv
import json

from server.importer import RECORDS_FILE, apply_record, import_procedures
from server.procedure_texts import parse_fee, parse_time
from server.setup import open_store

RECORDS = json.loads(RECORDS_FILE.read_text(encoding="utf-8"))["records"]
# the procedures that make most tickets at a commune desk and at a provincial centre
MUST_HAVE = {"1.001193": "khai sinh", "1.000894": "kết hôn", "1.000656": "khai tử",
             "2.000815": "chứng thực bản sao", "2.000884": "chứng thực chữ ký",
             "1.004222": "thường trú", "1.004194": "tạm trú", "1.014061": "căn cước",
             "3.000347": "đổi giấy phép lái xe", "3.000348": "cấp lại giấy phép lái xe",
             "1.001612": "hộ kinh doanh", "1.012753": "đất đai lần đầu",
             "1.013225": "giấy phép xây dựng", "3.000333": "lý lịch tư pháp",
             "1.001456": "hộ chiếu"}


def test_records_file_covers_the_most_used_procedures():
    assert 28 <= len(RECORDS) <= 40
    assert set(MUST_HAVE) <= set(RECORDS)
    for code, rec in RECORDS.items():
        assert rec["documents"] and all(d.strip() for d in rec["documents"]), code
        assert rec["fee_text"].rstrip().endswith((".", ")")), code  # whole sentences
        fee = parse_fee(rec["fee_text"])
        free = rec.get("fee_free", fee["fee_free"])
        if free == 1:
            assert "đồng" not in rec.get("fee", "") or "miễn" in rec["fee"].lower(), code
        if "time_text" in rec:
            assert rec.get("time_days", parse_time(rec["time_text"])["time_days"]) is not None


def test_a_row_s_own_clear_text_wins_over_the_record():
    row = {"code": "x", "documents": ["Giấy tờ của tỉnh"],
           **parse_fee("30.000 đồng (30.000 đồng/lần khi nộp trực tiếp.)"),
           **parse_time("02 ngày làm việc kể từ ngày nhận đủ hồ sơ."), "processing_days": "2"}
    apply_record(row, {"documents": ["Khác"], "fee_text": "Miễn lệ phí.",
                       "time_text": "05 ngày làm việc."})
    assert (row["documents"], row["fee_free"], row["fee_amount_min"], row["time_days"]) == (
        ["Giấy tờ của tỉnh"], 0, 30_000, 2)


def test_a_bare_row_text_gives_way_to_the_record():
    row = {"code": "x", "documents": [], **parse_fee("2.000 đồng"), **parse_time("1"),
           "processing_days": "1"}
    apply_record(row, {"documents": ["Bản chính"], "fee_text": "2.000 đồng/trang.",
                       "fee": "2.000 đồng/trang", "time_text": "Trong ngày.", "time_days": 0})
    assert (row["documents"], row["fee"], row["time_days"], row["processing_days"]) == (
        ["Bản chính"], "2.000 đồng/trang", 0, "0")


def test_import_reads_time_texts_and_fills_cut_rows_from_records(data_dir, tmp_path):
    store, cfg = open_store(data_dir)
    path = tmp_path / "catalogue.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Mã TTHC", "Tên thủ tục", "Lĩnh vực", "Thời gian giải quyết", "Phí, lệ phí"])
        w.writerow(["9.000001", "Thủ tục thử", "Hộ tịch",
                    "Trong ngày; nếu nhận sau 15 giờ thì trả trong ngày làm việc tiếp theo",
                    "Miễn phí (Lệ phí cấp mới 40.000đồng/lần; lệ phí cấp lại 20.000 đồng/lần.)"])
        w.writerow(["3.000347", "Đổi giấy phép lái xe", "Sát hạch, cấp giấy phép lái xe", "",
                    "Miễn phí (- Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần. - Trường hợp "
                    "nộp trực tuyến: áp dụng mức thu lệ phí là 1 …"])
    try:
        assert import_procedures(store, cfg, path) == 2
        mine = store.procedure("9.000001")
        assert (mine["fee_free"], mine["fee_amount_min"], mine["fee_amount_max"]) == (
            0, 20_000, 40_000)
        assert (mine["time_days"], mine["processing_days"]) == (0, "0")
        assert mine["time_text"].startswith("Trong ngày")
        driving = store.procedure("3.000347")
        assert driving["fee_text"].startswith("Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần.")
        assert driving["documents"] == RECORDS["3.000347"]["documents"]
    finally:
        store.close()


def test_api_serves_the_demo_s_clean_fields(live_server, tokens):
    kiosk = tokens["kiosk-1"]
    driving = live_server.get("/procedures/3.000347", kiosk).json()
    assert driving["fee_free"] == 0
    assert (driving["fee_amount_min"], driving["fee_amount_max"]) == (115_000, 135_000)
    assert driving["fee"].startswith("135.000 đồng")
    assert driving["fee_detail"] == driving["fee_text"]  # whole sentences: nothing cut
    assert driving["documents"] and driving["time_days"] == 5
    copy = live_server.get("/procedures/2.000815", kiosk).json()
    assert copy["documents"] and copy["time_days"] == 0 and copy["processing_days"] == "0"
    assert copy["fee"].startswith("2.000 đồng/trang")
    for code in MUST_HAVE:
        proc = live_server.get(f"/procedures/{code}", kiosk).json()
        assert proc["documents"], code
        assert proc["fee"] and proc["fee_text"], code
        assert proc["time_days"] is not None, code
    # a row without a record keeps its parsed portal text, the cut sentence left out
    land = live_server.get("/procedures/1.012784", kiosk).json()
    assert land["fee_free"] is None and "hỏi tại quầy" in land["fee"]
    listing = live_server.get("/procedures?q=doi giay phep lai xe", kiosk).json()
    hit = next(p for p in listing["items"] if p["code"] == "3.000347")
    assert hit["fee_free"] == 0


def test_an_admin_edit_of_the_fee_or_time_reads_its_clean_fields_again(client):
    from tests.conftest import bearer, login

    admin = bearer(login(client, "admin"))
    res = client.patch("/api/v1/admin/procedures/1.001193", headers=admin,
                       json={"fee": "Lệ phí: 8.000 đồng/lần.", "processing_days": "02 ngày"})
    assert res.status_code == 200, res.get_json()
    proc = client.get("/api/v1/procedures/1.001193", headers=admin).get_json()
    assert (proc["fee_free"], proc["fee_amount_min"], proc["fee_text"]) == (
        0, 8_000, "Lệ phí: 8.000 đồng/lần.")
    assert (proc["time_days"], proc["time_text"]) == (2, "02 ngày")
