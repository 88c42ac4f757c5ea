"""The central server's administration, as functions (`qms central ...` calls these).

Enrolling a site gives its token once (put it in the site's sync.toml); rotating gives a
new one and the old one stops at once; revoking stops the site's sync. Users are
province managers, site managers (of one site) or admins.
"""

from __future__ import annotations

from pathlib import Path

from . import bundles
from . import config as central_config
from .auth import CentralAuth
from .reports import roll_up_closed, utc_now
from .storage import Store, migrate


def open_store(data_dir: Path | None, dsn: str | None = None) -> tuple[Store, object]:
    cfg = central_config.load(data_dir)
    if dsn:
        cfg.dsn = dsn
    return Store(cfg.dsn, max_size=2), cfg


def init(data_dir: Path, dsn: str, name: str | None = None) -> str:
    """Write central.toml (if absent) and migrate the database; the schema revision."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / central_config.CONFIG_NAME
    if not path.exists():
        cfg = central_config.CentralConfig(dsn=dsn)
        if name:
            cfg.name = name
        path.write_text(cfg.to_toml(), encoding="utf-8")
    return migrate(dsn or central_config.load(data_dir).dsn)


def enrol_site(store: Store, site: str, name: str, kind: str) -> str:
    return CentralAuth(store).enrol_site(site, name, kind)


def rotate_token(store: Store, site: str) -> str:
    return CentralAuth(store).rotate_site_token(site)


def revoke_site(store: Store, site: str) -> None:
    CentralAuth(store).revoke_site(site)


def add_user(store: Store, username: str, role: str, password: str, site: str | None,
             full_name: str = "") -> None:
    CentralAuth(store).add_user(username, role, password, site, full_name)


def publish_catalogue(store: Store, path: Path, actor: str = "cli") -> dict:
    return bundles.publish_catalogue(store, Path(path), actor)


def publish_config(store: Store, site: str, path: Path, actor: str = "cli") -> dict:
    return bundles.publish_config(store, site, bundles.read_config_file(Path(path)), actor,
                                  Path(path).name)


def accept_epoch(store: Store, site: str, epoch: str, actor: str = "cli") -> bool:
    return store.accept_epoch(site, epoch, actor)


def roll_up(store: Store, cfg) -> int:
    return roll_up_closed(store, cfg.tz, utc_now())
