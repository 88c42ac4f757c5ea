"""The citizen's booking page on the phone (`/dat-lich`, issue #15): see `routes.py`."""

from .routes import bp

__all__ = ["bp"]
