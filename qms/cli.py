"""`qms` — the one command line: init, import-procedures, user, device, serve, demo,
printer, kiosk, bridge, simulate; the province's site, sync, backup, restore, central and
province-demo (qms/province.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DATA_DIR_DEFAULT = os.environ.get("QMS_DATA_DIR", "var")


def _store_and_config(data_dir: Path):
    from server.setup import open_store

    return open_store(data_dir)


def cmd_init(args) -> int:
    from server.setup import init_centre

    init_centre(Path(args.data_dir), demo_centre=args.demo, force=args.force,
                public_url=args.public_url, say=print, site=args.site)
    return 0


def cmd_import(args) -> int:
    from server.errors import QMSError
    from server.importer import import_procedures

    store, cfg = _store_and_config(Path(args.data_dir))

    def progress(i, total):
        if i == total or i % 50 == 0:
            width = 30
            done = int(width * i / max(total, 1))
            sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{total}")
            if i == total:
                sys.stderr.write("\n")

    try:
        n = import_procedures(store, cfg, Path(args.file), progress=progress)
    except QMSError as err:
        sys.stderr.write(f"\nerror: {err.message}\nnothing was imported\n")
        return 2
    print(f"imported {n} procedures")
    return 0


def _accounts(args):
    from server.setup import accounts

    return accounts(Path(args.data_dir))


def cmd_user_add(args) -> int:
    _accounts(args).add_user(args.name, args.role, args.password, args.counter or [],
                             args.full_name or "")
    print(f"user {args.name} ({args.role}) saved")
    return 0


def cmd_device_add(args) -> int:
    _, device = _accounts(args).add_device(args.name, args.kind, args.counter or [],
                                           args.site)
    print(f"device {args.name} ({args.kind}); token (shown once):")
    print(device["token"])
    return 0


def _gevent_reexec() -> None:
    """Run the server on gevent: the standard library must be patched before anything
    imports it, so re-execute this command with QMS_ASYNC_MODE=gevent (see qms/__main__)."""
    if os.environ.get("QMS_ASYNC_MODE"):
        return
    env = dict(os.environ, QMS_ASYNC_MODE="gevent")
    os.execve(sys.executable, [sys.executable, "-m", "qms", *sys.argv[1:]], env)


def cmd_serve(args) -> int:
    _gevent_reexec()
    from server import serving

    from .app import create_app

    app = create_app({"DATA_DIR": args.data_dir})
    return serving.run(app, args.host, args.port, args.verbose)


def cmd_printer_test(args) -> int:
    from hardware.printer import main_printer_test

    argv = [args.url]
    if args.profile:
        argv += ["--profile", args.profile]
    if args.mode:
        argv += ["--mode", args.mode]
    return main_printer_test(argv)


def cmd_kiosk(args) -> int:
    from kiosk.main import run

    return run(args.args)


def cmd_display_led(args) -> int:
    from display_board.led_bridge import main as led_main

    return led_main(args.args) or 0


def cmd_bridge(args) -> int:
    from counter.bridge import run

    return run(args.server, args.token, args.config)


def cmd_demo(args) -> int:
    from server.setup import init_demo_centre
    from tools.demo_run import public_url_for, run, set_public_url

    data_dir = Path(args.data_dir)
    public_url = args.public_url or public_url_for(args.host, args.port)
    if not (data_dir / "demo-tokens.json").exists():
        init_demo_centre(data_dir, public_url=public_url)
    else:
        set_public_url(data_dir, public_url)  # the QR codes follow the address given now
    return run(data_dir, args.host, args.port, simulate=not args.no_simulate, kiosk=args.kiosk,
               public_url=public_url)


def cmd_simulate(args) -> int:
    from tools.simulate.runner import run

    return run(["--data-dir", args.data_dir, *args.args])  # a later --data-dir wins


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qms", description=__doc__)
    p.add_argument("--data-dir", default=DATA_DIR_DEFAULT,
                   help="data folder (default ./var, env QMS_DATA_DIR)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create the database and configuration")
    s.add_argument("--demo", action="store_true", help="load the demo centre")
    s.add_argument("--force", action="store_true", help="overwrite centre.toml")
    s.add_argument("--public-url", default="http://127.0.0.1:5000")
    s.add_argument("--site", help="this hall's site id for the province's central server")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("import-procedures", help="import a procedure catalogue (.csv/.xlsx)")
    s.add_argument("file")
    s.set_defaults(fn=cmd_import)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="sub",
                                                                       required=True)
    s = user.add_parser("add")
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=["officer", "manager", "admin"])
    s.add_argument("--password", required=True)
    s.add_argument("--counter", type=int, action="append")
    s.add_argument("--full-name")
    s.set_defaults(fn=cmd_user_add)

    dev = sub.add_parser("device", help="manage devices").add_subparsers(dest="sub",
                                                                          required=True)
    s = dev.add_parser("add")
    s.add_argument("name")
    s.add_argument("--kind", required=True, choices=["kiosk", "display", "bridge"])
    s.add_argument("--counter", type=int, action="append")
    s.add_argument("--site", default="main")
    s.set_defaults(fn=cmd_device_add)

    printer = sub.add_parser("printer", help="ticket printers").add_subparsers(
        dest="sub", required=True)
    s = printer.add_parser("test", help="print a test ticket (Vietnamese pangram + QR code)")
    s.add_argument("url", help="tcp://HOST:9100, serial:///dev/ttyUSB0?baudrate=19200, "
                               "usb://VID:PID, file:///dev/usb/lp0 or dummy:")
    s.add_argument("--profile", help="python-escpos profile, e.g. TM-T20II or POS-5890")
    s.add_argument("--mode", choices=["raster", "cp1258"])
    s.set_defaults(fn=cmd_printer_test)

    s = sub.add_parser("kiosk", help="run the Kivy kiosk (needs the `kiosk` extra); "
                                     "its options: qms kiosk --help", add_help=False)
    s.set_defaults(fn=cmd_kiosk, passthrough=True)

    s = sub.add_parser("display-led", help="drive hall LED wall boards from the live queue; "
                                           "its options: qms display-led --help",
                       add_help=False)
    s.set_defaults(fn=cmd_display_led, passthrough=True)

    s = sub.add_parser("bridge", help="counter device bridge: keypads, LEDs, rating pads")
    s.add_argument("--server", help="the server's URL (default: [bridge] server)")
    s.add_argument("--token", help="the bridge's device token "
                                   "(default: $QMS_BRIDGE_TOKEN or [bridge] token)")
    s.add_argument("--config", required=True, help="bridge.toml (see docs/counter.md)")
    s.set_defaults(fn=cmd_bridge)

    s = sub.add_parser("simulate", help="drive a simulated day through a server; "
                                        "its options: qms simulate --help", add_help=False)
    s.set_defaults(fn=cmd_simulate, passthrough=True)

    for name, fn, text in (("serve", cmd_serve, "run the server"),
                           ("demo", cmd_demo, "the demo centre with emulated devices and a "
                                              "simulated day")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=5000)
        s.add_argument("--verbose", action="store_true")
        if name == "demo":
            s.add_argument("--no-simulate", action="store_true",
                           help="do not run a simulated day")
            s.add_argument("--kiosk", action=argparse.BooleanOptionalAction, default=None,
                           help="start the Kivy kiosk (default: when $DISPLAY is set)")
            s.add_argument("--public-url", default=None,
                           help="the address the QR codes on tickets and pages point at, e.g. "
                                "http://192.168.1.20:5000 so a phone on the LAN can open them "
                                "(default: the LAN address with --host 0.0.0.0, else "
                                "http://HOST:PORT)")
        s.set_defaults(fn=fn)
    from .province import add_parsers  # site, sync, backup, restore, central, province-demo

    add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        args.args = extra  # the kiosk has its own options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from server.errors import QMSError

    try:
        return args.fn(args) or 0
    except QMSError as err:  # a bad name, role, password...: say so, no traceback
        sys.stderr.write(f"error: {err.message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
