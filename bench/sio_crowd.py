"""Hold N Socket.IO clients connected to a server (a hall full of displays and phones).

    python -m bench.sio_crowd URL TOKEN N

Prints "ready N" once all are connected, then counts events until stdin closes and prints
"received K"."""

from __future__ import annotations

import asyncio
import sys

import socketio


async def main(url: str, token: str, n: int) -> None:
    received = 0

    def on_event(_evt):
        nonlocal received
        received += 1

    clients = []
    for _ in range(n):
        c = socketio.AsyncClient(reconnection=False)
        c.on("event", on_event)
        clients.append(c)
    for i in range(0, n, 20):
        await asyncio.gather(*(c.connect(url, auth={"token": token}, transports=["websocket"])
                               for c in clients[i:i + 20]))
    print(f"ready {n}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(f"received {received}", flush=True)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
