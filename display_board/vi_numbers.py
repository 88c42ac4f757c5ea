"""Read whole numbers aloud in Vietnamese (0 .. 999 999).

The reading follows the standard rules used when calling ticket numbers:

* ``mười`` is the tens word for 10..19, ``mươi`` for 20..90 (``hai mươi``).
* ``một`` after ``mươi`` (tens >= 2) becomes ``mốt`` (21 = ``hai mươi mốt``);
  after ``mười`` it stays ``một`` (11 = ``mười một``).
* ``bốn`` after ``mươi`` (tens >= 2) becomes ``tư`` (24 = ``hai mươi tư``);
  configurable with ``four="bốn"``.  4 and 14 are always ``bốn``/``mười bốn``.
* ``năm`` after ``mười``/``mươi`` becomes ``lăm`` (15 = ``mười lăm``,
  25 = ``hai mươi lăm``); 5 alone and 105 (``một trăm linh năm``) stay ``năm``.
* A zero tens digit with a non-zero unit after a hundreds word is read
  ``linh`` (northern, default) or ``lẻ`` (southern): 101 = ``một trăm linh một``.
* Inside a larger number a group below 100 gets ``không trăm``:
  1023 = ``một nghìn không trăm hai mươi ba``,
  1005 = ``một nghìn không trăm linh năm``.
* The thousands word is ``nghìn`` (default) or ``ngàn``.

:func:`read_number` returns the reading as a string, :func:`number_words` the
same reading as a list of words (used to look up one audio clip per word).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DIGITS",
    "MAX_NUMBER",
    "WORD_CLIPS",
    "ReadingOptions",
    "clip_name",
    "number_words",
    "read_number",
]

MAX_NUMBER = 999_999

#: Vietnamese digit names, index = digit.
DIGITS: tuple[str, ...] = (
    "không",
    "một",
    "hai",
    "ba",
    "bốn",
    "năm",
    "sáu",
    "bảy",
    "tám",
    "chín",
)

#: Every word the reader can produce -> the base name of its audio clip.
#: Words that differ only by tone get distinct names (``muoi``/``muoi2``).
WORD_CLIPS: dict[str, str] = {
    "không": "khong",
    "một": "mot",
    "hai": "hai",
    "ba": "ba",
    "bốn": "bon",
    "năm": "nam",
    "sáu": "sau",
    "bảy": "bay",
    "tám": "tam",
    "chín": "chin",
    "mười": "muoi",
    "mươi": "muoi2",
    "mốt": "mot2",
    "tư": "tu",
    "lăm": "lam",
    "linh": "linh",
    "lẻ": "le",
    "trăm": "tram",
    "nghìn": "nghin",
    "ngàn": "ngan",
}

_ODD_WORDS = ("linh", "lẻ")
_THOUSAND_WORDS = ("nghìn", "ngàn")
_FOUR_WORDS = ("tư", "bốn")


@dataclass(frozen=True)
class ReadingOptions:
    """Dialect choices for reading numbers.

    ``odd``: word for a zero tens digit before a unit (``linh`` or ``lẻ``).
    ``thousand``: ``nghìn`` or ``ngàn``.
    ``four``: the unit 4 after ``mươi`` (``tư`` or ``bốn``).
    """

    odd: str = "linh"
    thousand: str = "nghìn"
    four: str = "tư"

    def __post_init__(self) -> None:
        if self.odd not in _ODD_WORDS:
            raise ValueError(f"odd must be one of {_ODD_WORDS}, got {self.odd!r}")
        if self.thousand not in _THOUSAND_WORDS:
            raise ValueError(f"thousand must be one of {_THOUSAND_WORDS}, got {self.thousand!r}")
        if self.four not in _FOUR_WORDS:
            raise ValueError(f"four must be one of {_FOUR_WORDS}, got {self.four!r}")


DEFAULT_OPTIONS = ReadingOptions()


def _options(
    options: ReadingOptions | None, odd: str | None, thousand: str | None, four: str | None
) -> ReadingOptions:
    base = options or DEFAULT_OPTIONS
    if odd is None and thousand is None and four is None:
        return base
    return ReadingOptions(
        odd=odd if odd is not None else base.odd,
        thousand=thousand if thousand is not None else base.thousand,
        four=four if four is not None else base.four,
    )


def _tens_units(n: int, after_hundreds: bool, opts: ReadingOptions) -> list[str]:
    """Words for 0..99; ``after_hundreds`` means a hundreds word precedes it."""
    tens, unit = divmod(n, 10)
    if tens == 0:
        if unit == 0:
            return []
        # 5 stays "năm" after linh/lẻ: 105 = một trăm linh năm.
        return [opts.odd, DIGITS[unit]] if after_hundreds else [DIGITS[unit]]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if unit == 0:
        return words
    if unit == 5:
        words.append("lăm")
    elif unit == 1 and tens >= 2:
        words.append("mốt")
    elif unit == 4 and tens >= 2:
        words.append(opts.four)
    else:
        words.append(DIGITS[unit])
    return words


def _group(n: int, full: bool, opts: ReadingOptions) -> list[str]:
    """Words for a three-digit group 0..999.

    ``full`` means a higher group precedes this one, so a group below 100 is
    read with ``không trăm`` (1023 = một nghìn không trăm hai mươi ba).
    """
    hundreds, rest = divmod(n, 100)
    if hundreds == 0 and not full:
        return _tens_units(rest, after_hundreds=False, opts=opts)
    return [DIGITS[hundreds], "trăm"] + _tens_units(rest, after_hundreds=True, opts=opts)


def number_words(
    n: int,
    options: ReadingOptions | None = None,
    *,
    odd: str | None = None,
    thousand: str | None = None,
    four: str | None = None,
) -> list[str]:
    """The Vietnamese reading of ``n`` (0..999 999) as a list of words.

    >>> number_words(1023)
    ['một', 'nghìn', 'không', 'trăm', 'hai', 'mươi', 'ba']
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number out of range 0..{MAX_NUMBER}: {n}")
    opts = _options(options, odd, thousand, four)
    if n == 0:
        return [DIGITS[0]]
    high, low = divmod(n, 1000)
    if high == 0:
        return _group(low, full=False, opts=opts)
    words = _group(high, full=False, opts=opts) + [opts.thousand]
    if low:
        words += _group(low, full=True, opts=opts)
    return words


def read_number(
    n: int,
    options: ReadingOptions | None = None,
    *,
    odd: str | None = None,
    thousand: str | None = None,
    four: str | None = None,
) -> str:
    """The Vietnamese reading of ``n`` (0..999 999) as one string.

    >>> read_number(1005)
    'một nghìn không trăm linh năm'
    >>> read_number(1005, odd="lẻ", thousand="ngàn")
    'một ngàn không trăm lẻ năm'
    """
    return " ".join(number_words(n, options, odd=odd, thousand=thousand, four=four))


def clip_name(word: str) -> str:
    """The audio clip base name for one number word (``"mươi"`` -> ``"muoi2"``)."""
    try:
        return WORD_CLIPS[word]
    except KeyError:
        raise KeyError(f"no clip name for word {word!r}") from None
