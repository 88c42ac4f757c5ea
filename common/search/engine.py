"""Procedure search: diacritic-insensitive, typo-tolerant, as you type -- one engine for
the kiosk and for the server's `GET /api/v1/procedures?q=`.

Pure Python (no Kivy, no Flask, no SQL). Build a `SearchIndex` once from the catalogue,
then call `search()` on every keystroke::

    index = SearchIndex(procedures)              # dicts with code, name, field, popularity...
    hits = index.search("dang ky khai si")       # -> [Hit(procedure={...}, ...), ...]

How a query is answered
-----------------------
The query is folded (`common.search.textindex.search_words`: no diacritics, lower case,
"y" read as "i" so "kí" finds "ký"). A query made of digits and dots is also looked up
as a procedure code ("1.001193", "1.0011", "001193"). The last word counts as still
being typed unless the query ends with a space, so it also matches as a prefix.

Words are read several ways, each a *variant* of the query:

* literally;
* as Telex when a word is unknown and its Telex reading is known ("tamj truus" ->
  "tạm trú", "ddoir bangf lais" -> "đổi bằng lái");
* through the synonym list (`common.search.synonyms`: "bằng lái" -> "giấy phép lái
  xe", "cccd" -> "thẻ căn cước", filler words such as "làm", "xin" dropped), choosing
  the rules that cover most of the query ("làm" + "khai sinh cho con");
* with run-together words split ("khaisinh" -> "khai sinh", ranked as a typo).

Words of 4+ letters that are not in the catalogue are corrected by one edit (insert,
delete, replace, swap: "sihn" -> "sinh", "phepp" -> "phep"). Shorter words, and known
words when no procedure has all the words, are corrected by one edit only into a word
that stands next to a neighbouring query word in some name ("khai snh" -> "khai sinh",
"ket hn" -> "ket hon", "ban sap" -> "ban sao").

Ranking, best first (`Hit.kind` in brackets):

0. code match (code)
1. exact phrase: the words side by side, in order (phrase)
2. phrase whose last word is completed from a prefix (prefix)
3. all words, close together in the name (all)
4. all words with the last one completed from a prefix (prefix)
5. phrase, then all words, with typo-corrected or split words (fuzzy)
6. the words name the procedure's field, lĩnh vực ("bồi thường nhà nước") (field)
7. at least half of the words of a 3+ word query, rare words weighing more (partial)
8. all words found but far apart in a long name (scattered)

"All words" (ranks 3, 4, 5) needs the words within len(query) + 5 consecutive words of
the name (the catalogue has names of 300+ characters where unrelated words meet); among
them, names with fewer other words in between come first ("cấp căn cước": "Cấp thẻ căn
cước ..." before "Cấp đổi thẻ căn cước"). Only the best few hundred candidates are
checked; any beyond count as scattered. "Partial" ranks by the words' weight (rare words
such as "đính chính" weigh more than "giấy", "cấp"), more for words found side by side.

Within a rank, a full synonym rewrite comes before the literal words, which come before a
synonym guessed from a half-typed word; then the procedure's static rank
(`common.search.ranking.static_key`): its popularity class (from the hall's ticket
history: procedures chosen about twice as often come first), fewer words, a shorter name,
alphabetical order. Queries with no word found return nothing.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import itertools
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from common.text import fold, nfc

from .ranking import plain_key, popularity_class
from .synonyms import Synonyms, load_synonyms
from .telex import telex_to_vietnamese
from .textindex import EMPTY, WordIndex, folded_words, search_words

__all__ = ["Hit", "SearchIndex"]

KINDS = ("code", "phrase", "prefix", "all", "prefix", "fuzzy", "fuzzy", "field", "partial",
         "scattered")
SCORES = (1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.15)
(T_CODE, T_PHRASE, T_PHRASE_PREFIX, T_ALL, T_PREFIX, T_FUZZY_PHRASE, T_FUZZY, T_FIELD,
 T_PARTIAL, T_SCATTERED) = range(10)
_SCATTER_SLACK = 5  # all words within len(query) + this many words, else "scattered"
_DEMOTE_PREFIX = {T_PHRASE: T_PHRASE_PREFIX, T_ALL: T_PREFIX}
_DEMOTE_FUZZY = {T_PHRASE: T_FUZZY_PHRASE, T_PHRASE_PREFIX: T_FUZZY_PHRASE, T_ALL: T_FUZZY,
                 T_PREFIX: T_FUZZY}
_CODE_QUERY = re.compile(r"[0-9.]*[0-9][0-9.]*")
_CACHE_SIZE = 512
_MARK_CHECK_MAX = 300  # larger literal result sets skip the diacritics check
_MAX_VARIANTS = 8
_CONTEXT_MAX = 64  # neighbour word sets larger than this give no context for typo fixing
_PAIR_BONUS = 0.5  # partial matches: extra weight for two query words found side by side


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the procedure dict as given, how well and how it matched."""

    procedure: dict[str, Any]
    score: float  # 1.0 best; equal within a rank (see module doc)
    kind: str  # code | phrase | prefix | all | fuzzy | field | partial | scattered
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
    pref: int  # 0 full synonym rewrite, 1 literal (or Telex), 2 synonym guessed from a prefix
    demote: dict[int, int] | None
    via: str | None
    # which typed words each word stands for: the words of one synonym's official wording
    # share a group and weigh, together, as one typed word (None: every word its own)
    groups: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class _WordMatch:
    exact: frozenset[str]
    exact_docs: frozenset[int]
    typed: frozenset[str]  # exact, or prefix completions for the word being typed
    typed_docs: frozenset[int]
    loose: frozenset[str]  # typed plus one-edit corrections
    loose_docs: frozenset[int]


class _Catalogue:
    """Everything derived from one list of procedures; replaced whole on update()."""

    def __init__(self, procedures: Iterable[dict[str, Any]]) -> None:
        keyed = []
        for p in procedures:
            if p.get("name"):
                words = folded_words(str(p["name"]))
                plain = plain_key(p, words)
                keyed.append(((-popularity_class(p.get("popularity")), *plain), plain, words, p))
        keyed.sort(key=lambda k: k[0])  # document id == static rank: smaller is better
        procs = [p for _, _, _, p in keyed]
        self.procs = procs
        self.plain_keys = [plain for _, plain, _, _ in keyed]
        # rank[i]: document i's place when popularity changed after the build (else None:
        # the id is the place)
        self.rank: list[int] | None = None
        self.words = [[w.replace("y", "i") for w in words] for _, _, words, _ in keyed]
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
            field_docs.setdefault(" ".join(folded_words(str(p.get("field") or ""))),
                                  set()).add(i)
        self.field_docs = {k: frozenset(v) for k, v in field_docs.items()}
        # the words of each field, for queries that name a field ("bồi thường nhà nước")
        self.field_words = [(frozenset(search_words(f)), docs)
                            for f, docs in self.field_docs.items() if f]
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

    def ordered(self, docs: Iterable[int], k: int | None = None) -> list[int]:
        """Documents in static rank order (only the best `k` when given)."""
        key = self.rank.__getitem__ if self.rank is not None else None
        if k is not None:
            docs = list(docs)
            if len(docs) > 4 * k:
                return heapq.nsmallest(k, docs, key=key)
        return sorted(docs, key=key)

    def with_popularity(self, values: dict[str, float]) -> _Catalogue:
        """This catalogue ranked with new popularity values ({code: value}); the word
        index is shared, only the static rank (and the procedures' `popularity`) change."""
        new = copy.copy(self)
        procs = []
        for p in self.procs:
            value = values.get(str(p.get("code") or ""), 0.0)
            procs.append(p if p.get("popularity") == value else dict(p, popularity=value))
        classes = [popularity_class(p.get("popularity")) for p in procs]
        order = sorted(range(len(procs)), key=lambda i: (-classes[i], self.plain_keys[i]))
        rank = [0] * len(procs)
        for place, i in enumerate(order):
            rank[i] = place
        new.procs = procs
        new.rank = None if order == list(range(len(procs))) else rank
        new.results_cache = {}
        return new

    def known(self, word: str, incomplete: bool) -> bool:
        """Whether the word (or, while typed, some word it begins) is in a name."""
        return bool(self.word(word, incomplete).typed)

    def weight(self, docs: frozenset[int]) -> float:
        """How much finding a word tells (inverse document frequency): rare words weigh more."""
        return math.log((len(self.procs) + 1) / (len(docs) + 0.5))


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


def _positions_of(wanted: list[frozenset[str]]) -> dict[str, tuple[int, ...]]:
    """word -> the indexes of the sets of `wanted` holding it (for `_window_extra`)."""
    where: dict[str, list[int]] = {}
    for k, allowed in enumerate(wanted):
        for word in allowed:
            where.setdefault(word, []).append(k)
    return {w: tuple(ks) for w, ks in where.items()}


def _window_extra(words: list[str], where: dict[str, tuple[int, ...]], n: int) -> int | None:
    """The fewest other words between one word of each of the `n` sets (0: side by side),
    if some window of n + _SCATTER_SLACK consecutive words holds them all; else None.
    Stops at 1: the names with the words side by side were found as phrases before."""
    last = [-(1 << 30)] * n
    best: int | None = None
    for pos, word in enumerate(words):
        ks = where.get(word)
        if ks is None:
            continue
        for k in ks:
            last[k] = pos
        span = pos - min(last)
        if span < n + _SCATTER_SLACK and (best is None or span + 1 - n < best):
            best = max(0, span + 1 - n)
            if best <= 1:
                break
    return best


def _telex_words(cat: _Catalogue, words: tuple[str, ...],
                 last_incomplete: bool) -> tuple[str, ...] | None:
    """The query with each unknown word read as Telex ("tamj truus" -> "tam truu", which
    the typo step then reads as "tam tru"); None unless some word's reading is known."""
    out: list[str] = []
    known = False
    for n, word in enumerate(words):
        incomplete = last_incomplete and n == len(words) - 1
        if not cat.known(word, incomplete) and any(ch in word for ch in "sfrxjwzadeo"):
            read = search_words(telex_to_vietnamese(word))
            if len(read) == 1 and read[0] != word:
                out.append(read[0])
                known = known or cat.known(read[0], incomplete)
                continue
        out.append(word)
    return tuple(out) if known else None


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

    def set_popularity(self, values: dict[str, float]) -> None:
        """Rank with new popularity values ({code: decayed number of tickets}; codes not
        given: 0) without rebuilding the word index."""
        self._cat = self._cat.with_popularity(values)

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
        return [cat.procs[i] for i in cat.ordered(cat.field_docs.get(fold(field), EMPTY))]

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
                ordered = cat.ordered(docs, need + len(seen))
                if emit(ordered, tier, via, SCORES[tier]):
                    return out
                continue
            # Words found anywhere: only names with the words close together keep the
            # rank, fewest words in between first; the others wait below the partial
            # matches. Checking is bounded (documents come in static rank order, so
            # once `need` names have the words next but one to each other, no later
            # name can come before them).
            budget = max(200, 10 * need)
            close: list[tuple[int, int]] = []
            best = 0
            where = _positions_of(spread)
            for i in cat.ordered(docs):
                if i in seen:
                    continue
                budget -= 1
                extra = None if budget < 0 else _window_extra(cat.words[i], where, len(spread))
                if extra is None:
                    scattered.append((i, via))
                    continue
                close.append((extra, i))
                if extra <= 1:
                    best += 1
                    if best >= need:
                        break
            close.sort(key=lambda c: (c[0], cat.rank[c[1]] if cat.rank else c[1]))
            if emit((i for _, i in close), tier, via, SCORES[tier]):
                return out
        # Names with all the words far apart compete with the partial matches on weight.
        for i, share, via in self._partial(cat, variants, limit - len(out) + len(seen),
                                           allowed):
            if emit((i,), T_PARTIAL, via, round(SCORES[T_PARTIAL] * share, 3)):
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
        bases = [words]
        telex = _telex_words(cat, words, last_incomplete)
        if telex:
            bases.append(telex)
        variants = [_Variant(base, last_incomplete, 1, None, None) for base in bases]
        for base in bases:
            variants.extend(self._synonym_variants(base, last_incomplete))
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
            split = tuple(split_words)
            variants.append(_Variant(split, last_incomplete, 1, _DEMOTE_FUZZY, None))
            for v in self._synonym_variants(split, last_incomplete):
                variants.append(_Variant(v.words, v.last_incomplete, v.pref, _DEMOTE_FUZZY,
                                         v.via, v.groups))
        unique: dict[tuple, _Variant] = {}
        for v in variants:
            unique.setdefault((v.words, v.last_incomplete), v)
        return list(unique.values())

    def _synonym_variants(self, words: tuple[str, ...],
                          last_incomplete: bool) -> list[_Variant]:
        matches = self._synonyms.find(words, last_incomplete) if self._synonyms else []
        if not matches:
            return []
        partial = any(m.partial for m in matches)
        via = "; ".join(m.rule.text for m in matches)
        ends_at_last = matches[-1].end == len(words)
        combos = itertools.islice(itertools.product(*(m.rule.rhs for m in matches)),
                                  _MAX_VARIANTS)
        out = []
        for combo in combos:
            new: list[str] = []
            groups: list[int] = []
            pos = 0
            for m, rhs in zip(matches, combo, strict=True):
                new.extend(words[pos:m.start])
                groups.extend(range(pos, m.start))
                new.extend(rhs)
                groups.extend([m.start] * len(rhs))
                pos = m.end
            new.extend(words[pos:])
            groups.extend(range(pos, len(words)))
            if new:
                out.append(_Variant(
                    tuple(new), last_incomplete and not ends_at_last, 2 if partial else 0,
                    _DEMOTE_PREFIX if partial else None, via, tuple(groups)))
        return out

    @staticmethod
    def _matches(cat: _Catalogue, v: _Variant) -> list[_WordMatch]:
        n = len(v.words)
        return [cat.word(w, v.last_incomplete and i == n - 1) for i, w in enumerate(v.words)]

    @staticmethod
    def _respell(cat: _Catalogue, v: _Variant, ms: list[_WordMatch]
                 ) -> tuple[list[frozenset[str]], list[frozenset[int]]]:
        """Each word's set widened by one-edit corrections that stand next to the
        neighbouring words' in some name ("khai snh": "sinh" follows "khai")."""
        n = len(v.words)
        loose = [m.loose for m in ms]
        docs = [m.loose_docs for m in ms]
        index = cat.index
        for i, word in enumerate(v.words):
            left = loose[i - 1] if i > 0 and len(loose[i - 1]) <= _CONTEXT_MAX else EMPTY
            right = (ms[i + 1].loose if i + 1 < n and len(ms[i + 1].loose) <= _CONTEXT_MAX
                     else EMPTY)
            if not left and not right:
                continue
            near = index.near_in_context(word, left, right,
                                         v.last_incomplete and i == n - 1) - loose[i]
            if near:
                loose[i] = loose[i] | near
                docs[i] = docs[i] | index.docs_any(near)
        return loose, docs

    def _tiers(self, cat: _Catalogue, v: _Variant) -> list[tuple]:
        """(tier, documents, word sets to check for closeness or None), best first."""
        n = len(v.words)
        ms = self._matches(cat, v)
        tiers: list[tuple] = []
        loose = [m.loose for m in ms]
        loose_docs = [m.loose_docs for m in ms]
        all_loose = _intersect(loose_docs) if all(loose_docs) else EMPTY
        if not all_loose and n > 1:
            loose, loose_docs = self._respell(cat, v, ms)
            all_loose = _intersect(loose_docs) if all(loose_docs) else EMPTY
        if all_loose:
            all_exact = _intersect([m.exact_docs for m in ms])
            all_typed = _intersect([m.exact_docs for m in ms[:-1]] + [ms[-1].typed_docs])
            if n == 1:
                tiers += [(T_PHRASE, all_exact, None), (T_PHRASE_PREFIX, all_typed, None),
                          (T_FUZZY_PHRASE, all_loose, None)]
            else:
                index = cat.index
                exact = [m.exact for m in ms]
                typed = exact[:-1] + [ms[-1].typed]
                if all_exact:
                    tiers.append((T_PHRASE, index.phrase(exact), None))
                    tiers.append((T_ALL, all_exact, exact))
                if all_typed:
                    tiers.append((T_PHRASE_PREFIX, index.phrase(typed), None))
                    tiers.append((T_PREFIX, all_typed, typed))
                if any(d is not m.typed_docs for d, m in zip(loose_docs, ms, strict=True)):
                    tiers.append((T_FUZZY_PHRASE, index.phrase(loose), None))
                    tiers.append((T_FUZZY, all_loose, loose))
        fields = self._field_docs(cat, v)
        if fields:
            tiers.append((T_FIELD, fields, None))
        return tiers

    @staticmethod
    def _field_docs(cat: _Catalogue, v: _Variant) -> frozenset[int]:
        """Procedures whose field has every word (the last one as typed so far)."""
        words = v.words
        if sum(len(w) for w in words) < 3:
            return EMPTY
        head, last = words[:-1], words[-1]
        found: set[int] = set()
        for field_words, docs in cat.field_words:
            if all(w in field_words for w in head) and (
                    last in field_words or (v.last_incomplete and any(
                        fw.startswith(last) for fw in field_words))):
                found.update(docs)
        return frozenset(found)

    def _partial(self, cat: _Catalogue, variants: list[_Variant], k_best: int,
                 allowed: frozenset[int] | None = None) -> list[tuple[int, float, str | None]]:
        """For queries of 3+ words: documents with at least half of them, best share of
        the query's weight first. Rare words weigh more; the words of one synonym's
        official wording ("giấy chứng nhận quyền sử dụng đất" for "sổ đỏ") weigh together
        as much as their rarest word; two words found side by side weigh extra."""
        best: dict[int, tuple[float, int, str | None]] = {}
        for v in variants:
            n = len(v.words)
            if n < 3:
                continue
            ms = self._matches(cat, v)
            # Words in more than half of the names (a 1-letter prefix, "cấp") tell nothing:
            # they neither count towards "half of the words" nor weigh.
            half = len(cat.procs) / 2
            common = {k for k, m in enumerate(ms) if len(m.loose_docs) > half}
            found = [(k, w, m) for k, (w, m) in enumerate(zip(v.words, ms, strict=True))
                     if m.loose_docs and k not in common]
            need = max(1, (n - len(common) + 1) // 2)
            if len(found) < need or all(len(w) < 3 for _, w, _ in found):
                continue
            weight = self._word_weights(cat, v, ms)
            for k in common:
                weight[k] = 0.0
            total = sum(weight) + _PAIR_BONUS * sum(
                weight[k] + weight[k + 1] for k in range(n - 1))
            pairs = [(k, j, _PAIR_BONUS * (weight[k] + weight[j]),
                      cat.index.phrase([mk.loose, mj.loose]))
                     for (k, _, mk), (j, _, mj) in itertools.pairwise(found) if j == k + 1]
            # Score the names holding the heaviest words first; stop taking in names that
            # hold only lighter words once these cannot reach the best `k_best` any more
            # (common words have thousands of names; rare ones decide the top).
            order = sorted(found, key=lambda f: -weight[f[0]])
            scores: dict[int, float] = {}
            counts: dict[int, int] = {}
            taken: set[int] = set()
            for j, (_k, _, m) in enumerate(order):
                rest = order[j:]
                if len(rest) < need:
                    break  # names without the words taken so far miss too many words
                if len(scores) >= k_best:
                    keys = {kk for kk, _, _ in rest}
                    bound = sum(weight[kk] for kk in keys) + sum(
                        b for a, c, b, _ in pairs if a in keys and c in keys)
                    good = [s for i, s in scores.items() if counts[i] >= need]
                    if len(good) >= k_best and heapq.nlargest(k_best, good)[-1] > bound:
                        break
                new_docs = m.loose_docs - taken
                taken |= new_docs
                if allowed is not None:
                    new_docs &= allowed
                for i in new_docs:
                    s, c = 0.0, 0
                    for kk, _, mm in found:
                        if i in mm.loose_docs:
                            s += weight[kk]
                            c += 1
                    scores[i] = s
                    counts[i] = c
            for _k, _j, bonus, docs in pairs:
                for i in docs.intersection(scores):
                    scores[i] += bonus
            for i, s in scores.items():
                if counts[i] >= need:
                    share = min(1.0, s / total) if total > 0 else 0.0
                    old = best.get(i)
                    if old is None or (-share, v.pref) < (-old[0], old[1]):
                        best[i] = (share, v.pref, v.via)
        place = cat.rank.__getitem__ if cat.rank is not None else int
        ranked = heapq.nsmallest(k_best, best.items(),
                                 key=lambda kv: (-kv[1][0], kv[1][1], place(kv[0])))
        return [(i, share, via) for i, (share, _pref, via) in ranked]

    @staticmethod
    def _word_weights(cat: _Catalogue, v: _Variant, ms: list[_WordMatch]) -> list[float]:
        """Each word's weight: its rarity, or its share of its synonym group's weight."""
        own = [cat.weight(m.loose_docs) for m in ms]
        if not v.groups:
            return own
        group_weight: dict[int, float] = {}
        group_size: Counter[int] = Counter(v.groups)
        for g, w, m in zip(v.groups, own, ms, strict=True):
            if m.loose_docs or group_size[g] == 1:
                group_weight[g] = max(group_weight.get(g, 0.0), w)
        missing = cat.weight(EMPTY)
        return [group_weight.get(g, missing) / group_size[g] for g in v.groups]
