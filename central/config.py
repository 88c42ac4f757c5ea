"""The central server's settings: `central.toml` in its data folder, environment overrides.

```toml
dsn = "postgresql://qms@127.0.0.1:5432/qms_central"   # or $QMS_CENTRAL_DSN
name = "Tỉnh Bắc Ninh"
timezone = "Asia/Ho_Chi_Minh"
stale_after_min = 60        # a site that has not synced for this long is flagged
target_wait_min = 15        # the wait target of the central reports
max_batch_events = 5000     # larger batches are refused with 413
max_body_mb = 16            # larger request bodies are refused with 413
```
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from server.errors import ValidationFailed

CONFIG_NAME = "central.toml"


@dataclass
class CentralConfig:
    dsn: str = "postgresql://qms@127.0.0.1:5432/qms_central"
    name: str = "Trung tâm Phục vụ Hành chính công tỉnh"
    timezone: str = "Asia/Ho_Chi_Minh"
    stale_after_min: int = 60
    target_wait_min: int = 15
    max_batch_events: int = 5000
    max_body_mb: int = 16
    session_hours: int = 12

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_body(self) -> int:
        return self.max_body_mb * 1024 * 1024

    def to_toml(self) -> str:
        lines = []
        for key, value in asdict(self).items():
            lines.append(f"{key} = {value!r}" if isinstance(value, int)
                         else f'{key} = "{value}"')
        return "\n".join(lines) + "\n"


def from_dict(data: dict) -> CentralConfig:
    cfg = CentralConfig()
    for key, value in data.items():
        if not hasattr(cfg, key):
            raise ValidationFailed(f"central.toml: không có thiết lập {key!r} "
                                   f"(unknown setting {key!r})", code="bad_config")
        want = type(getattr(cfg, key))
        if not isinstance(value, want) or isinstance(value, bool):
            raise ValidationFailed(f"central.toml: {key} phải là {want.__name__} "
                                   f"({key} must be {want.__name__})", code="bad_config")
        setattr(cfg, key, value)
    try:
        ZoneInfo(cfg.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"central.toml: múi giờ không hợp lệ {cfg.timezone!r} "
                               f"(unknown time zone)", code="bad_config") from exc
    for key, lo, hi in (("stale_after_min", 1, 60 * 24 * 30), ("target_wait_min", 1, 480),
                        ("max_batch_events", 1, 100_000),
                        ("max_body_mb", 1, 512), ("session_hours", 1, 24 * 30)):
        if not lo <= getattr(cfg, key) <= hi:
            raise ValidationFailed(f"central.toml: {key} phải từ {lo} đến {hi} "
                                   f"({key} must be {lo}..{hi})", code="bad_config")
    return cfg


def load(data_dir: Path | None) -> CentralConfig:
    """central.toml of `data_dir` (defaults when absent); $QMS_CENTRAL_DSN wins for the DSN."""
    data: dict = {}
    if data_dir is not None and (Path(data_dir) / CONFIG_NAME).exists():
        data = tomllib.loads((Path(data_dir) / CONFIG_NAME).read_text())
    cfg = from_dict(data)
    if os.environ.get("QMS_CENTRAL_DSN"):
        cfg.dsn = os.environ["QMS_CENTRAL_DSN"]
    return cfg
