"""The digest's links: one-click unsubscribe (/digest/unsubscribe/<token>: no login, no cookie) and
the rows' answers (/digest/answer/<token>: a confirmation page for the manager, signed in)."""

from flask import Blueprint

bp = Blueprint("digest", __name__)

from feedback_sla.web.digest import answers, views  # noqa: E402, F401  (their routes)
