"""The admin service: the centre's configuration (teams, counters, opening hours, priority,
the hall notice...) and the procedure catalogue (edits, routing a field to a team, imports).

Every change is a command through the queue service's one write path (`QueueService.run`):
its rows, its audit row and a `config.changed` event per site in one transaction, with the
request's Idempotency-Key recorded, published after commit. Users and devices are the
accounts service's (`server/auth.py`); the admin routes only parse, authorise and call.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import config as centre_config
from . import rules
from .errors import Conflict, NotFound, ValidationFailed
from .importer import import_procedures
from .service import QueueService, iso

EDITABLE = ("name", "name_en", "public_url", "target_wait_min", "default_service_s",
            "enforce_hours", "hours", "teams", "counters", "priority", "notice",
            "announcement_vi", "announcement_en", "announce_repeat", "sites")
PROCEDURE_EDITABLE = ("name", "field", "agency", "level", "processing_days", "fee", "team_id",
                      "documents")
IMPORT_SUFFIXES = (".csv", ".xlsx")
EXTENSION = "qms.admin"  # where create_app puts the AdminService (app.extensions)


class AdminService:
    def __init__(self, queue: QueueService, data_dir: Path | None = None,
                 on_config: Callable[[centre_config.Config], None] | None = None,
                 refresh: Callable[[], object] | None = None):
        """`on_config(new)` is told of a configuration swapped in (the app keeps its own
        reference); `data_dir` holds uploaded catalogues while they are imported;
        `refresh()` loads a configuration another server process saved meanwhile
        (`server.reload.check`), called inside the write transaction before a change is
        built on the configuration in force."""
        self.queue = queue
        self.refresh = refresh or (lambda: None)
        self.store = queue.store
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.on_config = on_config or (lambda new: None)
        self.jobs: dict[str, dict] = {}
        self._job_keys: dict[tuple[str, str], str] = {}
        self._jobs_lock = threading.Lock()

    @property
    def config(self) -> centre_config.Config:
        return self.queue.config

    def _changed(self, events, now, actor: str, action: str, detail: dict, what: str,
                 sites=None) -> None:
        self.store.audit(iso(now), actor, action, detail)
        self.queue.config_changed(events, now, what=what, action=action, actor=actor,
                                  sites=sites)

    # -- configuration --------------------------------------------------------------------
    def update_config(self, changes: dict, *, actor: str, idem=None) -> tuple[int, dict]:
        """Validate the whole new configuration, then in one transaction: counter rows for
        new counters, the audit row, `config.changed` per site, centre.toml saved and the
        configuration swapped in (live for every later request)."""
        bad = set(changes) - set(EDITABLE)
        if bad:
            raise ValidationFailed(f"Không sửa được {', '.join(sorted(bad))} từ trang quản trị "
                                   f"(cannot change {sorted(bad)})", code="bad_config")

        def cmd(now, events):
            self.refresh()  # under the write lock: another process's change is seen first
            # checked against the configuration in force (so a retry meets the first answer)
            current = self.config.to_dict()
            try:
                new = centre_config.from_dict({**current, **changes}, path=self.config.path)
            except ValidationFailed:
                raise
            except (TypeError, KeyError, ValueError) as exc:
                raise ValidationFailed(f"Cấu hình không hợp lệ (invalid configuration): "
                                       f"{exc}", code="bad_config") from exc
            changed = sorted(k for k in changes if changes[k] != current.get(k))
            self.check_live_queue(self.config, new, self.queue.today(now))
            self.store.ensure_counters([c.number for c in new.counters])
            after = new.to_dict()  # old and new values, for the audit log (issue #16)
            self._changed(events, now, actor, "config.update",
                          {"changed": changed, "old": {k: current.get(k) for k in changed},
                           "new": {k: after.get(k) for k in changed}},
                          "config", sites=new.sites)
            if new.path is not None:
                new.save()  # a failed save rolls the transaction back
            self.queue.config = new  # last: nothing after this can fail
            self.on_config(new)
            return 200, new.to_dict()

        return self.queue.run(cmd, idem)

    def check_live_queue(self, old: centre_config.Config, new: centre_config.Config,
                         day: str) -> None:
        """Refuse (409) a configuration that would strand or confuse today's live queue:
        a team removed (or moved to another site) while tickets of it wait or are at a
        counter; a team left with waiting tickets and no counter to call them; a counter
        removed while it holds a ticket or tickets were sent to it; a band change that
        moves today's issued numbers out of their team's band or into another team's (two
        citizens with one number). Band changes that keep today's numbers are fine; others
        can be made after the business day."""
        teams = {t.id: t for t in new.teams}
        counters = {c.number: c for c in new.counters}
        served = {tid for c in new.counters for tid in c.teams}
        for row in self.store.open_tickets(day):
            n, status = row["n"], row["status"]
            team = teams.get(row["team_id"])
            if team is None or team.site != row["site"]:
                raise Conflict(
                    f"Không xoá (hoặc chuyển điểm) được tổ {row['team_id']}: hôm nay còn số "
                    f"của tổ đang chờ hoặc đang được phục vụ; hãy gọi hết, chuyển hoặc huỷ các "
                    f"số này trước (team {row['team_id']} still has tickets in its queue today)",
                    code="team_in_use", details={"team_id": row["team_id"]})
            if status == "waiting" and row["target_counter"] is None and team.id not in served:
                raise Conflict(
                    f"Tổ {team.id} còn {n} số đang chờ hôm nay nhưng cấu hình mới không còn "
                    f"quầy nào phục vụ tổ này (no counter would call team {team.id}'s waiting "
                    f"tickets)", code="team_unserved", details={"team_id": team.id})
            at = row["target_counter"] if status == "waiting" else row["counter"]
            if at is not None and at not in counters:
                raise Conflict(
                    f"Không xoá được quầy {at}: hôm nay quầy còn số đang gọi, đang phục vụ "
                    f"hoặc được chuyển tới (counter {at} still has tickets today)",
                    code="counter_in_use", details={"counter": at})
        before = {t.id: (t.band, t.site) for t in old.teams}
        after = {t.id: (t.band, t.site) for t in new.teams}
        changed = {tid for tid in before.keys() | after.keys()
                   if before.get(tid) != after.get(tid)}
        if not changed:
            return
        by_site: dict[str, list[tuple[int, int, int]]] = {}
        for r in self.store.issued_ranges(day):
            by_site.setdefault(r["site"], []).append((r["team_id"], r["lo"], r["hi"]))
        for site, issued in by_site.items():
            bands = {t.id: t.band for t in new.teams if t.site == site}
            rules.check_issued_within(bands, issued, changed)

    def set_notice(self, text: str, *, actor: str, idem=None) -> tuple[int, dict]:
        """The notice shown on the hall board and the kiosk (a configuration change)."""
        if not isinstance(text, str) or len(text) > 2000:
            raise ValidationFailed("Thông báo phải là văn bản, tối đa 2000 ký tự (notice must be "
                                   "text of at most 2000 characters)")
        return self.update_config({"notice": text}, actor=actor, idem=idem)

    # -- procedure catalogue --------------------------------------------------------------
    def edit_procedure(self, code: str, changes: dict, *, actor: str,
                       idem=None) -> tuple[int, dict]:
        changes = {k: changes[k] for k in PROCEDURE_EDITABLE if k in changes}
        if "documents" in changes and not isinstance(changes["documents"], list):
            raise ValidationFailed("Giấy tờ phải là danh sách các dòng chữ (documents must be a "
                                   "list of strings)")

        def cmd(now, events):
            if changes.get("team_id") is not None:
                self.config.team(int(changes["team_id"]))
            before = self.store.procedure(code) or {}
            if not self.store.update_procedure(code, changes):
                raise NotFound(f"Không có thủ tục {code} (unknown procedure)",
                               code="unknown_procedure")
            self._changed(events, now, actor, "procedure.edit",
                          {"code": code, "fields": sorted(changes),
                           "old": {k: before.get(k) for k in sorted(changes)},
                           "new": {k: changes[k] for k in sorted(changes)}}, "procedures")
            return 200, self.store.procedure(code)

        return self.queue.run(cmd, idem)

    def route_field(self, field: str, team_id: int, *, actor: str,
                    idem=None) -> tuple[int, dict]:
        """Every procedure of a field goes to `team_id` from now on."""
        if not isinstance(field, str) or not isinstance(team_id, int):
            raise ValidationFailed("Cần chọn lĩnh vực và tổ (field as text and team_id as a "
                                   "number are required)")

        def cmd(now, events):
            self.config.team(team_id)
            n = self.store.route_procedures(field, team_id)
            self._changed(events, now, actor, "procedure.route",
                          {"field": field, "team_id": team_id, "count": n}, "procedures")
            return 200, {"field": field, "team_id": team_id, "count": n}

        return self.queue.run(cmd, idem)

    # -- catalogue imports (in the background, with progress) ------------------------------
    def start_import(self, source: BinaryIO, file_name: str, *, actor: str,
                     idem=None) -> dict:
        """Save the upload and import it in a background thread; the job's state to poll.
        A retry under the same Idempotency-Key gets the first job back, and the import
        itself is recorded under the key, so one upload never imports twice."""
        suffix = Path(file_name or "").suffix.lower()
        if suffix not in IMPORT_SUFFIXES:
            raise ValidationFailed("Chỉ nhận tệp .csv hoặc .xlsx (use a .csv or .xlsx file)",
                                   code="bad_import")
        if self.data_dir is None:
            raise RuntimeError("AdminService needs data_dir for uploads")
        with self._jobs_lock:
            if idem and idem[1] and tuple(idem) in self._job_keys:
                return self.jobs[self._job_keys[tuple(idem)]]
            job = secrets.token_hex(8)
            state = self.jobs[job] = {"job": job, "state": "running", "done": 0,
                                      "total": 0, "count": None, "error": None,
                                      "file": file_name}
            if idem and idem[1]:
                self._job_keys[tuple(idem)] = job
        folder = self.data_dir / "imports"
        folder.mkdir(exist_ok=True)
        path = folder / f"{job}{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(source, out)

        def progress(done, total):
            state["done"], state["total"] = done, total
            if done % 50 == 0:
                time.sleep(0)  # let progress polls through (gevent)

        def work():
            try:
                state["count"] = import_procedures(
                    self.store, self.config, path, progress=progress, queue=self.queue,
                    actor=actor, file_name=file_name, idem=idem)
                state["state"] = "done"
            except Exception as exc:  # reported to the page
                state["state"], state["error"] = "failed", str(getattr(exc, "message", exc))

        threading.Thread(target=work, daemon=True).start()
        return state

    def import_job(self, job: str) -> dict:
        if job not in self.jobs:
            raise NotFound("Không có lần nhập này (unknown import job)", code="unknown_job")
        return self.jobs[job]
