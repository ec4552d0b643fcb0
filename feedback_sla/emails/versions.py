"""A named template's versions, one per language: its own text, in the language it was written in,
and the versions an admin wrote in other languages.

A candidate gets the version in their language; without one, the whole template in the
organisation's default language, else in its own: never a message half in one language and half
in another, never an empty one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from feedback_sla.emails.models import EmailTemplate


@dataclass(frozen=True)
class Version:
    language: str
    subject: str
    text: str
    html: str
    updated_by: str | None
    updated_at: dt.datetime | None
    #: The template's own text (``EmailTemplate``), not a ``TemplateVersion``.
    own: bool = False


def all_of(row: EmailTemplate) -> dict[str, Version]:
    """Every version of the template by language, its own first."""
    found = {
        row.language: Version(
            row.language,
            row.subject,
            row.text_body,
            row.html_body,
            row.updated_by.name if row.updated_by else None,
            row.updated_at,
            own=True,
        )
    }
    for other in sorted(row.versions, key=lambda v: v.language):
        found.setdefault(
            other.language,
            Version(
                other.language,
                other.subject,
                other.text_body,
                other.html_body,
                other.updated_by.name if other.updated_by else None,
                other.updated_at,
            ),
        )
    return found


def written_in(row: EmailTemplate, language: str) -> Version | None:
    return all_of(row).get(language)


def chosen(row: EmailTemplate, language: str, fallback: str) -> Version:
    """The version a candidate in ``language`` gets: theirs, else ``fallback``'s (the organisation's
    default language), else the template's own."""
    found = all_of(row)
    return found.get(language) or found.get(fallback) or found[row.language]
