"""The audit log in words (issue #16, server/admin/audit_text.py): each change as old -> new,
team names for counters' teams, no raw JSON; and through the admin API, a configuration
change and a procedure edit recorded with their old and new values."""

from __future__ import annotations

from server.admin.audit_text import describe, show
from tests.conftest import bearer, login


def test_changes_read_as_old_and_new():
    names = {1: "Tổ Hộ tịch", 5: "Tổ Lao động"}
    detail = {"changed": ["counters", "name", "teams", "hours", "priority"],
              "old": {"name": "TT cũ", "counters": [{"number": 5, "teams": [1], "name": ""}],
                      "teams": [{"id": 1, "name": "Tổ Hộ tịch", "band": [1001, 1999]}],
                      "hours": {"mon": [["07:30", "11:30"]]},
                      "priority": {"policy": "ratio", "ratio": 3}},
              "new": {"name": "TT mới", "counters": [{"number": 5, "teams": [1, 5], "name": ""},
                                                     {"number": 6, "teams": [5], "name": "Q6"}],
                      "teams": [{"id": 1, "name": "Tổ Hộ tịch", "band": [1001, 1500]}],
                      "hours": {"mon": [["07:30", "11:30"], ["13:30", "17:00"]]},
                      "priority": {"policy": "aging", "ratio": 3}}}
    out = describe("config.update", detail, names)
    assert out["title"] == "Sửa cấu hình"
    got = [(c["what"], c["old"], c["new"]) for c in out["changes"]]
    assert ("Quầy 5 – các tổ phục vụ", "Tổ Hộ tịch", "Tổ Hộ tịch, Tổ Lao động") in got
    assert ("Quầy 6", "(chưa có)", "thêm: Q6") in got
    assert ("Tên trung tâm", "TT cũ", "TT mới") in got
    assert ("Tổ 1 – dải số", "1001–1999", "1001–1500") in got
    assert ("Giờ làm việc – thứ Hai", "07:30-11:30", "07:30-11:30, 13:30-17:00") in got
    assert ("Chính sách ưu tiên – cách ưu tiên", "ratio", "aging") in got
    # an older row (names only) and other actions
    assert describe("config.update", {"changed": ["notice"]})["changes"] == [
        {"what": "Thông báo", "old": "", "new": ""}]
    user = describe("user.add", {"username": "canbo30", "role": "officer"})
    assert user["title"] == "Thêm người dùng"
    assert {"what": "vai trò", "old": "", "new": "cán bộ"} in user["changes"]
    assert show(None) == "(trống)" and show(True) == "có" and len(show("x" * 999)) == 160


def test_the_admin_api_records_old_and_new_values(client):
    admin = bearer(login(client, "admin"))
    res = client.put("/api/v1/admin/config", json={"notice": "Nghỉ trưa 11h30"}, headers=admin)
    assert res.status_code == 200, res.get_json()
    res = client.patch("/api/v1/admin/procedures/1.001193", json={"fee": "Miễn phí"},
                       headers=admin)
    assert res.status_code == 200, res.get_json()
    items = client.get("/api/v1/admin/audit?limit=2", headers=admin).get_json()["items"]
    edit, update = items
    assert edit["summary"]["title"] == "Sửa thủ tục 1.001193"
    assert edit["summary"]["changes"][0]["what"] == "lệ phí"
    assert edit["summary"]["changes"][0]["new"] == "Miễn phí"
    notice = update["summary"]["changes"]
    assert notice == [{"what": "Thông báo", "old": notice[0]["old"], "new": "Nghỉ trưa 11h30"}]
    # a counter serving an unknown team: refused, the reason in Vietnamese first
    cfg = client.get("/api/v1/admin/config", headers=admin).get_json()
    counters = [dict(c, teams=[9]) if c["number"] == 5 else c for c in cfg["counters"]]
    res = client.put("/api/v1/admin/config", json={"counters": counters}, headers=admin)
    msg = res.get_json()["error"]["message"]
    assert res.status_code == 422
    assert msg.startswith("Cấu hình không hợp lệ – Quầy") and "không có tổ 9" in msg
    assert msg.index("không có tổ 9") < msg.index("unknown team 9")
