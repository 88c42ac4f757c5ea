"""What the hall knows about its procedures, as ranking numbers for the search engine.

The popularity of a procedure is how often citizens chose it: every ticket that carries
its code counts, recent weeks more than old ones (exponential decay, half-life
`HALF_LIFE_DAYS`): a ticket issued today counts 1, four weeks ago ½, eight weeks ago ¼.
Tickets older than `WINDOW_DAYS` are not read at all (they would count < 1/90).

The engine ranks by a coarse popularity *class*, ``floor(log2(1 + popularity))``: a
procedure chosen about twice as often as another wins a tie between them, but small
differences (12.3 against 11.8) do not override the other tie-breakers (fewer words,
shorter name). A procedure nobody chose is in class 0, like every procedure of a new
centre: ranking then depends on the words alone.

Plain Python: the server's storage computes popularity with one read query over the
ticket history (`server/storage/catalog.py`), the kiosk receives it with the catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .textindex import folded_words

HALF_LIFE_DAYS = 28.0  # 4 weeks
WINDOW_DAYS = 182  # 26 weeks: older tickets would weigh less than 1/90
PRECISION = 3  # decimals of the popularity value served (and ranked on)


def decay(age_days: float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """The weight of a ticket issued `age_days` ago (1.0 today, 0.5 one half-life ago)."""
    return 0.5 ** (max(0.0, age_days) / half_life_days)


def popularity(counts: Iterable[tuple[str, float, int]],
               half_life_days: float = HALF_LIFE_DAYS) -> dict[str, float]:
    """{code: decayed number of tickets} from (code, age in days, tickets) rows."""
    out: dict[str, float] = {}
    for code, age, n in counts:
        if code:
            out[code] = out.get(code, 0.0) + n * decay(age, half_life_days)
    return {code: round(value, PRECISION) for code, value in out.items() if value > 0}


def popularity_class(value: Any) -> int:
    """Coarse popularity: 0 for none, then one class per doubling."""
    try:
        v = float(value or 0)
    except (TypeError, ValueError):
        return 0
    if not v > 0 or math.isinf(v):
        return 0
    return int(math.log2(1.0 + v))


def static_key(proc: dict[str, Any], words: list[str] | None = None) -> tuple:
    """A procedure's rank when its match is as good as another's: more popular first,
    then fewer words, then a shorter name ("Thủ tục ..." not counted), then A-Z, code.
    `words`: the name's folded words, when already at hand."""
    return (-popularity_class(proc.get("popularity")), *plain_key(proc, words))


def plain_key(proc: dict[str, Any], words: list[str] | None = None) -> tuple:
    """`static_key` without the popularity."""
    if words is None:
        words = folded_words(str(proc.get("name") or ""))
    name = " ".join(words)
    short = name[8:] if name.startswith("thu tuc ") else name
    return (short.count(" "), len(short), short, str(proc.get("code") or ""))
