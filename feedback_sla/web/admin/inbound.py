"""Admin page: the latest messages that came in by mail and what each did, unmatched ones included,
and the delivery reports waiting for an admin to apply them.

Only their text as recorded is shown (sender, subject, what they did): outside HTML is never rendered.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext

from feedback_sla.database import db
from feedback_sla.inbound import bounces, service
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import viewer
from feedback_sla.web.admin.views import bp
from feedback_sla.web.transaction import Refused, one_transaction

#: Messages the page lists, and unconfirmed reports above them.
SHOWN = 50


@bp.get("/inbound")
def inbound():
    unmatched = request.args.get("unmatched") == "1"
    messages = service.recent(db.session, SHOWN, unmatched=unmatched)
    unconfirmed = bounces.unconfirmed(db.session, SHOWN)
    return render_template(
        "admin/inbound.html", messages=messages, unconfirmed=unconfirmed, unmatched=unmatched, shown=SHOWN
    )


@bp.post("/inbound/<int:inbound_id>/apply")
def apply_bounce(inbound_id: int):
    """Apply a delivery report that named the email only by its address, as a proven one."""
    db.get_or_404(InboundMessage, inbound_id)
    row = one_transaction(lambda: bounces.apply(db.session, inbound_id, utcnow(), viewer()))
    if isinstance(row, Refused):
        flash(gettext("Not applied: %(reason)s.", reason=row.reason), "danger")
    else:
        flash(gettext("Applied: %(outcome)s.", outcome=row.outcome), "success")
    return redirect(url_for("admin.inbound"))
