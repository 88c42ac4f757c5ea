"""Device emulators for tests and `make demo`: printer (TCP), keypad, LED board, rating pad (pty)."""

from .printer_server import PrinterEmulator

__all__ = ["PrinterEmulator"]
