"""Answering from the digest: a row's "Send update" or "Reject" link opens a confirmation page.

The signed token in the address names the manager, the candidate and the answer (``digest.answers``).
A GET, which mail scanners make for every link, only shows the candidate and what the answer will
do; the page's button POSTs (with its CSRF token, as every form) and the answer goes through the
wait's door with the triage page's checks and undo window. Only the manager the digest went to may
use a link, signed in as themselves; an admin answers from the triage or candidate page instead.
An expired or altered link, or another user's, is refused with a page that says so.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Regexp

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.digest import answers
from feedback_sla.digest.answers import ANSWER_PATH, Action, AnswerLink
from feedback_sla.emails import checks
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import promises
from feedback_sla.waits.clock import business_days_counter
from feedback_sla.web.access import candidate_or_404, viewer
from feedback_sla.web.digest import bp
from feedback_sla.web.email_parts import NONCE_PATTERN, new_nonce, queued_message
from feedback_sla.web.flashes import flash_undoable
from feedback_sla.web.forms import errors_text
from feedback_sla.web.transaction import Refused, attempt, one_transaction

OUT_OF_DATE = "The page is out of date: open the link again"


class AnswerForm(FlaskForm):
    """The confirmation's button; the page's nonce makes a double click queue one email."""

    nonce = HiddenField(validators=[DataRequired(OUT_OF_DATE), Regexp(NONCE_PATTERN, message=OUT_OF_DATE)])


def _config() -> EmailConfig:
    return settings_service.email_config(db.session, EmailConfig.from_app(current_app))


@bp.route(f"{ANSWER_PATH}<token>", methods=["GET", "POST"])
def answer_page(token: str):
    """GET shows the candidate and what the answer does; POST (the page's button) does it."""
    now = utcnow()
    try:
        link = answers.read_token(current_app.config.get("SECRET_KEY") or "", token, now)
    except answers.LinkAltered:
        return _refused("altered", 400)
    except answers.LinkExpired as expired:
        return _refused("expired", 410, expired.link)
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # back here after logging in
    if current_user.id != link.manager_id:
        return _refused("other", 403)
    candidate = candidate_or_404(link.candidate_id)
    if candidate.position.manager_id != link.manager_id:
        abort(404)  # no longer theirs: as for any candidate that is not
    if request.method == "POST":
        return _act(candidate, link, now)
    return _confirm(candidate, link, now, AnswerForm(formdata=None))


def _refused(why: str, status: int, link: AnswerLink | None = None):
    manager = db.session.get(User, link.manager_id) if link is not None else None
    expired_at = None
    if link is not None:
        time_zone = manager.time_zone if manager is not None else "UTC"
        expired_at = (link.expires_at, time_zone)
    return render_template("digest/answer_refused.html", why=why, expired_at=expired_at), status


def _confirm(candidate: Candidate, link: AnswerLink, now: dt.datetime, form: AnswerForm, status: int = 200):
    """The confirmation page: the candidate, how long they have waited, and what the answer does
    (the email it queues, shown in full), or how they were answered meanwhile."""
    org = settings_service.load(db.session)
    standing = answers.standing(db.session, candidate, link.action)
    wait = standing.wait
    waited = business_days_counter(now, org)(wait.opened_at, candidate.position.time_zone) if wait else None
    promised = draft = None
    if standing.answered is None:
        if link.action is Action.UPDATE:
            promised = promises.promise_date_for(wait, candidate, now, org)
        config = _config()
        draft = attempt(
            lambda: checks.draft(db.session, candidate, link.action.kind, config, promised_date=promised)
        )
        if isinstance(draft, Refused):
            form.form_errors.append(gettext("This answer cannot be sent: %(reason)s", reason=draft.reason))
            draft = None
    form.nonce.data = new_nonce()
    return render_template(
        "digest/answer.html",
        candidate=candidate,
        action=link.action.value,
        wait=wait,
        waited=waited,
        answered=standing.answered.value if standing.answered else None,
        promised=promised,
        draft=draft,
        form=form,
        undo_seconds=EmailConfig.from_app(current_app).undo_seconds,
        customize_url=url_for(
            "emails.customize", candidate_id=candidate.id, kind="rejection", next=request.path
        ),
    ), status


def _act(candidate: Candidate, link: AnswerLink, now: dt.datetime):
    form = AnswerForm()
    candidate_id = candidate.id
    if not form.validate_on_submit():
        flash(gettext("Nothing was done. %(errors)s", errors=errors_text(form)), "danger")
        return _confirm(candidate, link, now, form, 400)
    wanted = answers.Answer(candidate, link.action, viewer(), form.nonce.data, now)
    org, config = settings_service.load(db.session), _config()
    queued = one_transaction(lambda: _said(answers.answer(db.session, wanted, config, org), candidate))
    if isinstance(queued, Refused):
        form = AnswerForm(formdata=None)
        if not isinstance(queued.error, answers.AlreadyAnswered):  # the page says how they were
            form.form_errors.append(gettext("Nothing was queued: %(reason)s", reason=queued.reason))
        return _confirm(candidate_or_404(candidate_id), link, now, form, 409)
    text, status, until, undo_url = queued
    back = request.path  # this page again: it now says the answer is on its way
    if status == OutboxStatus.PENDING:
        flash_undoable(text, undo_url, until, back)
    else:
        flash(text, "warning" if status == OutboxStatus.CANCELLED else "success")
    return redirect(back)


def _said(message: OutboxMessage, candidate: Candidate) -> tuple[str, OutboxStatus, dt.datetime, str]:
    """What is said of the queued email, read before the commit expires the rows."""
    undo_seconds = EmailConfig.from_app(current_app).undo_seconds
    until = min(message.send_after, message.queued_at + dt.timedelta(seconds=undo_seconds))
    undo_url = url_for("emails.undo", message_id=message.id)
    return (
        queued_message(message, candidate, gettext("open the link again to send it")),
        message.status,
        until,
        undo_url,
    )
