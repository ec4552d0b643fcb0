"""``GET /calendar/<token>.ics``: the feed of the user whose token it is; 404 for any other."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request

from feedback_sla.calendar_feed import service
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.get("/<token>.ics")
def feed(token: str):
    user = service.user_for(db.session, token)
    if user is None:
        abort(404)
    base_url = current_app.config["BASE_URL"] + "/" if current_app.config["BASE_URL"] else request.url_root
    body = service.feed(db.session, user, utcnow(), base_url, urlsplit(base_url).hostname or "localhost")
    return (
        body,
        200,
        {
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="answers-owed.ics"',
            # The URL is the credential: it must not be kept by a cache or sent on as a referrer.
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )
