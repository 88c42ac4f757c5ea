"""The one Python client of the server (layer 3): HTTP API v1 with a bearer token and the
Socket.IO event stream. The kiosk, the counter and LED bridges, the simulator and the sync
process talk to the server only through it. It imports nothing of the project but `common`.

* `Client` (qmsclient.http): requests with timeouts, one session per thread; `command()`
  retries on no answer / 5xx / 429 with the same Idempotency-Key.
* `ServerError` (qmsclient.errors): the one error class - ``status``, ``code`` and the
  server's (Vietnamese) ``message``; `ServerUnreachable` is its subclass for "no answer".
* `EventStream` (qmsclient.events): snapshot, then events strictly in `seq` order in one
  worker thread, catching up through /api/v1/events after a reconnect or a gap.
"""

from .errors import ServerError, ServerUnreachable
from .events import EventStream
from .http import Client, login, new_key

__all__ = ["Client", "EventStream", "ServerError", "ServerUnreachable", "login", "new_key"]
