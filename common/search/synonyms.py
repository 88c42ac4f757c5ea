"""Admin-editable synonym list for the procedure search (kiosk and server).

Citizens type everyday words ("bằng lái", "sổ đỏ"); procedure names use official
wording ("giấy phép lái xe", "giấy chứng nhận quyền sử dụng đất"). A synonym list
maps the former to the latter. Format, one rule per line, plain UTF-8 text::

    # comment
    bằng lái | bằng lái xe = giấy phép lái xe
    đăng ký kinh doanh = đăng ký doanh nghiệp | hộ kinh doanh
    xin | làm =

"|" separates alternatives on both sides; an empty right-hand side drops the
words (filler words such as "xin"). Matching is on folded words (see
`common.text.fold`), so "bang lai" triggers the same rule as "bằng lái".

`load_synonyms()` returns the built-in list shipped as `common/search/synonyms.txt`;
`load_synonyms(text_or_path)` reads an edited list. Bad lines are skipped and
reported in `Synonyms.errors` so an admin page can show them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.text import nfc

from .textindex import search_words as tokens

DEFAULT_PATH = Path(__file__).with_name("synonyms.txt")

Words = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One left-hand alternative with all its replacements."""

    lhs: Words  # folded words the citizen types
    rhs: tuple[Words, ...]  # folded official wordings; () entries mean "drop"
    text: str  # the source line, for display ("bằng lái = giấy phép lái xe")
    line: int


@dataclass(frozen=True, slots=True)
class Match:
    """A rule found in a query: words[start:end] may be replaced by `rule.rhs`.

    `partial` is True when the query's last (still being typed) word is only a
    prefix of the rule's last word ("bang l" for "bằng lái").
    """

    start: int
    end: int
    rule: Rule
    partial: bool


@dataclass
class Synonyms:
    """A parsed synonym list, indexed by the first folded word of each rule."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _by_first: dict[str, list[Rule]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_first = {}
        for rule in self.rules:
            self._by_first.setdefault(rule.lhs[0], []).append(rule)
        for bucket in self._by_first.values():
            bucket.sort(key=lambda r: -len(r.lhs))  # longest rule wins

    def __len__(self) -> int:
        return len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    @classmethod
    def from_text(cls, text: str) -> Synonyms:
        rules: list[Rule] = []
        errors: list[str] = []
        for number, raw in enumerate(nfc(text).splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.count("=") != 1:
                errors.append(f"line {number}: expected 'words = official words': {raw.strip()}")
                continue
            left, right = (part.strip() for part in line.split("="))
            lhs_alts = [tuple(tokens(alt)) for alt in left.split("|")]
            lhs_alts = [alt for alt in lhs_alts if alt]
            if not lhs_alts:
                errors.append(f"line {number}: nothing on the left of '=': {raw.strip()}")
                continue
            rhs_alts = tuple(dict.fromkeys(tuple(tokens(alt)) for alt in right.split("|")))
            if any(not alt for alt in rhs_alts) and len(rhs_alts) > 1:
                rhs_alts = tuple(alt for alt in rhs_alts if alt)
            for lhs in lhs_alts:
                targets = tuple(alt for alt in rhs_alts if alt != lhs)
                if targets:
                    rules.append(Rule(lhs, targets, line, number))
        return cls(rules, errors)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Synonyms:
        return cls.from_text(Path(path).read_text(encoding="utf-8-sig"))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]] | dict[str, str]) -> Synonyms:
        """Build from (everyday, official) pairs, e.g. rows of an admin table."""
        items = pairs.items() if isinstance(pairs, dict) else pairs
        return cls.from_text("\n".join(f"{lhs} = {rhs}" for lhs, rhs in items))

    def find(self, words: Sequence[str], last_incomplete: bool = False) -> list[Match]:
        """Non-overlapping rule matches in `words`, left to right, chosen so that they
        cover as many words as possible (then: as few rules as possible, longest first).
        "làm khai sinh cho con" is "làm" (a filler) + "khai sinh cho con", not "làm khai
        sinh" + two words no rule knows."""
        n = len(words)
        if not n:
            return []
        options = [self._matches_at(words, i, last_incomplete) for i in range(n)]
        # best[i]: (covered words, -rules) of the best choice for words[i:], and its matches
        best: list[tuple[tuple[int, int], list[Match]]] = [((0, 0), [])] * (n + 1)
        for i in range(n - 1, -1, -1):
            choice, skipped = best[i + 1], True
            for m in options[i]:  # ties: a match here (the longest) rather than later
                (covered, rules), rest = best[m.end]
                cand = ((covered + m.end - m.start, rules - 1), [m, *rest])
                if cand[0] > choice[0] or (skipped and cand[0] == choice[0]):
                    choice, skipped = cand, False
            best[i] = choice
        return best[0][1]

    def _matches_at(self, words: Sequence[str], i: int, last_incomplete: bool) -> list[Match]:
        """Every rule that matches at word `i`, longest first."""
        n = len(words)
        candidates = self._by_first.get(words[i], [])
        if last_incomplete and i == n - 1:
            # The only typed word may itself be a prefix of a rule's first word.
            candidates = candidates + [
                r for first, bucket in self._by_first.items()
                if first != words[i] and first.startswith(words[i]) and len(words[i]) >= 2
                for r in bucket
            ]
        found: list[Match] = []
        for rule in candidates:
            k = len(rule.lhs)
            if i + k > n:
                continue
            if tuple(words[i:i + k]) == rule.lhs:
                found.append(Match(i, i + k, rule, partial=False))
            elif (
                last_incomplete and i + k == n
                and tuple(words[i:n - 1]) == rule.lhs[:-1]
                and rule.lhs[-1].startswith(words[n - 1])
            ):
                found.append(Match(i, i + k, rule, partial=True))
        # one match per end position: the first rule listed for the longest words
        seen: set[int] = set()
        out = []
        for m in found:
            if m.end not in seen:
                seen.add(m.end)
                out.append(m)
        return out


def load_synonyms(source: Synonyms | str | os.PathLike[str] | None = None) -> Synonyms:
    """The built-in list (no argument), a file path, or the text of a list.

    A `str` containing "=" or a line break is read as list text, any other
    string as a path; pass a `pathlib.Path` to be explicit.
    """
    if source is None:
        return Synonyms.from_file(DEFAULT_PATH)
    if isinstance(source, Synonyms):
        return source
    if isinstance(source, str) and ("=" in source or "\n" in source or not source.strip()):
        return Synonyms.from_text(source)
    return Synonyms.from_file(source)
