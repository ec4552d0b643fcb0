"""Candidate emails in the browser: one click with undo, customizing, retrying, and template editing.

Every action validates its form, calls one service function, commits once and says what happened.
A message is reached through its candidate, so a manager can only touch their own candidates' email.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from wtforms.fields import SelectChoice

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails import checks, choosing, composing, scheduling
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.text import normalize_newlines
from feedback_sla.timeutil import local_date, utcnow
from feedback_sla.waits import answers, promises
from feedback_sla.web.access import candidate_or_404, message_or_404, safe_next, viewer
from feedback_sla.web.email_parts import (
    SENDABLE,
    SendForm,
    fingerprint,
    idempotency_key,
    new_nonce,
    queued_message,
)
from feedback_sla.web.emails.forms import CustomizeForm, MessageForm, picked
from feedback_sla.web.flashes import flash_undoable
from feedback_sla.web.forms import ReturnForm, errors_text
from feedback_sla.web.transaction import Refused, attempt, one_transaction

bp = Blueprint("emails", __name__)

#: The emails a button queues at once with the default template.
ONE_CLICK = (EmailKind.REJECTION, EmailKind.OFFER, EmailKind.UPDATE)


def _kind_or_404(value: str, allowed: tuple[EmailKind, ...]) -> EmailKind:
    try:
        kind = EmailKind(value)
    except ValueError:
        abort(404)
    if kind not in allowed:
        abort(404)
    return kind


def _config() -> EmailConfig:
    """The email settings, with the company name the admins set."""
    return settings_service.email_config(db.session, EmailConfig.from_app(current_app))


def _sample() -> dict[str, str]:
    """The sample candidate a preview is written for, applying to the organisation's company."""
    return {**composing.SAMPLE, "company": _config().organisation_name}


def _back(form: ReturnForm, candidate_id: int):
    """Where the form came from (at the candidate's row), else the candidate page."""
    back = safe_next(form.back_to(candidate_id))
    return redirect(back or url_for("candidates.show", candidate_id=candidate_id))


def _queued(message: OutboxMessage, candidate: Candidate) -> tuple[str, OutboxStatus, dt.datetime, str]:
    """What is said of a queued email, read before the commit expires the rows."""
    undo_url = url_for("emails.undo", message_id=message.id)
    # A scheduled email's Undo shows for the undo window; then its candidate's page keeps it.
    until = min(message.send_after, message.queued_at + dt.timedelta(seconds=_undo_seconds()))
    return queued_message(message, candidate), message.status, until, undo_url


def _undo_seconds() -> int:
    return EmailConfig.from_app(current_app).undo_seconds


def _answered(queued: tuple[str, OutboxStatus, dt.datetime, str], back: str):
    """Say what was queued, with its Undo while it lasts, and go back where the manager came from:
    the triage row, or else the candidate's page."""
    text, status, send_after, undo_url = queued
    if status == OutboxStatus.CANCELLED:
        flash(text, "warning")
    elif status == OutboxStatus.PENDING:
        flash_undoable(text, undo_url, send_after, back)
    else:
        flash(text, "success")
    return redirect(back)


# --- one click, undo, retry -----------------------------------------------------------------------


@bp.post("/candidates/<int:candidate_id>/emails/<kind>")
@login_required
def send(candidate_id: int, kind: str):
    """Queue the default template at once; the page's nonce makes a double click queue one email."""
    candidate = candidate_or_404(candidate_id)
    kind = _kind_or_404(kind, ONE_CLICK)
    now = utcnow()
    form = SendForm(today=local_date(now, candidate.position.time_zone))
    if not form.validate_on_submit():
        flash(gettext("Nothing was queued. %(errors)s", errors=errors_text(form)), "danger")
        return _back(form, candidate_id)
    wanted = EmailRequest(
        candidate,
        kind,
        idempotency_key(form.nonce.data, candidate.id, kind.value),
        now,
        viewer(),
        promised_date=form.promised_date.data if kind == EmailKind.UPDATE else None,
        default_promise=True,
    )
    back = safe_next(form.back_to(candidate.id)) or url_for("candidates.show", candidate_id=candidate.id)
    queued = one_transaction(
        lambda: _queued(
            answers.queue_email(db.session, wanted, _config(), settings_service.load(db.session)), candidate
        )
    )
    if isinstance(queued, Refused):
        flash(gettext("Nothing was queued: %(reason)s", reason=queued.reason), "danger")
        return _back(form, candidate_id)
    return _answered(queued, back)


@bp.post("/emails/<int:message_id>/undo")
@login_required
def undo(message_id: int):
    message = message_or_404(message_id)
    form = MessageForm()
    candidate = message.candidate
    undone = one_transaction(lambda: answers.undo_email(db.session, message, utcnow(), viewer()))
    if isinstance(undone, Refused):
        flash(gettext("Not undone: %(reason)s.", reason=undone.reason), "danger")
        return _back(form, candidate.id)
    text = f"Undone: the {message.kind.label} to {candidate.name} will not be sent."
    if message.kind in STATUS_SET:
        text += f" {candidate.name} is {candidate.status.value} again."
    if message.promised_date is not None:
        text += " The promised date is back to what it was."
    flash(text, "success")
    return _back(form, candidate.id)


@bp.post("/emails/<int:message_id>/retry")
@login_required
def retry(message_id: int):
    message = message_or_404(message_id)
    form = MessageForm()
    candidate = message.candidate
    retried = one_transaction(lambda: answers.retry_email(db.session, message, utcnow(), viewer()))
    if isinstance(retried, Refused):
        flash(gettext("Not retried: %(reason)s.", reason=retried.reason), "danger")
        return _back(form, candidate.id)
    flash(
        gettext(
            "The %(label)s to %(name)s is queued again and sent shortly.",
            label=message.kind.label,
            name=candidate.name,
        ),
        "success",
    )
    return _back(form, candidate.id)


# --- customize ------------------------------------------------------------------------------------


@bp.route("/candidates/<int:candidate_id>/emails/<kind>/customize", methods=["GET", "POST"])
@login_required
def customize(candidate_id: int, kind: str):
    """Preview the message for this candidate, edit it, add feedback and reasons, then queue it."""
    candidate = candidate_or_404(candidate_id)
    kind = _kind_or_404(kind, SENDABLE)
    now = utcnow()
    org = settings_service.load(db.session)
    config = _config()
    form = CustomizeForm(today=local_date(now, candidate.position.time_zone))
    if request.method == "GET":
        return _customize_start(candidate, kind, form, now, org, config)

    if not form.validate_on_submit():
        return _render_customize(candidate, kind, form, None, 422)
    subject = form.subject.data
    text = normalize_newlines(form.text.data)
    # Another template picked: its message replaces the one shown, edited or not.
    repicked = (form.template.data or "") != (form.shown_template.data or "")
    subject_edited = fingerprint(subject) != form.shown_subject.data and not repicked
    text_edited = fingerprint(text) != form.shown_text.data and not repicked
    feedback = form.feedback.data if kind == EmailKind.REJECTION else None
    promised = form.promised_date.data if kind == EmailKind.UPDATE else None
    template = form.picked_template()
    fresh = attempt(
        lambda: checks.draft(
            db.session, candidate, kind, config, promised_date=promised, feedback=feedback, template=template
        )
    )
    if isinstance(fresh, Refused):
        form.form_errors.append(fresh.reason)
        return _render_customize(candidate, kind, form, None, 422)

    form.shown_template.data = form.template.data
    if request.form.get("action") != "queue":
        return _render_customize(
            candidate, kind, form, _preview(form, fresh, text, subject_edited, text_edited)
        )
    kept = attempt(lambda: checks.check_feedback_kept(feedback, text if text_edited else None))
    if isinstance(kept, Refused):
        form.feedback.errors.append("Feedback: " + kept.reason.removeprefix("feedback: "))
        return _render_customize(candidate, kind, form, None, 422)
    wanted = EmailRequest(
        candidate,
        kind,
        idempotency_key(form.nonce.data, candidate.id, kind.value),
        now,
        viewer(),
        promised_date=promised,
        feedback=feedback,
        reasons=tuple(form.picked_reasons()) if kind == EmailKind.REJECTION else (),
        subject=subject if subject_edited else None,
        text=text if text_edited else None,
        template=template,
        send_at=form.chosen_send_at(),
    )
    return _queue_customized(candidate, kind, form, wanted, config, org)


def _preview(form, fresh: RenderedEmail, text: str, subject_edited: bool, text_edited: bool) -> RenderedEmail:
    """The template follows the new feedback or date, unless the manager rewrote it."""
    if not subject_edited:
        form.subject.data, form.shown_subject.data = fresh.subject, fingerprint(fresh.subject)
    if not text_edited:
        form.text.data, form.shown_text.data = fresh.text, fingerprint(fresh.text)
    html = fresh.html if not text_edited else str(composing.text_to_html(text))
    return RenderedEmail(form.subject.data, form.text.data, html)


def _queue_customized(candidate, kind, form, wanted: EmailRequest, config, org):
    candidate_id = candidate.id
    back = safe_next(form.back_to(candidate_id)) or url_for("candidates.show", candidate_id=candidate_id)
    queued = one_transaction(lambda: _queued(answers.queue_email(db.session, wanted, config, org), candidate))
    if isinstance(queued, Refused):
        if queued.reason.startswith("send at: "):
            form.send_at.errors = [
                *form.send_at.errors,
                "Send at: " + queued.reason.removeprefix("send at: "),
            ]
        else:
            form.form_errors.append(gettext("Nothing was queued: %(reason)s", reason=queued.reason))
        return _render_customize(candidate_or_404(candidate_id), kind, form, None, 409)
    return _answered(queued, back)


def _customize_start(candidate, kind, form, now, org, config):
    promised = None
    if kind == EmailKind.UPDATE:
        promised = promises.default_promise_date(db.session, candidate, now, org)
    template = picked(request.args.get("template"))
    rendered = attempt(
        lambda: checks.draft(db.session, candidate, kind, config, promised_date=promised, template=template)
    )
    form.template.data = form.shown_template.data = "" if template is None else str(template)
    if isinstance(rendered, Refused):
        form.form_errors.append(rendered.reason)
        return _render_customize(candidate, kind, form, None, 409)
    form.nonce.data = new_nonce()
    form.next.data = safe_next(request.args.get("next")) or ""
    form.promised_date.data = promised
    form.subject.data, form.shown_subject.data = rendered.subject, fingerprint(rendered.subject)
    form.text.data, form.shown_text.data = rendered.text, fingerprint(rendered.text)
    return _render_customize(candidate, kind, form, rendered)


def template_choices(candidate: Candidate | None, kind: EmailKind, who: str) -> list[SelectChoice]:
    """A template picker's options: the default (named), then each template of the kind."""
    listing = choosing.catalogue(db.session, [kind])
    default = listing.default_for(kind, candidate)
    named = [SelectChoice(str(c.value), c.name) for c in listing.of_kind(kind)]
    return [SelectChoice("", f"{who}: {default.name}"), *named]


def _render_customize(candidate, kind, form, preview: RenderedEmail | None, status: int = 200):
    form.template.choices = template_choices(candidate, kind, gettext("Default for this candidate"))
    time_zone = scheduling.zone_of(candidate)
    clock = f"{scheduling.whose(candidate.time_zone, time_zone)}, {time_zone}"
    form.send_when.choices = [
        SelectChoice("now", gettext("After the undo window")),
        SelectChoice("tomorrow", gettext("Tomorrow at 09:00 (%(clock)s)", clock=clock)),
        SelectChoice("at", gettext("At a date and time I choose (%(clock)s)", clock=clock)),
    ]
    return render_template(
        "emails/customize.html",
        candidate=candidate,
        kind=kind,
        kinds=SENDABLE,
        form=form,
        preview=preview,
        undo_seconds=EmailConfig.from_app(current_app).undo_seconds,  # not the company name: no read
        back_url=safe_next(form.next.data) or url_for("candidates.show", candidate_id=candidate.id),
    ), status


# Their routes hang on this blueprint.
from feedback_sla.web.emails import bulk, templates_admin  # noqa: E402, F401
