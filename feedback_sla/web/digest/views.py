"""Turning the daily digest off from the link in it.

A mail client's one-click unsubscribe (RFC 8058) POSTs to the link with no cookie and no CSRF
token: the signed token in the address names the manager, and is all the page needs. A GET, which
mail scanners make for every link, only shows the question with its button; it never acts.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request

from feedback_sla.database import db
from feedback_sla.digest import unsubscribe
from feedback_sla.emails.automatic import UNSUBSCRIBE_PATH
from feedback_sla.extensions import csrf
from feedback_sla.web.digest import bp

#: The address holds the token: no Referer names it, no cache or index keeps the page.
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}


@bp.route(f"{UNSUBSCRIBE_PATH}<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe_page(token: str):
    """GET asks; POST (the page's button, or the mail client's one click) turns the digest off."""
    user = unsubscribe.user_of(db.session, current_app.config["SECRET_KEY"], token)
    if user is None:
        abort(404)
    if request.method == "GET":
        return render_template("digest/unsubscribe.html", user=user, done=None)
    result = unsubscribe.turn_off(db.session, user)
    db.session.commit()
    return render_template("digest/unsubscribe.html", user=user, done=result.outcome)


@bp.after_request
def _private(response):
    """Every answer of the blueprint, an error included."""
    response.headers.update(HEADERS)
    return response
