"""Procedure search for the kiosk: diacritic-insensitive, typo-tolerant, as you type.

Pure Python (no Kivy, no Flask) so the server's `/api/v1/procedures?q=` can use
it too. Build a `SearchIndex` once from the catalogue, then call `search()` on
every keystroke::

    index = SearchIndex(procedures)              # dicts with code, name, field, ...
    hits = index.search("dang ky khai si")       # -> [Hit(procedure={...}, ...), ...]

How a query is answered
-----------------------
The query is folded (`kiosk.textindex.search_words`: no diacritics, lower case,
"y" read as "i" so "kí" finds "ký"). A
query made of digits and dots is also looked up as a procedure code
("1.001193", "1.0011", "001193"). The last word counts as still being typed
unless the query ends with a space, so it also matches as a prefix. Words of
4+ letters that are not in the catalogue are corrected by one edit (insert,
delete, replace, swap: "sihn" -> "sinh", "phepp" -> "phep"); run-together
words are split ("khaisinh" -> "khai sinh"). The synonym list
(`kiosk.synonyms`) adds rewritten queries ("bằng lái" -> "giấy phép lái xe").

Ranking, best first (`Hit.kind` in brackets):

0. code match (code)
1. exact phrase: the words side by side, in order (phrase)
2. phrase whose last word is completed from a prefix (prefix)
3. all words, anywhere in the name (all)
4. all words with the last one completed from a prefix (prefix)
5. phrase, then all words, with typo-corrected or split words (fuzzy)
6. at least half of the words of a 3+ word query (partial) -- to fill a short list
7. all words found but far apart in a long name (scattered) -- likewise

"All words" (ranks 3, 4, 5) needs the words within len(query) + 5 consecutive
words of the name; the catalogue has names of 300+ characters where unrelated
words meet. (Only the best few hundred candidates are checked; any beyond
count as scattered.)

Within a rank, a full synonym rewrite comes before the literal words, which
come before a synonym guessed from a half-typed word; then procedures with a
higher optional `popularity` value, then shorter names ("Thủ tục ..." not
counted), then alphabetical order. Queries with no word found return nothing.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from common.text import fold, nfc
from kiosk.synonyms import Synonyms, load_synonyms
from kiosk.textindex import EMPTY, WordIndex, search_words

__all__ = ["Hit", "SearchIndex"]

KINDS = ("code", "phrase", "prefix", "all", "prefix", "fuzzy", "fuzzy", "partial", "scattered")
SCORES = (1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.15)
(T_CODE, T_PHRASE, T_PHRASE_PREFIX, T_ALL, T_PREFIX, T_FUZZY_PHRASE, T_FUZZY, T_PARTIAL,
 T_SCATTERED) = range(9)
_SCATTER_SLACK = 5  # all words within len(query) + this many words, else "scattered"
_DEMOTE_PREFIX = {T_PHRASE: T_PHRASE_PREFIX, T_ALL: T_PREFIX}
_DEMOTE_FUZZY = {T_PHRASE: T_FUZZY_PHRASE, T_PHRASE_PREFIX: T_FUZZY_PHRASE, T_ALL: T_FUZZY,
                 T_PREFIX: T_FUZZY}
_CODE_QUERY = re.compile(r"[0-9.]*[0-9][0-9.]*")
_CACHE_SIZE = 512
_MARK_CHECK_MAX = 300  # larger literal result sets skip the diacritics check
_MAX_VARIANTS = 8


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the procedure dict as given, how well and how it matched."""

    procedure: dict[str, Any]
    score: float  # 1.0 best; equal within a rank (see module doc)
    kind: str  # code | phrase | all | prefix | fuzzy | partial
    via: str | None = None  # the synonym rule used, as written in the list

    @property
    def code(self) -> str:
        return str(self.procedure.get("code") or "")

    @property
    def name(self) -> str:
        return str(self.procedure.get("name") or "")


@dataclass(frozen=True, slots=True)
class _Variant:
    words: tuple[str, ...]
    last_incomplete: bool
    pref: int  # 0 full synonym rewrite, 1 literal, 2 synonym guessed from a prefix
    demote: dict[int, int] | None
    via: str | None


@dataclass(frozen=True, slots=True)
class _WordMatch:
    exact: frozenset[str]
    exact_docs: frozenset[int]
    typed: frozenset[str]  # exact, or prefix completions for the word being typed
    typed_docs: frozenset[int]
    loose: frozenset[str]  # typed plus one-edit corrections
    loose_docs: frozenset[int]


def _rank_key(proc: dict[str, Any]) -> tuple:
    name = fold(proc.get("name", ""))
    short = name[8:] if name.startswith("thu tuc ") else name
    try:
        popularity = -float(proc.get("popularity") or 0)
    except (TypeError, ValueError):
        popularity = 0.0
    return (popularity, short.count(" "), len(short), short, str(proc.get("code") or ""))


class _Catalogue:
    """Everything derived from one list of procedures; replaced whole on update()."""

    def __init__(self, procedures: Iterable[dict[str, Any]]) -> None:
        procs = [p for p in procedures if p.get("name")]
        procs.sort(key=_rank_key)  # document id == static rank: smaller is better
        self.procs = procs
        self.words = [search_words(p["name"]) for p in procs]
        self.lower_names = [nfc(p["name"]).lower() for p in procs]
        self.index = WordIndex(self.words)
        coded = [(nfc(str(p.get("code") or "")).strip(), i) for i, p in enumerate(procs)]
        coded = [(c, i) for c, i in coded if c]
        self.codes = sorted(coded)
        self.code_tails = sorted((c.split(".", 1)[1], i) for c, i in coded if "." in c)
        self.by_code = {c: i for c, i in reversed(self.codes)}
        counts = Counter(nfc(str(p.get("field") or "")).strip() for p in procs)
        counts.pop("", None)
        self.field_counts = sorted(counts.items(), key=lambda fc: (-fc[1], fold(fc[0])))
        field_docs: dict[str, set[int]] = {}
        for i, p in enumerate(procs):
            field_docs.setdefault(fold(str(p.get("field") or "")), set()).add(i)
        self.field_docs = {k: frozenset(v) for k, v in field_docs.items()}
        self.words_cache: dict[tuple[str, bool], _WordMatch] = {}
        self.results_cache: dict[tuple, list[Hit]] = {}

    def word(self, word: str, incomplete: bool) -> _WordMatch:
        key = (word, incomplete)
        hit = self.words_cache.get(key)
        if hit is not None:
            return hit
        idx = self.index
        exact = frozenset((word,)) if word in idx else frozenset()
        exact_docs = idx.docs(word)
        typed, typed_docs = idx.prefixed(word) if incomplete else (exact, exact_docs)
        near = frozenset() if typed else idx.near(word)
        if near:
            loose = typed | near
            loose_docs = typed_docs | idx.docs_any(near)
        else:
            loose, loose_docs = typed, typed_docs
        hit = _WordMatch(exact, exact_docs, typed, typed_docs, loose, loose_docs)
        if len(self.words_cache) > 8192:
            self.words_cache.clear()
        self.words_cache[key] = hit
        return hit


def _marked_words(text: str, last_incomplete: bool) -> tuple[str, ...]:
    """The complete words of `text` typed with diacritics, lower case (NFC)."""
    raw = nfc(text).lower().split()
    if last_incomplete and raw:
        raw = raw[:-1]
    return tuple(w for chunk in raw for w in re.findall(r"[^\W_]+", chunk) if not w.isascii())


def _intersect(sets: list[frozenset[int]]) -> frozenset[int]:
    if not sets:
        return EMPTY
    ordered = sorted(sets, key=len)
    result = ordered[0]
    for other in ordered[1:]:
        if not result:
            break
        result = result & other
    return result


def _close_together(words: list[str], wanted: list[frozenset[str]]) -> bool:
    """True if one word of each set occurs within a window of
    len(wanted) + _SCATTER_SLACK consecutive words."""
    n = len(wanted)
    last = [-(1 << 30)] * n
    for pos, word in enumerate(words):
        hit = False
        for k, allowed in enumerate(wanted):
            if word in allowed:
                last[k] = pos
                hit = True
        if hit and pos - min(last) < n + _SCATTER_SLACK:
            return True
    return False


class SearchIndex:
    """Search over a procedure catalogue. See the module docstring for ranking."""

    def __init__(
        self,
        procedures: Iterable[dict[str, Any]],
        synonyms: Synonyms | str | os.PathLike[str] | None = None,
    ) -> None:
        self._synonyms = load_synonyms(synonyms)
        self._cat = _Catalogue(procedures)

    # ---- catalogue -------------------------------------------------------------
    def update(self, procedures: Iterable[dict[str, Any]]) -> None:
        """Rebuild from a new catalogue (swapped in whole; searches never see half)."""
        self._cat = _Catalogue(procedures)

    def set_synonyms(self, synonyms: Synonyms | str | os.PathLike[str] | None) -> Synonyms:
        """Replace the synonym list (None: the built-in one); returns it (see .errors)."""
        self._synonyms = load_synonyms(synonyms)
        self._cat.results_cache = {}
        return self._synonyms

    def clear_cache(self) -> None:
        """Forget cached results and word lookups (benchmarks; memory is bounded anyway)."""
        cat = self._cat
        cat.results_cache = {}
        cat.words_cache = {}
        cat.index.clear_cache()

    @property
    def synonyms(self) -> Synonyms:
        return self._synonyms

    def __len__(self) -> int:
        return len(self._cat.procs)

    def get(self, code: str) -> dict[str, Any] | None:
        """The procedure with this exact code, or None."""
        i = self._cat.by_code.get(nfc(code).strip())
        return None if i is None else self._cat.procs[i]

    def fields(self) -> list[tuple[str, int]]:
        """(field, number of procedures), most procedures first."""
        return list(self._cat.field_counts)

    def by_field(self, field: str) -> list[dict[str, Any]]:
        """Procedures of one field (diacritics and case ignored), best ranked first."""
        cat = self._cat
        return [cat.procs[i] for i in sorted(cat.field_docs.get(fold(field), EMPTY))]

    # ---- search ----------------------------------------------------------------
    def search(self, query: str, limit: int = 20, field: str | None = None) -> list[Hit]:
        """Best `limit` procedures for `query` (optionally within one field)."""
        cat = self._cat
        text = nfc(query or "")
        words = tuple(search_words(text))
        if limit <= 0 or not words:
            return []
        last_incomplete = text.rstrip() == text and text[-1:].isalnum()
        key = (words, last_incomplete, limit, fold(field) if field else None,
               _marked_words(text, last_incomplete))
        cached = cat.results_cache.get(key)
        if cached is not None:
            return list(cached)
        allowed = cat.field_docs.get(key[3], EMPTY) if field else None
        hits = self._search(cat, text, words, last_incomplete, limit, allowed)
        if len(cat.results_cache) > _CACHE_SIZE:
            cat.results_cache.clear()
        cat.results_cache[key] = hits
        return list(hits)

    def _search(self, cat: _Catalogue, text: str, words: tuple[str, ...],
                last_incomplete: bool, limit: int,
                allowed: frozenset[int] | None) -> list[Hit]:
        out: list[Hit] = []
        seen: set[int] = set()

        def emit(doc_ids: Iterable[int], tier: int, via: str | None, score: float) -> bool:
            for i in doc_ids:
                if i in seen or (allowed is not None and i not in allowed):
                    continue
                seen.add(i)
                out.append(Hit(cat.procs[i], score, KINDS[tier], via))
                if len(out) >= limit:
                    return True
            return False

        compact = re.sub(r"\s+", "", text)
        if _CODE_QUERY.fullmatch(compact):
            for i, exact in self._code_hits(cat, compact, limit):
                if emit((i,), T_CODE, None, 1.0 if exact else SCORES[T_PHRASE]):
                    return out

        variants = self._variants(cat, words, last_incomplete)
        # With a synonym rewrite on offer, literal matches whose diacritics differ
        # from what was typed ("sở do" for "sổ đỏ") count as typo matches.
        marked = _marked_words(text, last_incomplete) if any(v.pref == 0 for v in variants) else ()
        entries = []
        for v in variants:
            for tier, docs, spread in self._tiers(cat, v):
                if (marked and v.pref == 1 and not v.demote and tier in _DEMOTE_FUZZY
                        and len(docs) <= _MARK_CHECK_MAX):
                    names = cat.lower_names
                    keep = frozenset(i for i in docs if all(w in names[i] for w in marked))
                    entries.append((_DEMOTE_FUZZY[tier], v.pref, docs - keep, spread, v.via))
                    docs = keep
                if v.demote:
                    tier = v.demote.get(tier, tier)
                entries.append((tier, v.pref, docs, spread, v.via))
        entries.sort(key=lambda e: (e[0], e[1]))
        scattered: list[tuple[int, str | None]] = []
        for tier, _pref, docs, spread, via in entries:
            if allowed is not None:
                docs = docs & allowed
            need = limit - len(out)
            if not docs:
                continue
            if spread is None:
                ordered = sorted(docs) if len(docs) <= 4 * need else heapq.nsmallest(
                    need + len(seen), docs)
                if emit(ordered, tier, via, SCORES[tier]):
                    return out
                continue
            # Words found anywhere: only names with the words close together keep
            # the rank; the others wait below the typo matches. Checking is bounded.
            budget = max(200, 10 * need)
            for i in sorted(docs):
                if i in seen:
                    continue
                budget -= 1
                if budget < 0 or not _close_together(cat.words[i], spread):
                    scattered.append((i, via))
                elif emit((i,), tier, via, SCORES[tier]):
                    return out
        found_all = {i for i, _ in scattered}
        for v in sorted(variants, key=lambda v: v.pref):
            for i, share in self._partial(cat, v):
                if i not in found_all and emit((i,), T_PARTIAL, v.via, round(SCORES[T_PARTIAL] * share, 3)):
                    return out
        for i, via in scattered:
            if emit((i,), T_SCATTERED, via, SCORES[T_SCATTERED]):
                return out
        return out

    @staticmethod
    def _code_hits(cat: _Catalogue, q: str, limit: int) -> list[tuple[int, bool]]:
        found: list[tuple[int, bool]] = []
        if q in cat.by_code:
            found.append((cat.by_code[q], True))
        digits = len(q.replace(".", ""))
        lists = []
        if digits >= 2:
            lists.append(cat.codes)
        if "." not in q and digits >= 3:
            lists.append(cat.code_tails)
        for table in lists:
            start = bisect.bisect_left(table, (q, -1))
            for code, i in itertools.islice(table, start, start + limit + 1):
                if not code.startswith(q):
                    break
                found.append((i, False))
        return found

    def _variants(self, cat: _Catalogue, words: tuple[str, ...],
                  last_incomplete: bool) -> list[_Variant]:
        variants = [_Variant(words, last_incomplete, 1, None, None)]
        matches = self._synonyms.find(words, last_incomplete) if self._synonyms else []
        if matches:
            partial = any(m.partial for m in matches)
            via = "; ".join(m.rule.text for m in matches)
            ends_at_last = matches[-1].end == len(words)
            combos = itertools.islice(itertools.product(*(m.rule.rhs for m in matches)),
                                      _MAX_VARIANTS)
            for combo in combos:
                new: list[str] = []
                pos = 0
                for m, rhs in zip(matches, combo, strict=True):
                    new.extend(words[pos:m.start])
                    new.extend(rhs)
                    pos = m.end
                new.extend(words[pos:])
                if new:
                    variants.append(_Variant(
                        tuple(new), last_incomplete and not ends_at_last, 2 if partial else 0,
                        _DEMOTE_PREFIX if partial else None, via))
        # Run-together words: "khaisinh" -> "khai sinh" (ranked as a typo).
        split_words: list[str] = []
        changed = False
        for n, word in enumerate(words):
            incomplete = last_incomplete and n == len(words) - 1
            parts = None
            if len(word) >= 4 and not cat.word(word, incomplete).loose:
                parts = cat.index.split(word, incomplete)
            if parts:
                split_words.extend(parts)
                changed = True
            else:
                split_words.append(word)
        if changed:
            variants.append(_Variant(tuple(split_words), last_incomplete, 1, _DEMOTE_FUZZY, None))
        return variants

    @staticmethod
    def _tiers(cat: _Catalogue, v: _Variant) -> list[tuple]:
        """(tier, documents, word sets to check for closeness or None), best first."""
        n = len(v.words)
        ms = [cat.word(w, v.last_incomplete and i == n - 1) for i, w in enumerate(v.words)]
        if any(not m.loose_docs for m in ms):
            return []
        all_loose = _intersect([m.loose_docs for m in ms])
        if not all_loose:
            return []
        all_exact = _intersect([m.exact_docs for m in ms])
        all_typed = _intersect([m.exact_docs for m in ms[:-1]] + [ms[-1].typed_docs])
        if n == 1:
            return [(T_PHRASE, all_exact, None), (T_PHRASE_PREFIX, all_typed, None),
                    (T_FUZZY_PHRASE, all_loose, None)]
        index = cat.index
        tiers = []
        exact = [m.exact for m in ms]
        typed = exact[:-1] + [ms[-1].typed]
        loose = [m.loose for m in ms]
        if all_exact:
            tiers.append((T_PHRASE, index.phrase(exact), None))
            tiers.append((T_ALL, all_exact, exact))
        if all_typed:
            tiers.append((T_PHRASE_PREFIX, index.phrase(typed), None))
            tiers.append((T_PREFIX, all_typed, typed))
        if any(m.loose_docs is not m.typed_docs for m in ms):
            tiers.append((T_FUZZY_PHRASE, index.phrase(loose), None))
            tiers.append((T_FUZZY, all_loose, loose))
        return tiers

    @staticmethod
    def _partial(cat: _Catalogue, v: _Variant) -> list[tuple[int, float]]:
        """For queries of 3+ words: documents with at least half of them."""
        n = len(v.words)
        if n < 3:
            return []
        ms = [cat.word(w, v.last_incomplete and i == n - 1) for i, w in enumerate(v.words)]
        found = [(w, m) for w, m in zip(v.words, ms, strict=True) if m.loose_docs]
        need = max(1, (n + 1) // 2)
        if len(found) < need or all(len(w) < 3 for w, _ in found):
            return []
        counts = Counter(itertools.chain.from_iterable(m.loose_docs for _, m in found))
        ranked = sorted((-c, i) for i, c in counts.items() if c >= need)
        return [(i, -c / n) for c, i in ranked]
