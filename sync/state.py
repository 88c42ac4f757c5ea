"""The sync process's own files in the hall's data folder:

- `sync-state.json`: the epoch of the hall database it was shipping, the last seq the
  centre acknowledged, and the bundle versions applied. Written atomically (temporary
  file, fsync, rename) after every acknowledgement: a process killed at any point finds
  either the old or the new position, and the centre's idempotent ingest and its 409 with
  the expected seq make both correct.
- `sync-status.json`: what the process is doing (for `qms sync --status`, monitoring):
  acknowledged seq, the hall's head, lag in events and seconds, the last error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_NAME = "sync-state.json"
STATUS_NAME = "sync-status.json"


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class SyncState:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / STATE_NAME
        self.data = read_json(self.path)

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def update(self, **values) -> None:
        self.data.update(values)
        write_json(self.path, self.data)


def read_status(data_dir: Path) -> dict:
    return read_json(Path(data_dir) / STATUS_NAME)


def write_status(data_dir: Path, status: dict) -> None:
    write_json(Path(data_dir) / STATUS_NAME, status)
