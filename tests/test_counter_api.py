"""Counter pages and GET /api/v1/counters/<n>/today in-process; the bridge config loader."""

from __future__ import annotations

import pytest

from counter import bridge_config
from counter.stats import counter_today
from tests.conftest import bearer, login


def test_pages_are_served(client):
    page = client.get("/counter")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Gọi số tiếp theo" in html and "/static/js/qms-live.js" in html
    rate = client.get("/rate/5").get_data(as_text=True)
    assert "Rất hài lòng" in rate and "Không hài lòng" in rate and "Chờ lâu" in rate
    assert client.get("/rate/99").status_code == 404
    assert client.get("/counter/static/console.js").status_code == 200


def test_today_figures_from_the_event_log(client, tokens):
    kiosk = bearer(tokens["kiosk-1"])
    for _ in range(4):
        client.post("/api/v1/tickets", json={"team_id": 1}, headers=kiosk)
    officer = bearer(login(client, "canbo01", 1))
    act = lambda a, **b: client.post(f"/api/v1/counters/1/{a}", json=b, headers=officer)  # noqa: E731
    first = act("call-next").get_json()
    act("start")
    act("finish")
    # rated on the counter's rating pad (the citizen's side, not the officer) while it is
    # the ticket just finished there
    client.post(f"/api/v1/tickets/{first['id']}/rating", json={"score": 3},
                headers=bearer(tokens["bridge-1"]))
    act("call-next")
    act("no-show")
    act("call-next")
    act("start")  # finished implicitly by the next call (a mere call is guarded: too_soon)
    act("call-next")
    today = client.get("/api/v1/counters/1/today", headers=officer).get_json()
    assert (today["served"], today["no_show"], today["called"]) == (2, 1, 4)
    assert today["ratings"] == {"4": 0, "3": 1, "2": 0, "1": 0} and today["rating_avg"] == 3
    assert today["avg_service_s"] is not None and today["avg_wait_s"] is not None
    assert today["device_names"] == ["bridge-1"] and today["devices"] == []
    other = client.get("/api/v1/counters/2/today", headers=officer)
    assert other.status_code == 403
    manager = bearer(login(client, "giamdoc"))
    assert client.get("/api/v1/counters/2/today", headers=manager).get_json()["served"] == 0
    assert client.get("/api/v1/counters/1/today").status_code == 401


def test_openapi_lists_today(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/counters/{n}/today"]


def test_counter_today_empty():
    assert counter_today([], 3)["served"] == 0


def test_bridge_config_forms_and_errors(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text('[bridge]\nserver = "http://x:5000"\nrating_window_s = 20\n'
                    '[[keypads]]\nport = "/dev/ttyUSB0"\nprotocol = "line"\ncounters = [1, 2]\n'
                    '[keypads.addresses]\n41 = 4\n'
                    '[[ledboards]]\nname = "leds"\nport = "socket://10.0.0.7:4001"\n'
                    '[ledboards.addresses]\n11 = 1\n')
    cfg = bridge_config.load(path)
    assert cfg.server == "http://x:5000" and cfg.rating_window_s == 20
    assert cfg.keypads[0].addresses == {1: 1, 2: 2, 41: 4}
    assert cfg.keypads[0].name == "keypad-1" and cfg.keypads[0].protocol == "line"
    assert cfg.counters() == {1, 2, 4}
    bad = [{}, {"keypads": [{"port": "x"}]}, {"keypads": [{"counters": [1]}]},
           {"keypads": [{"port": "x", "counters": [1], "protocol": "morse"}]},
           {"keypads": [{"port": "x", "counters": [300]}]},
           {"keypads": [{"port": "x", "counters": [1], "colour": "red"}]},
           {"leds": []},
           {"keypads": [{"name": "a", "port": "x", "counters": [1]}],
            "ledboards": [{"name": "a", "port": "y", "counters": [1]}]}]
    for data in bad:
        with pytest.raises(bridge_config.BridgeConfigError):
            bridge_config.from_dict(data)
