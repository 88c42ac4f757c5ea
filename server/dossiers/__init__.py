"""Dossier lookup (tra cứu hồ sơ): the status of a dossier handled by the province's one-stop
information system (hệ thống thông tin một cửa điện tử), read through a pluggable adapter.

- `Adapter` is the interface: `lookup(code) -> Dossier`, raising `DossierNotFound` for a code
  the system does not know and `DossierUnavailable` when it cannot answer (down, slow beyond
  its timeout, a malformed or oversized answer).
- `opencps.OpenCpsAdapter` speaks an OpenCPS-style REST interface (`tools/dossier_emulator.py`
  emulates one for the demo and the tests).
- `lookup.DossierLookup` is what the routes use: the code and key checks, the cache, the
  circuit breaker, the rate limits and the result-return ticket.

Statuses are mapped onto six the citizen understands (`STATUSES`); `status_vi` is what the
receipt and the centre's officers call them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date

from ..errors import NotFound, QMSError

#: status -> (Vietnamese, English), in the order a dossier goes through them
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("Đã tiếp nhận", "Received"),
    "processing": ("Đang xử lý", "Being processed"),
    "supplement": ("Chờ bổ sung", "Waiting for additional documents"),
    "ready": ("Đã có kết quả / chờ trả", "Result ready, waiting to be collected"),
    "returned": ("Đã trả kết quả", "Result returned"),
    "rejected": ("Từ chối", "Rejected"),
}


class DossierUnavailable(QMSError):
    """Hệ thống tra cứu hồ sơ tạm thời không trả lời, vui lòng thử lại sau ít phút; việc lấy số
    thứ tự vẫn bình thường (the dossier information system is not answering; try again in a
    few minutes; taking a queue number still works)."""
    status, code = 503, "dossier_service_unavailable"


class DossierNotFound(NotFound):
    """Không tìm thấy hồ sơ có mã này; vui lòng kiểm tra lại mã trên giấy tiếp nhận (no
    dossier with this code; check the code on the receipt)."""
    code = "dossier_not_found"


@dataclass(frozen=True)
class Dossier:
    """One dossier as the information system reports it. `key` is the lookup key printed on
    the receipt (compared by the server, never shown); `source_status` is the system's own
    status word, kept for logs."""

    code: str
    status: str
    key: str
    procedure: str = ""
    received_on: date | None = None
    due_on: date | None = None
    source_status: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown dossier status {self.status!r}")

    @property
    def result_ready(self) -> bool:
        return self.status == "ready"


class Adapter(abc.ABC):
    """The interface of a one-stop information system. Implementations must bound the time
    a lookup may take (socket timeouts, never an unbounded wait) and the size of what they
    read, and raise `DossierUnavailable` rather than any other error when the system fails."""

    name = "adapter"

    @abc.abstractmethod
    def lookup(self, code: str) -> Dossier:
        """The dossier with the canonical `code` (common.dossier.normalise_code);
        `DossierNotFound` or `DossierUnavailable`."""


def make_adapter(settings) -> Adapter | None:
    """The adapter `[dossier]` of centre.toml names (None when lookups are off)."""
    if settings.adapter in ("opencps", "emulator"):
        from .opencps import OpenCpsAdapter

        return OpenCpsAdapter(settings.base_url, settings.timeout_s)
    return None
