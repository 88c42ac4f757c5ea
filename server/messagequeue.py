"""Several server processes: the Socket.IO message queue that carries every push to the
clients of every process (docs/scaling.md).

With `QMS_MESSAGE_QUEUE=redis://...` each process emits an event to its own clients at once
and publishes it on the centre's Redis channel; every other process's listener emits it to
its clients. python-socketio's `RedisManager` does that; `HallRedisManager` changes only
what a hall needs when Redis fails:

- a publish that fails (after one reconnect, for a connection Redis dropped) stops
  publishing for `PUBLISH_RETRY_S`: a Redis host that does not answer costs a command at
  most one connect timeout per `PUBLISH_RETRY_S`, not two per push, and the outage is
  logged once, not twice per push;
- the listener reconnects every `LISTEN_RETRY_MAX_S` at most (upstream doubles its wait up
  to 60 s, so pushes between processes could stay lost for a minute after Redis is back);
- connecting to Redis gives up after `CONNECT_TIMEOUT_S` (upstream waits for the operating
  system's TCP timeout, minutes, inside the request that published);
- the channel is the centre's own (`limits.redis_namespace`), so two centres or a test run
  on one Redis never receive each other's pushes.

While Redis is down commands still succeed (a push is published after the commit and a
failed publish is only logged); the clients of the process that made the change get it at
once, the others catch up by their idle poll of `/api/v1/events` (qms-live.js, qmsclient).
"""

from __future__ import annotations

import time

import socketio

from . import limits

LISTEN_RETRY_MAX_S = 2.0
CONNECT_TIMEOUT_S = 0.5
PUBLISH_RETRY_S = 1.0


class HallRedisManager(socketio.RedisManager):
    _down_until = 0.0  # no publishing before this (monotonic); 0: Redis is up
    _down = False

    def _publish(self, data):  # pragma: no cover - exercised by the e2e tests
        if self._down and time.monotonic() < self._down_until:
            return None  # Redis is away: the other processes' clients poll meanwhile
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                count = self.redis.publish(self.channel, self.json.dumps(data))
            except Exception as exc:  # noqa: BLE001 - Redis down or restarted
                self.connected = False
                if attempt == 2:
                    if not self._down:
                        self._get_logger().error(
                            "message queue: cannot publish to Redis (%s); pushes reach only "
                            "this process's clients until it is back", exc)
                    self._down = True
                    self._down_until = time.monotonic() + PUBLISH_RETRY_S
                    return None
            else:
                if self._down:
                    self._get_logger().warning("message queue: publishing to Redis again")
                    self._down = False
                return count
        return None

    def _redis_listen_with_retries(self):  # pragma: no cover - exercised by the e2e tests
        retry_sleep = 0.2
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    if retry_sleep > 0.2:
                        self._get_logger().warning("message queue: Redis is back")
                    retry_sleep = 0.2
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - Redis down or restarted: retry soon
                if subscribed or retry_sleep == 0.2:
                    self._get_logger().error(
                        "message queue: cannot receive from Redis (%s); retrying every "
                        "%.1f s at most", exc, LISTEN_RETRY_MAX_S)
                subscribed = False
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, LISTEN_RETRY_MAX_S)


def socketio_options(server, url: str | None, namespace: str) -> dict:
    """The `SocketIO.init_app` keyword arguments for the message queue `url` (None: one
    process). `server` is the module-level `SocketIO`, whose options outlive one app:
    a client manager left by an earlier app is dropped."""
    server.server_options.pop("client_manager", None)
    if url and url.startswith(limits.REDIS_SCHEMES):
        try:
            import redis  # noqa: F401
        except ImportError as exc:  # upstream would retry forever and lose every push
            raise RuntimeError(f"QMS_MESSAGE_QUEUE={url} needs the redis package: "
                               "pip install 'qms-hcc[multi]'") from exc
        manager = HallRedisManager(url, channel=f"{namespace}:socketio",
                                   redis_options={"socket_connect_timeout": CONNECT_TIMEOUT_S})
        return {"client_manager": manager, "message_queue": None}
    return {"message_queue": url}
