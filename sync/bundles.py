"""Applying the central server's bundles to this hall, through the hall's own admin service.

The site's configuration goes through `AdminService.update_config` (validated as a whole,
checked against today's live queue, audited, a `config.changed` event, centre.toml saved);
the province's catalogue through `server.importer.import_procedures` (every row checked,
audited, one transaction). Both run under an Idempotency-Key made of the bundle's kind,
version and digest, so a bundle is applied at most once even if this process dies after the
hall committed it. A bundle the hall refuses (e.g. it would remove a team whose tickets are
waiting) is reported to the centre and tried again at the next check; the hall keeps the
configuration in force. The running hall server picks a new centre.toml up
(`server/reload.py`). Each applied bundle is kept in bundles/ of the data folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from qmsclient import ServerError
from server.admin_service import AdminService
from server.errors import QMSError
from server.importer import import_procedures
from server.service import QueueService
from server.setup import open_store

CATALOGUE_COLUMNS = ("code", "name", "field", "agency", "level", "processing_days", "fee",
                     "documents", "source")


def apply_config(data_dir: Path, body: dict, version: int, sha: str) -> list[str]:
    store, cfg = open_store(data_dir)
    try:
        admin = AdminService(QueueService(store, cfg), data_dir)
        changes = body.get("config") or {}
        admin.update_config(changes, actor=f"central:config v{version}",
                            idem=("sync bundle", f"config:{version}:{sha[:16]}"))
        return sorted(changes)
    finally:
        store.close()


def apply_catalogue(data_dir: Path, body: dict, version: int, sha: str) -> int:
    folder = Path(data_dir) / "bundles"
    folder.mkdir(exist_ok=True)
    path = folder / f"catalogue-v{version}.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(CATALOGUE_COLUMNS)
        for p in body.get("procedures") or []:
            docs = p.get("documents") or []
            w.writerow([" | ".join(docs) if k == "documents" else (p.get(k) or "")
                        for k in CATALOGUE_COLUMNS])
    store, cfg = open_store(data_dir)
    try:
        return import_procedures(store, cfg, path, queue=QueueService(store, cfg),
                                 actor=f"central:catalogue v{version}",
                                 file_name=f"central catalogue v{version}",
                                 idem=("sync bundle", f"catalogue:{version}:{sha[:16]}"))
    finally:
        store.close()


def pull_and_apply(data_dir: Path, client, state, say) -> list[str]:
    """Ask for bundles newer than those applied; apply them (configuration first: the
    teams exist before procedures are routed to them). The kinds applied."""
    have = {k: state.get(k) for k in ("config", "catalogue")}
    got = client.bundles(have)
    applied = []
    for kind in ("config", "catalogue"):
        item = got.get(kind)
        if not item or "body" not in item or item["version"] == have.get(kind):
            continue
        version, sha = item["version"], item["sha256"]
        folder = Path(data_dir) / "bundles"
        folder.mkdir(exist_ok=True)
        (folder / f"{kind}-v{version}.json").write_text(
            json.dumps(item, ensure_ascii=False, indent=1), encoding="utf-8")
        try:
            if kind == "config":
                what = apply_config(data_dir, item["body"], version, sha)
                detail = f"changed {', '.join(what)}"
            else:
                n = apply_catalogue(data_dir, item["body"], version, sha)
                detail = f"{n} procedures"
        except QMSError as err:
            say(f"{kind} bundle v{version} refused by the hall: {err.message}")
            _report(client, kind, version, "failed", err.message, say)
            continue
        state.update(**{kind: version})
        say(f"{kind} bundle v{version} applied ({detail})")
        _report(client, kind, version, "applied", detail, say)
        applied.append(kind)
    return applied


def _report(client, kind, version, status, detail, say) -> None:
    try:
        client.bundle_applied(kind, version, status, detail)
    except ServerError as err:  # told again next time it changes; the hall has it anyway
        say(f"could not report {kind} v{version} to the centre: {err}")
