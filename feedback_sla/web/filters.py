"""Jinja filters: times in the viewer's zone with the zone named, deadlines in words."""

from __future__ import annotations

import datetime as dt
import functools
import re

from babel import Locale, dates
from flask import Flask, g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from feedback_sla import languages
from feedback_sla.timeutil import DISPLAY_FORMAT, local_time_in
from feedback_sla.waits.clock import State


def viewer_zone() -> str:
    """The viewer's time zone, looked up once per request (a page formats dozens of times)."""
    zone = g.get("viewer_zone")
    if zone is None:
        zone = g.viewer_zone = (
            current_user.time_zone if current_user and current_user.is_authenticated else "UTC"
        )
    return zone


def local_time(value: dt.datetime | None, fmt: str = DISPLAY_FORMAT) -> str:
    """A UTC timestamp in the viewer's time zone, with the zone's name."""
    return local_time_in(value, viewer_zone(), fmt)


def local_date(value: dt.date | None) -> str:
    """A day in the page's language: "Wed 16 Dec 2026", "Mittwoch, 16. Dezember 2026"."""
    if not value:
        return ""
    return _day_in(value, get_locale() or languages.locale(languages.DEFAULT))


@functools.lru_cache(maxsize=2048)
def _day_in(day: dt.date, locale: Locale) -> str:
    """Written out once per day and language: a page lists dozens of promised dates."""
    return dates.format_date(day, "EEE dd MMM y" if locale.language == "en" else "full", locale=locale)


#: Where a page of a list read from a cursor starts: it belongs to that page only.
PAGE_CURSORS = ("after", "before")


def combine_args(args: dict, **changes) -> dict:
    """Query arguments with some replaced, for links that keep the other filters; a link to
    another page drops the cursor of this one unless it gives its own, and the triage row whose
    menu this page opened in place (``menu``, for a browser without JavaScript)."""
    if "page" in changes:
        changes = {**dict.fromkeys((*PAGE_CURSORS, "menu")), **changes}
    return {**args, **changes}


#: Badge colours per state; a badge always says its state in words too (never colour alone).
STATE_BADGES = {
    State.ESCALATED: "bg-danger",
    State.OVERDUE: "bg-warning text-dark",
    State.DUE_SOON: "bg-info text-dark",
    State.ON_TRACK: "bg-success",
}


#: A state in words, in the page's language (``state.label`` stays the English the API and files use).
STATE_WORDS = {
    State.ESCALATED: _l("Escalated"),
    State.OVERDUE: _l("Overdue"),
    State.DUE_SOON: _l("Due soon"),
    State.ON_TRACK: _l("On track"),
}


#: Other names the pages give in words, by their value: why a candidate waits, how a list sorts.
WORDS = {
    "application": _l("application"),
    "decision": _l("decision after interview"),
    "follow_up": _l("reply to follow-up"),
    "urgency": _l("Urgency"),
    "deadline": _l("Deadline"),
    "waited": _l("Days waited"),
    "name": _l("Name"),
    # Email kinds ("the rejection to Alex").
    "rejection": _l("rejection"),
    "offer": _l("offer"),
    "update": _l("status update"),
    "next_step": _l("next-step invitation"),
    "acknowledgement": _l("application acknowledgement"),
    "digest": _l("daily digest"),
    "nudge": _l("nudge"),
    # What an answer makes of a candidate.
    "active": _l("active"),
    "rejected": _l("rejected"),
    "offered": _l("offered"),
    "hired": _l("hired"),
    "withdrawn": _l("withdrawn"),
}


#: Email kinds in the plural ("Queued 3 rejections").
PLURAL_WORDS = {
    "rejection": _l("rejections"),
    "offer": _l("offers"),
    "update": _l("status updates"),
    "next_step": _l("next-step invitations"),
    "acknowledgement": _l("application acknowledgements"),
}


def plural_words(kind) -> str:
    found = PLURAL_WORDS.get(getattr(kind, "value", kind))
    return str(found) if found is not None else f"{getattr(kind, 'label', kind)}s"


def state_words(state: State) -> str:
    return str(STATE_WORDS[state])


def words(value) -> str:
    """A wait's reason, a sort order or an email's kind in the page's language (its English label
    otherwise)."""
    found = WORDS.get(getattr(value, "value", value))
    return str(found) if found is not None else getattr(value, "label", str(value))


#: Where a long address may wrap: after its @, before each dot, hyphen or underscore.
_ADDRESS_BREAK = re.compile(r"(?<=@)|(?=[.\-_])")


def address_breaks(value: str | None) -> Markup:
    """An email address (or any long dotted name) escaped, with a line-break opportunity (``<wbr>``)
    after its @ and before each dot, hyphen and underscore, so a narrow column wraps it there rather
    than in the middle of a word."""
    parts = _ADDRESS_BREAK.split(str(value or ""))
    return Markup("<wbr>").join(escape(part) for part in parts)


def init_app(app: Flask) -> None:
    app.add_template_filter(address_breaks, "address_breaks")
    app.jinja_env.globals["state_badges"] = STATE_BADGES
    app.add_template_filter(combine_args, "combine_args")
    app.add_template_filter(state_words, "state_words")
    app.add_template_filter(words, "words")
    app.add_template_filter(plural_words, "plural_words")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_time_in, "local_time_in")
    app.add_template_filter(languages.label, "language_label")
