"""Low-level word index used by `common.search.engine`: postings, prefixes, bigrams, typos.

Pure Python, built once per catalogue. Documents are integer ids; words are
folded (`common.text.tokens`). Every lookup returns shared sets that the
caller must not modify.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence

from common.text import strip_marks, tokens

EMPTY: frozenset[int] = frozenset()
MIN_FUZZY_LEN = 4  # words shorter than this are never typo-corrected

# common.text.fold, letter by letter for the Latin letters and combining marks Vietnamese
# uses: a catalogue of 6,000 names is folded ~10x faster than by decomposing each letter.
_FOLD_TABLE = {cp: strip_marks(chr(cp)) for r in ((0xC0, 0x250), (0x300, 0x370),
                                                 (0x1E00, 0x1F00))
               for cp in range(*r) if strip_marks(chr(cp)) != chr(cp)}
_NON_WORD = re.compile(r"[^0-9a-z]+")


def folded_words(text: str) -> list[str]:
    """`common.text.tokens(text)`, faster for Vietnamese text."""
    plain = unicodedata.normalize("NFC", text or "").translate(_FOLD_TABLE)
    if plain.isascii():
        return _NON_WORD.sub(" ", plain.lower()).split()
    return tokens(text)  # letters outside the table: the slow, general path


def search_words(text: str) -> list[str]:
    """Folded words for matching, with "y" read as "i" so that the two accepted
    spellings "ký"/"kí", "lý"/"lí", "quý"/"quí" find each other."""
    return [word.replace("y", "i") for word in folded_words(text)]


def within_one_edit(a: str, b: str) -> bool:
    """True if `a` and `b` differ by at most one insertion, deletion,
    substitution or swap of two adjacent letters (optimal string alignment)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True  # substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    return a[i:] == b[i + 1:]  # b has one extra letter


# Initial consonants that sound alike in one region or another and are often confused in
# writing: "tạm chú" for "tạm trú", "xổ" for "sổ", "giấy"/"dấy"/"rấy", "lăm"/"năm".
_ALIKE = (("tr", "ch"), ("gi", "d"), ("s", "x"), ("r", "d"), ("n", "l"))


def _sound(word: str) -> str:
    """The word with its initial consonant replaced by a look-alike class."""
    for spelled, heard in _ALIKE:
        if word.startswith(spelled):
            return heard + word[len(spelled):]
    return word


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class WordIndex:
    """Inverted index over the word sequences of documents 0..n-1."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        postings: dict[str, set[int]] = {}
        bigrams: dict[str, dict[str, set[int]]] = {}
        for doc_id, words in enumerate(docs):
            for word in words:
                postings.setdefault(word, set()).add(doc_id)
            for first, second in zip(words, words[1:], strict=False):
                bigrams.setdefault(first, {}).setdefault(second, set()).add(doc_id)
        self.postings: dict[str, frozenset[int]] = {w: frozenset(s) for w, s in postings.items()}
        self.bigrams: dict[str, dict[str, frozenset[int]]] = {
            w: {v: frozenset(s) for v, s in nxt.items()} for w, nxt in bigrams.items()
        }
        self.sorted_words: list[str] = sorted(self.postings)
        before: dict[str, set[str]] = {}
        for first, nxt in self.bigrams.items():
            for second in nxt:
                before.setdefault(second, set()).add(first)
        self.before: dict[str, frozenset[str]] = {w: frozenset(s) for w, s in before.items()}
        # Symmetric-deletion map for one-edit typo lookup (SymSpell, distance 1).
        self._deletes: dict[str, set[str]] = {}
        for word in self.sorted_words:
            if len(word) >= MIN_FUZZY_LEN - 1:
                for key in _deletions(word) | {word}:
                    self._deletes.setdefault(key, set()).add(word)
        self._prefix_cache: dict[str, tuple[frozenset[str], frozenset[int]]] = {}

    def clear_cache(self) -> None:
        self._prefix_cache = {}

    def __contains__(self, word: str) -> bool:
        return word in self.postings

    def docs(self, word: str) -> frozenset[int]:
        return self.postings.get(word, EMPTY)

    def docs_any(self, words: frozenset[str] | set[str]) -> frozenset[int]:
        if len(words) == 1:
            return self.docs(next(iter(words)))
        out: set[int] = set()
        for word in words:
            out.update(self.postings.get(word, EMPTY))
        return frozenset(out)

    def prefixed(self, prefix: str) -> tuple[frozenset[str], frozenset[int]]:
        """Words starting with `prefix` (itself included) and their documents."""
        hit = self._prefix_cache.get(prefix)
        if hit is None:
            lo = bisect.bisect_left(self.sorted_words, prefix)
            hi = bisect.bisect_left(self.sorted_words, prefix + "\uffff")
            words = frozenset(self.sorted_words[lo:hi])
            hit = (words, self.docs_any(words))
            if len(self._prefix_cache) > 4096:
                self._prefix_cache.clear()
            self._prefix_cache[prefix] = hit
        return hit

    def near(self, word: str) -> frozenset[str]:
        """Indexed words one edit away from `word` (not `word` itself)."""
        if len(word) < MIN_FUZZY_LEN:
            return frozenset()
        found: set[str] = set(self._deletes.get(word, ()))
        for key in _deletions(word):
            found.update(self._deletes.get(key, ()))
        found.discard(word)
        return frozenset(w for w in found if len(w) >= MIN_FUZZY_LEN - 1 and within_one_edit(w, word))

    def near_in_context(self, word: str, left: frozenset[str] | set[str],
                        right: frozenset[str] | set[str], incomplete: bool) -> frozenset[str]:
        """Indexed words one edit away from `word` -- also short ones ("snh" -> "sinh",
        "hn" -> "hon", "sap" -> "sao") -- that directly follow a word of `left` or precede
        a word of `right` in some document. The neighbours keep short corrections from
        guessing: "khai snh" can only become a word that comes after "khai". A neighbour
        whose first consonant sounds alike also counts ("tạm chú" -> "tạm trú"). A word
        still being typed (`incomplete`) may also be one edit from the start of a
        neighbour."""
        if len(word) < 2:
            return frozenset()
        found: set[str] = set()
        for lw in left:
            found.update(self.bigrams.get(lw, ()))
        for rw in right:
            found.update(self.before.get(rw, ()))
        found.discard(word)
        n = len(word)
        sound = _sound(word)
        out = set()
        for cand in found:
            if len(cand) < 3:
                continue
            if within_one_edit(cand, word) or _sound(cand) == sound:
                out.add(cand)
            elif incomplete and len(cand) > n and any(
                    within_one_edit(cand[:k], word) for k in (n - 1, n, n + 1)
                    if n >= 3 and k <= len(cand)):
                out.add(cand)
        return frozenset(out)

    def split(self, word: str, last_incomplete: bool) -> tuple[str, str] | None:
        """Split a run-together word ("khaisinh") into two indexed words.

        The right part may be a prefix when the word is still being typed.
        Splits that occur side by side in some document are preferred.
        """
        best: tuple[str, str] | None = None
        for i in range(2, len(word) - 1):
            left, right = word[:i], word[i:]
            if left not in self.postings:
                continue
            nxt = self.bigrams.get(left, {})
            if right in nxt:
                return left, right
            if last_incomplete and any(w.startswith(right) for w in nxt):
                return left, right
            if right in self.postings:
                best = best or (left, right)
        return best

    def phrase(self, allowed: Sequence[frozenset[str]]) -> frozenset[int]:
        """Documents where a word of allowed[0] is directly followed by a word of
        allowed[1], and so on (chained bigrams; exact for two words)."""
        result: frozenset[int] | None = None
        for left, right in zip(allowed, allowed[1:], strict=False):
            pair: set[int] = set()
            for word in left:
                nxt = self.bigrams.get(word)
                if not nxt:
                    continue
                if len(right) < len(nxt):
                    for other in right:
                        docs = nxt.get(other)
                        if docs:
                            pair.update(docs)
                else:
                    for other, docs in nxt.items():
                        if other in right:
                            pair.update(docs)
            result = frozenset(pair) if result is None else result & pair
            if not result:
                return EMPTY
        return result if result is not None else EMPTY
