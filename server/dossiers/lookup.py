"""The dossier lookup the routes use: code and key checks, a small TTL cache, a circuit breaker
in front of the adapter, rate limits, and the number for the result-return counter.

Order of the checks of one lookup (`DossierLookup.find`):
1. the client address's rate (`[dossier] rate_per_minute`, 429 `rate_limited`), counted for
   every lookup and every result ticket, valid or not;
2. the code (`common.dossier.normalise_code`; a code dated after today is not one): 422
   `dossier_code_invalid`;
3. wrong keys already tried for this code (`KEY_GUESSES` per `KEY_GUESS_WINDOW_S`, from any
   address): 429 `rate_limited`;
4. the dossier, from the cache or the adapter through the breaker: 404 `dossier_not_found`,
   503 `dossier_service_unavailable`;
5. the key, compared in constant time with the one the system holds: 403 `dossier_key_wrong`,
   and nothing of the dossier in the answer.

The breaker: after `breaker_failures` failures in a row the adapter is not called for
`breaker_open_s` seconds (answers are 503 at once); then one trial call is let through, and
its success closes the breaker. So a slow system costs at most `timeout_s` for the first few
lookups, and nothing afterwards; ticket issuing never waits for it (it does not call it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from datetime import date

from common.dossier import normalise_code, normalise_key

from .. import limits
from ..errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from . import STATUSES, Adapter, Dossier, DossierNotFound, DossierUnavailable, make_adapter

log = logging.getLogger("qms.dossiers")

CACHE_SIZE = 512                # dossiers (and unknown codes) kept in memory at most
KEY_GUESSES = 10                # wrong keys for one code, from any address, per window
KEY_GUESS_WINDOW_S = 3600
RATE_WINDOW_S = 60              # `rate_per_minute` is counted over this window
EXTENSION = "qms_dossiers"


class TtlCache:
    """At most `size` entries, each for `ttl_s` seconds; the oldest is evicted first."""

    def __init__(self, size: int, ttl_s: float, clock=time.monotonic):
        self.size, self.ttl, self.clock = size, ttl_s, clock
        self.items: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str):
        """(True, value) while fresh, else (False, None)."""
        with self.lock:
            hit = self.items.get(key)
            if hit is None or hit[0] < self.clock():
                self.items.pop(key, None)
                return False, None
            return True, hit[1]

    def put(self, key: str, value) -> None:
        if self.ttl <= 0:
            return
        with self.lock:
            self.items.pop(key, None)
            while len(self.items) >= self.size:
                self.items.popitem(last=False)
            self.items[key] = (self.clock() + self.ttl, value)


class Breaker:
    """A circuit breaker: closed -> open after `failures` failures in a row -> one trial after
    `open_s` seconds (half-open) -> closed on its success, open again on its failure."""

    def __init__(self, failures: int, open_s: float, clock=time.monotonic):
        self.failures, self.open_s, self.clock = failures, open_s, clock
        self.count = 0
        self.open_until = 0.0
        self.trial = False
        self.lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.count < self.failures:
            return "closed"
        return "open" if self.clock() < self.open_until or self.trial else "half-open"

    def allow(self) -> bool:
        with self.lock:
            if self.count < self.failures:
                return True
            if self.clock() < self.open_until or self.trial:
                return False
            self.trial = True  # half-open: this caller is the one trial
            return True

    def success(self) -> None:
        with self.lock:
            self.count, self.trial = 0, False

    def failure(self) -> None:
        with self.lock:
            self.count += 1
            self.trial = False
            if self.count >= self.failures:
                self.open_until = self.clock() + self.open_s


class DossierLookup:
    """One per app; rebuilt when `[dossier]` changes (see `for_app`)."""

    def __init__(self, settings, service, *, redis_url: str | None = None,
                 namespace: str = "qms", adapter: Adapter | None = None):
        self.settings = settings
        self.service = service
        self.adapter = adapter if adapter is not None else make_adapter(settings)
        self.cache = TtlCache(CACHE_SIZE, settings.cache_s)
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_open_s)
        self.rate = limits.rate_limiter(settings.rate_per_minute, RATE_WINDOW_S,
                                        name="dossier-lookup", url=redis_url,
                                        namespace=namespace)
        self.key_guesses = limits.rate_limiter(KEY_GUESSES, KEY_GUESS_WINDOW_S,
                                               name="dossier-key", url=redis_url,
                                               namespace=namespace)

    # -- the steps -------------------------------------------------------------------------
    def _code(self, text) -> str:
        today = date.fromisoformat(self.service.today())
        code = normalise_code(text if isinstance(text, str) else None, today=today)
        if code is None:
            raise ValidationFailed(
                "Mã hồ sơ không hợp lệ; mã có dạng mã-cơ-quan-YYMMDD-XXXX, ví dụ "
                "000.00.12.H99-251103-0004 (invalid dossier code; the form is "
                "agency-YYMMDD-XXXX)", code="dossier_code_invalid")
        return code

    def _fetch(self, code: str) -> Dossier:
        fresh, cached = self.cache.get(code)
        if fresh:
            if cached is None:
                raise DossierNotFound()
            return cached
        if self.adapter is None:  # not a failure of a system: there is none to ask
            raise NotFound(
                "Trung tâm chưa kết nối hệ thống tra cứu hồ sơ; vui lòng hỏi cán bộ hướng dẫn "
                "(dossier lookup is not set up at this centre; please ask the help desk)",
                code="dossier_lookup_off")
        if not self.breaker.allow():
            raise DossierUnavailable()
        started = time.monotonic()
        try:
            dossier = self.adapter.lookup(code)
        except DossierNotFound:
            self.breaker.success()
            self.cache.put(code, None)
            raise
        except DossierUnavailable as exc:
            self.breaker.failure()
            log.warning("dossier lookup %s failed after %.2f s: %s (breaker %s)", code,
                        time.monotonic() - started, exc.details.get("reason", "?"),
                        self.breaker.state)
            raise DossierUnavailable() from exc
        except Exception as exc:  # noqa: BLE001 - an adapter's bug is the system failing
            self.breaker.failure()
            log.exception("dossier lookup %s: the adapter failed", code)
            raise DossierUnavailable() from exc
        self.breaker.success()
        self.cache.put(code, dossier)
        return dossier

    def find(self, code_text, key_text, address: str) -> Dossier:
        """The dossier, after every check of the module docstring."""
        if not self.rate.hit(address):
            raise TooManyRequests(
                "Tra cứu quá nhiều lần, vui lòng thử lại sau 1 phút (too many dossier "
                "look-ups from this address; try again in a minute)")
        code = self._code(code_text)
        if not self.key_guesses.allow(code):
            raise TooManyRequests(
                "Mã tra cứu của hồ sơ này bị nhập sai quá nhiều lần; vui lòng thử lại sau hoặc "
                "hỏi cán bộ hướng dẫn (too many wrong lookup keys for this dossier)")
        dossier = self._fetch(code)
        key = normalise_key(key_text if isinstance(key_text, str) else None) or ""
        # constant time: how much of a guess matched must not show in the answer's timing
        same = hmac.compare_digest(key.encode(), dossier.key.encode())
        if not (same and dossier.key):
            self.key_guesses.hit(code)
            raise Forbidden(
                "Mã tra cứu không đúng; vui lòng nhập mã tra cứu in trên giấy tiếp nhận hồ sơ "
                "(wrong lookup key: type the key printed on the dossier receipt)",
                code="dossier_key_wrong")
        return dossier

    # -- answers ---------------------------------------------------------------------------
    def result_team(self) -> int | None:
        """The result-return team when it exists and a counter serves it."""
        team = self.settings.result_team
        if not team:
            return None
        cfg = self.service.config
        if not any(t.id == team for t in cfg.teams) or not cfg.counters_for_team(team):
            return None
        return team

    def view(self, d: Dossier) -> dict:
        vi, en = STATUSES[d.status]
        return {"code": d.code, "status": d.status, "status_vi": vi, "status_en": en,
                "procedure": d.procedure,
                "received_on": d.received_on.isoformat() if d.received_on else None,
                "due_on": d.due_on.isoformat() if d.due_on else None,
                "result_ready": d.result_ready,
                "can_take_number": d.result_ready and self.result_team() is not None}

    def take_number(self, code_text, key_text, address: str, *, channel: str,
                    actor: str | None) -> tuple[int, dict, Dossier]:
        """(status, ticket view, dossier): a ticket at the result-return team for a dossier
        whose result is ready, one per dossier per business day (asking again, from the phone
        or the kiosk, gives the same ticket: the day's idempotency record is keyed by the
        dossier code)."""
        dossier = self.find(code_text, key_text, address)
        if not dossier.result_ready:
            vi, en = STATUSES[dossier.status]
            raise Conflict(f"Hồ sơ chưa có kết quả để trả (trạng thái: {vi}) "
                           f"(the result is not ready: {en})", code="dossier_not_ready")
        team = self.result_team()
        if team is None:
            raise Conflict("Trung tâm chưa có quầy trả kết quả đang phục vụ; vui lòng hỏi cán "
                           "bộ hướng dẫn (no result-return counter is set up)",
                           code="dossier_no_result_team")
        day = self.service.today()
        fingerprint = hashlib.sha256(f"dossier-result {dossier.code}".encode()).hexdigest()
        status, ticket = self.service.issue(
            team_id=team, channel=channel, actor=actor,
            idem=(f"dossier-result {dossier.code}", day, fingerprint))
        return status, ticket, dossier


def for_app(app) -> DossierLookup:
    """The app's `DossierLookup`, made again when `[dossier]` of the live configuration
    changed (an admin edit, another server process's change)."""
    qms = app.extensions["qms"]
    settings = qms.config.dossier
    current = app.extensions.get(EXTENSION)
    if current is None or current.settings != settings or current.service is not qms.service:
        current = app.extensions[EXTENSION] = DossierLookup(
            settings, qms.service, redis_url=app.config.get("REDIS_URL"),
            namespace=app.config.get("REDIS_NAMESPACE") or "qms")
    return current
