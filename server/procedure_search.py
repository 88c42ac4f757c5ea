"""`GET /api/v1/procedures?q=`: the one search engine (`common.search`, the kiosk's too) over
the store's catalogue, ranked with what the hall knows.

- The index is built from `store.procedures()` on the first search and rebuilt only when
  `store.catalogue_version()` changes (an import, an edit or a routing -- each writes a
  `config.changed` event with `what: procedures` -- in this process or in another one on
  the same database file). Building happens outside the store's lock.
- Popularity: how often each procedure was chosen, from the ticket history (every ticket
  carries its procedure code), recent weeks weighted more (`common.search.ranking`: half-life
  4 weeks, 26 weeks read). The history is read once, in chunks of `CHUNK_IDS` tickets, and
  then only the tickets issued since (`store.procedure_uses`: one read query over a range of
  the primary key), at most every `REFRESH_S` seconds -- never on every keystroke. New
  values re-rank the index without rebuilding it.
- Procedures are one catalogue per server (not per site), so there is one index per store;
  popularity counts the tickets of every site of the hall. A search keeps one index per
  open store (weakly held: a closed store's goes with it).

Items keep the shape of the catalogue listing (`store.procedures()` rows) plus
`popularity` (decayed number of tickets, 3 decimals): the kiosk downloads the catalogue
with it and ranks exactly as the server does.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from datetime import date, timedelta

from common.search import SearchIndex, popularity
from common.search.ranking import HALF_LIFE_DAYS, WINDOW_DAYS

REFRESH_S = 300.0  # popularity is read again at most this often
CATCH_UP_S = 1.0  # ...or this often while the history is still being read
CHUNK_IDS = 50_000  # tickets read per refresh (~40 ms on a busy centre's history)


class ProcedureSearch:
    """The cached index and popularity of one store."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 refresh_s: float = REFRESH_S) -> None:
        self.clock = clock
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._version: tuple | None = None
        self._uses: dict[tuple[str, str], int] = {}  # (code, day) -> tickets
        self._after_id: int | None = None  # the last ticket id read
        self._caught_up = False
        self._next_read = float("-inf")
        self._popularity: dict[str, float] = {}
        self._applied: dict[str, float] | None = None  # what the index is ranked with
        self.builds = 0  # how many times the index was built (tests, diagnostics)
        self.reads = 0  # how many times the ticket history was read

    # -- answers ------------------------------------------------------------------------------
    def search(self, store, today: str, q: str, field: str | None, limit: int) -> list[dict]:
        index = self.index(store, today)
        return [hit.procedure for hit in index.search(q, limit=limit, field=field)]

    def listing(self, store, today: str, field: str | None, limit: int) -> list[dict]:
        """The catalogue as the store lists it, each procedure with its popularity."""
        self.index(store, today)
        with store.read():
            rows = store.procedures(field)[:limit]
        pop = self._popularity
        return [dict(row, popularity=pop.get(row["code"], 0.0)) for row in rows]

    def popularity(self, store, today: str) -> dict[str, float]:
        self.index(store, today)
        return dict(self._popularity)

    def index(self, store, today: str) -> SearchIndex:
        """The index, rebuilt if the catalogue changed and re-ranked if popularity did."""
        with self._lock:
            rows = None
            with store.read():
                version = store.catalogue_version()
                if version != self._version or self._index is None:
                    rows = store.procedures()
                if self.clock() >= self._next_read:
                    self._read_uses(store, today)
            if rows is not None:
                pop = self._popularity
                self._index = SearchIndex(
                    [dict(r, popularity=pop.get(r["code"], 0.0)) for r in rows])
                self._version = version
                self._applied = pop
                self.builds += 1
            elif self._applied is not self._popularity:
                self._index.set_popularity(self._popularity)
                self._applied = self._popularity
            return self._index

    # -- popularity ---------------------------------------------------------------------------
    def _read_uses(self, store, today: str) -> None:
        """Read the tickets issued since the last read (the first time: the last
        `WINDOW_DAYS` days, chunk by chunk) and recompute the popularity."""
        since = (date.fromisoformat(today) - timedelta(days=WINDOW_DAYS)).isoformat()
        _first, last = store.ticket_id_range()
        if self._after_id is None or last < self._after_id:  # first read, or a new database
            self._uses = {}
            self._after_id = store.first_ticket_id_on(since) - 1
        upto = min(last, self._after_id + CHUNK_IDS)
        if upto > self._after_id:
            for code, day, n in store.procedure_uses(since, self._after_id, upto):
                self._uses[(code, day)] = self._uses.get((code, day), 0) + n
            self._after_id = upto
        self._caught_up = upto >= last
        self._next_read = self.clock() + (self.refresh_s if self._caught_up else CATCH_UP_S)
        self.reads += 1
        for key in [k for k in self._uses if k[1] < since]:
            del self._uses[key]
        new = popularity(((code, _age(today, day), n) for (code, day), n in self._uses.items()),
                         HALF_LIFE_DAYS)
        if new != self._popularity:
            self._popularity = new


def _age(today: str, day: str) -> int:
    try:
        return (date.fromisoformat(today) - date.fromisoformat(day)).days
    except ValueError:
        return WINDOW_DAYS


_searches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_searches_lock = threading.Lock()


def for_store(store) -> ProcedureSearch:
    """The search of this store (one per open store)."""
    with _searches_lock:
        found = _searches.get(store)
        if found is None:
            found = _searches[store] = ProcedureSearch()
        return found


def answer(store, today: str, q: str, field: str | None, limit: int) -> dict:
    """The body of `GET /api/v1/procedures`: {"items", "count", "total"}."""
    search = for_store(store)
    if q.strip():
        items = search.search(store, today, q, field, limit)
    else:
        items = search.listing(store, today, field, limit)
    with store.read():
        total = store.procedure_count()
    return {"items": items, "count": len(items), "total": total}
