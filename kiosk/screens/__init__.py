"""The kiosk's screens: one Screen per .py/.kv pair, layouts in the .kv files."""

from __future__ import annotations


def load_screens() -> list:
    from .access import AccessDetailScreen, AccessHomeScreen, AccessTicketScreen
    from .browse import BrowseScreen
    from .checkin import CheckinScreen
    from .detail import DetailScreen
    from .home import HomeScreen
    from .lookup import LookupScreen
    from .message import MessageScreen
    from .saver import SaverScreen
    from .search import SearchScreen
    from .ticket import TicketScreen

    return [HomeScreen(name="home"), SearchScreen(name="search"), BrowseScreen(name="browse"),
            DetailScreen(name="detail"), TicketScreen(name="ticket"),
            MessageScreen(name="message"), SaverScreen(name="saver"),
            CheckinScreen(name="checkin"), LookupScreen(name="lookup"),
            AccessHomeScreen(name="access_home"), AccessDetailScreen(name="access_detail"),
            AccessTicketScreen(name="access_ticket")]


def visible(widget, show: bool, height=None) -> None:
    """Show or hide a widget in a box layout without removing it."""
    widget.opacity = 1 if show else 0
    widget.disabled = not show
    if height is not None:
        widget.height = height if show else 0
