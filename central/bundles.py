"""Configuration flowing down: versioned bundles held centrally, applied by each site.

- the province's procedure catalogue (scope `*`): the rows of a catalogue file read and
  checked by the hall's own importer (`server.importer.read_catalogue`), without team
  numbers (each site routes procedures to its own teams by field);
- a site's configuration (scope = the site id): the settings a hall's admin may edit
  (teams, counters, hours, priority policy, notice, announcements...), checked by the hall's
  own validation (`server.config.from_dict`) before it is stored.

A new version is stored only when the content changed (SHA-256 of the canonical JSON). A
site's sync process pulls the newest versions, applies them through the hall's admin
service, and reports back what it applied or why it could not.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from server import config as centre_config
from server.errors import ValidationFailed
from server.importer import read_catalogue

from .storage import Store

CONFIG_KEYS = ("name", "name_en", "timezone", "target_wait_min", "default_service_s",
               "enforce_hours", "hours", "sites", "teams", "counters", "priority", "notice",
               "announcement_vi", "announcement_en", "announce_repeat")
CATALOGUE_FIELDS = ("code", "name", "field", "agency", "level", "processing_days", "fee",
                    "documents", "source")
PROVINCE = "*"


def digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest()


def catalogue_body(path: Path) -> dict:
    """The catalogue file's rows, checked by the hall's importer (team numbers dropped)."""
    rows = read_catalogue(Path(path), centre_config.Config(teams=[]))
    return {"procedures": [{k: r.get(k, [] if k == "documents" else "")
                            for k in CATALOGUE_FIELDS} for r in rows]}


def config_body(data: dict) -> dict:
    """A site's settings, checked as a whole hall configuration would be."""
    if not isinstance(data, dict):
        raise ValidationFailed("Cấu hình phải là một bảng (configuration must be a table)",
                               code="bad_config")
    extra = sorted(set(data) - set(CONFIG_KEYS))
    if extra:
        raise ValidationFailed(f"Không phân phối được các thiết lập {extra} (settings a site "
                               f"keeps for itself, e.g. public_url)", code="bad_config")
    checked = centre_config.from_dict(data).to_dict()
    return {"config": {k: checked[k] for k in CONFIG_KEYS if k in data}}


def read_config_file(path: Path) -> dict:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValidationFailed(f"{path.name}: không đọc được ({exc})",
                               code="bad_config") from exc


def publish(store: Store, kind: str, scope: str, body: dict, actor: str,
            note: str = "") -> dict:
    return store.add_bundle(kind, scope, body, digest(body), actor, note)


def publish_catalogue(store: Store, path: Path, actor: str, note: str = "") -> dict:
    return publish(store, "catalogue", PROVINCE, catalogue_body(path), actor,
                   note or Path(path).name)


def publish_config(store: Store, site: str, data: dict, actor: str, note: str = "") -> dict:
    if store.site(site) is None:
        raise ValidationFailed(f"Không có điểm {site} (unknown site)", code="unknown_site")
    return publish(store, "config", site, config_body(data), actor, note)


def for_site(store: Store, site: str, have: dict[str, int]) -> dict:
    """The newest bundles for `site`; a bundle the site already has (`have[kind]` is its
    version) is named without its body."""
    out = {}
    for kind, scope in (("catalogue", PROVINCE), ("config", site)):
        head = store.latest_bundle(kind, scope, with_body=False)
        if head is None:
            out[kind] = None
            continue
        item = {"version": head["version"], "sha256": head["sha256"], "note": head["note"]}
        if have.get(kind) != head["version"]:
            item["body"] = store.latest_bundle(kind, scope)["body"]
        out[kind] = item
    return out


def field_map(store: Store) -> dict[str, str]:
    """Procedure code -> field, from the newest catalogue (for the central fold)."""
    head = store.latest_bundle("catalogue", PROVINCE)
    if head is None:
        return {}
    return {p["code"]: p.get("field") or "" for p in head["body"].get("procedures", [])}
