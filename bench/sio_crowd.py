"""Hold N Socket.IO clients connected to a server (a hall full of displays and phones).

    python -m bench.sio_crowd URL TOKEN N [site|phones]

`site` (default): every client follows the whole site, like a hall board (the worst case:
each event goes to all of them). `phones`: client i follows team room i % 6 + 1, like the
citizens' phones on /t/<token>, which only hear their own team.

Prints "ready N" once all are connected, then counts events until stdin closes and prints
"received K". Runs niced (see below)."""

from __future__ import annotations

import asyncio
import os
import sys

import socketio


async def main(url: str, token: str, n: int, mode: str = "site") -> None:
    received = 0

    def on_event(_evt):
        nonlocal received
        received += 1

    clients = []
    for _ in range(n):
        c = socketio.AsyncClient(reconnection=False)
        c.on("event", on_event)
        clients.append(c)
    def auth(i: int) -> dict:
        return {"token": token, "rooms": [f"team:{i % 6 + 1}"]} if mode == "phones" \
            else {"token": token}

    for i in range(0, n, 20):
        await asyncio.gather(*(c.connect(url, auth=auth(i + j), transports=["websocket"])
                               for j, c in enumerate(clients[i:i + 20])))
    print(f"ready {n}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(f"received {received}", flush=True)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


if __name__ == "__main__":
    # The crowd stands for phones and boards on other machines: it runs at the lowest CPU
    # priority, so decoding 200 copies of every event here does not take the server's or
    # the measured browser's share of this machine's two cores.
    os.nice(19)
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:5]))
