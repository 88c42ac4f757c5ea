"""Command line for the emulators (demo use). Keypad and rating pad read commands on stdin:

    keypad:    "5 next", "5 transfer 3", "5 digits 1023", "garbage", "unplug", "replug"
    ratingpad: "3 4" (pad 3 pressed score 4), "garbage", "unplug", "replug"
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .escpos_stream import decode_text, qr_payloads, raster_images
from .printer_server import PrinterEmulator
from .serial_devices import KeypadEmulator, LedBoardEmulator, RatingPadEmulator


def _wait_forever() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


def _stdin_commands(dev, handle) -> None:
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] in ("unplug", "replug", "garbage"):
                getattr(dev, words[0])()
            else:
                handle(words)
        except Exception as exc:  # a typo must not end the demo
            print(f"? {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hardware.emulators")
    sub = ap.add_subparsers(dest="device", required=True)
    pr = sub.add_parser("printer", help="TCP ESC/POS capture printer")
    pr.add_argument("--host", default="127.0.0.1")
    pr.add_argument("--port", type=int, default=9100)
    pr.add_argument("--save-dir", default=None, help="save each job (.bin) and its raster preview (.png)")
    for name in ("keypad", "ledboard", "ratingpad"):
        p = sub.add_parser(name)
        p.add_argument("--path", default=f"/tmp/qms-{name}", help="stable path of the pty (symlink)")
        if name == "keypad":
            p.add_argument("--protocol", choices=("frame", "line"), default="frame")
    args = ap.parse_args(argv)

    if args.device == "printer":
        counter = [0]

        def on_job(job: bytes) -> None:
            counter[0] += 1
            print(f"--- job {counter[0]}: {len(job)} bytes ---\n{decode_text(job).strip()}", flush=True)
            for url in qr_payloads(job):
                print(f"[QR] {url}", flush=True)
            if args.save_dir:
                import os

                os.makedirs(args.save_dir, exist_ok=True)
                with open(os.path.join(args.save_dir, f"job-{counter[0]:04d}.bin"), "wb") as fh:
                    fh.write(job)
                for i, img in enumerate(raster_images(job)):
                    img.save(os.path.join(args.save_dir, f"job-{counter[0]:04d}-{i:02d}.png"))

        with PrinterEmulator(args.host, args.port, on_job=on_job) as emu:
            print(f"printer emulator on {emu.url}", flush=True)
            _wait_forever()
        return 0

    if args.device == "keypad":
        with KeypadEmulator(args.path, args.protocol) as dev:
            print(f"keypad emulator ({args.protocol}) at {dev.path}", flush=True)
            _stdin_commands(dev, lambda w: dev.press(int(w[0]), w[1], w[2] if len(w) > 2 else None))
        return 0
    if args.device == "ratingpad":
        with RatingPadEmulator(args.path) as dev:
            print(f"rating pad emulator at {dev.path}", flush=True)
            _stdin_commands(dev, lambda w: dev.press(int(w[0]), int(w[1])))
        return 0
    with LedBoardEmulator(args.path) as dev:
        print(f"LED bus emulator at {dev.path}", flush=True)
        seen = [0]

        def report(_data: bytes) -> None:
            if dev.frames != seen[0]:
                seen[0] = dev.frames
                print(f"counters={dev.counters} boards={ {a: dev.lines(a) for a in dev.boards} }", flush=True)

        dev.on_bytes = (lambda orig: lambda data: (orig(data), report(data)))(dev.on_bytes)
        _wait_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
