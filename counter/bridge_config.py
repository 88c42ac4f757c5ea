"""`bridge.toml`: which serial ports the counter bridge drives and which device address
belongs to which counter. Format (see docs/counter.md)::

    [bridge]
    server = "http://10.0.0.2:5000"   # optional; --server wins
    site = "main"
    rating_window_s = 30               # a rating pad stays lit this long after a finish
    error_show_s = 3                   # an error code stays on the LED this long
    retry_for_s = 30                   # keep retrying a key press this long (same key)

    [[keypads]]
    name = "keypads"                  # the device part reported to the server
    port = "/dev/ttyUSB0"             # or serial://...?baudrate=19200, socket://host:port
    protocol = "frame"                # frame | line
    transfer_to = "team"              # TRANSFER <digits> means a team (or "counter")
    counters = [1, 2, 3]              # shorthand: address N is counter N
    [keypads.addresses]               # address -> counter (wins over `counters`)
    41 = 4

    [[ledboards]]   ... same keys (no protocol)
    [[ratingpads]]  ... same keys
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("keypads", "ledboards", "ratingpads")


class BridgeConfigError(ValueError):
    pass


@dataclass
class PortConfig:
    kind: str  # keypads | ledboards | ratingpads
    name: str
    port: str
    addresses: dict[int, int]  # device address -> counter
    protocol: str = "frame"
    baudrate: int = 9600
    transfer_to: str = "team"


@dataclass
class BridgeConfig:
    server: str | None = None
    token: str | None = None
    site: str = "main"
    rating_window_s: float = 30.0
    error_show_s: float = 3.0
    retry_for_s: float = 30.0
    keypads: list[PortConfig] = field(default_factory=list)
    ledboards: list[PortConfig] = field(default_factory=list)
    ratingpads: list[PortConfig] = field(default_factory=list)

    def ports(self) -> list[PortConfig]:
        return [*self.keypads, *self.ledboards, *self.ratingpads]

    def counters(self) -> set[int]:
        return {c for p in self.ports() for c in p.addresses.values()}


def _int(value, what: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise BridgeConfigError(f"{what}: {value!r} is not a number") from exc
    if not lo <= n <= hi:
        raise BridgeConfigError(f"{what}: {n} is outside {lo}..{hi}")
    return n


def _port(kind: str, i: int, raw: dict) -> PortConfig:
    where = f"[[{kind}]] #{i + 1}"
    if not isinstance(raw, dict) or not raw.get("port"):
        raise BridgeConfigError(f"{where}: 'port' is required")
    addresses: dict[int, int] = {}
    for c in raw.get("counters", []):
        c = _int(c, f"{where} counters", 1, 254)
        addresses[c] = c
    for addr, counter in (raw.get("addresses") or {}).items():
        addresses[_int(addr, f"{where} address", 1, 254)] = _int(counter, f"{where} counter",
                                                                 1, 100000)
    if not addresses:
        raise BridgeConfigError(f"{where}: give 'counters' or an [addresses] table")
    protocol = raw.get("protocol", "frame")
    if kind == "keypads" and protocol not in ("frame", "line"):
        raise BridgeConfigError(f"{where}: protocol must be 'frame' or 'line'")
    transfer_to = raw.get("transfer_to", "team")
    if transfer_to not in ("team", "counter"):
        raise BridgeConfigError(f"{where}: transfer_to must be 'team' or 'counter'")
    known = {"name", "port", "protocol", "baudrate", "transfer_to", "counters", "addresses"}
    unknown = set(raw) - known
    if unknown:
        raise BridgeConfigError(f"{where}: unknown keys {sorted(unknown)}")
    return PortConfig(kind=kind, name=str(raw.get("name") or f"{kind[:-1]}-{i + 1}"),
                      port=str(raw["port"]), addresses=addresses, protocol=protocol,
                      baudrate=_int(raw.get("baudrate", 9600), f"{where} baudrate", 50,
                                    4_000_000),
                      transfer_to=transfer_to)


def from_dict(data: dict) -> BridgeConfig:
    head = data.get("bridge") or {}
    cfg = BridgeConfig(server=head.get("server"), token=head.get("token"),
                       site=str(head.get("site", "main")),
                       rating_window_s=float(head.get("rating_window_s", 30)),
                       error_show_s=float(head.get("error_show_s", 3)),
                       retry_for_s=float(head.get("retry_for_s", 30)))
    unknown = set(data) - {"bridge", *KINDS}
    if unknown:
        raise BridgeConfigError(f"unknown sections {sorted(unknown)}")
    names: set[str] = set()
    for kind in KINDS:
        ports = [_port(kind, i, raw) for i, raw in enumerate(data.get(kind) or [])]
        for p in ports:
            if p.name in names:
                raise BridgeConfigError(f"port name {p.name!r} is used twice")
            names.add(p.name)
        setattr(cfg, kind, ports)
    if not cfg.ports():
        raise BridgeConfigError("no [[keypads]], [[ledboards]] or [[ratingpads]] configured")
    return cfg


def load(path: str | Path) -> BridgeConfig:
    try:
        with open(path, "rb") as fh:
            return from_dict(tomllib.load(fh))
    except tomllib.TOMLDecodeError as exc:
        raise BridgeConfigError(f"{path}: {exc}") from exc
