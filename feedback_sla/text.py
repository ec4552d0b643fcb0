"""Small pieces of English the pages, the emails and the commands share."""

from __future__ import annotations

import re
import unicodedata

from feedback_sla.errors import DomainError


def a_or_an(noun: str) -> str:
    """'a rejection', 'an offer'."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


#: What a name, a title or a subject may be: printable text on one line.
_LINE_BREAKS = ("\n", "\r", "\u2028", "\u2029", "\x85")


def normalize_newlines(text: str | None) -> str:
    """Line breaks as LF: browsers send a textarea's lines with CR LF, messages keep LF."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def clean_line(value: str, field: str, max_length: int) -> str:
    """One line a person typed, stripped: DomainError names the field when it is empty, holds a
    line break, a NUL or another control character, or is longer than ``max_length``."""
    value = clean_text(value, field, max_length)
    if any(mark in value for mark in _LINE_BREAKS):
        raise DomainError(f"{field}: must be one line (it contains a line break)")
    if not value:
        raise DomainError(f"{field}: must not be empty")
    return value


def clean_text(value: str, field: str, max_length: int) -> str:
    """Text a person typed, stripped, line breaks and tabs allowed: DomainError names the field when
    it holds a NUL or another control character, or is longer than ``max_length``."""
    value = normalize_newlines(value).strip()
    check_characters(value, field)
    if len(value) > max_length:
        raise DomainError(f"{field}: longer than {max_length} characters ({len(value)})")
    return value


#: A control character other than a line break or a tab (C0, DEL and C1 but NEL), or a lone
#: surrogate: searched in one pass (every door checks every field, autopilot thousands a minute).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")


def check_characters(value: str, field: str) -> None:
    """DomainError naming the field when the text holds a NUL or another control character (line
    breaks and tabs are text), or a lone surrogate (what invalid UTF-8 decodes to)."""
    found = _NOT_TEXT.search(value)
    if found is None:
        return
    char = found.group()
    if 0xD800 <= ord(char) <= 0xDFFF:
        raise DomainError(
            f"{field}: contains {_named(char)}, half of a character that is not text; remove it"
        )
    raise DomainError(f"{field}: contains a control character ({_named(char)}); remove it")


def printable(text: str, *, keep: str = "", replacement: str = "") -> str:
    """Text from outside with every character that does not print (NUL, other controls, line
    breaks) replaced by ``replacement``, except those in ``keep``."""
    return "".join(char if char.isprintable() or char in keep else replacement for char in text)


def one_line(text: str | None, limit: int) -> str:
    """Text from outside on one line, its runs of spaces, line breaks and control characters (a NUL
    included) made one space, cut to ``limit``."""
    return " ".join(printable(text or "", replacement=" ").split())[:limit]


def _named(char: str) -> str:
    return "NUL" if char == "\0" else f"U+{ord(char):04X}"


def search_key(*parts: str) -> str:
    """Text folded for searching: lower case without accents, so "zoe" finds "Zoë" and "ZOË"."""
    folded = unicodedata.normalize("NFKD", " ".join(parts).casefold())
    return "".join(char for char in folded if not unicodedata.combining(char))
