"""Chat pages: the admins' connection page (/admin/chat) and Slack's interactivity request URL
(/chat/slack/interactivity: no session, no cookie; every request is signed by Slack)."""

from flask import Blueprint

bp = Blueprint("chat", __name__, url_prefix="/admin/chat")
slack_bp = Blueprint("slack", __name__, url_prefix="/chat/slack")

from feedback_sla.web.chat import admin, slack  # noqa: E402, F401  (their routes)
