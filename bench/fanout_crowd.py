"""A crowd of light Socket.IO clients for bench/bench_fanout.py: raw Engine.IO v4 / Socket.IO
v5 over aiohttp websockets (a few µs per message, so 2,000 of them fit in one process next to
the server on 2 cores; python-socketio's client costs several times more per message).

    python -m bench.fanout_crowd SPEC.json

SPEC: {"url": ..., "staff_token": ..., "clients": [{"kind": "board", "auth": {...}} |
{"kind": "phone", "team": 3, "token": <ticket token>, "auth": {"ticket": ...}}]}.

Each client behaves like its page: a board connects with the display token in the site room
and, after a reconnect, catches up through GET /api/v1/events?since=<last seq> (qms-live.js);
a phone connects with its ticket token and, after a reconnect, reads its ticket again
(GET /api/v1/tickets/<token>, the phone page). Both reconnect like socket.io-client (0.5 s
doubling to 5 s, jittered). The arrival time (time.monotonic, the same clock in every
process on Linux) of every pushed event is noted per client.

Commands on stdin, one JSON answer per line on stdout: `connect`, `wait N TIMEOUT` (until N
are connected), `mark` (forget arrivals so far), `dump`, `quit`.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import aiohttp


class Crowd:
    def __init__(self, spec: dict):
        self.url = spec["url"].rstrip("/")
        self.ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.staff = spec["staff_token"]
        self.clients = spec["clients"]
        for c in self.clients:
            c.update(connected=False, connects=0, last=0, seqs=set(), refetches=0,
                     errors=0)
        self.arrivals: dict[int, dict] = {}
        self.session: aiohttp.ClientSession | None = None
        self.stopping = False
        self.connected = 0

    def record(self, c: dict, evt: dict, t: float) -> None:
        seq = evt.get("seq")
        if not isinstance(seq, int):
            return
        c["last"] = max(c["last"], seq)
        if c["kind"] == "board":
            c["seqs"].add(seq)
        a = self.arrivals.get(seq)
        if a is None:
            ticket = evt.get("ticket") or {}
            a = self.arrivals[seq] = {"type": evt.get("type"), "number": ticket.get("number"),
                                      "team": evt.get("team_id"), "board": [], "phone": []}
        a[c["kind"]].append(t)

    async def catch_up(self, c: dict) -> None:
        headers = {"Authorization": f"Bearer {self.staff}"}
        if c["kind"] == "board":
            since = c["last"]
            while True:
                async with self.session.get(f"{self.url}/api/v1/events",
                                            params={"since": since, "limit": 1000},
                                            headers=headers) as res:
                    page = await res.json()
                for evt in page["items"]:
                    c["seqs"].add(evt["seq"])
                    c["last"] = max(c["last"], evt["seq"])
                    since = evt["seq"]
                if not page.get("more"):
                    return
        else:
            async with self.session.get(f"{self.url}/api/v1/tickets/{c['token']}") as res:
                await res.read()
                c["refetches"] += 1

    async def run_client(self, c: dict) -> None:
        backoff = 0.5
        while not self.stopping:
            try:
                async with self.session.ws_connect(self.ws_url, autoping=True,
                                                   max_msg_size=0) as ws:
                    opened = await ws.receive(timeout=20)
                    if not str(opened.data).startswith("0"):
                        raise ConnectionError(f"no open packet: {opened.data!r}")
                    await ws.send_str("40" + json.dumps(c["auth"]))
                    while True:  # the server's "hello" event may come before the ack
                        joined = str((await ws.receive(timeout=20)).data)
                        if joined.startswith("40"):
                            break
                        if not joined.startswith("42"):
                            raise ConnectionError(f"refused: {joined!r}")
                    c["connects"] += 1
                    c["connected"] = True
                    self.connected += 1
                    backoff = 0.5
                    try:
                        if c["connects"] > 1:
                            await self.catch_up(c)
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                break
                            data = msg.data
                            if data == "2":
                                await ws.send_str("3")
                            elif data.startswith("42"):
                                t = time.monotonic()
                                name, *args = json.loads(data[2:])
                                if name == "event" and args:
                                    self.record(c, args[0], t)
                    finally:
                        c["connected"] = False
                        self.connected -= 1
            except Exception:  # noqa: BLE001 - server gone, refused, timed out: retry
                c["errors"] += 1
            if self.stopping:
                return
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 5.0)

    async def wait(self, n: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while self.connected < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return {"connected": self.connected, "t": time.monotonic()}

    def dump(self) -> dict:
        clients = []
        for c in self.clients:
            missing = 0
            if c["kind"] == "board" and c["seqs"]:
                lo = min(c["seqs"])
                missing = (c["last"] - lo + 1) - len(c["seqs"])
            clients.append({"kind": c["kind"], "team": c.get("team"), "last": c["last"],
                            "missing": missing, "connects": c["connects"],
                            "refetches": c["refetches"], "errors": c["errors"]})
        return {"arrivals": self.arrivals, "clients": clients}

    async def main(self) -> None:
        conn = aiohttp.TCPConnector(limit=0, force_close=False)
        self.session = aiohttp.ClientSession(connector=conn)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks = []

        def say(obj) -> None:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

        while True:
            line = (await reader.readline()).decode().strip()
            if not line:
                break
            cmd, *args = line.split()
            if cmd == "connect":
                began = time.monotonic()
                for i in range(0, len(self.clients), 50):  # 50 at a time, as screens come on
                    batch = self.clients[i:i + 50]
                    tasks += [asyncio.create_task(self.run_client(c)) for c in batch]
                    target = min(len(self.clients), i + 50)
                    while self.connected < target and time.monotonic() - began < 120:
                        await asyncio.sleep(0.01)
                say({"connected": self.connected, "secs": time.monotonic() - began})
            elif cmd == "wait":
                say(await self.wait(int(args[0]), float(args[1])))
            elif cmd == "mark":
                self.arrivals = {}
                say({"ok": True})
            elif cmd == "dump":
                say(self.dump())
            elif cmd == "quit":
                break
        self.stopping = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.session.close()


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    asyncio.run(Crowd(spec).main())
