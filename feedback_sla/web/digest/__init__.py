"""The digest's one-click unsubscribe link (/digest/unsubscribe/<token>): no login, no cookie."""

from flask import Blueprint

bp = Blueprint("digest", __name__)

from feedback_sla.web.digest import views  # noqa: E402, F401  (its routes)
