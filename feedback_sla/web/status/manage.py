"""The manager's side of status links: revoking a candidate's links from the candidate page."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import login_required

from feedback_sla.database import db
from feedback_sla.status_page import service
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import candidate_or_404, viewer
from feedback_sla.web.status import bp
from feedback_sla.web.transaction import Refused, one_transaction


@bp.post("/candidates/<int:candidate_id>/status-links/revoke")
@login_required
def revoke(candidate_id: int):
    """Every link earlier emails carried stops opening the candidate's page."""
    candidate = candidate_or_404(candidate_id)
    count = one_transaction(lambda: service.revoke(db.session, candidate, utcnow(), viewer()))
    if isinstance(count, Refused):
        flash(f"Nothing was revoked: {count.reason}.", "warning")
    else:
        links = "link" if count == 1 else f"{count} links"
        flash(f"Revoked {candidate.name}'s status page {links}: earlier emails no longer open it.", "success")
    return redirect(url_for("candidates.show", candidate_id=candidate_id))
