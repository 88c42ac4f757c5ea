"""Many kiosks at once, two server processes on one file, and a server killed mid-load:
no ticket duplicated, skipped or forgotten."""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import LiveServer, bearer


def issue_many(url: str, token: str, n: int, team_ids=(1, 2, 3)) -> list[dict]:
    session = requests.Session()
    session.headers.update(bearer(token))
    out = []
    for i in range(n):
        res = session.post(url + "/api/v1/tickets", json={"team_id": team_ids[i % len(team_ids)]},
                           timeout=10)
        assert res.status_code == 201, res.text
        out.append(res.json())
    return out


def db_rows(data_dir, sql):
    conn = sqlite3.connect(data_dir / "qms.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def assert_contiguous(data_dir):
    numbers = defaultdict(list)
    for team, number in db_rows(data_dir, "SELECT origin_team_id, number FROM tickets"):
        numbers[team].append(number)
    for team, got in numbers.items():
        start = team * 1000 + 1
        assert sorted(got) == list(range(start, start + len(got))), f"team {team}"
    seqs = [r[0] for r in db_rows(data_dir, "SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    return numbers


def test_parallel_kiosks_no_duplicate_no_gap(live_server):
    token = live_server.tokens["kiosk-1"]
    with ThreadPoolExecutor(16) as pool:
        batches = list(pool.map(lambda _: issue_many(live_server.url, token, 125), range(16)))
    answered = [t for b in batches for t in b]
    assert len(answered) == 2000
    assert len({(t["team_id"], t["number"]) for t in answered}) == 2000
    assert len({t["token"] for t in answered}) == 2000
    numbers = assert_contiguous(live_server.data_dir)
    assert sum(len(v) for v in numbers.values()) == 2000


def test_two_server_processes_share_one_file(live_server):
    second = LiveServer(live_server.data_dir, env={}).start()
    try:
        token = live_server.tokens["kiosk-1"]
        with ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(issue_many, url, token, 60, (1,))
                    for url in (live_server.url, second.url) for _ in range(4)]
            answered = [t for j in jobs for t in j.result()]
        assert sorted(t["number"] for t in answered) == list(range(1001, 1001 + 480))
        assert_contiguous(live_server.data_dir)
    finally:
        second.stop()


def test_sigkill_mid_load_loses_no_answered_ticket(live_server):
    token = live_server.tokens["kiosk-1"]
    answered: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()

    def kiosk(team):
        session = requests.Session()
        session.headers.update(bearer(token))
        while not stop.is_set():
            try:
                res = session.post(live_server.url + "/api/v1/tickets", json={"team_id": team},
                                   timeout=2)
            except requests.RequestException:
                continue
            if res.status_code == 201:
                with lock:
                    answered.append(res.json())

    threads = [threading.Thread(target=kiosk, args=(1 + i % 3,)) for i in range(8)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(answered) >= 300:
                break
        stop.wait(0.01)
    live_server.kill()  # SIGKILL while the kiosks keep issuing
    stop.set()
    for t in threads:
        t.join()
    live_server.start()

    stored = {r[0]: r[1] for r in db_rows(live_server.data_dir, "SELECT token, number FROM tickets")}
    for t in answered:
        assert stored.get(t["token"]) == t["number"], "an answered ticket was lost"
    numbers = assert_contiguous(live_server.data_dir)
    after = requests.post(live_server.url + "/api/v1/tickets", json={"team_id": 1},
                          headers=bearer(token), timeout=5).json()
    assert after["number"] == max(numbers[1]) + 1
