"""LED wall boards: a bridge from the server's call events to hall LED boards on RS-485.

The bridge is a small process on the PC the RS-485 adapter is plugged into. It holds a
display device token, follows the server like the display page does (`qmsclient.EventStream`:
Socket.IO push in seq order, REST catch-up through `/api/v1/events` after a reconnect or a
gap) and, on every call, redraws each configured board with the latest calls in short form:

    SO     QUAY          (title line, optional)
    1023 -> Q5           (newest first)
    2001 -> Q7

Boards show ASCII only (`hardware.ledboard` folds Vietnamese). Only changed lines are
sent, so a call costs one or two frames per board. The bus state of the boards is
reported to the server as device status part `ledbus` (online/offline).

Configuration (TOML; every key may be overridden on the command line):

    server = "http://192.168.1.10:5000"
    token = "d_..."                 # a display device token (qms device add ... display)
    site = "main"
    [bus]
    port = "/dev/ttyUSB0"           # or serial:///dev/ttyUSB0?baudrate=9600, socket://host:4001
    baudrate = 9600
    frame_gap = 0.05
    [[boards]]
    address = 20                    # RS-485 address set on the board
    lines = 4                       # text lines the board has
    columns = 16                    # characters per line
    title = "SO     QUAY"           # first line; "" for none
    teams = []                      # only these teams' calls; empty = all
    brightness = 12                 # 0..15, optional
    blink_latest = false

Run: `python -m display_board.led_bridge --config led.toml` (see docs/display.md).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from common.vocabulary import CALL_TYPES
from hardware.ledboard import LedBus
from qmsclient import Client, EventStream, ServerError

log = logging.getLogger("qms.led_bridge")
MAX_CALLS = 16


@dataclass
class BoardConfig:
    address: int
    lines: int = 4
    columns: int = 16
    title: str = "SO     QUAY"
    teams: list[int] = field(default_factory=list)
    brightness: int | None = None
    blink_latest: bool = False


@dataclass
class BridgeConfig:
    server: str
    token: str
    port: str
    site: str = "main"
    baudrate: int = 9600
    frame_gap: float = 0.05
    arrow: str = "->"
    boards: list[BoardConfig] = field(default_factory=list)


def load_config(path: str | Path | None = None, **overrides) -> BridgeConfig:
    """Read the TOML file (if any) and apply non-None keyword overrides."""
    raw: dict = tomllib.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    bus = raw.get("bus", {})
    values = {"server": raw.get("server"), "token": raw.get("token"),
              "port": bus.get("port", raw.get("port")), "site": raw.get("site", "main"),
              "baudrate": int(bus.get("baudrate", 9600)),
              "frame_gap": float(bus.get("frame_gap", 0.05)), "arrow": raw.get("arrow", "->")}
    values.update({k: v for k, v in overrides.items() if v is not None})
    missing = [k for k in ("server", "token", "port") if not values.get(k)]
    if missing:
        raise ValueError(f"LED bridge config lacks {', '.join(missing)}")
    boards = [BoardConfig(**b) for b in raw.get("boards", [])] or [BoardConfig(address=1)]
    return BridgeConfig(boards=boards, **values)


def short_form(number: int, counter: int | None, arrow: str = "->") -> str:
    """A call as an LED line: "1023 -> Q5"."""
    return f"{number} {arrow} Q{counter}" if counter is not None else str(number)


class LedBridge:
    """Follows the server's events and keeps the LED boards showing the latest calls."""

    def __init__(self, config: BridgeConfig, bus: LedBus | None = None):
        self.config = config
        self.client = Client(config.server, config.token, timeout=10)
        self.calls: deque[dict] = deque(maxlen=MAX_CALLS)  # newest first
        self.shown: dict[int, list[tuple[str, str]]] = {}
        self.frames = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.bus = bus or LedBus(config.port, baudrate=config.baudrate,
                                 frame_gap=config.frame_gap, listener=self._bus_state)
        for board in config.boards:
            if board.brightness is not None:
                self.bus.brightness(board.address, board.brightness)
        # snapshot, then calls in seq order with catch-up; boards redrawn once per batch
        self.stream = EventStream(self.client, on_event=self._on_event,
                                  on_snapshot=self._on_snapshot, on_idle=self.render,
                                  site=config.site, reconnect_delay_max=5.0,
                                  connect_timeout=10.0, name="led-bridge")

    @property
    def seq(self) -> int | None:
        """The last event shown (or the snapshot's seq)."""
        return self.stream.seq

    @property
    def stats(self) -> dict:
        return {**self.stream.stats, "frames": self.frames}

    # -- server side -----------------------------------------------------------------------
    def _on_snapshot(self, state: dict) -> None:
        with self._lock:
            self.calls.clear()
            for c in reversed(state.get("last_calls", [])):
                self.calls.appendleft({"number": c["number"], "counter": c["counter"],
                                       "team_id": c["team_id"], "seq": c["seq"]})

    def _on_event(self, evt: dict) -> None:
        if evt["type"] in CALL_TYPES and evt.get("ticket"):
            with self._lock:
                self.calls.appendleft({"number": evt["ticket"]["number"],
                                       "counter": evt["counter"], "team_id": evt["team_id"],
                                       "seq": evt["seq"]})

    # -- boards ----------------------------------------------------------------------------
    def board_lines(self, board: BoardConfig) -> list[tuple[str, str]]:
        """(text, effect) per line of one board, from the latest calls."""
        lines: list[tuple[str, str]] = []
        if board.title:
            lines.append((board.title, "static"))
        calls = [c for c in self.calls if not board.teams or c["team_id"] in board.teams]
        for i, c in enumerate(calls[: max(0, board.lines - len(lines))]):
            effect = "blink" if board.blink_latest and i == 0 else "static"
            lines.append((short_form(c["number"], c["counter"], self.config.arrow), effect))
        while len(lines) < board.lines:
            lines.append(("", "static"))
        return lines

    def render(self) -> None:
        with self._lock:
            for board in self.config.boards:
                want = self.board_lines(board)
                had = self.shown.get(board.address, [])
                for i, (text, effect) in enumerate(want):
                    if i < len(had) and had[i] == (text, effect):
                        continue
                    self.bus.set_line(board.address, i, text, board.columns, effect)
                    self.frames += 1
                self.shown[board.address] = want

    def _bus_state(self, name: str, online: bool, detail: str) -> None:
        """Report the RS-485 bus to the server (in a thread: never block the bus loop)."""
        def report():
            try:
                self.client.post("/devices/status", {"part": "ledbus", "online": online,
                                                     "detail": detail[:200]}, timeout=5)
            except ServerError as exc:
                log.warning("bus state not reported: %s", exc)
        threading.Thread(target=report, daemon=True, name="ledbus-status").start()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> LedBridge:
        self.stream.start()
        return self

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.stream.stop()
        self.bus.close()

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.01)
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qms display-led",
                                 description="Drive hall LED boards from the server's calls")
    ap.add_argument("--config", help="TOML file (see docs/display.md)")
    ap.add_argument("--server", help="server URL, e.g. http://192.168.1.10:5000")
    ap.add_argument("--token", help="display device token")
    ap.add_argument("--port", help="RS-485 port: /dev/ttyUSB0, serial://..., socket://...")
    ap.add_argument("--site")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, server=args.server, token=args.token, port=args.port,
                             site=args.site)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        ap.error(str(exc))
    LedBridge(config).run_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
