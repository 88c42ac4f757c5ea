"""Kiosk settings: command-line flags plus an optional kiosk TOML or JSON file.

Example ``kiosk.toml`` (every key optional)::

    popular = ["1.001193", "1.000894", "2.000815"]   # Home's big buttons, in order
    fields = ["Hộ tịch", "Chứng thực", "Đất đai"]     # Home's field buttons (default: largest)
    priorities = ["elderly", "disabled", "pregnant", "child_under_6", "meritorious"]
    language = "vi"            # screen language at rest: vi | en
    ticket_language = "vi"     # printed ticket
    idle_home_s = 60           # no touch for this long: back to Home
    screensaver_s = 120        # no touch for this long on Home: the notices screensaver
    ticket_home_s = 25         # the ticket screen returns Home after this long
    elderly_age = 60           # a scanned CCCD this old or older is offered elderly priority
    synonyms = "/etc/qms/synonyms.txt"
    cache_dir = "/var/cache/qms-kiosk"   # last catalogue, for a start without the server
    voice = true               # the accessible mode reads each step aloud (espeak-ng -v vi)
    voice_speed = 140          # words per minute (80-260)
    voice_player = "aplay -q"  # play espeak-ng's WAV through this (default: espeak-ng's own)
    voice_dir = "/tmp/voice"   # write the speech to WAV files instead (tests, recordings)

No Kivy here.
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from common.vocabulary import PRIORITY_CLASSES

DEFAULT_POPULAR = ("1.001193", "1.000894", "2.000815", "1.004222", "1.014063", "1.001612")


@dataclass
class KioskSettings:
    server: str = "http://127.0.0.1:5000"
    token: str = ""
    printer: str | None = None
    profile: str | None = None
    printer_mode: str | None = None
    fullscreen: bool = False
    portrait: bool = False
    size: tuple[int, int] | None = None
    popular: list[str] = field(default_factory=lambda: list(DEFAULT_POPULAR))
    fields: list[str] = field(default_factory=list)
    field_buttons: int = 6
    priorities: list[str] = field(default_factory=lambda: list(PRIORITY_CLASSES))
    language: str = "vi"
    ticket_language: str = "vi"
    idle_home_s: float = 60.0
    screensaver_s: float = 120.0
    ticket_home_s: float = 25.0
    synonyms: str | None = None
    cache_dir: str | None = None
    http_timeout_s: float = 5.0
    elderly_age: int = 60  # the CCCD scan's elderly priority offer (Luật Người cao tuổi: 60)
    voice: bool = True
    voice_speed: int = 140
    voice_player: str | None = None
    voice_dir: str | None = None

    @property
    def window_size(self) -> tuple[int, int]:
        if self.size:
            return self.size
        return (800, 1280) if self.portrait else (1280, 800)

    def validate(self) -> KioskSettings:
        if not self.token:
            raise ValueError("a kiosk device token is required (--token or QMS_KIOSK_TOKEN)")
        bad = [p for p in self.priorities if p not in PRIORITY_CLASSES]
        if bad:
            raise ValueError(f"unknown priority classes {bad}; known: {PRIORITY_CLASSES}")
        if self.language not in ("vi", "en") or self.ticket_language not in ("vi", "en"):
            raise ValueError("language must be vi or en")
        for name in ("idle_home_s", "screensaver_s", "ticket_home_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 80 <= int(self.voice_speed) <= 260:
            raise ValueError("voice_speed must be 80-260 words per minute")
        if not 40 <= self.elderly_age <= 100:
            raise ValueError("elderly_age must be between 40 and 100")
        return self


def load_file(path: str | os.PathLike[str]) -> dict:
    """Read a kiosk TOML or JSON file; a ``[kiosk]`` table is used when present."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    if isinstance(data.get("kiosk"), dict):
        data = data["kiosk"]
    known = {f.name for f in fields(KioskSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown kiosk settings {unknown}")
    if "size" in data and data["size"]:
        data["size"] = tuple(int(x) for x in data["size"])
    return data


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="qms kiosk",
        description="Máy lấy số thứ tự (touchscreen kiosk): procedure lookup and tickets")
    ap.add_argument("--server", help="server URL, e.g. http://192.168.1.10:5000")
    ap.add_argument("--token", help="kiosk device token (or env QMS_KIOSK_TOKEN)")
    ap.add_argument("--printer", help="ticket printer URL: tcp://HOST:9100, serial:///dev/ttyUSB0,"
                                      " usb://VID:PID, file:///dev/usb/lp0, dummy:")
    ap.add_argument("--profile", help="printer profile: TM-T20II (80 mm), POS-5890 (58 mm)")
    ap.add_argument("--printer-mode", choices=("raster", "cp1258"), default=None)
    ap.add_argument("--config", help="kiosk settings file (TOML or JSON)")
    ap.add_argument("--fullscreen", action="store_true", default=None)
    ap.add_argument("--portrait", action="store_true", default=None)
    ap.add_argument("--size", help="window size WxH (default 1280x800, portrait 800x1280)")
    ap.add_argument("--language", choices=("vi", "en"), default=None)
    ap.add_argument("--cache-dir", help="where the last catalogue is kept")
    ap.add_argument("--voice-dir", help="write the accessible mode's speech to WAV files in "
                                        "this folder instead of the speaker")
    ap.add_argument("--script", help=argparse.SUPPRESS)  # scripted touches (kiosk.driver)
    return ap


def settings_from_args(argv: list[str] | None = None,
                       env: dict[str, str] | None = None) -> tuple[KioskSettings, argparse.Namespace]:
    """Settings from defaults < config file < environment < flags."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    data: dict = {}
    if args.config:
        data.update(load_file(args.config))
    if env.get("QMS_KIOSK_TOKEN"):
        data["token"] = env["QMS_KIOSK_TOKEN"]
    for name in ("server", "token", "printer", "profile", "printer_mode", "fullscreen",
                 "portrait", "language", "cache_dir", "voice_dir"):
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    if args.size:
        w, _, h = args.size.lower().partition("x")
        data["size"] = (int(w), int(h))
    settings = KioskSettings(**data)
    settings.server = settings.server.rstrip("/")
    return settings.validate(), args
