"""Jinja filters: times in the viewer's zone with the zone named, deadlines in words."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask, g
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
    return value.strftime("%a %d %b %Y") if value else ""


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
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_time_in, "local_time_in")
    app.add_template_filter(languages.label, "language_label")
