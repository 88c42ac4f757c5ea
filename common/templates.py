"""The wording of call announcements: the placeholders a template may use and the check
every template passes before it is used.

A template is a sentence with placeholders in braces, e.g.
``"Mời công dân có số thứ tự {number} đến quầy số {counter}"``. The server checks the
wording of `centre.toml` with :func:`check_template` when the configuration is loaded or
changed (so a typo such as ``{so}`` is refused at once instead of silencing the hall), and
the announcement composer (`display_board/announce.py`) runs the same check on the
templates it is given. Imports nothing else of the project.
"""

from __future__ import annotations

import re
import unicodedata

from common.text import fold

__all__ = [
    "MAX_TEMPLATE_LEN",
    "MAX_WORDING_LEN",
    "PHRASE_SPLIT",
    "PLACEHOLDER",
    "PLACEHOLDERS",
    "REQUIRED_PLACEHOLDERS",
    "TemplateError",
    "check_template",
    "placeholders",
]

#: Every placeholder a template may use: the ticket number and the counter number.
PLACEHOLDERS: frozenset[str] = frozenset({"number", "counter"})
#: The placeholders every template must use (a call without the number says nothing).
REQUIRED_PLACEHOLDERS: frozenset[str] = frozenset({"number"})
#: Longest template, in characters (the recall prefix is added to it).
MAX_TEMPLATE_LEN = 200
#: Longest call wording a centre may configure: the recall template adds a prefix to it
#: ("Xin nhắc lại. ", "Calling again: ") and must stay within MAX_TEMPLATE_LEN.
MAX_WORDING_LEN = 160

#: A well-formed placeholder (what the composer substitutes).
PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")
#: Where the literal text of a template is cut into spoken phrases (one audio clip each).
PHRASE_SPLIT = re.compile(r"[.,;:!?]+")
_ANY_BRACES = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    """A template that cannot be announced: `vi` and `en` are the two halves of the message
    (`str()` is "vi (en)")."""

    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} ({en})")
        self.vi, self.en = vi, en


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses (well-formed ones only)."""
    return set(PLACEHOLDER.findall(template))


def check_template(template: object, max_len: int = MAX_TEMPLATE_LEN) -> str:
    """The template (unchanged) if it can be announced; otherwise `ValueError` with a
    Vietnamese message and the English one in parentheses (a :class:`TemplateError`).

    Rules: text of at most `max_len` characters (:data:`MAX_TEMPLATE_LEN`; a centre's
    configured wording :data:`MAX_WORDING_LEN`) without control characters;
    every ``{...}`` is a known placeholder (:data:`PLACEHOLDERS`), no stray brace;
    ``{number}`` is present; every phrase of the literal text (cut at ``. , ; : ! ?``) has
    at least one Latin letter (Vietnamese included) or digit: its audio clip is named from
    them, and a phrase without any would share one nameless clip with every other such
    phrase.
    """
    if not isinstance(template, str):
        raise TemplateError("lời đọc phải là chữ",
                            f"the wording must be text, not {type(template).__name__}")
    if len(template) > max_len:
        raise TemplateError(f"lời đọc dài quá {max_len} ký tự",
                            f"the wording is longer than {max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in template):
        raise TemplateError("lời đọc có ký tự điều khiển", "the wording has control characters")
    names = _ANY_BRACES.findall(template)
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        known = ", ".join("{" + n + "}" for n in sorted(PLACEHOLDERS))
        raise TemplateError(f"chỗ trống không hợp lệ {shown}; chỉ dùng {known}",
                            f"unknown placeholder {shown}; use only {known}")
    literal = _ANY_BRACES.sub(".", template)
    if "{" in literal or "}" in literal:
        raise TemplateError("dấu ngoặc { } lẻ, chưa đóng hoặc chưa mở",
                            "a stray brace: every { needs its }")
    missing = sorted(REQUIRED_PLACEHOLDERS - set(names))
    if missing:
        shown = ", ".join("{" + n + "}" for n in missing)
        raise TemplateError(f"lời đọc thiếu {shown}", f"the wording lacks {shown}")
    for phrase in PHRASE_SPLIT.split(literal):
        phrase = phrase.strip()
        if phrase and not fold(phrase):
            raise TemplateError(f"cụm “{phrase}” không có chữ cái hay chữ số nào để đọc",
                                f"the phrase “{phrase}” has no letter or digit to speak")
    return template
