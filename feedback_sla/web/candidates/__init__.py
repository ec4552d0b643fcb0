"""Candidate pages: the list of every candidate, a candidate's page and its actions, adding and
importing. The routes of its modules hang on one blueprint."""

from flask import Blueprint

bp = Blueprint("candidates", __name__, url_prefix="/candidates")

from feedback_sla.web.candidates import adding, listing, views  # noqa: E402, F401  (their routes)
