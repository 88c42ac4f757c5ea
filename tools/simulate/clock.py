"""The server's clock in a simulated day: the simulator's own time, not the wall clock.

Bookings are made for slots of a day, checked in from a window around the slot start and
expire when the day is over: on a compressed day (x60, x600) that only holds when the server
lives in the simulated time too. When `qms simulate` starts its own server (no `--server`),
it starts it through `serve()` below with a `ClockFile`: a small JSON anchor written by the
simulator, `{"real": <epoch s>, "sim": <ISO UTC>, "speed": <x>}`; the server's clock reads

    now = sim + (time.time() - real) * speed

and follows the file whenever the simulator rewrites it (the evening before the day, frozen,
for the bookings; the day itself at the simulator's speed; the next morning for the
no-shows' expiry). Every event the server writes is then stamped in simulated time, so
waits and services read off the event log are simulated seconds. The anchor only moves
forward, so the clock never runs backwards.

A server on the wall clock (`--server`, e.g. `qms demo`) is left alone: durations are then
real seconds times the speed, as before.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: public booking writes per client address the simulated centre allows (the simulator
#: books from 127.0.0.1 for a whole day; a real hall keeps server/bookings.py's limit)
BOOKING_WRITES = 100_000


class ClockFile:
    """The anchor shared by the simulator (writes) and its server (reads)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._mtime: int | None = None
        self._anchor: tuple[float, datetime, float] = (time.time(), datetime.now(UTC), 1.0)

    def set(self, sim: datetime, speed: float, real: float | None = None) -> None:
        """From now on (or from `real`), simulated time `sim` runs at `speed`."""
        data = {"real": time.time() if real is None else real,
                "sim": sim.astimezone(UTC).isoformat(), "speed": speed}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def __call__(self) -> datetime:
        """The simulated time now (the server's `CLOCK`)."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            mtime = None
        if mtime is not None and mtime != self._mtime:
            try:
                data = json.loads(self.path.read_text())
                self._anchor = (float(data["real"]), datetime.fromisoformat(data["sim"]),
                                float(data["speed"]))
                self._mtime = mtime
            except (OSError, ValueError, KeyError):
                pass  # caught mid-write: keep the last anchor
        real, sim, speed = self._anchor
        return sim + timedelta(seconds=max(0.0, time.time() - real) * speed)


def serve(data_dir: str, port: int, clock_path: str) -> int:
    """`qms serve` on 127.0.0.1 with the simulated clock (under gevent: see `command`):
    the server with the pages `qms.app` wires in (tools sit below `qms`, so they are named
    here again: the board and phone page, the counter console, the site identity)."""
    from counter.routes import bp as counter_bp
    from display_board.routes import bp as display_bp
    from server import create_app, serving
    from server.api.site import bp as site_bp

    app = create_app({"DATA_DIR": data_dir, "CLOCK": ClockFile(Path(clock_path)),
                      "BOOKING_WRITES": BOOKING_WRITES},
                     pages=[display_bp, counter_bp, site_bp])
    return serving.run(app, "127.0.0.1", port)


def command(data_dir: Path, port: int, clock_path: Path) -> list[str]:
    """The server process's command line: gevent patched before anything is imported,
    as `python -m qms serve` does."""
    boot = ("from gevent import monkey; monkey.patch_all(); import sys; "
            "from tools.simulate.clock import serve; "
            f"sys.exit(serve({str(data_dir)!r}, {int(port)}, {str(clock_path)!r}))")
    return [sys.executable, "-c", boot]
