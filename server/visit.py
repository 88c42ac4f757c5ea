"""Several steps under one number (issue #15, docs/visit.md): plain Python, no Flask, no SQL.

A visit's route (`server.config.Route`) becomes the ticket's steps (a "fee" step left out when
the procedure has no fee); finishing a step sends the ticket to the next step's team, keeping
its number and its place by arrival (`wait_from`), like a transfer; a visit that has ended
moves nowhere. The service (`server/service.py`) writes the result with its event.
"""

from __future__ import annotations

import re

from common.text import strip_marks

from .config import Route
from .errors import IllegalMove
from .rules import ACTIVE, Ticket, require

#: a fee text that means "no fee" (no diacritics, lower case): "Miễn phí ...",
#: "Miễn lệ phí", "Không thu phí", "0", "0 đồng"
_NO_FEE = re.compile(r"\s*(?:mien (?:phi|le phi)|khong (?:thu |co |mat )?(?:phi|le phi)"
                     r"|0+\s*(?:dong|d|vnd)?\s*$)")
#: an amount of money in a fee text ("135.000 đồng", "50.000đ"; no diacritics)
_AMOUNT = re.compile(r"(?<![\d/])[1-9][\d.,]*\s*(?:dong|d|vnd)\b")
FINISHED = ("done", "no_show", "cancelled")
STATUS_VI = {"done": "đã xong", "no_show": "vắng mặt", "cancelled": "đã huỷ"}


def has_fee(procedure: dict | None) -> bool:
    """Whether a visit's "fee" step is kept. The catalogue's clean fields first (`fee_free`,
    `fee_amount`: migration m015) when present, else the fee text, conservatively: empty,
    "Miễn phí ...", "Miễn lệ phí", "Không thu phí" or 0 mean no fee; any other text keeps the
    step (a needless walk to the fee desk costs less than a fee never collected), as does
    "Miễn phí (Lệ phí ...: 135.000 đồng)" naming an amount, and a ticket without a
    procedure (nothing is known of its fee)."""
    if procedure is None:
        return True
    if procedure.get("fee_free") is not None:
        return not procedure["fee_free"]
    for key in ("fee_amount_max", "fee_amount"):
        if procedure.get(key) is not None:
            return procedure[key] > 0
    text = strip_marks(procedure.get("fee") or "").lower().strip()
    return bool(text) and not (_NO_FEE.match(text) and not _AMOUNT.search(text))


def visit_steps(route: Route, fee: bool, team_names: dict[int, str]) -> tuple[list[dict],
                                                                             list[dict]]:
    """The steps of one visit by `route` (each {"team_id", "kind", "name"}) and the steps
    left out: a "fee" step when the procedure has no fee."""
    kept, skipped = [], []
    for step in route.steps:
        item = {"team_id": step.team, "kind": step.kind,
                "name": step.label if step.name or step.kind != "other"
                else team_names.get(step.team, step.label)}
        (skipped if step.kind == "fee" and not fee else kept).append(item)
    return kept, skipped


def step_info(ticket: Ticket, steps: list[dict]) -> dict | None:
    """{"index" (from 1), "count", "name", "kind"} of the ticket's step; None for a visit of
    one step."""
    if len(steps) < 2:
        return None
    index = min(ticket.step, len(steps) - 1)
    return {"index": index + 1, "count": len(steps), "name": steps[index]["name"],
            "kind": steps[index]["kind"]}


def next_step(ticket: Ticket, steps: list[dict]) -> dict | None:
    """The step after the ticket's current one (None at the last step or without a route,
    and once the visit ended)."""
    if ticket.status in FINISHED or ticket.step + 1 >= len(steps):
        return None
    return steps[ticket.step + 1]


def check_movable(ticket: Ticket) -> Ticket:
    """A ticket whose visit ended (done, absent, cancelled) moves to no other step."""
    if ticket.status in FINISHED:
        raise IllegalMove(f"Số {ticket.number} {STATUS_VI[ticket.status]}, không chuyển sang "
                          f"bước khác được (the visit of ticket {ticket.number} has ended: "
                          f"{ticket.status})", code="ticket_closed")
    return ticket


def move_step(ticket: Ticket | None, counter: int, steps: list[dict]) -> Ticket:
    """Send the ticket being served at `counter` to its next step: it waits at that step's
    team keeping its number and its place by arrival (`wait_from`), like a transfer."""
    if ticket is not None:
        check_movable(ticket)
    t = require(ticket, counter, ACTIVE, "next-step")
    if t.step + 1 >= len(steps):
        raise IllegalMove(
            f"Số {t.number} không còn bước nào sau bước này: bấm “Xong” để kết thúc (no step "
            f"after this one: finish the ticket)" if len(steps) > 1 else
            f"Số {t.number} không có lộ trình nhiều bước (ticket {t.number} has no route of "
            f"several steps)", code="no_next_step")
    t.step += 1
    t.team_id = steps[t.step]["team_id"]
    t.status = "waiting"
    t.counter = None
    t.target_counter = None
    t.started_at = None
    return t
