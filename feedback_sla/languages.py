"""The languages candidates are written to in: the ones shipped, the organisation's choice of them,
and dates and numbers written in each (Babel, from CLDR).

A language is a BCP 47 tag. The app ships emails, the status page and its catalogs in
``SHIPPED``; the organisation enables some of them (``languages.enabled``) and names one the
default (``languages.default``, always enabled). Plain functions: no request, no database.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers

#: The languages the app ships its emails, status page and catalogs in; English first.
SHIPPED: tuple[str, ...] = ("en", "de", "fr", "es", "nl")
DEFAULT = "en"
#: The languages the app's own pages, messages and digest (the ``app`` catalog) ship in: a user
#: whose language is not one of them reads them in English.
APP: tuple[str, ...] = ("en", "de")
#: The longest tag a column holds (BCP 47 allows longer; none of ours comes near).
MAX_TAG = 35

#: The CLDR locale a language's dates are written in: English as the app always wrote them
#: ("Wednesday, 16 December 2026"), not the United States' month first.
_LOCALES = {"en": "en_GB"}


def for_pages(chosen: str | None, default: str) -> str:
    """The language a user reads the app in without a browser to ask (the digest): theirs when
    they chose one, else the organisation's default; English when the app is not shipped in it."""
    for tag in (chosen, default):
        if tag and normalize(tag) in APP:
            return normalize(tag)
    return DEFAULT


def normalize(tag: str | None) -> str:
    """A tag as the app keeps it: trimmed, lower case, ``_`` written ``-`` ("DE" and "de_DE" read
    as "de" when only the language is shipped)."""
    text = (tag or "").strip().replace("_", "-").lower()
    if text in SHIPPED:
        return text
    primary = text.split("-", 1)[0]
    return primary if primary in SHIPPED else text


def check(tag: str | None, enabled: Sequence[str]) -> str:
    """One of ``enabled``, as kept; ValueError naming the languages otherwise."""
    found = normalize(tag)
    if found not in enabled:
        raise ValueError(f"{tag!r} is not one of the organisation's languages ({', '.join(enabled)})")
    return found


def parse_enabled(text: str) -> tuple[str, ...]:
    """The organisation setting ``languages.enabled``: shipped tags separated by commas or spaces."""
    wanted = [part for part in text.replace(",", " ").split() if part]
    if not wanted:
        raise ValueError(f"name at least one language of {', '.join(SHIPPED)}")
    unknown = [tag for tag in wanted if normalize(tag) not in SHIPPED]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: the languages shipped are {', '.join(SHIPPED)}")
    return tuple(dict.fromkeys(normalize(tag) for tag in wanted))


def parse_default(text: str) -> str:
    """The organisation setting ``languages.default``: one shipped tag."""
    return check(text, SHIPPED)


def enabled_with_default(enabled: Iterable[str], default: str) -> tuple[str, ...]:
    """The enabled languages, the default first (it is enabled whatever the list says)."""
    return tuple(dict.fromkeys([default, *enabled]))


def effective(tag: str | None, enabled: Sequence[str], default: str) -> str:
    """The language to write to someone in: theirs while it is enabled, else the default."""
    found = normalize(tag)
    return found if found in enabled or found == default else default


def best_match(accepted: Iterable[str], enabled: Sequence[str]) -> str | None:
    """The first of ``accepted`` (a browser's languages, best first) the organisation has."""
    for tag in accepted:
        found = normalize(tag)
        if found in enabled:
            return found
    return None


@functools.cache
def locale(language: str) -> Locale:
    return Locale.parse(_LOCALES.get(language, language))


def name_of(language: str, in_language: str | None = None) -> str:
    """A language's name, in itself by default ("Deutsch"), capitalised as a menu shows it."""
    name = Locale.parse(language).get_display_name(in_language or language) or language
    return name[:1].upper() + name[1:]


def label(language: str) -> str:
    """How a menu names a language for someone reading English and for its speakers:
    "German · Deutsch"."""
    english, own = name_of(language, "en"), name_of(language)
    return english if english == own else f"{english} · {own}"


@functools.lru_cache(maxsize=1024)
def long_date(day: dt.date, language: str) -> str:
    """A date as a candidate reads it, the same in every email and on their page:
    "Wednesday, 16 December 2026", "Mittwoch, 16. Dezember 2026" (written out once per day and
    language: autopilot's run promises the same few dates to thousands)."""
    return dates.format_date(day, "full", locale=locale(language))


def long_datetime(moment: dt.datetime, time_zone: str, language: str) -> str:
    """A moment on a zone's clock, its day as ``long_date`` writes it and the time as the language
    writes it: "Mittwoch, 16. Dezember 2026, 09:00"."""
    local = moment.astimezone(ZoneInfo(time_zone))
    time = dates.format_time(local, "short", locale=locale(language))
    return f"{long_date(local.date(), language)}, {time}"


def number(value: float, language: str) -> str:
    """A number as the language writes it: 1,234.5 in English, 1.234,5 in German."""
    return numbers.format_decimal(value, locale=locale(language))
