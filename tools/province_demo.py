"""`qms province-demo` (`make province-demo`): a province on one machine.

A PostgreSQL server of its own (Debian's binaries, in <dir>/pg, 127.0.0.1 only), the central
server on it, and three sites — the province centre (23 counters), a district branch and a
commune desk — each a real hall server with its `qms sync` process and a simulated day of
citizens (`qms simulate`, compressed in time). The central dashboard fills up as the days
run. Everything lives in one folder (default var/province); a second run reuses it.
Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from central.admin import add_user, enrol_site, init, open_store

from .postgres import TempPostgres
from .province import CentralProcess, SyncProcess, init_site, write_sync_settings
from .testing import ROOT, LiveServer, free_port

SITES = [
    # id, name, kind, day load (tickets), counters staffed
    ("bn-trungtam", "Trung tâm PVHCC tỉnh Bắc Ninh", "centre", "average", "1-23"),
    ("bn-tuson", "Chi nhánh thị xã Từ Sơn", "branch", "100", "1-6"),
    ("bn-phuonglieu", "Bộ phận một cửa xã Phương Liễu", "commune", "25", "1-2"),
]
USERS = [("tinh", "province_manager", "demo-province", None),
         ("ql-tuson", "site_manager", "demo-site", "bn-tuson")]


def say(text: str) -> None:
    print(text, flush=True)


def setup_central(folder: Path, pg: TempPostgres) -> dict[str, str]:
    """Migrate, enrol the sites and the users once; the site tokens."""
    init(folder / "central", pg.dsn, "Tỉnh Bắc Ninh (demo)")
    tokens_file = folder / "site-tokens.json"
    tokens = json.loads(tokens_file.read_text()) if tokens_file.exists() else {}
    store, _ = open_store(folder / "central", pg.dsn)
    try:
        for site, name, kind, *_ in SITES:
            if site not in tokens:
                tokens[site] = enrol_site(store, site, name, kind)
        for user, role, password, site in USERS:
            add_user(store, user, role, password, site)
    finally:
        store.close()
    tokens_file.write_text(json.dumps(tokens, indent=1))
    return tokens


def caught_up(folder: Path) -> bool:
    for site, *_ in SITES:
        status = folder / site / "sync-status.json"
        try:
            st = json.loads(status.read_text())
        except (OSError, ValueError):
            return False
        if st.get("state") != "ok" or st.get("lag_events"):
            return False
    return True


def run(folder: Path, port: int = 8800, speed: float = 600, days: int = 1,
        keep_running: bool = True) -> int:
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    pg = TempPostgres(folder / "pg", port=free_port(), fsync=True)
    children: list = []

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        say(f"PostgreSQL in {folder / 'pg'} ...")
        pg.start()
        tokens = setup_central(folder, pg)
        central = CentralProcess(folder / "central", pg.dsn, port=port).start()
        children.append(central)
        say(f"central server: {central.url}/central")
        halls = {}
        for site, *_ in SITES:
            hall_dir = folder / site
            if not (hall_dir / "demo-tokens.json").exists():
                say(f"creating the hall {site} ...")
                init_site(hall_dir, site)
            write_sync_settings(hall_dir, central.url, tokens[site], idle_s=1.0,
                                heartbeat_s=10.0, bundle_every_s=60.0, backoff_max_s=10.0)
            hall = LiveServer(hall_dir).start()
            children.append(hall)
            halls[site] = hall
            children.append(SyncProcess(hall_dir, central.url, tokens[site]).start())
            say(f"  {site}: hall {hall.url}/manager, sync running")
        say("")
        say(f"Central dashboard: {central.url}/central  sign in: tinh / demo-province "
            f"(the province) or ql-tuson / demo-site (one site)")
        say("Each hall's own pages: <hall>/manager (giamdoc / demo-manager)")
        for day in range(1, days + 1):
            say(f"simulating day {day} of {days} at x{speed:g} at the three sites ...")
            sims = []
            for site, _name, _kind, load, counters in SITES:
                log = (folder / site / "simulate.log").open("ab")
                sims.append(subprocess.Popen(
                    [sys.executable, "-m", "qms", "simulate", "--server", halls[site].url,
                     "--data-dir", str(folder / site), "--speed", str(speed), "--day-load",
                     load, "--counters", counters, "--seed", str(day), "--quiet",
                     "--drain-min", "30"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            for p in sims:
                p.wait()
        deadline = time.monotonic() + 60
        while not caught_up(folder) and time.monotonic() < deadline:
            time.sleep(1)
        say("the centre has every site's events" if caught_up(folder)
            else "some site is still catching up (see <site>/sync-status.json)")
        if keep_running:
            say("running; Ctrl-C stops everything")
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        pg.stop()
