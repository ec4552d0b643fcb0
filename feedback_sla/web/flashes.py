"""Messages that confirm an action, some with an Undo button for as long as the undo lasts.

A plain message is a string. An undoable one is a mapping (the session stores it as JSON): its
text, the URL its Undo button posts to, when the undo ends and where the Undo returns to.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, flash

from feedback_sla.timeutil import as_utc, utcnow


def flash_undoable(text: str, undo_url: str, until: dt.datetime, back: str | None) -> None:
    """A confirmation holding its Undo button; without time left it is a plain message."""
    if as_utc(until) <= utcnow():
        flash(text, "success")
        return
    flash({"text": text, "undo": undo_url, "until": as_utc(until).isoformat(), "next": back or ""}, "success")


def seconds_left(until: str) -> int:
    """Whole seconds until an ISO time, never below zero."""
    return max(0, int((dt.datetime.fromisoformat(until) - utcnow()).total_seconds()))


def init_app(app: Flask) -> None:
    app.add_template_filter(seconds_left, "seconds_left")
