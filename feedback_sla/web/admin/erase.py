"""Admin page: erase one candidate's personal data on request (a confirmation page, then a POST).

The candidate page links here for admins; managers get 404 like every admin page.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from feedback_sla.database import db
from feedback_sla.retention import service as retention
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import candidate_or_404, viewer
from feedback_sla.web.admin.views import bp
from feedback_sla.web.forms import stripped
from feedback_sla.web.transaction import Refused, attempt


class EraseForm(FlaskForm):
    reason = StringField(
        "Why (recorded on the timeline)",
        filters=[stripped],
        validators=[Length(max=retention.MAX_REASON)],
        default="on request",
    )


def _page(candidate, form: EraseForm, status: int = 200):
    held = retention.holdings(db.session, candidate)
    return render_template("admin/erase.html", candidate=candidate, form=form, held=held), status


@bp.get("/candidates/<int:candidate_id>/erase")
def erase(candidate_id: int):
    return _page(candidate_or_404(candidate_id), EraseForm())


@bp.post("/candidates/<int:candidate_id>/erase")
def erase_confirmed(candidate_id: int):
    candidate = candidate_or_404(candidate_id)
    form = EraseForm()
    if not form.validate_on_submit():
        return _page(candidate, form, 422)
    request = attempt(
        lambda: retention.request_by(f"admin {viewer().email}", form.reason.data or "", viewer())
    )
    if isinstance(request, Refused):
        form.reason.errors.append(request.reason)
        return _page(candidate, form, 422)
    if retention.erase(db.session, candidate, utcnow(), request) is None:
        flash(gettext("This candidate's personal data was erased before."), "info")
    else:
        flash(
            gettext("Personal data erased: the waits stay, counted in reports under a neutral name."),
            "success",
        )
    db.session.commit()
    return redirect(url_for("candidates.show", candidate_id=candidate_id))
