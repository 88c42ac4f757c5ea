"""A province in one test, with the real parts: PostgreSQL, the central server process,
three hall server processes (the centre, a district branch, a commune desk) under a small
steady load, and their `qms sync` processes reaching the centre through TCP relays.

While the halls work, sync processes are SIGKILLed and restarted, the WAN between a site
and the centre is cut and healed, the central server and one hall server are killed and
restarted. Asserted afterwards: the central event set equals the union of the sites'
events per (site, seq) — same types and times, no duplicate, no gap; the central report
totals equal each hall's own report; a re-initialised site (new epoch) is refused, flagged
and not merged; one site's manager cannot read another site's figures."""

from __future__ import annotations

import json
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from central.admin import add_user, enrol_site, init, open_store
from server.storage.outbox import Outbox
from sync.settings import write as write_sync_settings
from tests.central_harness import pg_server  # noqa: F401  (fixture)
from tools.province import CentralProcess, HallLoad, SyncProcess, init_site
from tools.relay import Relay
from tools.testing import LiveServer

pytestmark = pytest.mark.e2e

SITES = [("bn-trungtam", "Trung tâm PVHCC tỉnh", "centre"),
         ("bn-tuson", "Chi nhánh thị xã Từ Sơn", "branch"),
         ("bn-xa-phuong-lieu", "Bộ phận một cửa xã Phương Liễu", "commune")]
FAST = {"idle_s": 0.2, "heartbeat_s": 1.0, "backoff_first_s": 0.2, "backoff_max_s": 1.0,
        "refused_wait_s": 1.0, "batch": 40, "timeout_s": 3.0, "bundle_every_s": 3600.0}


def hall_events(data_dir) -> list[tuple]:
    box = Outbox(data_dir / "qms.db")
    try:
        return [(e["seq"], e["type"], e["at"]) for e in box.events_after("main", 0, 10**7)]
    finally:
        box.close()


def start_hall(hall: LiveServer) -> None:
    """Start (again) a hall server; a start that fails (the port not yet free after a
    SIGKILL) is tried twice more, and the last failure is reported with the log."""
    for attempt in range(3):
        try:
            hall.start()
            return
        except RuntimeError:
            hall.kill()
            if attempt == 2:
                raise
            time.sleep(1.0)


def wait_until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def province(pg_server, tmp_path):  # noqa: F811
    import psycopg

    name = f"province_{tmp_path.name.lower()}"[:60]
    with psycopg.connect(pg_server.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://qms@127.0.0.1:{pg_server.port}/{name}"
    init(tmp_path / "central", dsn, "Tỉnh Bắc Ninh")
    store, _cfg = open_store(tmp_path / "central", dsn)
    central = CentralProcess(tmp_path / "central", dsn).start()
    parts = {"store": store, "central": central, "halls": {}, "syncs": {}, "relays": {},
             "tokens": {}, "loads": {}, "tmp": tmp_path}
    try:
        for i, (site, name, kind) in enumerate(SITES):
            token = enrol_site(store, site, name, kind)
            hall_dir = tmp_path / site
            tokens = init_site(hall_dir, site)
            hall = LiveServer(hall_dir).start()
            relay = Relay(central.port)
            write_sync_settings(hall_dir, relay.url, token, **FAST)
            parts["halls"][site] = hall
            parts["relays"][site] = relay
            parts["tokens"][site] = token
            parts["syncs"][site] = SyncProcess(hall_dir, relay.url, token).start()
            parts["loads"][site] = HallLoad(hall.url, tokens, counter=1 + i, seed=i,
                                            pause_s=0.05 + 0.05 * i)
        yield parts
    finally:
        for load in parts["loads"].values():
            load.stop_event.set()
        for p in [*parts["syncs"].values(), *parts["halls"].values(), central]:
            p.stop()
        for r in parts["relays"].values():
            r.close()
        store.close()


def test_three_sites_ship_everything_through_kills_and_cuts(province):
    store, central = province["store"], province["central"]
    halls, syncs, relays = province["halls"], province["syncs"], province["relays"]
    for load in province["loads"].values():
        load.start()
    rng = random.Random(13)
    actions = []
    deadline = time.monotonic() + 24
    restarted_central = restarted_hall = False
    while time.monotonic() < deadline:
        site = rng.choice([s for s, _, _ in SITES])
        roll = rng.random()
        if roll < 0.4:  # the sync process dies mid-batch, comes back a little later
            syncs[site].kill()
            time.sleep(rng.uniform(0.1, 0.8))
            syncs[site].start()
            actions.append(f"kill sync {site}")
        elif roll < 0.8:  # the WAN goes down for a while
            relays[site].cut()
            time.sleep(rng.uniform(0.5, 2.5))
            relays[site].heal()
            actions.append(f"cut wan {site}")
        elif not restarted_central:
            central.kill()
            time.sleep(1.0)
            central.start()
            restarted_central = True
            actions.append("kill central")
        elif not restarted_hall:
            halls[site].kill()
            start_hall(halls[site])
            restarted_hall = True
            actions.append(f"kill hall {site}")
        time.sleep(rng.uniform(0.2, 0.8))
    if not restarted_central:
        central.kill()
        central.start()
    # a long cut: the hall keeps serving, the sync backs off; then the link heals
    relays[SITES[2][0]].cut()
    time.sleep(3)
    for load in province["loads"].values():
        load.stop()
    for relay in relays.values():
        relay.heal()
    for proc in syncs.values():
        if not proc.running:
            proc.start()

    # every site catches up: the centre holds exactly each hall's log
    heads = {s: hall_events(halls[s].data_dir) for s, _, _ in SITES}

    def caught_up():
        return all((store.site(s)["next_seq"] - 1) == len(heads[s]) for s in heads)

    wait_until(caught_up, 60, f"the centre to catch up ({actions})")
    central_events = store.event_keys()
    assert len(central_events) == len(set(central_events))  # no duplicate
    by_site: dict[str, list[tuple]] = {}
    for site, _epoch, seq, kind, at in central_events:
        by_site.setdefault(site, []).append((seq, kind, at))
    for site, events in heads.items():
        assert len(events) > 50, site  # the load really ran
        assert [e[0] for e in events] == list(range(1, len(events) + 1))  # the hall: no gap
        assert by_site[site] == events, site  # the centre: the same events, no gap
    assert {e for _s, e, *_ in central_events} == {
        Outbox(halls[s].data_dir / "qms.db").identity()["epoch"] for s in heads}
    loads = province["loads"]
    # the halls kept serving with the WAN down: only a killed hall saw errors
    assert sum(load.issued for load in loads.values()) > 100
    for site, load in loads.items():
        if f"kill hall {site}" not in actions:
            assert load.errors == 0, (site, load.errors)

    # central reports: each site's totals equal the hall's own report
    add_user(store, "tinh", "province_manager", "password-123", None)
    add_user(store, "ql-xa", "site_manager", "password-123", SITES[2][0])

    def central_login(name):
        res = requests.post(central.url + "/api/v1/auth/login",
                            json={"username": name, "password": "password-123"}, timeout=10)
        return {"Authorization": "Bearer " + res.json()["token"]}

    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    span = f"from={(today - timedelta(days=1)).isoformat()}&to={today.isoformat()}"
    pm = central_login("tinh")
    by_site_report = requests.get(f"{central.url}/api/v1/reports/waits?{span}&by=site"
                                  "&precision=exact", headers=pm, timeout=30).json()
    rows = {r["key"]: r for r in by_site_report["rows"]}
    keys = ("issued", "called", "served", "no_show", "transferred", "cancelled")
    for site, hall in halls.items():
        manager = hall.login("giamdoc")
        own = hall.get(f"/reports/waits?{span}&by=team&precision=exact", manager).json()
        for k in keys:
            assert rows[site][k] == own["total"][k], (site, k)
        assert rows[site]["wait_s"] == own["total"]["wait_s"], site
        per_team = requests.get(f"{central.url}/api/v1/reports/waits?{span}&by=team&site={site}"
                                "&precision=exact", headers=pm, timeout=30).json()
        assert [(r["key"], r["issued"], r["served"]) for r in per_team["rows"]] == \
            [(r["key"], r["issued"], r["served"]) for r in own["rows"]]
    total = by_site_report["total"]
    for k in keys:
        assert total[k] == sum(r[k] for r in rows.values())
    # the aggregated path gives the same counts
    fast = requests.get(f"{central.url}/api/v1/reports/waits?{span}&by=site&precision=fast",
                        headers=pm, timeout=30).json()
    for k in keys:
        assert fast["total"][k] == total[k]
    # a site's manager reads their site, and only it
    mine = central_login("ql-xa")
    res = requests.get(f"{central.url}/api/v1/reports/waits?{span}", headers=mine, timeout=10)
    assert res.json()["total"]["issued"] == rows[SITES[2][0]]["issued"]
    res = requests.get(f"{central.url}/api/v1/reports/waits?{span}&site={SITES[0][0]}",
                       headers=mine, timeout=10)
    assert res.status_code == 403
    assert "chỉ được xem" in res.json()["error"]["message"]
    # the dashboard: every site synced just now, nothing left, no alert
    dash = requests.get(central.url + "/api/v1/sites", headers=pm, timeout=10).json()
    assert [(s["id"], s["lag_events"], s["alerts"]) for s in dash["sites"]] == \
        sorted((s, 0, []) for s, _, _ in SITES)

    # a site whose database is created again gets a new epoch: refused, flagged, not merged
    site = SITES[1][0]
    syncs[site].stop()
    halls[site].stop()
    old_epoch = Outbox(halls[site].data_dir / "qms.db").identity()["epoch"]
    for name in ("qms.db", "qms.db-wal", "qms.db-shm", "sync-state.json"):
        (halls[site].data_dir / name).unlink(missing_ok=True)
    tokens = init_site(halls[site].data_dir, site)
    start_hall(halls[site])
    kiosk = {"Authorization": "Bearer " + tokens["kiosk-1"]}
    assert requests.post(halls[site].url + "/api/v1/tickets", json={"team_id": 1},
                         headers=kiosk, timeout=10).status_code == 201
    new_epoch = Outbox(halls[site].data_dir / "qms.db").identity()["epoch"]
    assert new_epoch != old_epoch
    syncs[site].start()
    flags = wait_until(lambda: store.epoch_flags([site]), 30, "the epoch flag")
    assert [(f["site"], f["epoch"], f["known_epoch"]) for f in flags] == \
        [(site, new_epoch, old_epoch)]
    status = wait_until(lambda: json.loads((halls[site].data_dir / "sync-status.json")
                                           .read_text()).get("state") == "refused"
                        and json.loads((halls[site].data_dir / "sync-status.json").read_text()),
                        30, "the sync to report the refusal")
    assert status["last_error"].startswith("epoch_changed")
    assert [e for s, e, *_ in store.event_keys([site])] == [old_epoch] * len(heads[site])
    dash = requests.get(central.url + "/api/v1/sites", headers=pm, timeout=10).json()
    alerts = {s["id"]: [a["code"] for a in s["alerts"]] for s in dash["sites"]}
    assert alerts[site] == ["epoch_changed"]


def test_sync_resumes_from_the_centres_position_without_a_state_file(province):
    """A lost sync-state.json: the process asks the centre where it stands."""
    site = SITES[0][0]
    hall, sync, store = province["halls"][site], province["syncs"][site], province["store"]
    load = province["loads"][site].start()
    time.sleep(2)
    load.stop()
    head = len(hall_events(hall.data_dir))
    wait_until(lambda: store.site(site)["next_seq"] - 1 == head, 30, "the first catch-up")
    sync.kill()
    (hall.data_dir / "sync-state.json").unlink()
    shutil.copy(hall.data_dir / "sync-status.json", hall.data_dir / "status-before.json")
    sync.start()
    state = wait_until(lambda: json.loads((hall.data_dir / "sync-state.json").read_text())
                       if (hall.data_dir / "sync-state.json").exists() else None, 20,
                       "a new state file")
    assert state["acked"] == head
    assert len(store.event_keys([site])) == head
