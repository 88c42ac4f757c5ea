"""Configuration flowing down: the central server's versioned bundles (the province's
catalogue, a site's configuration) pulled by the site's sync process and applied through
the hall's admin service (validated, audited, live in the running hall server); a bundle
the hall refuses is reported; with the centre away the hall keeps the last one."""

from __future__ import annotations

import threading
import time

import pytest

from central.admin import enrol_site, init, open_store, publish_catalogue
from central.bundles import publish_config
from sync.settings import load as load_settings
from sync.settings import write as write_sync_settings
from sync.shipper import Shipper
from tests.central_harness import pg_dsn, pg_server  # noqa: F401  (fixtures)
from tools.province import CentralProcess, init_site
from tools.testing import LiveServer

pytestmark = pytest.mark.e2e

CATALOGUE = """code,name,field,agency,level,processing_days,fee,documents
1.001193,Thủ tục đăng ký khai sinh (bản tỉnh),Hộ tịch,UBND cấp xã,xã,1,Miễn phí,Tờ khai | Giấy chứng sinh
9.999001,Thủ tục thử nghiệm của tỉnh,Hộ tịch,UBND tỉnh,tỉnh,3,50.000 đồng,Đơn đề nghị
"""


@pytest.fixture
def setup(pg_dsn, tmp_path):  # noqa: F811
    init(tmp_path / "central", pg_dsn)
    store, _ = open_store(tmp_path / "central", pg_dsn)
    token = enrol_site(store, "xa-1", "UBND xã 1", "commune")
    central = CentralProcess(tmp_path / "central", pg_dsn).start()
    hall_dir = tmp_path / "hall"
    init_site(hall_dir, "xa-1")
    hall = LiveServer(hall_dir).start()
    write_sync_settings(hall_dir, central.url, token, idle_s=0.1, backoff_first_s=0.1,
                        backoff_max_s=0.2, timeout_s=3.0, bundle_every_s=0.0)
    yield store, central, hall, hall_dir
    hall.stop()
    central.stop()
    store.close()


def sync_once(hall_dir) -> Shipper:
    shipper = Shipper(hall_dir, load_settings(hall_dir), stop=threading.Event(),
                      say=lambda _m: None)
    shipper.run(once=True)
    return shipper


def test_bundles_flow_down_and_the_last_one_stays(setup, tmp_path):
    store, central, hall, hall_dir = setup
    admin = hall.login("admin")
    before = hall.get("/admin/config", admin).json()
    teams = before["teams"]
    new_notice = "Thông báo của tỉnh: làm việc cả sáng thứ Bảy"
    cfg = {k: before[k] for k in ("sites", "teams", "counters")}
    cfg.update(notice=new_notice, target_wait_min=20)
    v1 = publish_config(store, "xa-1", cfg, "test")
    assert v1["version"] == 1 and v1["new"]
    assert publish_config(store, "xa-1", cfg, "test")["new"] is False  # same content
    csv_path = tmp_path / "tinh.csv"
    csv_path.write_text(CATALOGUE, encoding="utf-8")
    assert publish_catalogue(store, csv_path)["version"] == 1

    sync_once(hall_dir)
    # live in the running hall server (it follows centre.toml), audited, through the service
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = hall.get("/admin/config", admin).json()
        if now["notice"] == new_notice:
            break
        time.sleep(0.2)
    assert now["notice"] == new_notice and now["target_wait_min"] == 20
    assert now["teams"] == teams
    audit = hall.get("/admin/audit", admin).json()
    actions = {(a["actor"], a["action"]) for a in audit["items"]} if isinstance(audit, dict) \
        else {(a["actor"], a["action"]) for a in audit}
    assert ("central:config v1", "config.update") in actions
    assert ("central:catalogue v1", "procedure.import") in actions
    kiosk = hall.tokens["kiosk-1"]
    proc = hall.get("/procedures/9.999001", kiosk).json()
    assert proc["name"] == "Thủ tục thử nghiệm của tỉnh"
    assert proc["documents"] == ["Đơn đề nghị"]
    assert hall.get("/procedures/1.001193", kiosk).json()["name"].endswith("(bản tỉnh)")
    status = {(b["kind"], b["version"], b["status"]) for b in store.bundle_status(["xa-1"])}
    assert status == {("config", 1, "applied"), ("catalogue", 1, "applied")}

    # a bundle the hall refuses (a team removed while its tickets wait): reported, not applied
    res = hall.post("/tickets", kiosk, {"team_id": teams[0]["id"]})
    assert res.status_code == 201
    bad = dict(cfg, teams=teams[1:], counters=[dict(c, teams=[t for t in c["teams"]
                                                            if t != teams[0]["id"]])
                                               for c in cfg["counters"]])
    bad["counters"] = [c for c in bad["counters"] if c["teams"]]
    assert publish_config(store, "xa-1", bad, "test")["version"] == 2
    sync_once(hall_dir)
    status = {(b["kind"], b["version"], b["status"]) for b in store.bundle_status(["xa-1"])}
    assert ("config", 2, "failed") in status
    assert hall.get("/admin/config", admin).json()["teams"] == teams  # still the last one

    # the centre away: the hall keeps its configuration and keeps serving
    central.kill()
    shipper = sync_once(hall_dir)
    assert shipper.status["state"] == "backing_off"
    assert hall.get("/admin/config", admin).json()["notice"] == new_notice
    assert hall.post("/tickets", kiosk, {"team_id": teams[1]["id"]}).status_code == 201
