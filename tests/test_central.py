"""The central server on a real PostgreSQL: migrations, idempotent ingest and its refusals
(401/403/409/413/422), epoch flags, site-scoped reading, reports from the one fold."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from central import create_app
from central.admin import add_user, enrol_site, rotate_token
from central.storage import current_revision, head_revision, migrate
from tests.central_harness import pg_dsn, pg_server  # noqa: F401  (fixtures)

EPOCH = "0123456789abcdef"
NOW = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)


def ticket_events(first_seq: int, tickets: int, *, day: str = "2026-05-18",
                  first_ticket: int = 1) -> list[dict]:
    """A small, well-formed event log: each ticket issued, called 5 min later, finished
    after 10 min, rated."""
    out, seq = [], first_seq
    for i in range(tickets):
        tid = first_ticket + i
        base = datetime.fromisoformat(f"{day}T01:00:00+00:00").timestamp() + 60 * i

        def at(offset: float, base=base) -> str:
            return datetime.fromtimestamp(base + offset, UTC).isoformat(
                timespec="milliseconds")

        ticket = {"day": day, "number": 1000 + tid, "procedure_code": "1.001193",
                  "channel": "kiosk", "priority": None}
        for kind, offset, extra in (("ticket.issued", 0, {"ticket": ticket}),
                                    ("ticket.called", 300, {}),
                                    ("ticket.finished", 900, {}),
                                    ("ticket.rated", 960, {"score": 4 - i % 4})):
            out.append({"seq": seq, "type": kind, "at": at(offset), "ticket_id": tid,
                        "team_id": 1, "counter": None if kind == "ticket.issued" else 2,
                        "actor": "user:canbo02", "data": extra})
            seq += 1
    return out


@pytest.fixture
def central_app(pg_dsn):  # noqa: F811
    app = create_app({"DSN": pg_dsn, "TESTING": True, "CLOCK": lambda: NOW,
                      "MAX_BATCH_EVENTS": 200, "MAX_BODY_MB": 1})
    yield app
    app.extensions["central"].store.close()


@pytest.fixture
def store(central_app):
    return central_app.extensions["central"].store


@pytest.fixture
def client(central_app):
    return central_app.test_client()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def send(client, token, site, events, epoch=EPOCH, **extra):
    return client.post("/api/v1/ingest", headers=auth(token),
                       json={"site": site, "epoch": epoch, "schema": 1, "events": events,
                             **extra})


def login(client, store, name, role, site=None) -> str:
    add_user(store, name, role, "password-123", site)
    res = client.post("/api/v1/auth/login", json={"username": name, "password": "password-123"})
    assert res.status_code == 200, res.json
    return res.json["token"]


def test_migrations_bring_the_database_to_the_head_and_run_twice(pg_dsn):  # noqa: F811
    assert migrate(pg_dsn) == head_revision() == current_revision(pg_dsn)
    assert migrate(pg_dsn) == head_revision()
    with psycopg.connect(pg_dsn) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"sites", "events", "epoch_flags", "journeys", "report_agg", "bundles",
            "alembic_version"} <= tables


def test_ingest_is_idempotent_and_refuses_a_gap_with_the_expected_seq(client, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    events = ticket_events(1, 5)  # 20 events
    res = send(client, token, "xa-1", events[:12])
    assert res.status_code == 200
    assert res.json == {"site": "xa-1", "epoch": EPOCH, "acked": 12, "expected": 13,
                        "inserted": 12, "duplicates": 0}
    # the answer was lost: the same batch again, then an overlapping one
    assert send(client, token, "xa-1", events[:12]).json["duplicates"] == 12
    res = send(client, token, "xa-1", events[8:])
    assert res.json == {"site": "xa-1", "epoch": EPOCH, "acked": 20, "expected": 21,
                        "inserted": 8, "duplicates": 4}
    # a gap: the centre says which seq it wants
    gap = ticket_events(25, 1, first_ticket=9)
    res = send(client, token, "xa-1", gap)
    assert res.status_code == 409
    assert res.json["error"]["code"] == "seq_gap"
    assert res.json["error"]["details"] == {"expected": 21}
    assert "số thứ tự 21" in res.json["error"]["message"]
    keys = [(s, e, q) for s, e, q, _t, _a in store.event_keys()]
    assert keys == [("xa-1", EPOCH, q) for q in range(1, 21)]  # no duplicate, no gap


def test_tokens_sites_and_sizes(client, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    enrol_site(store, "xa-2", "UBND xã 2", "commune")
    events = ticket_events(1, 1)
    assert send(client, "s_not-a-token", "xa-1", events).status_code == 401
    assert client.post("/api/v1/ingest", json={}).status_code == 401
    res = send(client, token, "xa-2", events)  # a batch for another site
    assert res.status_code == 403 and res.json["error"]["code"] == "wrong_site"
    # rotating the token: the old one stops at once
    new = rotate_token(store, "xa-1")
    assert send(client, token, "xa-1", events).status_code == 401
    assert send(client, new, "xa-1", events).status_code == 200
    # too many events in one batch (limit 200 here) / a body over 1 MB
    many = ticket_events(5, 60)  # 240 events
    res = send(client, new, "xa-1", many)
    assert res.status_code == 413 and res.json["error"]["code"] == "payload_too_large"
    big = ticket_events(5, 1)
    big[0]["data"]["note"] = "x" * (1024 * 1024 + 10)
    res = send(client, new, "xa-1", big)
    assert res.status_code == 413 and "quá lớn" in res.json["error"]["message"]
    # a newer event schema is refused clearly, an old (missing) one read as schema 1
    res = client.post("/api/v1/ingest", headers=auth(new),
                      json={"site": "xa-1", "epoch": EPOCH, "schema": 2, "events": big[:0]})
    assert res.status_code == 422 and res.json["error"]["code"] == "unsupported_schema"
    res = client.post("/api/v1/ingest", headers=auth(new),
                      json={"site": "xa-1", "epoch": EPOCH, "events": ticket_events(5, 1)})
    assert res.status_code == 200 and res.json["acked"] == 8
    # malformed: seqs not consecutive, bad time
    bad = ticket_events(9, 1)
    bad[1]["seq"] = 20
    assert send(client, new, "xa-1", bad).json["error"]["code"] == "bad_batch"
    bad = ticket_events(9, 1)
    bad[0]["at"] = "yesterday"
    assert send(client, new, "xa-1", bad).status_code == 422
    # revoked
    from central.admin import revoke_site

    revoke_site(store, "xa-1")
    assert send(client, new, "xa-1", ticket_events(9, 1)).status_code == 401


def test_a_new_epoch_is_refused_flagged_and_never_merged(client, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    assert send(client, token, "xa-1", ticket_events(1, 2)).status_code == 200
    other = "fedcba9876543210"
    for _ in range(2):
        res = send(client, token, "xa-1", ticket_events(1, 2), epoch=other)
        assert res.status_code == 409
        assert res.json["error"]["code"] == "epoch_changed"
        assert res.json["error"]["details"]["known_epoch"] == EPOCH
    flags = store.epoch_flags()
    assert [(f["site"], f["epoch"], f["attempts"]) for f in flags] == [("xa-1", other, 2)]
    assert {e for _s, e, *_ in store.event_keys()} == {EPOCH}
    pm = login(client, store, "tinh", "province_manager")
    view = client.get("/api/v1/sites", headers=auth(pm)).json["sites"][0]
    assert [a["code"] for a in view["alerts"]] == ["epoch_changed"]
    # an admin accepts it: the new database's log starts at 1 under its own epoch
    admin = login(client, store, "qtv", "admin")
    assert client.post("/api/v1/admin/sites/xa-1/accept-epoch", headers=auth(pm),
                       json={"epoch": other}).status_code == 403
    assert client.post("/api/v1/admin/sites/xa-1/accept-epoch", headers=auth(admin),
                       json={"epoch": other}).status_code == 200
    res = send(client, token, "xa-1", ticket_events(1, 2, first_ticket=1), epoch=other)
    assert res.status_code == 200 and res.json["inserted"] == 8
    assert store.epoch_flags() == []
    # both epochs' tickets count (ticket ids repeat across epochs, journeys do not clash)
    res = client.get("/api/v1/reports/waits?from=2026-05-18&to=2026-05-18&by=site",
                     headers=auth(pm))
    assert res.json["total"]["issued"] == 4


def test_a_replay_that_differs_is_refused(client, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    assert send(client, token, "xa-1", ticket_events(1, 2)).status_code == 200
    changed = ticket_events(1, 2, day="2026-05-19")  # same seqs, other events
    res = send(client, token, "xa-1", changed)
    assert res.status_code == 409 and res.json["error"]["code"] == "replay_mismatch"
    assert len(store.event_keys()) == 8
    assert store.site("xa-1")["last_refusal"] == "replay_mismatch"


def test_parallel_deliveries_of_one_site_never_duplicate(central_app, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    events = ticket_events(1, 40)  # 160 events
    answers = []

    def deliver(k):
        c = central_app.test_client()
        for i in range(0, len(events), 16 + k):
            answers.append(send(c, token, "xa-1", events[:i + 16 + k]).status_code)

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers) == {200}
    assert [q for _s, _e, q, *_ in store.event_keys()] == list(range(1, 161))
    with store.tx() as conn:
        n = conn.execute("SELECT COUNT(*) AS n FROM journeys").fetchone()["n"]
    assert n == 40


def test_site_managers_see_only_their_site(client, store):
    t1 = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    t2 = enrol_site(store, "xa-2", "UBND xã 2", "commune")
    send(client, t1, "xa-1", ticket_events(1, 3))
    send(client, t2, "xa-2", ticket_events(1, 5))
    mine = login(client, store, "ql1", "site_manager", "xa-1")
    pm = login(client, store, "tinh", "province_manager")
    q = "/api/v1/reports/waits?from=2026-05-18&to=2026-05-18&by=site"
    assert client.get(q, headers=auth(mine)).json["total"]["issued"] == 3
    assert client.get(q + "&site=xa-1", headers=auth(mine)).status_code == 200
    res = client.get(q + "&site=xa-2", headers=auth(mine))
    assert res.status_code == 403 and res.json["error"]["code"] == "other_site"
    assert client.get(q + "&site=xa-1,xa-2", headers=auth(mine)).status_code == 403
    assert [s["id"] for s in client.get("/api/v1/sites", headers=auth(mine)).json["sites"]] \
        == ["xa-1"]
    assert client.get("/api/v1/reports/compare?from=2026-05-18&site=xa-2",
                      headers=auth(mine)).status_code == 403
    for path in ("heatmap", "low-ratings"):
        res = client.get(f"/api/v1/reports/{path}?from=2026-05-18&site=xa-2",
                         headers=auth(mine))
        assert res.status_code == 403 and res.json["error"]["code"] == "other_site", path
    mine_only = client.get("/api/v1/reports/compare?from=2026-05-18&to=2026-05-18",
                           headers=auth(mine)).json
    assert [s["site"] for s in mine_only["sites"]] == ["xa-1"]
    # a site manager administers nothing; an admin reads every site too
    assert client.post("/api/v1/admin/sites/xa-1/accept-epoch", headers=auth(mine),
                       json={"epoch": EPOCH}).status_code == 403
    admin = login(client, store, "qtv", "admin")
    assert client.get(q, headers=auth(admin)).json["total"]["issued"] == 8
    assert len(client.get("/api/v1/sites", headers=auth(admin)).json["sites"]) == 2
    # a site manager needs an enrolled site; other roles are never tied to one
    from server.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        add_user(store, "ql9", "site_manager", "password-123", "xa-9")
    add_user(store, "tinh2", "province_manager", "password-123", "xa-1")
    assert store.user("tinh2")["site"] is None
    # the province sees all, side by side
    res = client.get("/api/v1/reports/compare?from=2026-05-18&to=2026-05-18",
                     headers=auth(pm)).json
    assert [(s["site"], s["total"]["issued"]) for s in res["sites"]] == [("xa-1", 3),
                                                                         ("xa-2", 5)]
    assert res["total"]["issued"] == 8
    assert client.get(q, headers=auth(pm)).json["total"]["issued"] == 8
    # no token, a site token or a bad one: 401
    assert client.get(q).status_code == 401
    assert client.get(q, headers=auth(t1)).status_code == 401
    # a sync token cannot sign in to read reports, and people cannot send events
    assert send(client, pm, "xa-1", ticket_events(4, 1)).status_code == 401


def test_exact_and_aggregated_figures_agree_on_counts(client, store):
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    seq = 1
    for day in ("2026-04-28", "2026-04-30", "2026-05-02", "2026-05-18"):
        evs = ticket_events(seq, 6, day=day, first_ticket=seq)
        assert send(client, token, "xa-1", evs).status_code == 200
        seq += len(evs)
    pm = login(client, store, "tinh", "province_manager")
    for rng in ("from=2026-04-01&to=2026-05-31", "from=2026-04-30&to=2026-05-02"):
        exact = client.get(f"/api/v1/reports/waits?{rng}&by=team&precision=exact",
                           headers=auth(pm)).json
        fast = client.get(f"/api/v1/reports/waits?{rng}&by=team&precision=fast",
                          headers=auth(pm)).json
        assert not fast["exact"] and exact["exact"]
        for key in ("issued", "called", "served", "no_show", "ratings", "within_target"):
            assert exact["total"][key] == fast["total"][key], key
        assert exact["total"]["wait_s"]["mean"] == fast["total"]["wait_s"]["mean"] == 300.0
    # April is a closed month: its month rows exist and are what a whole-April report reads
    with store.tx() as conn:
        months = conn.execute("SELECT site, month FROM agg_months").fetchall()
    assert [(m["site"], m["month"]) for m in months] == [("xa-1", "2026-04")]
    res = client.get("/api/v1/reports/waits?from=2026-04-01&to=2026-04-30&precision=fast",
                     headers=auth(pm)).json
    assert res["total"]["issued"] == 12


def test_the_dashboard_alerts_on_a_site_that_has_not_synced(pg_dsn):  # noqa: F811
    later = [datetime.now(UTC)]
    app = create_app({"DSN": pg_dsn, "TESTING": True, "CLOCK": lambda: later[0],
                      "STALE_AFTER_MIN": 30})
    store = app.extensions["central"].store
    client = app.test_client()
    try:
        token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
        enrol_site(store, "xa-2", "UBND xã 2", "commune")
        body = {"site": "xa-1", "epoch": EPOCH, "events": ticket_events(1, 2),
                "hall": {"seq": 12, "clock": later[0].isoformat(),
                         "oldest_unsent_at": "2026-05-18T01:10:00+00:00"}}
        assert client.post("/api/v1/ingest", json=body, headers=auth(token)).status_code == 200
        pm = login(client, store, "tinh", "province_manager")
        sites = {s["id"]: s for s in client.get("/api/v1/sites", headers=auth(pm)).json["sites"]}
        assert sites["xa-1"]["ok"] and sites["xa-1"]["lag_events"] == 4
        assert sites["xa-1"]["acked_seq"] == 8 and sites["xa-1"]["lag_s"] > 0
        assert [a["code"] for a in sites["xa-2"]["alerts"]] == ["never_synced"]
        later[0] = datetime.now(UTC) + timedelta(minutes=31)
        sites = {s["id"]: s for s in client.get("/api/v1/sites", headers=auth(pm)).json["sites"]}
        assert [a["code"] for a in sites["xa-1"]["alerts"]] == ["stale"]
        assert "30 phút" in sites["xa-1"]["alerts"][0]["message"]
        page = client.get("/central")
        assert page.status_code == 200 and "theo dõi các điểm" in page.get_data(as_text=True)
    finally:
        store.close()


def test_the_province_roll_up_equals_the_sites_own_rows_and_the_fold(central_app, client,
                                                                     store):
    """Reports over every site read the province month roll-up: the same figures as adding
    up each site's rows and, for counts and means, as the exact fold; a late batch for a
    closed month drops that month's roll-up in its own transaction, the loop builds it
    again."""
    from zoneinfo import ZoneInfo

    from central.reports import roll_up_closed

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    tokens = {s: enrol_site(store, s, s, "commune") for s in ("xa-1", "xa-2", "xa-3")}
    seqs = dict.fromkeys(tokens, 1)

    def deliver(site, day, n):
        evs = ticket_events(seqs[site], n, day=day, first_ticket=seqs[site])
        assert send(client, tokens[site], site, evs).status_code == 200
        seqs[site] += len(evs)

    for k, site in enumerate(tokens):
        for day in ("2026-03-10", "2026-03-31", "2026-04-01", "2026-04-15", "2026-05-18"):
            deliver(site, day, 3 + k)
    assert roll_up_closed(store, tz, NOW) == 2  # the site months were rolled up at ingest
    assert [m["month"] for m in store.province_months()] == ["2026-03", "2026-04"]
    assert [m["sites"] for m in store.province_months()] == [3, 3]
    pm = login(client, store, "tinh", "province_manager")
    span = "from=2026-03-01&to=2026-05-31"
    every = "&site=xa-1,xa-2,xa-3"
    counts = ("issued", "called", "served", "no_show", "cancelled", "ratings",
              "within_target")

    def get(q):
        res = client.get(f"/api/v1/reports/waits?{q}", headers=auth(pm))
        assert res.status_code == 200, res.json
        return res.json

    def check(issued):
        for by in ("site", "team", "hour", "field", "procedure", "all"):
            rolled = get(f"{span}&by={by}&precision=fast")
            per_site = get(f"{span}&by={by}&precision=fast{every}")
            exact = get(f"{span}&by={by}&precision=exact")
            assert rolled["rows"] == per_site["rows"] and rolled["total"] == per_site["total"]
            assert rolled["total"]["issued"] == issued
            for key in counts:
                assert rolled["total"][key] == exact["total"][key], (by, key)
            assert [(r["key"], r["issued"]) for r in rolled["rows"]] == \
                [(r["key"], r["issued"]) for r in exact["rows"]]
            assert rolled["total"]["wait_s"]["mean"] == exact["total"]["wait_s"]["mean"]
        heat = client.get(f"/api/v1/reports/heatmap?{span}&precision=fast",
                          headers=auth(pm)).json
        heat_exact = client.get(f"/api/v1/reports/heatmap?{span}&precision=exact",
                                headers=auth(pm)).json
        assert (heat["arrivals"], heat["days"]) == (heat_exact["arrivals"], heat_exact["days"])

    check(issued=3 * 5 + 4 * 5 + 5 * 5)
    # a late batch for April (a closed month): its roll-up goes at once, figures stay right
    deliver("xa-2", "2026-04-20", 2)
    assert [m["month"] for m in store.province_months()] == ["2026-03"]
    check(issued=62)
    assert roll_up_closed(store, tz, NOW) == 1
    assert [m["month"] for m in store.province_months()] == ["2026-03", "2026-04"]
    check(issued=62)
    # nine sites side by side choose one path for all (here the exact one: few tickets)
    res = client.get(f"/api/v1/reports/compare?{span}&by=team{every}", headers=auth(pm)).json
    assert {s["exact"] for s in res["sites"]} == {True}
    assert res["total"]["issued"] == 62


def test_report_ranges_reach_years_and_exact_folds_are_bounded(client, store, monkeypatch):
    from central.reports import CentralReports

    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    assert send(client, token, "xa-1", ticket_events(1, 5)).status_code == 200
    pm = login(client, store, "tinh", "province_manager")
    five_years = client.get("/api/v1/reports/waits?from=2021-06-01&to=2026-05-31&by=site",
                            headers=auth(pm))
    assert five_years.status_code == 200 and five_years.json["total"]["issued"] == 5
    res = client.get("/api/v1/reports/waits?from=2016-01-01&to=2026-05-31", headers=auth(pm))
    assert res.status_code == 422 and res.json["error"]["code"] == "bad_date"
    monkeypatch.setattr(CentralReports, "exact_max", 4)
    res = client.get("/api/v1/reports/waits?from=2026-05-18&precision=exact", headers=auth(pm))
    assert res.status_code == 422 and res.json["error"]["code"] == "too_many_for_exact"
    assert "thu hẹp" in res.json["error"]["message"]
    assert client.get("/api/v1/reports/waits?from=2026-05-18", headers=auth(pm)).json[
        "total"]["issued"] == 5
