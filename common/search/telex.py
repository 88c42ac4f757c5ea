"""Telex input: "ddawng kys" -> "đăng ký".

The kiosk's on-screen keyboard keeps the raw keys the citizen pressed and shows
`telex_to_vietnamese(raw)`. The search engine also reads a word it does not know as
Telex ("tamj truus" finds "tạm trú"), for a phone or a keyboard whose Vietnamese input
method is off. Rules (the common Telex subset):

* aa -> â, ee -> ê, oo -> ô, dd -> đ (the second key may come later in the word:
  "caan" and "cana" both give "cân");
* w after a, o, u -> ă, ơ, ư ("uow" -> "ươ"); a lone w -> ư;
* tone keys after a vowel: s sắc, f huyền, r hỏi, x ngã, j nặng; z removes the tone;
* pressing a key twice undoes it and types the letter: "ass" -> "as", "aaa" -> "aa";
* the tone goes on the right vowel (classic placement, as in the national
  procedure catalogue: "hóa", "thủy", "toán", "người", "quý", "gì").

Letters that already carry diacritics are understood, so editing "đăng ky" + "s"
gives "đăng ký". Everything that is not a letter passes through unchanged.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["telex_to_vietnamese"]

_TONE_KEYS = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
_TONE_MARKS = frozenset(_TONE_KEYS.values())
_VOWELS = frozenset("aăâeêioôơuưy")
_MODIFIED = frozenset("ăâêôơư")
_HAT = {"a": "â", "e": "ê", "o": "ô"}
_BREVE_HORN = {"a": "ă", "o": "ơ", "u": "ư"}
_PLAIN = {"â": "a", "ê": "e", "ô": "o", "ă": "a", "ơ": "o", "ư": "u", "đ": "d"}
_WORD = re.compile(r"[^\W\d_]+")


class _Word:
    def __init__(self) -> None:
        self.letters: list[str] = []  # lower case, shaped (ă, ơ, đ ...) but toneless
        self.upper: list[bool] = []
        self.tone = ""  # one combining tone mark or ""
        self.raw = False  # after an undo, later keys are typed literally

    def vowel_block(self) -> list[int]:
        """Positions of the word's vowel cluster (the last run of vowels)."""
        block: list[int] = []
        for i, ch in enumerate(self.letters):
            if ch in _VOWELS:
                if block and block[-1] != i - 1:
                    block = []
                block.append(i)
        return block

    def add(self, ch: str, upper: bool) -> None:
        self.letters.append(ch)
        self.upper.append(upper)

    def undo(self, i: int, key: str, upper: bool) -> None:
        self.letters[i] = _PLAIN[self.letters[i]]
        self.add(key, upper)
        self.raw = True

    def key(self, char: str) -> None:
        base = unicodedata.normalize("NFD", char)
        marks = [m for m in base[1:] if m in _TONE_MARKS]
        shaped = unicodedata.normalize("NFC", "".join(m for m in base if m not in _TONE_MARKS))
        upper = shaped.isupper()
        key = shaped.lower()
        if marks:  # an already accented letter
            self.tone = marks[-1]
        if self.raw or len(key) != 1 or key not in "adeowsfrxjz":
            self.add(key, upper)
            return
        block = self.vowel_block()
        if key == "d":
            if self.letters == ["d"]:
                self.letters[0] = "đ"
            elif self.letters == ["đ"]:
                self.undo(0, key, upper)
            else:
                self.add(key, upper)
        elif key in _HAT:
            plain = [i for i in block if self.letters[i] == key]
            hatted = [i for i in block if self.letters[i] == _HAT[key]]
            if plain:
                self.letters[plain[-1]] = _HAT[key]
            elif hatted:
                self.undo(hatted[-1], key, upper)
            else:
                self.add(key, upper)
        elif key == "w":
            self._horn(block, upper)
        elif key in _TONE_KEYS and block:
            if self.tone == _TONE_KEYS[key]:
                self.tone = ""
                self.add(key, upper)
                self.raw = True
            else:
                self.tone = _TONE_KEYS[key]
        elif key == "z" and block and self.tone:
            self.tone = ""
        else:
            self.add(key, upper)

    def _horn(self, block: list[int], upper: bool) -> None:
        text = "".join(self.letters[i] for i in block)
        if "uo" in text:
            at = block[0] + text.index("uo")
            self.letters[at], self.letters[at + 1] = "ư", "ơ"
            return
        for plain in "uoa":
            spots = [i for i in block if self.letters[i] == plain]
            if spots:
                self.letters[spots[-1]] = _BREVE_HORN[plain]
                return
        done = [i for i in block if self.letters[i] in "ăơư"]
        if done:
            self.undo(done[-1], "w", upper)
        elif not block:
            self.add("ư", upper)
        else:
            self.add("w", upper)

    def tone_position(self) -> int | None:
        vowels = [i for i, ch in enumerate(self.letters) if ch in _VOWELS]
        # "qu" and "gi" (before another vowel) are consonants.
        if self.letters[:2] == ["q", "u"] and 1 in vowels:
            vowels.remove(1)
        if self.letters[:2] == ["g", "i"] and len(vowels) > 1 and vowels[0] == 1:
            vowels.remove(1)
        if not vowels:
            return None
        block = [vowels[0]]
        for i in vowels[1:]:
            if i != block[-1] + 1:
                break
            block.append(i)
        modified = [i for i in block if self.letters[i] in _MODIFIED]
        if modified:
            horn_o = [i for i in modified if self.letters[i] == "ơ"]
            return horn_o[0] if horn_o else modified[0]
        if len(block) == 1:
            return block[0]
        if block[-1] < len(self.letters) - 1:  # a final consonant follows: "toán"
            return block[-1]
        if len(block) == 3:  # "ngoài", "khuỷu"
            return block[1]
        return block[0]  # classic placement: "hóa", "thủy", "mía"

    def text(self) -> str:
        letters = list(self.letters)
        if self.tone:
            at = self.tone_position()
            if at is not None:
                letters[at] = unicodedata.normalize("NFC", letters[at] + self.tone)
        return "".join(ch.upper() if up else ch for ch, up in zip(letters, self.upper, strict=True))


def _convert_word(word: str) -> str:
    state = _Word()
    for char in word:
        state.key(char)
    return state.text()


def telex_to_vietnamese(keys: str) -> str:
    """Convert Telex key strokes to Vietnamese text (NFC), word by word."""
    text = unicodedata.normalize("NFC", keys or "")
    return _WORD.sub(lambda m: _convert_word(m.group(0)), text)
