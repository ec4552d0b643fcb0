"""Small pieces of English the pages, the emails and the commands share."""

from __future__ import annotations


def a_or_an(noun: str) -> str:
    """'a rejection', 'an offer'."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
