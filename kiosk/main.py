"""`qms kiosk`: start the touchscreen kiosk.

    qms kiosk --server http://SERVER:5000 --token KIOSK_TOKEN \\
              [--printer tcp://192.168.1.60:9100 --profile TM-T20II] [--fullscreen] [--portrait]

`run(argv)` is the entry point the `qms` command calls; it returns the exit code.
"""

from __future__ import annotations

import os
import sys

from .settings import settings_from_args


def configure_kivy(settings) -> None:
    """Window and input settings; must run before kivy.core.window is imported."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    width, height = settings.window_size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("graphics", "resizable", "0" if settings.fullscreen else "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red dots on right click
    Config.set("kivy", "exit_on_escape", "0" if settings.fullscreen else "1")


def run(argv: list[str] | None = None) -> int:
    try:
        settings, args = settings_from_args(argv)
    except (ValueError, OSError) as exc:
        print(f"qms kiosk: {exc}", file=sys.stderr)
        return 2
    configure_kivy(settings)
    from .app import KioskApp

    app = KioskApp(settings)
    if args.script:
        from .driver import attach

        attach(app, args.script)
    app.run()
    return getattr(app, "exit_code", 0)


if __name__ == "__main__":
    sys.exit(run())
