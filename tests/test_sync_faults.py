"""Faults of the issue's list not covered by test_sync_province, with the real parts: a
PostgreSQL of this module's own (so it can crash it), the central server process, a hall
server process under a steady load and its `qms sync` process.

- the central PostgreSQL goes down (an immediate shutdown, as a crash): the hall keeps
  serving, the sync backs off and says so, nothing is lost once PostgreSQL is back;
- the WAN is cut for a commune desk's week (its tickets of six days, served while the link
  is down): after the cut heals, the centre holds every event within 10 s."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from central.admin import enrol_site, init, open_store
from server.storage.outbox import Outbox
from sync.settings import write as write_sync_settings
from tools import postgres
from tools.province import CentralProcess, HallLoad, SyncProcess, init_site
from tools.relay import Relay
from tools.testing import LiveServer

pytestmark = pytest.mark.e2e

FAST = {"idle_s": 0.2, "heartbeat_s": 1.0, "backoff_first_s": 0.2, "backoff_max_s": 1.0,
        "refused_wait_s": 1.0, "batch": 200, "timeout_s": 3.0, "bundle_every_s": 3600.0}
WEEK_TICKETS = 25 * 6  # a commune desk: ~25 tickets a working day, six days


def hall_events(data_dir: Path) -> list[tuple]:
    box = Outbox(data_dir / "qms.db")
    try:
        return [(e["seq"], e["type"], e["at"]) for e in box.events_after("main", 0, 10**7)]
    finally:
        box.close()


def status(data_dir: Path) -> dict:
    path = data_dir / "sync-status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def wait_until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def centre():
    if not postgres.available():
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="qms-sync-faults-"))
    pg = postgres.TempPostgres(folder / "pg")
    central = store = None
    try:
        pg.start()
        init(folder / "central", pg.dsn)
        store, _ = open_store(folder / "central", pg.dsn)
        central = CentralProcess(folder / "central", pg.dsn).start()
        yield {"pg": pg, "central": central, "store": store, "folder": folder}
    finally:
        if central:
            central.stop()
        if store:
            store.close()
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def hall(centre, request):
    """A hall of its own site, its sync process reaching the centre through a relay."""
    site = request.param if hasattr(request, "param") else "xa-" + request.node.name[5:20]
    site = site.lower().replace("_", "-")[:32]
    token = enrol_site(centre["store"], site, site, "commune")
    data_dir = centre["folder"] / site
    tokens = init_site(data_dir, site)
    server = LiveServer(data_dir).start()
    relay = Relay(centre["central"].port)
    write_sync_settings(data_dir, relay.url, token, **FAST)
    sync = SyncProcess(data_dir, relay.url, token).start()
    parts = {"site": site, "dir": data_dir, "server": server, "relay": relay, "sync": sync,
             "tokens": tokens}
    try:
        yield parts
    finally:
        sync.stop()
        server.stop()
        relay.close()


def held(store, site: str) -> int:
    return store.site(site)["next_seq"] - 1


def assert_centre_holds_the_hall(store, site: str, data_dir: Path) -> None:
    events = hall_events(data_dir)
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    central = [(q, t, a) for s, _e, q, t, a in store.event_keys([site])]
    assert central == events  # the same events, no duplicate, no gap


def test_the_central_postgresql_down(centre, hall):
    store, pg, site = centre["store"], centre["pg"], hall["site"]
    load = HallLoad(hall["server"].url, hall["tokens"], pause_s=0.05).start()
    try:
        wait_until(lambda: held(store, site) >= 20, 30, "the first events at the centre")
        pg.kill()  # PostgreSQL crashes
        issued = load.issued
        # the hall goes on serving; its sync process backs off and says why
        down = wait_until(lambda: status(hall["dir"]).get("state") == "backing_off"
                          and status(hall["dir"]), 20, "the sync to back off")
        assert down["last_error"]
        wait_until(lambda: load.issued >= issued + 15, 30, "tickets issued while it is down")
        assert load.errors == 0
        pg.start()  # back, with what it had committed
    finally:
        load.stop()
    head = len(hall_events(hall["dir"]))
    wait_until(lambda: held(store, site) == head, 60, "the centre to catch up")
    wait_until(lambda: status(hall["dir"]).get("state") == "ok", 20, "the sync to report ok")
    assert_centre_holds_the_hall(store, site, hall["dir"])
    assert load.errors == 0


def test_a_week_offline_is_caught_up_within_10_s(centre, hall):
    store, site = centre["store"], hall["site"]
    hall["relay"].cut()  # the WAN goes down
    load = HallLoad(hall["server"].url, hall["tokens"], pause_s=0.0).start()
    try:
        wait_until(lambda: load.issued >= WEEK_TICKETS, 240, "a week of tickets")
    finally:
        load.stop()
    assert load.errors == 0  # the hall served the whole "week" with no link
    assert held(store, site) == 0
    assert status(hall["dir"]).get("state") == "backing_off"
    head = len(hall_events(hall["dir"]))
    assert head >= WEEK_TICKETS * 3
    t0 = time.monotonic()
    hall["relay"].heal()
    wait_until(lambda: held(store, site) == head, 10, "the week at the centre (10 s)")
    caught_up_s = time.monotonic() - t0
    assert caught_up_s < 10
    assert_centre_holds_the_hall(store, site, hall["dir"])
