"""Device emulators for tests and `make demo`: printer (TCP), keypad, LED boards, rating pads (pty).

    python -m hardware.emulators printer --port 9100
    python -m hardware.emulators keypad --path /tmp/qms-keypad [--protocol line]
    python -m hardware.emulators ledboard --path /tmp/qms-led
    python -m hardware.emulators ratingpad --path /tmp/qms-rating
"""

from .printer_server import PrinterEmulator
from .pty_device import PtyDevice
from .serial_devices import KeypadEmulator, LedBoardEmulator, RatingPadEmulator

__all__ = ["PrinterEmulator", "PtyDevice", "KeypadEmulator", "LedBoardEmulator", "RatingPadEmulator"]
