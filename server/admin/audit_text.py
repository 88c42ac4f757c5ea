"""The audit log in words (issue #16): what was done, and each change as old -> new.

An audit row keeps its detail as data (`{"changed": [...], "old": {...}, "new": {...}}` for a
configuration change, `{"code", "fields", "old", "new"}` for a procedure edit, the user or
device concerned for the others). `describe` turns it into what an admin reads:

    {"title": "Sửa cấu hình", "changes": [
        {"what": "Tổ 1 – tên tổ", "old": "Tổ Hộ tịch", "new": "Tổ Tư pháp – Hộ tịch"},
        {"what": "Quầy 5 – các tổ phục vụ", "old": "Tổ 1", "new": "Tổ 1, Tổ 5"}]}

Pure Python: no Flask, no SQL. Rows written before old values were recorded show the names
of what changed (old and new empty).
"""

from __future__ import annotations

from server.config import (
    COUNTER_LABELS_VI,
    DAY_LABELS_VI,
    LABELS_VI,
    PRIORITY_FIELD_LABELS_VI,
    TEAM_LABELS_VI,
)

TITLES = {
    "config.update": "Sửa cấu hình", "user.add": "Thêm người dùng",
    "user.edit": "Sửa người dùng", "device.token": "Cấp mã thiết bị",
    "device.revoke": "Thu hồi mã thiết bị", "procedure.edit": "Sửa thủ tục",
    "procedure.route": "Chuyển lĩnh vực sang tổ", "procedure.import": "Nhập danh mục thủ tục",
    "notice.set": "Đổi thông báo", "rating.token": "Cấp mã đánh giá",
}
PROCEDURE_LABELS_VI = {"name": "tên", "field": "lĩnh vực", "agency": "cơ quan",
                       "level": "cấp", "processing_days": "thời gian giải quyết (ngày)",
                       "fee": "lệ phí", "team_id": "tổ tiếp nhận", "documents": "giấy tờ"}
DETAIL_LABELS_VI = {"username": "tên đăng nhập", "role": "vai trò", "device": "thiết bị",
                    "kind": "loại", "file": "tệp", "count": "số thủ tục", "field": "lĩnh vực",
                    "team_id": "tổ", "code": "mã thủ tục", "fields": "đã sửa",
                    "changed": "đã sửa"}
ROLES_VI = {"officer": "cán bộ", "manager": "lãnh đạo", "admin": "quản trị"}
KINDS_VI = {"kiosk": "kiosk", "display": "bảng hiển thị", "bridge": "bộ nối quầy"}
MAX_TEXT = 160   # one value shown in the log
MAX_CHANGES = 40  # changes listed for one row (the rest counted)


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def show(value) -> str:
    """A value as a person reads it: lists joined, bands as "1001–1999", yes/no."""
    if value is None or value == "":
        return "(trống)"
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in value):
            return f"{value[0]}–{value[1]}"  # a number band
        return _short(", ".join("-".join(map(str, v)) if isinstance(v, list | tuple)
                                else str(v) for v in value))
    if isinstance(value, dict):
        return _short("; ".join(f"{k}: {show(v)}" for k, v in value.items()))
    return _short(str(value))


def _team_names(teams) -> dict[int, str]:
    return {t.get("id"): t.get("name", "") for t in teams or [] if isinstance(t, dict)}


def _items(old, new, key: str, label: str, labels: dict, names=None) -> list[dict]:
    """Changes of a list of items (teams by id, counters by number): added, removed, and
    each field changed."""
    before = {i.get(key): i for i in old or [] if isinstance(i, dict)}
    after = {i.get(key): i for i in new or [] if isinstance(i, dict)}
    out = []
    for k in sorted(before.keys() | after.keys(), key=str):
        a, b = before.get(k), after.get(k)
        what = f"{label} {k}"
        if a is None:
            out.append({"what": what, "old": "(chưa có)", "new": "thêm: " + show(b.get("name"))})
        elif b is None:
            out.append({"what": what, "old": show(a.get("name")), "new": "(đã xoá)"})
        else:
            for f in [f for f in labels if f != key and a.get(f) != b.get(f)]:
                va, vb = a.get(f), b.get(f)
                if f == "teams":
                    va = ", ".join((names or {}).get(t, f"Tổ {t}") for t in va or [])
                    vb = ", ".join((names or {}).get(t, f"Tổ {t}") for t in vb or [])
                out.append({"what": f"{what} – {labels[f]}", "old": show(va), "new": show(vb)})
    return out


def _hours(old, new) -> list[dict]:
    old, new = old or {}, new or {}
    out = []
    for day, label in DAY_LABELS_VI.items():
        a = ", ".join("-".join(s) for s in old.get(day, []))
        b = ", ".join("-".join(s) for s in new.get(day, []))
        if a != b:
            out.append({"what": f"Giờ làm việc – {label}", "old": a or "(nghỉ)",
                        "new": b or "(nghỉ)"})
    return out


def config_changes(detail: dict, team_names: dict | None = None) -> list[dict]:
    old, new = detail.get("old") or {}, detail.get("new") or {}
    out: list[dict] = []
    for key in detail.get("changed") or []:
        label = LABELS_VI.get(key, key)
        if key not in old and key not in new:  # an older row: only the names
            out.append({"what": label, "old": "", "new": ""})
        elif key == "teams":
            out += _items(old[key], new[key], "id", "Tổ", TEAM_LABELS_VI)
        elif key == "counters":
            names = {**(team_names or {}), **_team_names(old.get("teams")),
                     **_team_names(new.get("teams"))}
            out += _items(old[key], new[key], "number", "Quầy", COUNTER_LABELS_VI, names)
        elif key == "hours":
            out += _hours(old[key], new[key])
        elif key == "priority" and isinstance(old[key], dict) and isinstance(new[key], dict):
            for f, flabel in PRIORITY_FIELD_LABELS_VI.items():
                if old[key].get(f) != new[key].get(f):
                    out.append({"what": f"{label} – {flabel}", "old": show(old[key].get(f)),
                                "new": show(new[key].get(f))})
        else:
            out.append({"what": label, "old": show(old.get(key)), "new": show(new.get(key))})
    return out


def describe(action: str, detail, team_names: dict | None = None) -> dict:
    """An audit row's action and detail in words (`team_names`: the teams' names now, for
    counters' teams when the row does not carry them)."""
    detail = detail if isinstance(detail, dict) else {"": detail}
    title = TITLES.get(action, action)
    if action == "config.update":
        changes = config_changes(detail, team_names)
    elif action == "procedure.edit" and "old" in detail:
        title = f"{title} {detail.get('code', '')}"
        changes = [{"what": PROCEDURE_LABELS_VI.get(k, k), "old": show(detail["old"].get(k)),
                    "new": show((detail.get("new") or {}).get(k))}
                   for k in detail.get("fields") or []]
    else:  # no values to compare: what it concerned
        words = {"role": ROLES_VI, "kind": KINDS_VI}
        changes = [{"what": DETAIL_LABELS_VI.get(k, k), "old": "",
                    "new": show(words[k].get(v, v) if k in words and isinstance(v, str) else v)}
                   for k, v in detail.items() if k not in ("old", "new")]
    more = len(changes) - MAX_CHANGES
    changes = changes[:MAX_CHANGES]
    if more > 0:
        changes.append({"what": f"… và {more} thay đổi khác (and {more} more)", "old": "",
                        "new": ""})
    return {"title": title, "changes": changes}
