"""sync.toml in the hall's data folder:

```toml
central = "https://trungtam.example.gov.vn"   # the central server's base URL
token = "s_..."          # the site's token (or $QMS_SYNC_TOKEN); from `qms central site add`
# ca_file = "/etc/qms/province-ca.pem"        # a province CA; default the system's CAs
batch = 500              # events per request (halved automatically on a 413)
idle_s = 2.0             # how often to look for new events when caught up
heartbeat_s = 30.0       # an empty batch this often, so the centre sees the site alive
bundle_every_s = 300.0   # how often to ask for new configuration bundles
backoff_max_s = 60.0     # the longest wait between retries when the centre is away
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from server.errors import ValidationFailed

SETTINGS_NAME = "sync.toml"


@dataclass
class SyncSettings:
    central: str = ""
    token: str = ""
    ca_file: str = ""
    insecure: bool = False  # tests only: do not verify TLS certificates
    stream: str = ""  # the hall's event stream (its one site label); default: found
    batch: int = 500
    idle_s: float = 2.0
    heartbeat_s: float = 30.0
    bundle_every_s: float = 300.0
    backoff_first_s: float = 1.0
    backoff_max_s: float = 60.0
    refused_wait_s: float = 300.0
    timeout_s: float = 15.0

    @property
    def verify(self) -> bool | str:
        if self.insecure:
            return False
        return self.ca_file or True


def load(data_dir: Path, **overrides) -> SyncSettings:
    path = Path(data_dir) / SETTINGS_NAME
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if os.environ.get("QMS_SYNC_TOKEN") and not data.get("token"):
        data["token"] = os.environ["QMS_SYNC_TOKEN"]
    s = SyncSettings()
    known = {f.name: f.type for f in fields(s)}
    for key, value in data.items():
        if key not in known:
            raise ValidationFailed(f"sync.toml: không có thiết lập {key!r} (unknown setting)",
                                   code="bad_config")
        default = getattr(s, key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise ValidationFailed(f"sync.toml: {key} phải là {type(default).__name__}",
                                   code="bad_config")
        setattr(s, key, value)
    if not s.central.startswith(("http://", "https://")):
        raise ValidationFailed("sync.toml: central phải là địa chỉ http(s):// của máy chủ "
                               "trung tâm (central URL missing)", code="bad_config")
    if not s.token:
        raise ValidationFailed("sync.toml: thiếu token của điểm (site token missing; "
                               "`qms central site add` prints it)", code="bad_config")
    if not 1 <= s.batch <= 100_000:
        raise ValidationFailed("sync.toml: batch phải từ 1 đến 100000", code="bad_config")
    return s


def write(data_dir: Path, central: str, token: str, **extra) -> Path:
    """Write sync.toml (mode 0600: it holds the site's token)."""
    path = Path(data_dir) / SETTINGS_NAME
    lines = [f'central = "{central}"', f'token = "{token}"']
    for key, value in extra.items():
        lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}"
                     if not isinstance(value, str) else f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return path
