"""The shared vocabulary, defined once: event types, the events that call a number, and
the priority classes with their labels.

The server emits the events and checks a ticket's priority class; the bridges, the kiosk,
the pages' Python side and the tools read them. Imports nothing else of the project. The
web pages' JavaScript keeps its own copies of the strings it needs;
tests/test_vocabulary.py checks that they are spelled as here.
"""

from __future__ import annotations

# -- events -------------------------------------------------------------------------------
# Every change of the centre's state is one event row `{"type": ..., "seq": ..., ...}`.

TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_STARTED = "ticket.started"
TICKET_FINISHED = "ticket.finished"
TICKET_NO_SHOW = "ticket.no_show"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_RATED = "ticket.rated"
TICKET_CANCELLED = "ticket.cancelled"
#: a visit of several steps (issue #15): the step served at a counter is over and the ticket
#: waits, under the same number and its place by arrival, at the next step's team
TICKET_STEP_MOVED = "ticket.step_moved"

COUNTER_OPENED = "counter.opened"  # also when a paused counter resumes
COUNTER_PAUSED = "counter.paused"
COUNTER_CLOSED = "counter.closed"

#: a team's number band is nearly used up (the issue that used 90 % of it), and its last number
#: was issued (the next issue is refused): each once a day, for staff only, never citizens
TEAM_BAND_LOW = "team.band_low"
TEAM_BAND_EXHAUSTED = "team.band_exhausted"

#: appointments (issue #15): staff only, never citizens' screens; no phone, no CCCD, no hash
BOOKING_CREATED = "booking.created"
BOOKING_CHANGED = "booking.changed"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_CHECKED_IN = "booking.checked_in"  # on time or late (`late`), with the ticket it became
BOOKING_EXPIRED = "booking.expired"  # never used: a no-show at the day's close

DEVICE_STATUS = "device.status"  # a device (or a part of it, e.g. a kiosk's printer) changed state
CONFIG_CHANGED = "config.changed"

#: a ticket's steps, in the order of its life
TICKET_EVENTS = (TICKET_ISSUED, TICKET_CALLED, TICKET_RECALLED, TICKET_STARTED, TICKET_FINISHED,
                 TICKET_NO_SHOW, TICKET_TRANSFERRED, TICKET_RATED, TICKET_CANCELLED,
                 TICKET_STEP_MOVED)
COUNTER_EVENTS = (COUNTER_OPENED, COUNTER_PAUSED, COUNTER_CLOSED)
TEAM_EVENTS = (TEAM_BAND_LOW, TEAM_BAND_EXHAUSTED)
BOOKING_EVENTS = (BOOKING_CREATED, BOOKING_CHANGED, BOOKING_CANCELLED, BOOKING_CHECKED_IN,
                  BOOKING_EXPIRED)
#: every event type the server emits
EVENT_TYPES = (TICKET_EVENTS + COUNTER_EVENTS + TEAM_EVENTS + (DEVICE_STATUS, CONFIG_CHANGED)
               + BOOKING_EVENTS)

#: the events that mean "a number is called to a counter": the hall board, the voice and
#: the LED walls show and announce these, and the "last calls" of a snapshot are these
CALL_TYPES = (TICKET_CALLED, TICKET_RECALLED)

# -- priority classes -----------------------------------------------------------------------
# Citizens who go first without starving others (the policy is in the centre's configuration).

PRIORITY_CLASSES = ("elderly", "disabled", "pregnant", "child_under_6", "meritorious")
PRIORITY_LABELS = {
    "vi": {
        "elderly": "Người cao tuổi",
        "disabled": "Người khuyết tật",
        "pregnant": "Phụ nữ mang thai",
        "child_under_6": "Người đưa trẻ em dưới 6 tuổi",
        "meritorious": "Người có công với cách mạng",
    },
    "en": {
        "elderly": "Elderly person",
        "disabled": "Person with disability",
        "pregnant": "Pregnant woman",
        "child_under_6": "With a child under 6",
        "meritorious": "Person of merit (revolution)",
    },
}
PRIORITY_LABELS_VI = PRIORITY_LABELS["vi"]
PRIORITY_LABELS_EN = PRIORITY_LABELS["en"]
