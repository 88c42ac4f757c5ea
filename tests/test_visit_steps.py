"""Several steps under one number (issue #15 point 3): the route configuration and its
refusals, the rules (fee step skipped without a fee), and a visit of three steps through the
real server process with real HTTP clients, its step times checked against an independent
fold of the event log."""

from __future__ import annotations

import copy
import csv
import io
import shutil
import sqlite3
import time
from datetime import datetime

import pytest

from server import rules, visit
from server.config import Route, RouteStep, from_dict
from server.demo import demo_config
from server.errors import QMSError, ValidationFailed
from tools.testing import PASSWORDS, LiveServer

# Đổi giấy phép lái xe của người nước ngoài: 135.000 đồng (team 4 -> fee 7 -> result 8)
FEE_PROC = "3.000351"
# Đăng ký biến động ... đổi tên: "Miễn phí" (land, team 2 -> result 8: no fee step)
FREE_PROC = "1.013833"
RECEIVE, LAND = 15, 7  # counters serving team 4 alone, team 2 alone


# -- configuration ---------------------------------------------------------------------------
def demo_dict() -> dict:
    return demo_config().to_dict()


def refused(data: dict) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        from_dict(data)
    assert err.value.code == "bad_config" and err.value.status == 422
    return err.value


def with_route(steps: list[dict], **selector) -> dict:
    data = demo_dict()
    data["routes"] = [{"steps": steps, "fields": ["Hộ tịch"], **selector}]
    return data


def test_demo_routes_are_valid_and_round_trip():
    cfg = from_dict(demo_dict())
    assert [r.steps[-1].team for r in cfg.routes] == [8] * len(cfg.routes)
    route = cfg.route_for(None, "Sát hạch, cấp giấy phép lái xe", 4)
    assert [(s.team, s.kind) for s in route.steps] == [(4, "receive"), (7, "fee"), (8, "result")]
    assert cfg.route_for(None, "Hộ tịch", 1) is None  # most fields: one step, as before


def test_route_to_a_deleted_team_is_refused():
    err = refused(with_route([{"team": 1, "kind": "receive"}, {"team": 42, "kind": "fee"}]))
    assert err.field == "routes[0].steps[1].team"
    assert "không có tổ 42" in err.message and "unknown team 42" in err.message
    # deleting a team a route still uses is refused the same way
    data = demo_dict()
    data["teams"] = [t for t in data["teams"] if t["id"] != 7]
    data["counters"] = [c for c in data["counters"] if c["teams"] != [7]]
    assert refused(data).field == "routes[0].steps[1].team"


def test_route_to_a_closed_team_is_refused():
    data = with_route([{"team": 1, "kind": "receive"}, {"team": 7, "kind": "fee"}])
    data["counters"] = [c for c in data["counters"] if 7 not in c["teams"]]
    err = refused(data)
    assert "tổ 7 đang đóng" in err.message and "no counter serves it" in err.message


@pytest.mark.parametrize("teams, where, words", [
    ([1, 1, 8], "routes[0].steps[1]", "lặp lại liền nhau"),
    ([1, 7, 1], "routes[0].steps[2]", "vòng lặp"),
    ([1, 7, 8, 7], "routes[0].steps[3]", "vòng lặp"),
])
def test_route_loops_are_refused(teams, where, words):
    err = refused(with_route([{"team": t} for t in teams]))
    assert err.field == where and words in err.message


def test_empty_or_aimless_routes_are_refused():
    assert refused(with_route([])).field == "routes[0].steps"
    assert "ít nhất 2 bước" in refused(with_route([{"team": 1}])).message
    data = demo_dict()
    data["routes"] = [{"steps": [{"team": 1}, {"team": 8}]}]
    assert "procedures, fields hoặc team_default" in refused(data).message
    assert refused(with_route([{"team": 1, "kind": "pay"}, {"team": 8}])).field \
        == "routes[0].steps[0].kind"
    # a field's route starts at the team that receives the field
    assert "bước 1 phải là tổ 1" in refused(with_route([{"team": 2}, {"team": 8}])).message
    # one route per field
    data = with_route([{"team": 1}, {"team": 8}])
    data["routes"].append(copy.deepcopy(data["routes"][0]))
    assert refused(data).field == "routes[1].fields"


# -- rules -----------------------------------------------------------------------------------
ROUTE = Route([RouteStep(6, "receive"), RouteStep(7, "fee"), RouteStep(8, "result")])
NAMES = {6: "Tổ 6", 7: "Thu phí", 8: "Trả kết quả"}


@pytest.mark.parametrize("fee, kept", [
    ("50.000 đồng", True), ("Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần.", True),
    ("Miễn phí (- Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần)", True),
    ("Từ ngày 01/01/2026 áp dụng theo Thông tư số 156/2025/TT-BTC", True),
    ("", False), ("Miễn phí", False), ("Miễn phí (Thông tư số 60/2023/TT-BTC)", False),
    ("0", False), ("0 đồng", False), ("Không thu phí", False),
])
def test_fee_step_kept_only_with_a_fee(fee, kept):
    assert visit.has_fee({"fee": fee}) is kept
    steps, skipped = visit.visit_steps(ROUTE, visit.has_fee({"fee": fee}), NAMES)
    assert [s["team_id"] for s in steps] == ([6, 7, 8] if kept else [6, 8])
    assert [s["kind"] for s in skipped] == ([] if kept else ["fee"])


def test_clean_fee_fields_win_over_the_text():
    assert visit.has_fee({"fee": "50.000 đồng", "fee_free": 1}) is False
    assert visit.has_fee({"fee": "", "fee_free": None, "fee_amount_max": 20000}) is True
    assert visit.has_fee(None) is True  # nothing known: the fee desk decides


def test_move_keeps_number_and_place_and_refuses_ended_visits():
    t0 = datetime(2026, 11, 23, 1, 0)
    t = rules.Ticket(site="main", team_id=6, origin_team_id=6, day="2026-11-23", number=6001,
                     token="x", issued_at=t0, wait_from=t0, status="serving", counter=21)
    steps, _ = visit.visit_steps(ROUTE, True, NAMES)
    assert visit.step_info(t, steps) == {"index": 1, "count": 3, "name": "Tiếp nhận",
                                         "kind": "receive"}
    visit.move_step(t, 21, steps)
    assert (t.team_id, t.number, t.wait_from, t.status, t.counter, t.step) == (
        7, 6001, t0, "waiting", None, 1)
    assert visit.next_step(t, steps)["team_id"] == 8
    with pytest.raises(QMSError) as err:  # not called at counter 21 any more
        visit.move_step(t, 21, steps)
    assert err.value.code == "no_current_ticket"
    t.status, t.counter, t.step = "serving", 23, 2
    with pytest.raises(QMSError) as err:
        visit.move_step(t, 23, steps)
    assert (err.value.status, err.value.code) == (409, "no_next_step")
    for status in ("done", "no_show", "cancelled"):
        t.status = status
        with pytest.raises(QMSError) as err:
            visit.move_step(t, 23, steps)
        assert (err.value.status, err.value.code) == (409, "ticket_closed")


# -- the real server -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(demo_template, tmp_path_factory):
    data = tmp_path_factory.mktemp("steps") / "data"
    shutil.copytree(demo_template, data)
    live = LiveServer(data).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def officers(server):
    return {n: server.login(f"canbo{n:02d}", n) for n in (RECEIVE, LAND, 22, 23)}


def act(server, officers, counter, action, body=None, status=200):
    res = server.post(f"/counters/{counter}/{action}", officers[counter], body)
    assert res.status_code == status, res.text
    return res.json() if res.content else None


def serve(server, officers, counter, hold=0.3):
    """Call the next ticket at `counter`, start, hold, finish: the finish's answer."""
    called = act(server, officers, counter, "call-next")
    time.sleep(hold)
    act(server, officers, counter, "start")
    time.sleep(hold)
    return called, act(server, officers, counter, "finish")


def events_of(server, ticket_id: int) -> list[dict]:
    con = sqlite3.connect(f"file:{server.data_dir / 'qms.db'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(
            "SELECT type, at, team_id, counter FROM events WHERE ticket_id = ? ORDER BY seq",
            (ticket_id,))]
    finally:
        con.close()


def independent_fold(events: list[dict]) -> list[dict]:
    """Each step's team, wait (from the issue or the move until the call) and service time
    (from the start until the finish or the move), written apart from server/reports."""
    steps, arrived = [], None
    for e in events:
        at = datetime.fromisoformat(e["at"])
        if e["type"] == "ticket.issued":
            arrived = at
        elif e["type"] == "ticket.called":
            steps.append({"team": e["team_id"], "wait": (at - arrived).total_seconds()})
        elif e["type"] == "ticket.started":
            steps[-1]["started"] = at
        elif e["type"] in ("ticket.step_moved", "ticket.finished"):
            steps[-1]["service"] = (at - steps[-1].pop("started")).total_seconds()
            arrived = at
    return steps


def test_three_step_visit_keeps_its_number(server, officers):
    kiosk = server.tokens["kiosk-1"]
    res = server.post("/tickets", kiosk, {"procedure_code": FEE_PROC})
    assert res.status_code == 201, res.text
    ticket = res.json()
    assert ticket["step"] == {"index": 1, "count": 3, "name": "Tiếp nhận", "kind": "receive",
                              "counter_hint": "Quầy 10, Quầy 15, Quầy 16 …"}
    assert ticket["next_step"]["team_id"] == 7 and ticket["next_step"]["counter_hint"] == "Quầy 22"
    number, token = ticket["number"], ticket["token"]

    called, moved = serve(server, officers, RECEIVE)
    assert called["id"] == ticket["id"]
    assert (moved["number"], moved["team_id"], moved["status"]) == (number, 7, "waiting")
    assert moved["wait_from"] == ticket["wait_from"]  # its place by arrival is kept
    assert moved["step"]["index"] == 2 and moved["step"]["name"] == "Thu phí"
    assert moved["next_step"]["team_id"] == 8
    phone = server.get(f"/tickets/{token}").json()
    assert phone["team_id"] == 7 and phone["step"]["index"] == 2

    called, moved = serve(server, officers, 22)
    assert called["number"] == number and called["step"]["name"] == "Thu phí"
    assert (moved["team_id"], moved["step"]["index"], moved["next_step"]) == (8, 3, None)

    called, done = serve(server, officers, 23)
    assert called["number"] == number and done["status"] == "done"
    assert done["step"] == {"index": 3, "count": 3, "name": "Trả kết quả", "kind": "result",
                            "counter_hint": "Quầy 23"}

    events = events_of(server, ticket["id"])
    assert [e["type"] for e in events] == [
        "ticket.issued", "ticket.called", "ticket.started", "ticket.step_moved",
        "ticket.called", "ticket.started", "ticket.step_moved",
        "ticket.called", "ticket.started", "ticket.finished"]
    steps = independent_fold(events)
    assert [s["team"] for s in steps] == [4, 7, 8]
    assert all(s["service"] >= 0.3 for s in steps)

    # the manager's report by step agrees with the independent fold
    manager = server.login("giamdoc")
    day = ticket["day"]
    report = server.get(f"/reports/steps?from={day}&to={day}", manager)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["visits"] == 1  # the only visit of several steps so far
    rows = {r["team_id"]: r for r in body["rows"]}
    assert [r["step_index"] for r in body["rows"]] == [1, 2, 3]
    for index, s in enumerate(steps, start=1):
        row = rows[s["team"]]
        assert (row["step_index"], row["served"], row["arrived"]) == (index, 1, 1)
        assert row["service_s"]["max"] == pytest.approx(s["service"], abs=0.051)
        assert row["wait_s"]["max"] == pytest.approx(s["wait"], abs=0.051)
    assert [rows[t]["moved_on"] for t in (4, 7, 8)] == [1, 1, 0]
    assert rows[8]["finished"] == 1 and rows[8]["step_name"] == "Trả kết quả"
    # ... and so does its CSV export (made by the report worker)
    res = server.get(f"/reports/export?report=steps&from={day}&to={day}&format=csv", manager,
                     timeout=60)
    assert res.status_code == 200, res.text
    table = list(csv.reader(io.StringIO(res.content.decode("utf-8-sig"))))
    head = next(i for i, r in enumerate(table) if r and r[0] == "Bước (step)")
    exported = table[head + 1:head + 4]
    assert [r[0] for r in exported] == ["1", "2", "3"] and exported[2][1] == "Trả kết quả"
    served = table[head].index("Đã phục vụ (served)")
    assert [r[served] for r in exported] == ["1", "1", "1"]
    # each counter's figures of the day agree with the report's counters
    by_counter = {r["counter"]: r for r in body["counters"]}
    for n, moved_on in ((RECEIVE, 1), (22, 1), (23, 0)):
        today = server.get(f"/counters/{n}/today", officers[n]).json()
        assert (today["steps_served"], today["moved_on"]) == (1, moved_on)
        assert by_counter[n]["served"] == 1 and by_counter[n]["moved_on"] == moved_on
        assert today["avg_step_service_s"] == by_counter[n]["service_s"]["mean"]
    assert [server.get(f"/counters/{n}/today", officers[n]).json()["served"]
            for n in (RECEIVE, 22, 23)] == [0, 0, 1]  # visits finished there

    # a visit that has ended moves nowhere
    res = server.post("/counters/23/next-step", officers[23], {"ticket_id": ticket["id"]})
    assert (res.status_code, res.json()["error"]["code"]) == (409, "ticket_closed")
    assert "không chuyển sang bước khác" in res.json()["error"]["message"]


def test_manager_page_shows_the_steps(server, browser):
    """The manager's reports page, section "Theo bước của hồ sơ", in Chromium: one row per
    step of the three-step visit above, with its team."""
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    try:
        page.goto(server.url + "/manager")
        page.fill("input[name=username]", "giamdoc")
        page.fill("input[name=password]", PASSWORDS["giamdoc"])
        page.click("button[type=submit]")
        page.click("#tabs button[data-tab=reports]")
        page.click("#r-load")
        page.wait_for_selector("#steps-table[data-loaded='1']")
        cells = page.eval_on_selector_all(
            "#steps-table tbody tr", "rows => rows.map(r => [r.cells[0].textContent, "
            "r.cells[1].textContent, r.cells[3].textContent])")
        assert cells == [["Bước 1 · Tiếp nhận", "Tổ Xây dựng – Giao thông", "1"],
                         ["Bước 2 · Thu phí", "Thu phí – Ngân hàng/Kho bạc", "1"],
                         ["Bước 3 · Trả kết quả", "Trả kết quả", "1"]]
        assert "1 lượt hồ sơ qua nhiều bước" in page.text_content("#steps-note")
    finally:
        page.close()


def test_no_fee_step_is_skipped(server, officers):
    res = server.post("/tickets", server.tokens["kiosk-1"], {"procedure_code": FREE_PROC})
    ticket = res.json()
    assert ticket["step"]["count"] == 2 and ticket["next_step"]["team_id"] == 8
    _, moved = serve(server, officers, LAND, hold=0)
    assert (moved["team_id"], moved["step"]["index"], moved["step"]["name"]) == (
        8, 2, "Trả kết quả")
    moves = [e for e in events_of(server, ticket["id"]) if e["type"] == "ticket.step_moved"]
    assert len(moves) == 1 and moves[0]["team_id"] == 8
    # the last step: "next step" has nowhere to go; finish ends the visit
    act(server, officers, 23, "call-next")
    err = act(server, officers, 23, "next-step", status=409)
    assert err["error"]["code"] == "no_next_step"
    assert act(server, officers, 23, "finish")["status"] == "done"


def test_finish_with_end_visit_stops_the_route(server, officers):
    ticket = server.post("/tickets", server.tokens["kiosk-1"],
                         {"procedure_code": FEE_PROC}).json()
    act(server, officers, RECEIVE, "call-next")
    done = act(server, officers, RECEIVE, "finish", {"end_visit": True})
    assert (done["id"], done["status"], done["team_id"]) == (ticket["id"], "done", 4)
    assert act(server, officers, RECEIVE, "finish", {"end_visit": "yes"}, status=422)


def test_console_shows_the_step_and_sends_the_citizen_on(server, officers, browser):
    """The officer's console in Chromium at the fee desk: the called ticket says "Bước 2/3 ·
    Thu phí", the finish button "Xong bước → Trả kết quả", and pressing it sends the citizen
    on (the ticket waits at the result team)."""
    ticket = server.post("/tickets", server.tokens["kiosk-1"], {"procedure_code": FEE_PROC}).json()
    serve(server, officers, RECEIVE, hold=0)
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    try:
        page.goto(f"{server.url}/counter?counter=22")
        page.fill("#username", "canbo22")
        page.fill("#password", PASSWORDS.get("canbo22", "demo1234"))
        page.fill("#counter-no", "22")
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("#conn.ok")
        page.click("#btn-next")
        page.wait_for_function(f"document.querySelector('#t-number').textContent === "
                               f"'{ticket['number']}'")
        assert page.inner_text("#t-step") == "Bước 2/3 · Thu phí"
        assert page.inner_text("[data-action=finish]").startswith("Xong bước → Trả kết quả")
        page.click("[data-action=finish]")
        page.wait_for_function("document.querySelector('#t-number').textContent === '—'")
        assert "sang bước Trả kết quả (Quầy 23)" in page.inner_text("#msg")
        assert page.is_hidden("#t-step")
    finally:
        page.close()
    view = server.get(f"/tickets/{ticket['token']}").json()
    assert (view["team_id"], view["status"], view["step"]["index"]) == (8, "waiting", 3)
