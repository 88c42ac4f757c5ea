"""The central dashboard: each site's last sync, how far behind it is, and alerts."""

from __future__ import annotations

from datetime import datetime

from .config import CentralConfig
from .storage import Store


def _age_s(now: datetime, then) -> float | None:
    if then is None:
        return None
    if isinstance(then, str):
        then = datetime.fromisoformat(then)
    return round(max(0.0, (now - then).total_seconds()), 1)


def site_view(row: dict, now: datetime, cfg: CentralConfig, flags: list[dict],
              bundle_rows: list[dict]) -> dict:
    stale_min = row["stale_after_min"] or cfg.stale_after_min
    acked = row["next_seq"] - 1
    since_sync = _age_s(now, row["last_sync_at"])
    lag_events = (max(0, row["hall_seq"] - acked) if row["hall_seq"] is not None else None)
    lag_s = _age_s(now, row["oldest_unsent_at"]) if row["oldest_unsent_at"] else 0.0
    alerts = []
    if not row["active"]:
        alerts.append({"code": "revoked", "message": "Mã truy cập của điểm đã bị thu hồi"})
    if row["last_sync_at"] is None:
        alerts.append({"code": "never_synced", "message": "Điểm chưa đồng bộ lần nào"})
    elif since_sync > stale_min * 60:
        alerts.append({"code": "stale", "message": f"Điểm chưa đồng bộ hơn {stale_min} phút "
                                                   f"(lần cuối {int(since_sync // 60)} phút "
                                                   "trước)"})
    for f in flags:
        alerts.append({"code": "epoch_changed",
                       "message": f"Cơ sở dữ liệu của điểm đã được tạo lại (thế hệ "
                                  f"{f['epoch'][:8]}…, {f['attempts']} lần gửi bị từ chối); "
                                  "cần quản trị viên kiểm tra và chấp nhận",
                       "epoch": f["epoch"]})
    if row["last_refusal"] == "replay_mismatch":
        alerts.append({"code": "replay_mismatch",
                       "message": "Dữ liệu gửi lại khác bản đã nhận (khôi phục từ bản sao cũ?)"})
    for b in bundle_rows:
        if b["status"] == "failed":
            alerts.append({"code": "bundle_failed",
                           "message": f"Điểm không áp dụng được gói {b['kind']} phiên bản "
                                      f"{b['version']}: {b['detail']}"})
    return {"id": row["id"], "name": row["name"], "kind": row["kind"],
            "active": row["active"], "epoch": row["epoch"], "acked_seq": acked,
            "hall_seq": row["hall_seq"], "lag_events": lag_events, "lag_s": lag_s,
            "last_sync_at": row["last_sync_at"].isoformat() if row["last_sync_at"] else None,
            "since_sync_s": since_sync, "last_event_at": row["last_event_at"],
            "software": row["software"], "stale_after_min": stale_min,
            "bundles": {b["kind"]: {"version": b["version"], "status": b["status"],
                                    "at": b["at"].isoformat()} for b in bundle_rows},
            "alerts": alerts, "ok": not alerts}


def overview(store: Store, cfg: CentralConfig, now: datetime, scope) -> dict:
    rows = store.sites(scope)
    flags = store.epoch_flags(scope)
    statuses = store.bundle_status(scope)
    sites = [site_view(r, now, cfg, [f for f in flags if f["site"] == r["id"]],
                       [b for b in statuses if b["site"] == r["id"]]) for r in rows]
    return {"now": now.isoformat(), "stale_after_min": cfg.stale_after_min,
            "sites": sites, "alerts": sum(len(s["alerts"]) for s in sites),
            "bundles": [dict(b) for b in store.bundle_versions()]}
