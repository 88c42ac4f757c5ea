"""Procedure detail: what to bring, time, fees, where it is received, the queue now; "Lấy số"."""

from __future__ import annotations

import os

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from ..i18n import counters_text, days_text, procedure_meta, short_name, tr, wait_text

Builder.load_file(os.path.join(os.path.dirname(__file__), "detail.kv"))


class DetailView(Screen):
    """The detail's logic, shared by the normal screen and the accessible one (each has its
    own .kv rule with the same ids)."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(procedure=self.refresh, lang=self.refresh, queue_rev=self.refresh_queue,
                 priority=self.refresh_queue, issuing=self.refresh_queue)

    def on_pre_enter(self, *_):
        self.refresh()
        self.ids.scroll.scroll_y = 1

    def refresh(self, *_):
        app = App.get_running_app()
        proc, lang = app.procedure, app.lang
        if not proc:
            return
        ids = self.ids
        ids.name.text = short_name(proc.get("name", ""))
        ids.meta.text = procedure_meta(proc, lang)
        docs = [d for d in proc.get("documents") or [] if d]
        ids.documents.text = ("\n".join(f"•  {d}" for d in docs) if docs
                              else tr("detail_no_documents", lang))
        ids.days.text = days_text(proc.get("processing_days"), lang)
        ids.fee.text = str(proc.get("fee") or tr("detail_fee_none", lang))
        self.refresh_queue()

    def refresh_queue(self, *_):
        app = App.get_running_app()
        proc, lang = app.procedure, app.lang
        if not proc:
            return
        team = app.team_info(proc.get("team_id"))
        ids = self.ids
        closed = team is not None and team.no_counter_open
        if team is not None:
            name = team.name_en if lang == "en" and team.name_en else team.name
            ids.where.text = f"{name}\n{tr('detail_counters', lang, counters=counters_text(team.counters))}"
            if closed:  # honest: no wait promised while nobody can call the number
                ids.waiting.text = tr("detail_waiting_closed", lang, n=team.waiting)
            else:
                ids.waiting.text = tr("detail_waiting", lang, n=team.waiting,
                                      wait=wait_text(team.estimated_wait_s, lang))
        else:
            ids.where.text = ""
            ids.waiting.text = tr("detail_waiting_unknown", lang)
        # warned before the number is taken, next to the button
        ids.warning.text = tr("detail_closed_warning", lang) if closed else ""
        ids.priority.text = (tr("priority_chosen", lang, label=app.priority_label(app.priority))
                             if app.priority else "")
        ids.take.text = tr("issuing", lang) if app.issuing else tr("take_number", lang)


class DetailScreen(DetailView):
    pass
