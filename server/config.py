"""The centre's configuration: one TOML file (`centre.toml`) in the data folder.

Sites, teams (with number bands and the fields they receive), counters (with the teams they
serve, in their own order), opening hours, the priority policy and the wait target live
here. The admin pages edit this file; the server reloads it live.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import tomli_w

from common.vocabulary import PRIORITY_CLASSES, PRIORITY_LABELS_VI  # noqa: F401 (re-exported)

from .errors import ValidationFailed

CONFIG_NAME = "centre.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Team:
    id: int
    name: str
    band: tuple[int, int]
    site: str = "main"
    name_en: str = ""
    fields: list[str] = field(default_factory=list)
    target_wait_min: int | None = None


@dataclass
class Counter:
    number: int
    teams: list[int]
    site: str = "main"
    name: str = ""


@dataclass
class PriorityPolicy:
    """How priority tickets go first without starving others.

    - "ratio": at most one priority call per `ratio` normal calls while normal tickets wait;
      a waiting priority ticket waits for at most `ratio` normal calls.
    - "aging": priority tickets count as having waited `bonus_s` seconds longer.
    - "strict": priority always first (may starve others; not recommended).
    """

    policy: str = "ratio"
    ratio: int = 2
    bonus_s: int = 600


@dataclass
class Config:
    name: str = "Trung tâm Phục vụ Hành chính công"
    name_en: str = "Public Administration Service Centre"
    timezone: str = "Asia/Ho_Chi_Minh"
    public_url: str = "http://127.0.0.1:5000"
    target_wait_min: int = 15
    default_service_s: int = 300
    enforce_hours: bool = False
    hours: dict[str, list[list[str]]] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=lambda: {"main": "Trụ sở chính"})
    teams: list[Team] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)
    notice: str = ""
    announcement_vi: str = "Mời công dân có số thứ tự {number} đến quầy số {counter}"
    announcement_en: str = "Ticket number {number}, please go to counter {counter}"
    announce_repeat: int = 1
    demo: bool = False
    path: Path | None = None

    # -- lookups ---------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def team(self, team_id: int) -> Team:
        for t in self.teams:
            if t.id == team_id:
                return t
        raise ValidationFailed(f"Không có tổ số {team_id} (unknown team {team_id})",
                               code="unknown_team")

    def counter(self, number: int) -> Counter:
        for c in self.counters:
            if c.number == number:
                return c
        raise ValidationFailed(f"Không có quầy số {number} (unknown counter {number})",
                               code="unknown_counter")

    def counters_for_team(self, team_id: int) -> list[Counter]:
        return [c for c in self.counters if team_id in c.teams]

    def team_for_field(self, field_name: str) -> int | None:
        for t in self.teams:
            if field_name in t.fields:
                return t.id
        return None

    def is_open(self, when: datetime) -> bool:
        """Whether the centre takes tickets at `when` (always, unless enforce_hours)."""
        if not self.enforce_hours:
            return True
        local = when.astimezone(self.tz)
        spans = self.hours.get(WEEKDAYS[local.weekday()], [])
        now = local.time()
        return any(time.fromisoformat(a) <= now < time.fromisoformat(b) for a, b in spans)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("path")
        data["teams"] = [{k: v for k, v in t.items() if v not in (None, "", [])}
                         for t in data["teams"]]
        for t in data["teams"]:
            t["band"] = list(t["band"])
        return data

    def save(self, path: Path | None = None) -> None:
        target = Path(path or self.path)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(tomli_w.dumps(self.to_dict()).encode("utf-8"))
        tmp.replace(target)
        self.path = target


def from_dict(data: dict, path: Path | None = None) -> Config:
    data = dict(data)
    teams = [Team(**{**t, "band": tuple(t["band"])}) for t in data.pop("teams", [])]
    counters = [Counter(**c) for c in data.pop("counters", [])]
    priority = PriorityPolicy(**data.pop("priority", {}))
    known = {f for f in Config.__dataclass_fields__} - {"teams", "counters", "priority", "path"}
    unknown = set(data) - known
    if unknown:
        raise ValidationFailed(f"Unknown configuration keys: {sorted(unknown)}")
    cfg = Config(**data, teams=teams, counters=counters, priority=priority, path=path)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    ids = [t.id for t in cfg.teams]
    if len(ids) != len(set(ids)):
        raise ValidationFailed("Team ids must be unique")
    bands = sorted((t.band, t.site) for t in cfg.teams)
    for (a, site_a), (b, site_b) in zip(bands, bands[1:], strict=False):
        if site_a == site_b and b[0] <= a[1]:
            raise ValidationFailed(f"Number bands {a} and {b} overlap")
    for t in cfg.teams:
        if not (0 < t.band[0] <= t.band[1]):
            raise ValidationFailed(f"Team {t.id}: bad number band {t.band}")
        if t.site not in cfg.sites:
            raise ValidationFailed(f"Team {t.id}: unknown site {t.site!r}")
    numbers = [c.number for c in cfg.counters]
    if len(numbers) != len(set(numbers)):
        raise ValidationFailed("Counter numbers must be unique")
    for c in cfg.counters:
        for tid in c.teams:
            if tid not in ids:
                raise ValidationFailed(f"Counter {c.number} serves unknown team {tid}")
    if cfg.priority.policy not in ("ratio", "aging", "strict"):
        raise ValidationFailed(f"Unknown priority policy {cfg.priority.policy!r}")
    if cfg.priority.ratio < 1:
        raise ValidationFailed("priority.ratio must be at least 1")


def load(data_dir: Path) -> Config:
    path = Path(data_dir) / CONFIG_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `qms init` first")
    with path.open("rb") as fh:
        return from_dict(tomllib.load(fh), path=path)
