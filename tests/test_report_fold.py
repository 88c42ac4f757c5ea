"""One fold of the event log for the counter's figures and the manager's reports; report
GETs that never write; exports that never carry a formula.

Real SQLite, the real service with an injected clock, the real Flask app in-process.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from counter.stats import counter_today, day_bounds
from qms.app import create_app
from server.reports.refresher import EXTENSION
from tests.conftest import bearer, login

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY1, DAY2 = "2026-11-23", "2026-11-24"
OFFICERS = {1: "canbo01", 2: "canbo02", 3: "canbo03"}


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t

    def step(self, s):
        self.t += timedelta(seconds=s)


@pytest.fixture
def sim(data_dir):
    clock = Clock(datetime(2026, 11, 23, 8, 0, tzinfo=TZ).astimezone(UTC))
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "ASYNC_MODE": "threading",
                      "CLOCK": clock})
    yield app, clock
    app.extensions["qms"].store.close()


def act(svc, n, action, **kw):
    return svc.counter_action(n, action, actor=f"user:{OFFICERS[n]}", **kw)


def two_days(app, clock) -> dict:
    """Day 1 ends with a ticket serving at counter 1, one called at counter 2 and two
    waiting; the first command of day 2 closes them (`reason: day_closed`); day 2 is a
    normal morning. No transfers and one call per ticket, so a counter's wait (counted at the
    first call) and the report's (at the last counter) group the same tickets."""
    svc = app.extensions["qms"].service
    left = {}

    def issue():
        _, t = svc.issue(team_id=1, channel="kiosk", actor="device:k")
        clock.step(20)
        return t["id"]

    def serve(n, *, start=True, rate=None):
        status, t = act(svc, n, "call-next")
        assert status == 200
        clock.step(45)
        if start:
            act(svc, n, "start")
            clock.step(170 + 40 * n)
        act(svc, n, "finish")
        if rate:
            svc.rate(t["id"], rate, "chờ lâu" if rate <= 2 else "", actor="device:bridge-1")
        clock.step(15)
        return t["id"]

    for _ in range(9):
        issue()
    serve(1, rate=4)
    serve(2, start=False, rate=2)
    serve(3, rate=3)
    act(svc, 3, "call-next")
    clock.step(30)
    act(svc, 3, "no-show")
    serve(1, rate=1)
    _, t = act(svc, 1, "call-next")  # still serving when the day ends
    act(svc, 1, "start")
    left["serving"] = t["id"]
    _, t = act(svc, 2, "call-next")  # still called when the day ends
    left["called"] = t["id"]
    clock.t = datetime(2026, 11, 24, 7, 45, tzinfo=TZ).astimezone(UTC)
    issue()  # the first command of day 2 closes day 1
    for _ in range(5):
        issue()
    serve(1, rate=3)
    serve(2, rate=4)
    serve(1, start=False)
    act(svc, 3, "call-next")
    clock.step(60)
    act(svc, 3, "no-show")
    serve(2, rate=2)
    return left


def day_events(store, day: str, tickets_of_day: bool = False) -> list[dict]:
    """A day's event window, or (tickets_of_day) every event of the tickets issued that day,
    later ones (their day_closed closing) included."""
    start, end = day_bounds(datetime.fromisoformat(day).replace(tzinfo=TZ).isoformat())
    with store.read():
        if not tickets_of_day:
            return list(store.events_between(start, end))
        later = (datetime.fromisoformat(end) + timedelta(days=30)).isoformat()
        evts = list(store.events_between(start, later))
    mine = {e["ticket_id"] for e in evts if e["type"] == "ticket.issued" and e["at"] < end}
    return [e for e in evts if e["ticket_id"] in mine]


def agree(figures: dict, row: dict | None) -> None:
    if row is None:
        assert figures["served"] == figures["called"] == figures["no_show"] == 0
        return
    assert figures["served"] == row["served"]
    assert figures["called"] == row["called"]
    assert figures["no_show"] == row["no_show"]
    assert figures["avg_service_s"] == row["service_s"]["mean"]
    assert figures["avg_wait_s"] == row["wait_s"]["mean"]
    assert figures["ratings"] == row["ratings"]
    assert figures["rated"] == row["rated"]
    assert figures["rating_avg"] == row["rating_avg"]


def test_counter_figures_and_reports_agree_on_a_day_with_day_closed(sim):
    app, clock = sim
    q = app.extensions["qms"]
    left = two_days(app, clock)
    client = app.test_client()
    h = bearer(login(client, "giamdoc"))
    window = day_events(q.store, DAY2)
    closing = [e for e in window if e.get("reason") == "day_closed"]
    assert {e["ticket_id"] for e in closing if e["type"] == "ticket.finished"} == {
        left["serving"], left["called"]}
    assert any(e["type"] == "ticket.cancelled" for e in closing)

    for day in (DAY1, DAY2):
        report = client.get(f"/api/v1/reports/summary?from={day}&to={day}&by=counter",
                            headers=h).get_json()
        rows = {r["key"]: r for r in report["rows"]}
        for n in OFFICERS:
            # the one fold over every event of the day's tickets, their closing included
            agree(counter_today(day_events(q.store, day, tickets_of_day=True), n, TZ),
                  rows.get(n))
            if day == DAY2:  # what the officer's console shows today: the day's window
                today = client.get(f"/api/v1/counters/{n}/today", headers=h).get_json()
                assert today["day"] == DAY2
                agree(today, rows.get(n))
                assert today == {**counter_today(window, n), "day": DAY2,
                                 "devices": today["devices"],
                                 "device_names": today["device_names"]}

    # day_closed: neither served nor timed, at the report and at the counter alike
    journeys = {j["ticket_id"]: j for j in client.get(
        f"/api/v1/reports/journeys?from={DAY1}&to={DAY1}", headers=h).get_json()["items"]}
    for tid in (left["serving"], left["called"]):
        assert journeys[tid]["status"] == "day_closed"
        assert journeys[tid]["service_s"] is None and journeys[tid]["wait_s"] is not None
    total = client.get(f"/api/v1/reports/summary?from={DAY1}&to={DAY1}&by=all",
                       headers=h).get_json()["total"]
    assert total["served"] == 4 and total["no_show"] == 1 and total["cancelled"] == 2
    assert total["service_s"]["max"] < 3600  # no overnight "service"
    # the counter's figures of day 1 did not change when the system closed the day
    before = [e for e in day_events(q.store, DAY1, tickets_of_day=True)
              if e.get("reason") != "day_closed"]
    for n in OFFICERS:
        assert counter_today(before, n) == counter_today(
            day_events(q.store, DAY1, tickets_of_day=True), n)


class WriteSpy:
    """Records every `store.write()` entered by the watched thread while armed."""

    def __init__(self, store):
        self.store, self.real = store, store.write
        self.armed, self.seen, self.path = False, [], ""
        self.thread = threading.current_thread()
        store.write = self.write

    def write(self):
        if self.armed and threading.current_thread() is self.thread:
            self.seen.append(self.path)
        return self.real()


REPORT_GETS = (
    "/api/v1/reports/summary?from={d}&to={d}&by=team",
    "/api/v1/reports/summary?from={d}&to={d}&by=team&precision=fast",
    "/api/v1/reports/satisfaction?from={d}&to={d}",
    "/api/v1/reports/heatmap?from={d}&to={d}",
    "/api/v1/reports/occupancy?from={d}&to={d}",
    "/api/v1/reports/priority?from={d}&to={d}",
    "/api/v1/reports/low-ratings?from={d}&to={d}",
    "/api/v1/reports/monthly?month=2026-11",
    "/api/v1/reports/journeys?from={d}&to={d}",
    "/api/v1/reports/journeys?from={d}&to={d}&format=xlsx",
    "/api/v1/reports/export?report=summary&from={d}&to={d}&format=csv",
    "/api/v1/reports/waits?from={d}&by=counter",
)


def test_report_gets_never_write_yet_see_every_command(sim):
    app, clock = sim
    q = app.extensions["qms"]
    client = app.test_client()
    h = bearer(login(client, "giamdoc"))
    spy = WriteSpy(q.store)
    svc = q.service
    for round_ in range(3):
        for _ in range(3):
            svc.issue(team_id=1, channel="kiosk", actor="device:k")
            clock.step(30)
        act(svc, 1, "call-next")
        clock.step(60)
        act(svc, 1, "finish")
        spy.armed = True
        for path in REPORT_GETS:
            spy.path = path
            res = client.get(path.format(d=DAY1), headers=h)
            assert res.status_code == 200, (path, res.get_json())
        spy.path = "/api/v1/dashboard"
        dash = client.get("/api/v1/dashboard", headers=h).get_json()
        spy.armed = False
        assert spy.seen == []  # the report writer's thread wrote, never the request
        total = client.get(f"/api/v1/reports/summary?from={DAY1}&to={DAY1}&by=all",
                           headers=h).get_json()["total"]
        assert (total["issued"], total["served"]) == (3 * (round_ + 1), round_ + 1)
        assert dash["today"]["issued"] == total["issued"]
        fast = client.get(f"/api/v1/reports/summary?from={DAY1}&to={DAY1}&by=all"
                          "&precision=fast", headers=h).get_json()["total"]
        assert (fast["issued"], fast["served"]) == (total["issued"], total["served"])
    assert app.extensions[EXTENSION].passes >= 1


def test_the_writer_folds_after_commands_without_any_report(sim):
    app, clock = sim
    q = app.extensions["qms"]
    from server.reports.refresher import install

    install(app).lag_s = 0.05
    for _ in range(4):
        q.service.issue(team_id=1, channel="kiosk", actor="device:k")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with q.store.read():
            if len(q.store.journeys_between(DAY1, DAY1)) == 4:
                break
        time.sleep(0.05)
    with q.store.read():
        assert len(q.store.journeys_between(DAY1, DAY1)) == 4


FORMULA = '=HYPERLINK("http://x","y")'


def test_exports_never_write_formulas(sim):
    import openpyxl

    app, clock = sim
    svc = app.extensions["qms"].service
    _, t = svc.issue(team_id=1, channel="kiosk", actor="device:k")
    clock.step(60)
    act(svc, 1, "call-next")
    clock.step(60)
    act(svc, 1, "finish")
    svc.rate(t["id"], 1, FORMULA, actor="device:bridge-1")
    client = app.test_client()
    h = bearer(login(client, "giamdoc"))
    for url in (f"/api/v1/reports/journeys?from={DAY1}&format={{}}",
                f"/api/v1/reports/export?report=low-ratings&from={DAY1}&format={{}}"):
        res = client.get(url.format("csv"), headers=h)
        assert res.status_code == 200
        text = res.data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        cells = [c for r in rows[1:] for c in r]
        assert "'" + FORMULA in cells and FORMULA not in cells
        assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
        if "journeys" in url:
            assert str(t["id"]) in [r[0] for r in rows[1:]]  # numbers stay bare numbers

        res = client.get(url.format("xlsx"), headers=h)
        assert res.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(res.data))
        cells = [c for ws in wb.worksheets for r in ws.iter_rows() for c in r]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        reason = [c for c in cells if c.value == FORMULA]
        assert reason and all(c.data_type == "s" and c.quotePrefix for c in reason)
        if "journeys" in url:
            ids = [c for c in cells if c.value == t["id"]]
            assert ids and ids[0].data_type == "n"


def test_reports_on_the_real_server(live_server):
    """`qms serve` (gevent): the writer runs beside the requests; a report right after the
    commands sees them all, and the writer logs no error."""
    import requests

    from tools.testing import OFFICER_PASSWORD, PASSWORDS

    url = live_server.url + "/api/v1"
    kiosk = bearer(live_server.tokens["kiosk-1"])

    def token(user, counter=None):
        body = {"username": user, "password": PASSWORDS.get(user, OFFICER_PASSWORD)}
        if counter is not None:
            body["counter"] = counter
        res = requests.post(url + "/auth/login", json=body, timeout=10)
        assert res.status_code == 200, res.text
        return bearer(res.json()["token"])

    officer, manager = token("canbo01", 1), token("giamdoc")
    for _ in range(3):
        assert requests.post(url + "/tickets", json={"team_id": 1}, headers=kiosk,
                             timeout=10).status_code == 201
    for action in ("call-next", "start", "finish"):
        assert requests.post(f"{url}/counters/1/{action}", json={}, headers=officer,
                             timeout=10).status_code == 200
    local = datetime.now(TZ).date()  # a range, so that midnight cannot split the test
    span = f"from={local - timedelta(days=1)}&to={local + timedelta(days=1)}"
    total = requests.get(f"{url}/reports/summary?by=all&{span}", headers=manager,
                         timeout=30).json()["total"]
    assert (total["issued"], total["served"]) == (3, 1)
    today = requests.get(url + "/counters/1/today", headers=officer, timeout=10).json()
    day = today["day"]
    mine = requests.get(f"{url}/reports/summary?by=counter&from={day}&to={day}",
                        headers=manager, timeout=30).json()["rows"]
    assert [r["served"] for r in mine if r["key"] == 1] == [today["served"]]
    assert "report writer" not in live_server.log.read_text()
