"""The procedure search engine, one for every layer: the kiosk searches its downloaded
catalogue with it, the server answers `GET /api/v1/procedures?q=` with it.

Plain Python (no Kivy, no Flask, no SQL):

- `engine`: `SearchIndex` (build once per catalogue, `search()` on every keystroke), `Hit`
- `textindex`: the word index (postings, prefixes, bigrams, one-edit typos)
- `synonyms`: the admin-editable list of everyday words -> official wording
- `telex`: Telex key strokes -> Vietnamese ("ddawng kys" -> "đăng ký")
- `ranking`: the hall's popularity of each procedure (decayed ticket counts) and the
  static rank used to break ties
"""

from .engine import Hit, SearchIndex
from .ranking import HALF_LIFE_DAYS, popularity, popularity_class
from .synonyms import Synonyms, load_synonyms
from .telex import telex_to_vietnamese

__all__ = ["HALF_LIFE_DAYS", "Hit", "SearchIndex", "Synonyms", "load_synonyms", "popularity",
           "popularity_class", "telex_to_vietnamese"]
