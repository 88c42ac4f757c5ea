"""Ticket: the number very large, team, counters, people ahead, wait, QR, print status."""

from __future__ import annotations

import os

import qrcode
from kivy.app import App
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.screenmanager import Screen

from ..i18n import counters_text, short_name, tr, wait_text
from ..visit import booking_line
from . import visible

Builder.load_file(os.path.join(os.path.dirname(__file__), "ticket.kv"))


def qr_texture(url: str, scale: int = 8) -> Texture:
    """A QR code of `url` as a Kivy texture (black on white, nearest-neighbour scaled)."""
    code = qrcode.QRCode(box_size=scale, border=2,
                         error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    img = code.make_image().get_image().convert("RGB")
    tex = Texture.create(size=img.size, colorfmt="rgb")
    tex.blit_buffer(img.transpose(1).tobytes(), colorfmt="rgb", bufferfmt="ubyte")  # flip
    tex.mag_filter = tex.min_filter = "nearest"
    return tex


class TicketView(Screen):
    """The ticket's logic, shared by the normal screen and the accessible one (each has its
    own .kv rule with the same ids)."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(ticket=self.refresh, lang=self.refresh, print_state=self.refresh_print,
                 print_message=self.refresh_print, countdown=self.refresh_countdown)

    def on_pre_enter(self, *_):
        self.refresh()

    def refresh(self, *_):
        app = App.get_running_app()
        t, lang = app.ticket, app.lang
        if not t:
            return
        ids = self.ids
        ids.number.text = str(t.get("number", ""))
        slot = booking_line(t, lang)  # a checked-in booking (issue #15): its slot
        ids.procedure.text = short_name(t.get("procedure_name") or "") + (f"\n{slot}" if slot else "")
        ids.team.text = app.queue.team_name(t.get("team_id"), t.get("team_name") or "", lang)
        ids.counters.text = tr("ticket_counters", lang, counters=counters_text(t.get("counters") or []))
        ahead = t.get("waiting_ahead") or 0
        ids.ahead.text = tr("ticket_ahead", lang, n=ahead)
        if t.get("no_counter_open"):  # no wait promised while nobody can call the number
            ids.wait.text = tr("no_counter_open", lang)
        else:
            ids.wait.text = tr("ticket_wait", lang, wait=wait_text(t.get("estimated_wait_s"), lang))
        url = t.get("status_url") or ""
        if url and getattr(self, "_qr_url", None) != url:
            ids.qr.texture = qr_texture(url)
            self._qr_url = url
        self.refresh_print()

    def refresh_print(self, *_):
        app = App.get_running_app()
        lang, state = app.lang, app.print_state
        ids = self.ids
        if state == "printing":
            text, color = tr("ticket_printing", lang), (0.05, 0.28, 0.63, 1)
        elif state == "printed":
            text, color = tr("ticket_printed", lang), (0.0, 0.45, 0.2, 1)
        elif state == "failed":
            text = tr("ticket_print_failed", lang, printer=app.print_message)
            color = (0.75, 0.10, 0.10, 1)
        else:
            text, color = tr("ticket_no_printer", lang), (0.10, 0.14, 0.20, 1)
        ids.print_status.text = text
        ids.print_status.color = color
        visible(ids.reprint, state == "failed", dp(84))

    def refresh_countdown(self, *_):
        app = App.get_running_app()
        self.ids.countdown.text = tr("auto_home", app.lang, s=int(app.countdown))


class TicketScreen(TicketView):
    pass
