"""Central ingest: a hall's batch of events, idempotent on (site, epoch, seq).

One batch is one transaction: the site's row is locked (so two deliveries of one site
serialise), the events are inserted with `INSERT ... ON CONFLICT DO NOTHING`, the site's
expected `seq` moves on, and the new events are folded into the central journeys and day
aggregates (`central.reports.fold_new`). Refusals:

- a token that is unknown or revoked: 401; a batch naming another site: 403;
- a batch that starts after the expected seq (a gap): 409 `seq_gap`, details.expected;
- a batch under another epoch than the site's (its database was created again): 409
  `epoch_changed`, flagged in `epoch_flags` (committed before the refusal) and never
  merged; an operator accepts the new epoch with `qms central site accept-epoch`;
- a replay whose events differ from the stored ones at the same seq: 409 `replay_mismatch`
  (a hall database restored from an old copy without a new epoch), flagged too;
- more events than `max_batch_events` or a body over `max_body_mb`: 413;
- an event schema newer than this server knows: 422 `unsupported_schema` (older ones are
  read: schema 1 is the first);
- a malformed batch (seqs not consecutive, bad fields): 422 `bad_batch`.

Events already present are acknowledged again (a replay after a lost answer), so a sync
process may always resend from its last acknowledged position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from server.errors import Conflict, PayloadTooLarge, QMSError, ValidationFailed

from . import reports
from .config import CentralConfig
from .storage import Store

SCHEMA_MIN, SCHEMA_MAX = 1, 1
EPOCH_RE = re.compile(r"^[0-9a-f][0-9a-f-]{7,63}$")
SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class EpochChanged(Conflict):
    code = "epoch_changed"


class SeqGap(Conflict):
    code = "seq_gap"


def _bad(message_vi: str, message_en: str, **details) -> ValidationFailed:
    return ValidationFailed(f"{message_vi} ({message_en})", code="bad_batch",
                            details=details or None)


def _int(value, name: str, i: int, *, none: bool = True, low: int | None = None):
    if value is None and none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or (low is not None
                                                                 and value < low):
        raise _bad(f"Sự kiện thứ {i + 1}: trường {name} không hợp lệ",
                   f"event {i + 1}: bad {name}", index=i)
    return value


def _text(value, name: str, i: int, limit: int, *, none: bool = False):
    if value is None and none:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit or "\x00" in value:
        raise _bad(f"Sự kiện thứ {i + 1}: trường {name} không hợp lệ",
                   f"event {i + 1}: bad {name}", index=i)
    return value


def _iso(value, name: str, i: int | None = None) -> str:
    try:
        ok = isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        ok = False
    if not ok:
        where = f"Sự kiện thứ {i + 1}: " if i is not None else ""
        raise _bad(f"{where}thời điểm {name} không hợp lệ", f"bad time {name}")
    return value


def check_batch(body, cfg: CentralConfig) -> dict:
    """The batch, checked field by field (nothing is written for a bad one)."""
    if not isinstance(body, dict):
        raise _bad("Nội dung phải là một đối tượng JSON", "body must be a JSON object")
    schema = body.get("schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < SCHEMA_MIN:
        raise _bad("Phiên bản dữ liệu không hợp lệ", "bad schema")
    if schema > SCHEMA_MAX:
        raise ValidationFailed(
            f"Phiên bản dữ liệu sự kiện {schema} mới hơn máy chủ trung tâm hỗ trợ "
            f"({SCHEMA_MIN}–{SCHEMA_MAX}); hãy nâng cấp máy chủ trung tâm trước, dữ liệu vẫn "
            f"được giữ ở điểm phục vụ (unsupported event schema {schema})",
            code="unsupported_schema", details={"supported": [SCHEMA_MIN, SCHEMA_MAX]})
    site, epoch = body.get("site"), body.get("epoch")
    if not isinstance(site, str) or not SITE_RE.match(site):
        raise _bad("Mã điểm phục vụ không hợp lệ", "bad site")
    if not isinstance(epoch, str) or not EPOCH_RE.match(epoch):
        raise _bad("Mã thế hệ cơ sở dữ liệu (epoch) không hợp lệ", "bad epoch")
    events = body.get("events", [])
    if not isinstance(events, list):
        raise _bad("events phải là một danh sách", "events must be a list")
    if len(events) > cfg.max_batch_events:
        raise PayloadTooLarge(
            f"Lô quá lớn: {len(events)} sự kiện, tối đa {cfg.max_batch_events} một lần "
            f"(batch too large)", details={"max_events": cfg.max_batch_events})
    clean = []
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise _bad(f"Sự kiện thứ {i + 1} không phải đối tượng", f"event {i + 1}")
        data = e.get("data", {})
        if not isinstance(data, dict):
            raise _bad(f"Sự kiện thứ {i + 1}: data phải là đối tượng", f"event {i + 1} data")
        clean.append({
            "seq": _int(e.get("seq"), "seq", i, none=False, low=1),
            "type": _text(e.get("type"), "type", i, 64),
            "at": _iso(e.get("at"), "at", i),
            "ticket_id": _int(e.get("ticket_id"), "ticket_id", i),
            "team_id": _int(e.get("team_id"), "team_id", i),
            "counter": _int(e.get("counter"), "counter", i),
            "actor": _text(e.get("actor"), "actor", i, 200, none=True),
            "data": data})
        if i and clean[i]["seq"] != clean[i - 1]["seq"] + 1:
            raise _bad("Các sự kiện trong lô phải liên tiếp theo số thứ tự",
                       "seqs must be consecutive", index=i)
    hall = body.get("hall") or {}
    if not isinstance(hall, dict):
        raise _bad("hall phải là đối tượng", "hall must be an object")
    head = hall.get("seq")
    head = head if isinstance(head, int) and not isinstance(head, bool) and head >= 0 else None
    clock = hall.get("clock")
    clock = _iso(clock, "hall.clock") if clock is not None else None
    oldest = hall.get("oldest_unsent_at")
    oldest = _iso(oldest, "hall.oldest_unsent_at") if oldest is not None else None
    software = body.get("software")
    software = software[:80] if isinstance(software, str) else None
    return {"site": site, "epoch": epoch, "schema": schema, "events": clean,
            "hall_seq": head, "hall_clock": clock, "oldest_unsent_at": oldest,
            "software": software}


def ingest(store: Store, cfg: CentralConfig, token_site: str, body,
           field_of: Callable[[str | None], str | None], now: datetime) -> dict:
    """Store one batch from the site `token_site` (already authenticated); the answer:
    acked (the last seq held, contiguous), expected (the next seq wanted), inserted,
    duplicates."""
    batch = check_batch(body, cfg)
    site = batch["site"]
    if site != token_site:
        raise QMSError(f"Mã truy cập này thuộc điểm {token_site}, không gửi được dữ liệu của "
                       f"điểm {site} (this token belongs to another site)", code="wrong_site",
                       status=403)
    refusal: QMSError | None = None
    try:
        return _ingest(store, cfg, batch, field_of, now)
    except _Mismatch as exc:  # rolled back; the refusal is recorded on its own
        refusal = exc.error
        with store.tx() as conn:
            store.note_sync(conn, site, refusal="replay_mismatch")
            store.audit(conn, f"site:{site}", "ingest.replay_mismatch", exc.error.details)
    raise refusal


class _Mismatch(Exception):
    def __init__(self, error: QMSError):
        super().__init__(error.message)
        self.error = error


def _ingest(store: Store, cfg: CentralConfig, batch: dict, field_of, now) -> dict:
    site, epoch, events = batch["site"], batch["epoch"], batch["events"]
    refusal: QMSError | None = None
    with store.tx() as conn:
        row = store.lock_site(conn, site)
        if row is None or not row["active"]:  # revoked between the token check and here
            raise QMSError("Điểm phục vụ đã bị thu hồi (site revoked)", code="unauthorized",
                           status=401)
        known = row["epoch"]
        status = {"hall_seq": batch["hall_seq"], "hall_clock": batch["hall_clock"],
                  "oldest_unsent_at": batch["oldest_unsent_at"],
                  "software": batch["software"]}
        if known is not None and known != epoch:
            store.flag_epoch(conn, site, epoch, known, events[0]["seq"] if events else None)
            store.note_sync(conn, site, refusal="epoch_changed", **status)
            refusal = EpochChanged(
                f"Cơ sở dữ liệu của điểm {site} đã được tạo lại (thế hệ {epoch}, máy chủ "
                f"trung tâm đang giữ thế hệ {known}): dữ liệu mới không được gộp tự động. "
                f"Quản trị viên tỉnh cần kiểm tra rồi chấp nhận thế hệ mới (the site's "
                f"database was re-created: refused and flagged)",
                details={"site": site, "epoch": epoch, "known_epoch": known})
        else:
            expected = row["next_seq"]
            if events and events[0]["seq"] > expected:
                store.note_sync(conn, site, epoch=epoch, refusal="seq_gap", **status)
                refusal = SeqGap(
                    f"Thiếu sự kiện: máy chủ trung tâm đang chờ số thứ tự {expected}, lô "
                    f"bắt đầu từ {events[0]['seq']} (gap: expected seq {expected})",
                    details={"expected": expected})
            else:
                return _store_batch(store, conn, cfg, site, epoch, batch, expected, field_of,
                                    now, status)
    raise refusal


def _store_batch(store: Store, conn, cfg, site, epoch, batch, expected, field_of, now,
                 status) -> dict:
    events = batch["events"]
    inserted = store.insert_events(conn, site, epoch, batch["schema"], events)
    fresh = set(inserted)
    replayed = [e for e in events if e["seq"] not in fresh]
    if replayed:
        stored = store.event_heads(conn, site, epoch, replayed[0]["seq"], replayed[-1]["seq"])
        wrong = [e["seq"] for e in replayed if stored.get(e["seq"]) != (e["type"], e["at"])]
        if wrong:  # raised inside the transaction: nothing of this batch is kept
            raise _Mismatch(_mismatch(site, epoch, wrong[0]))
    last = events[-1]["seq"] if events else expected - 1
    next_seq = max(expected, last + 1)
    store.note_sync(conn, site, next_seq=next_seq, epoch=epoch,
                    last_event_at=events[-1]["at"] if inserted else None, **status)
    if inserted:
        reports.fold_new(store, conn, site, epoch, cfg.tz, field_of, now)
    return {"site": site, "epoch": epoch, "acked": next_seq - 1, "expected": next_seq,
            "inserted": len(inserted), "duplicates": len(events) - len(inserted)}


def _mismatch(site: str, epoch: str, seq: int) -> QMSError:
    return Conflict(
        f"Sự kiện số {seq} của điểm {site} khác với bản đã nhận trước đó: cơ sở dữ liệu của "
        f"điểm có thể đã được khôi phục từ bản sao cũ. Dữ liệu không được gộp; hãy khôi phục "
        f"bằng `qms restore` (tạo thế hệ mới) rồi báo quản trị viên tỉnh (replayed event "
        f"differs from the stored one)", code="replay_mismatch",
        details={"seq": seq, "epoch": epoch})
