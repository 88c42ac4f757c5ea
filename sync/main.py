"""`qms sync` as a process: settings, logging, signals, the loop."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

from . import settings as sync_settings
from .shipper import Shipper
from .state import read_status


def run(data_dir: Path, *, central: str | None = None, token: str | None = None,
        once: bool = False, save: bool = False, verbose: bool = False) -> int:
    data_dir = Path(data_dir)
    if save:
        if not central or not token:
            sys.stderr.write("qms sync --save needs --central and --token\n")
            return 2
        path = sync_settings.write(data_dir, central, token)
        print(f"wrote {path}")
        return 0
    cfg = sync_settings.load(data_dir, central=central, token=token)
    logging.basicConfig(level=logging.INFO if verbose or not once else logging.WARNING,
                        format="%(asctime)s sync %(levelname)s %(message)s")
    log = logging.getLogger("qms.sync")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    shipper = Shipper(data_dir, cfg, stop=stop, say=log.info)
    return shipper.run(once=once)


def status(data_dir: Path) -> int:
    st = read_status(Path(data_dir))
    if not st:
        print("no sync status yet (is `qms sync` running?)")
        return 1
    print(json.dumps(st, ensure_ascii=False, indent=1))
    return 0 if st.get("state") == "ok" else 1
