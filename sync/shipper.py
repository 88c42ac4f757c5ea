"""The sync loop: the hall's events table is the outbox.

Each round reads the events after the acknowledged seq (one short read on the outbox's own
read-only connection), sends them as one batch with the site's token, and stores the
centre's acknowledgement. Failures:

- no answer, a 5xx, a 429: back off (1 s doubling to `backoff_max_s`, jittered), retry
  the same events; the hall keeps serving, nothing is lost;
- 409 `seq_gap`: the centre holds less (or more) than this process thought: go on from
  the seq it expects (when the hall has it; a hall behind the centre is refused, below);
- 409 `epoch_changed` / `replay_mismatch`, 401, 403, 422: refused; reported and retried
  every `refused_wait_s` (an operator has to act: accept the epoch, rotate the token...);
- 413: the batch is halved.

The acknowledged position is kept in sync-state.json; lag (events and seconds not yet
acknowledged) in sync-status.json and in every batch, so the central dashboard shows it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from qmsclient import ServerError
from qmsclient.central import CentralClient
from server import config as centre_config
from server.storage import DB_NAME
from server.storage.outbox import Outbox

from . import bundles
from .settings import SyncSettings
from .state import SyncState, write_status

log = logging.getLogger("qms.sync")
SOFTWARE = "qms-hcc 0.1.0"
REFUSALS = ("epoch_changed", "replay_mismatch", "unauthorized", "forbidden", "wrong_site",
            "unsupported_schema", "bad_batch", "hall_behind_central")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds")


class Shipper:
    def __init__(self, data_dir: Path, settings: SyncSettings, *,
                 stop: threading.Event | None = None, say=log.info):
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.stop = stop or threading.Event()
        self.say = say
        self.outbox = Outbox(self.data_dir / DB_NAME)
        self.client = CentralClient(settings.central, settings.token,
                                    timeout=settings.timeout_s, verify=settings.verify)
        self.state = SyncState(self.data_dir)
        ident = self.outbox.identity()
        if not ident["site"]:
            raise SystemExit("this hall database has no site id: run `qms init --site ID` "
                             "(the id the central server enrolled)")
        self.site, self.epoch = ident["site"], ident["epoch"]
        self.stream = settings.stream or self._find_stream()
        self.batch = settings.batch
        self.delay = settings.backoff_first_s
        self.status: dict = {"site": self.site, "epoch": self.epoch, "stream": self.stream,
                             "central": settings.central, "state": "starting",
                             "last_ok_at": None, "last_error": None}
        self.sent_at = 0.0
        self.bundles_at = 0.0

    def _find_stream(self) -> str:
        cfg_sites = list(centre_config.load(self.data_dir).sites)
        if len(cfg_sites) == 1:
            return cfg_sites[0]
        logged = self.outbox.streams()
        if len(logged) == 1:
            return logged[0]
        raise SystemExit("this hall serves several sites in one database; name the one to "
                         "ship with `stream = \"...\"` in sync.toml")

    # -- the position --------------------------------------------------------------------
    def acked(self) -> int | None:
        if self.state.get("epoch") != self.epoch:  # a new database (or first run)
            return None
        return self.state.get("acked")

    def set_acked(self, seq: int) -> None:
        self.state.update(epoch=self.epoch, site=self.site, acked=seq,
                          acked_at=iso(utcnow()))

    def resume_position(self) -> int:
        """Where to start: the state file, else the centre's own position for our epoch."""
        acked = self.acked()
        if acked is not None:
            return acked
        pos = self.client.position()
        acked = pos["expected"] - 1 if pos.get("epoch") == self.epoch else 0
        self.set_acked(acked)
        return acked

    # -- one round -----------------------------------------------------------------------
    def round(self) -> float:
        """Send what is waiting (or a heartbeat); the seconds to wait before the next."""
        acked = self.resume_position()
        head = self.outbox.head(self.stream)
        if acked > head:
            return self._refused("hall_behind_central",
                                 f"the centre has seq {acked} of this epoch but the hall's log "
                                 f"ends at {head}: was the database restored from a copy? "
                                 "Run `qms restore` (it starts a new epoch)")
        events = self.outbox.events_after(self.stream, acked, self.batch)
        now = time.monotonic()
        if not events and now - self.sent_at < self.settings.heartbeat_s:
            self._report(acked, head)
            return self.settings.idle_s
        last = events[-1]["seq"] if events else acked
        rest_at = self.outbox.at_of(self.stream, last + 1) if last < head else None
        body = {"site": self.site, "epoch": self.epoch, "schema": 1, "software": SOFTWARE,
                "hall": {"seq": head, "clock": iso(utcnow()), "oldest_unsent_at": rest_at},
                "events": events}
        try:
            answer = self.client.push(body)
        except ServerError as err:
            return self._failed(err, acked, head)
        self.sent_at = now
        self.delay = self.settings.backoff_first_s
        self.set_acked(answer["acked"])
        self.status.update(state="ok", last_ok_at=iso(utcnow()), last_error=None)
        self._report(answer["acked"], head)
        if answer["acked"] < head:
            return 0.0  # more to send: at once
        return self.settings.idle_s

    def _failed(self, err: ServerError, acked: int, head: int) -> float:
        if err.status == 409 and err.code == "seq_gap":
            expected = int(err.details.get("expected", acked + 1))
            self.say(f"centre expects seq {expected} (we had {acked}); going on from there")
            if expected - 1 > head:
                return self._refused("hall_behind_central",
                                     f"the centre expects seq {expected} but the hall's log "
                                     f"ends at {head}")
            self.set_acked(expected - 1)
            return 0.0
        if err.status == 413:
            self.batch = max(1, self.batch // 2)
            self.say(f"batch too large for the centre: {self.batch} events per batch now")
            return 0.0
        if err.status is not None and 400 <= err.status < 500 and err.status != 429:
            return self._refused(err.code, err.message)
        wait = min(self.delay, self.settings.backoff_max_s) * random.uniform(0.8, 1.2)
        self.delay = min(self.delay * 2, self.settings.backoff_max_s)
        self.status.update(state="backing_off", last_error=str(err),
                           retry_in_s=round(wait, 1))
        self._report(acked, head)
        self.say(f"centre unreachable or failing ({err}); retrying in {wait:.1f} s")
        return wait

    def _refused(self, code: str, message: str) -> float:
        self.status.update(state="refused", last_error=f"{code}: {message}")
        self._report(self.acked() or 0, self.outbox.head(self.stream))
        self.say(f"refused by the centre: {code}: {message}")
        return self.settings.refused_wait_s

    def _report(self, acked: int, head: int) -> None:
        lag_s = 0.0
        if head > acked:
            at = self.outbox.at_of(self.stream, acked + 1)
            if at:
                lag_s = max(0.0, (utcnow() - datetime.fromisoformat(at)).total_seconds())
        self.status.update(acked=acked, head=head, lag_events=max(0, head - acked),
                           lag_s=round(lag_s, 1), batch=self.batch, at=iso(utcnow()))
        write_status(self.data_dir, self.status)

    # -- bundles ---------------------------------------------------------------------------
    def maybe_bundles(self) -> None:
        now = time.monotonic()
        if now - self.bundles_at < self.settings.bundle_every_s:
            return
        self.bundles_at = now
        try:
            applied = bundles.pull_and_apply(self.data_dir, self.client, self.state, self.say)
        except ServerError as err:  # the centre is away: keep the last bundles
            self.say(f"bundles not checked ({err}); keeping the ones applied")
            return
        if applied:
            self.status["bundles"] = {k: self.state.get(k) for k in ("config", "catalogue")}

    # -- the loop --------------------------------------------------------------------------
    def run(self, once: bool = False) -> int:
        self.say(f"sync of site {self.site} (epoch {self.epoch[:8]}…, stream {self.stream}) "
                 f"to {self.settings.central}")
        while not self.stop.is_set():
            try:
                self.maybe_bundles()
                wait = self.round()
            except ServerError as err:  # position lookup failed: the centre is away
                wait = self._failed(err, self.acked() or 0, self.outbox.head(self.stream))
            if once and wait > 0:
                break
            if wait:
                self.stop.wait(wait)
        self.outbox.close()
        self.client.close()
        return 0
