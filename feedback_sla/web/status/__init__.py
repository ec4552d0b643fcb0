"""The candidate's status page (/status/<token>): no login, no script, no cookie. The manager's
side (revoking a candidate's links, from the candidate page) hangs on the same blueprint."""

from flask import Blueprint

bp = Blueprint("status", __name__)

from feedback_sla.web.status import answers, manage, views  # noqa: E402, F401  (their routes)
