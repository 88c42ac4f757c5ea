"""Compose the words of a call announcement ("Mời công dân có số thứ tự ...").

An announcement is built from a template per language with two placeholders,
``{number}`` (the ticket number) and ``{counter}`` (the counter number):

    vi call   : "Mời công dân có số thứ tự {number} đến quầy số {counter}"
    vi recall : "Xin nhắc lại. Mời công dân có số thứ tự {number} đến quầy số {counter}"
    en call   : "Ticket number {number}, please go to counter {counter}"
    en recall : "Calling again: ticket number {number}, please go to counter {counter}"

:func:`build_announcement` returns an :class:`Announcement`: the display text
plus the ordered segments to speak, each with the audio clips it needs
(:class:`Clip`: a file base name and the text to synthesise it from).  The
literal text of a template is cut into phrases at punctuation; each phrase is
one clip, named from :data:`PHRASE_CLIPS` or else from its diacritic-free
words (``"Xin mời"`` -> ``xin_moi``; English clips get an ``en_`` prefix).
Numbers are one clip per word (see :mod:`display_board.vi_numbers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.templates import PHRASE_SPLIT, PLACEHOLDER, PLACEHOLDERS, check_template
from common.text import fold, nfc
from display_board.vi_numbers import MAX_NUMBER, ReadingOptions, clip_name, number_words

__all__ = [
    "DEFAULT_TEMPLATES",
    "PHRASE_CLIPS",
    "Announcement",
    "AnnouncementTemplates",
    "Clip",
    "Segment",
    "announcement_text",
    "build_announcement",
    "en_number_words",
    "en_read_number",
    "phrase_clip_name",
    "validate_templates",
]

# The placeholder set and the template rules live in common/templates.py, so that the
# server checks centre.toml's wording with the very rules used here.
_PLACEHOLDER = PLACEHOLDER
_PHRASE_SPLIT = PHRASE_SPLIT


@dataclass(frozen=True)
class AnnouncementTemplates:
    """Wording of one language.

    ``number_style`` is how numbers appear in the *text* (``"words"`` or
    ``"digits"``); the audio always reads numbers as words.
    """

    call: str
    recall: str
    number_style: str = "words"

    def __post_init__(self) -> None:
        if self.number_style not in ("words", "digits"):
            raise ValueError(f"number_style must be 'words' or 'digits': {self.number_style!r}")
        for template in (self.call, self.recall):
            try:
                check_template(template)
            except ValueError as exc:
                raise ValueError(f"{exc}: {template!r}") from None


DEFAULT_TEMPLATES: dict[str, AnnouncementTemplates] = {
    "vi": AnnouncementTemplates(
        call="Mời công dân có số thứ tự {number} đến quầy số {counter}",
        recall="Xin nhắc lại. Mời công dân có số thứ tự {number} đến quầy số {counter}",
        number_style="words",
    ),
    "en": AnnouncementTemplates(
        call="Ticket number {number}, please go to counter {counter}",
        recall="Calling again: ticket number {number}, please go to counter {counter}",
        number_style="digits",
    ),
}

#: Clip names of the default phrases (keys are folded: no marks, lower case).
PHRASE_CLIPS: dict[str, str] = {
    "moi cong dan co so thu tu": "moi_cong_dan",
    "den quay so": "den_quay_so",
    "xin nhac lai": "nhac_lai",
    "ticket number": "en_ticket_number",
    "please go to counter": "en_please_go_to_counter",
    "calling again": "en_calling_again",
}


@dataclass(frozen=True)
class Clip:
    """One audio clip: ``name`` is the file base name (``name.wav``), ``text``
    what a synthesiser says to make it."""

    name: str
    text: str


@dataclass(frozen=True)
class Segment:
    """A spoken part of an announcement: a phrase or a number."""

    kind: str  # "phrase" | "number"
    text: str
    clips: tuple[Clip, ...]


@dataclass(frozen=True)
class Announcement:
    number: int
    counter: int | None
    lang: str
    recall: bool
    text: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def clip_names(self) -> list[str]:
        """The ordered clip names of the spoken sentence (without chime)."""
        return [clip.name for seg in self.segments for clip in seg.clips]


# --- English numbers -----------------------------------------------------------

_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _en_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_EN_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        tens, unit = divmod(rest, 10)
        words.append(_EN_TENS[tens] + (f"-{_EN_ONES[unit]}" if unit else ""))
    elif rest:
        words.append(_EN_ONES[rest])
    return words


def en_read_number(n: int) -> str:
    """American-style reading, 0..999 999: 1023 -> "one thousand twenty-three"."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number out of range 0..{MAX_NUMBER}: {n}")
    if n == 0:
        return "zero"
    high, low = divmod(n, 1000)
    words = (_en_below_1000(high) + ["thousand"]) if high else []
    return " ".join(words + _en_below_1000(low))


def en_number_words(n: int) -> list[str]:
    """The English reading as single words (hyphenated tens split)."""
    return en_read_number(n).replace("-", " ").split()


# --- building ------------------------------------------------------------------


def phrase_clip_name(phrase: str, lang: str = "vi") -> str:
    """Clip name of a template phrase: a known name or its folded words."""
    key = fold(phrase)
    if key in PHRASE_CLIPS:
        return PHRASE_CLIPS[key]
    slug = key.replace(" ", "_")
    return slug if lang == "vi" else f"{lang}_{slug}"


def _number_segment(n: int, lang: str, style: str, options: ReadingOptions | None) -> Segment:
    if lang == "vi":
        words = number_words(n, options)
        clips = tuple(Clip(clip_name(w), w) for w in words)
        spoken = " ".join(words)
    else:
        words = en_number_words(n)
        clips = tuple(Clip(f"{lang}_{w}", w) for w in words)
        spoken = en_read_number(n)
    return Segment("number", str(n) if style == "digits" else spoken, clips)


def _phrase_segments(literal: str, lang: str) -> list[Segment]:
    segments = []
    for part in _PHRASE_SPLIT.split(literal):
        phrase = part.strip()
        if phrase:
            clip = Clip(phrase_clip_name(phrase, lang), phrase)
            segments.append(Segment("phrase", phrase, (clip,)))
    return segments


def build_announcement(
    number: int,
    counter: int | None,
    lang: str = "vi",
    recall: bool = False,
    templates: Mapping[str, AnnouncementTemplates] | None = None,
    options: ReadingOptions | None = None,
) -> Announcement:
    """The text and the ordered spoken segments of one call.

    ``templates`` maps a language to its wording (default
    :data:`DEFAULT_TEMPLATES`); ``options`` sets the Vietnamese dialect.
    """
    table = DEFAULT_TEMPLATES if templates is None else templates
    if lang not in table:
        raise ValueError(f"no announcement template for language {lang!r}")
    wording = table[lang]
    template = nfc(wording.recall if recall else wording.call)
    values = {"number": number, "counter": counter}

    segments: list[Segment] = []
    text_parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[pos : match.start()]
        text_parts.append(literal)
        segments += _phrase_segments(literal, lang)
        value = values[match.group(1)]
        if value is None:
            raise ValueError(f"template needs {{{match.group(1)}}}: {template!r}")
        seg = _number_segment(value, lang, wording.number_style, options)
        segments.append(seg)
        text_parts.append(seg.text)
        pos = match.end()
    text_parts.append(template[pos:])
    segments += _phrase_segments(template[pos:], lang)
    text = re.sub(r"\s+", " ", "".join(text_parts)).strip()
    return Announcement(number, counter, lang, recall, text, tuple(segments))


def announcement_text(
    number: int,
    counter: int | None,
    lang: str = "vi",
    recall: bool = False,
    templates: Mapping[str, AnnouncementTemplates] | None = None,
    options: ReadingOptions | None = None,
) -> str:
    """The announcement as one sentence, e.g. "Mời công dân có số thứ tự
    một nghìn không trăm hai mươi ba đến quầy số năm"."""
    return build_announcement(number, counter, lang, recall, templates, options).text


def validate_templates(templates: Mapping[str, AnnouncementTemplates | str]) -> None:
    """Check a table of wordings (language -> :class:`AnnouncementTemplates`, or a bare
    call template whose recall is the same sentence) before it is used: the rules of
    :func:`common.templates.check_template` (only the placeholders of
    :data:`common.templates.PLACEHOLDERS`, ``{number}`` present, no stray brace, every
    phrase speakable), then a trial call and recall of number 1234 at counter 12 in each
    language. Raises ``ValueError`` naming the language."""
    table: dict[str, AnnouncementTemplates] = {}
    for lang, wording in templates.items():
        try:
            table[lang] = (AnnouncementTemplates(wording, wording)
                           if isinstance(wording, str) else wording)
            if not isinstance(table[lang], AnnouncementTemplates):
                raise ValueError(f"not a wording: {type(wording).__name__}")
            for recall in (False, True):
                ann = build_announcement(1234, 12, lang, recall, table)
                names = set(_PLACEHOLDER.findall(ann.text)) & PLACEHOLDERS
                if names or not all(ann.clip_names):
                    raise ValueError(f"cannot be spoken: {ann.text!r}")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"lời đọc [{lang}] (wording {lang}): {exc}") from None
