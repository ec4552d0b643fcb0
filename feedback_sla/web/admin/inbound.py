"""Admin page: the latest messages that came in by mail and what each did, unmatched ones included.

Only their text as recorded is shown (sender, subject, what they did): outside HTML is never rendered.
"""

from __future__ import annotations

from flask import render_template, request

from feedback_sla.database import db
from feedback_sla.inbound import service
from feedback_sla.web.admin.views import bp

#: Messages the page lists.
SHOWN = 50


@bp.get("/inbound")
def inbound():
    unmatched = request.args.get("unmatched") == "1"
    messages = service.recent(db.session, SHOWN, unmatched=unmatched)
    return render_template("admin/inbound.html", messages=messages, unmatched=unmatched, shown=SHOWN)
