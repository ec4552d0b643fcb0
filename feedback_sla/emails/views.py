"""Candidate emails in the browser: one click with undo, customizing, retrying, and template editing.

Every action validates its form, calls one service function, commits once and says what happened.
A message is reached through its candidate, so a manager can only touch their own candidates' email.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import escape

from ..auth.views import safe_next
from ..candidates.models import Candidate
from ..database import db
from ..errors import DomainError
from ..settings import service as settings_service
from ..settings.service import OrgSettings
from ..timeutil import local_date, utcnow
from ..web.access import admin_required, candidate_or_404, viewer
from ..web.filters import local_time
from ..web.forms import errors_text
from . import queries, service, templates
from .config import EmailConfig
from .forms import (
    CustomizeForm,
    MessageForm,
    SendForm,
    TemplateForm,
    digest,
    idempotency_key,
    new_nonce,
    normalize_newlines,
)
from .models import CANDIDATE_KINDS, EmailKind, OutboxMessage, OutboxStatus
from .templates import RenderedEmail, TemplateError, TemplateSource

bp = Blueprint("emails", __name__)

#: The emails a button queues at once with the default template.
ONE_CLICK = (EmailKind.REJECTION, EmailKind.OFFER, EmailKind.UPDATE)
#: The emails a manager may customize and queue from a candidate's page.
SENDABLE = (EmailKind.REJECTION, EmailKind.OFFER, EmailKind.UPDATE, EmailKind.NEXT_STEP)


def _kind_or_404(value: str, allowed: tuple[EmailKind, ...]) -> EmailKind:
    try:
        kind = EmailKind(value)
    except ValueError:
        abort(404)
    if kind not in allowed:
        abort(404)
    return kind


def _message_or_404(message_id: int) -> OutboxMessage:
    """A candidate email the viewer may act on: through a candidate of theirs (admins: any)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.candidate_id is None:
        abort(404)
    candidate_or_404(message.candidate_id)
    return message


def _config() -> EmailConfig:
    return EmailConfig.from_app(current_app)


def _back(next_url: str | None, candidate_id: int):
    return redirect(safe_next(next_url) or url_for("candidates.show", candidate_id=candidate_id))


def _title(kind: EmailKind) -> str:
    return kind.label[:1].upper() + kind.label[1:]


def queued_message(message: OutboxMessage, candidate: Candidate) -> str:
    """What the manager is told after queueing: when it goes, what changed, what the wait does."""
    title, name = _title(message.kind), candidate.name
    if message.status == OutboxStatus.CANCELLED:
        return (
            f"This {message.kind.label} to {name} was already queued from this page and then cancelled; "
            "reload the page to queue it again."
        )
    if message.status != OutboxStatus.PENDING or message.send_after <= message.queued_at:
        sentence = f"{title} to {name} queued: it is sent now."
    else:
        sentence = (
            f"{title} to {name} queued: it is sent at {local_time(message.send_after, '%H:%M:%S')} "
            "unless you undo it."
        )
    if message.kind in service.STATUS_SET:
        sentence += f" {name} is now {service.STATUS_SET[message.kind].value}."
    if message.promised_date is not None:
        sentence += f" You promise an answer by {message.promised_date:%a %d %b %Y}."
    return sentence + " Their wait closes when the email is sent."


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
        flash(f"Nothing was queued. {errors_text(form)}", "danger")
        return _back(form.next.data, candidate_id)
    org = settings_service.load(db.session)
    promised = form.promised_date.data
    if kind == EmailKind.UPDATE and promised is None:
        promised = service.suggested_promise_date(db.session, candidate, now, org)
    try:
        message = service.queue_email(
            db.session,
            candidate,
            kind,
            viewer(),
            now,
            _config(),
            org,
            idempotency_key=idempotency_key(form.nonce.data, candidate.id, kind.value),
            promised_date=promised if kind == EmailKind.UPDATE else None,
        )
    except DomainError as exc:
        db.session.rollback()
        flash(f"Nothing was queued: {exc}", "danger")
        return _back(form.next.data, candidate_id)
    db.session.commit()
    cancelled = message.status == OutboxStatus.CANCELLED
    flash(queued_message(message, candidate), "warning" if cancelled else "success")
    return _back(form.next.data, candidate_id)


@bp.post("/emails/<int:message_id>/undo")
@login_required
def undo(message_id: int):
    message = _message_or_404(message_id)
    form = MessageForm()
    candidate = message.candidate
    try:
        service.undo(db.session, message, utcnow(), viewer())
    except DomainError as exc:
        db.session.rollback()
        flash(f"Not undone: {exc}.", "danger")
        return _back(form.next.data, candidate.id)
    db.session.commit()
    text = f"Undone: the {message.kind.label} to {candidate.name} will not be sent."
    if message.kind in service.STATUS_SET:
        text += f" {candidate.name} is {candidate.status.value} again."
    if message.promised_date is not None:
        text += " The promised date is back to what it was."
    flash(text, "success")
    return _back(form.next.data, candidate.id)


@bp.post("/emails/<int:message_id>/retry")
@login_required
def retry(message_id: int):
    message = _message_or_404(message_id)
    form = MessageForm()
    candidate = message.candidate
    try:
        service.retry(db.session, message, utcnow(), viewer())
    except DomainError as exc:
        db.session.rollback()
        flash(f"Not retried: {exc}.", "danger")
        return _back(form.next.data, candidate.id)
    db.session.commit()
    flash(f"The {message.kind.label} to {candidate.name} is queued again and sent shortly.", "success")
    return _back(form.next.data, candidate.id)


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
    subject_edited = digest(subject) != form.shown_subject.data
    text_edited = digest(text) != form.shown_text.data
    feedback = form.feedback.data if kind == EmailKind.REJECTION else None
    promised = form.promised_date.data if kind == EmailKind.UPDATE else None
    try:
        fresh = service.draft(db.session, candidate, kind, config, promised_date=promised, feedback=feedback)
    except DomainError as exc:
        form.form_errors.append(str(exc))
        return _render_customize(candidate, kind, form, None, 422)

    if request.form.get("action") != "queue":
        # Preview: the template follows the new feedback or date, unless the manager rewrote it.
        if not subject_edited:
            form.subject.data, form.shown_subject.data = fresh.subject, digest(fresh.subject)
        if not text_edited:
            form.text.data, form.shown_text.data = fresh.text, digest(fresh.text)
        html = fresh.html if not text_edited else str(templates.text_to_html(text))
        shown = RenderedEmail(form.subject.data, form.text.data, html)
        return _render_customize(candidate, kind, form, shown)

    if text_edited and feedback and normalize_newlines(feedback) not in text:
        form.feedback.errors.append(
            "Feedback: you edited the message, so the feedback is not added to it; write it into the "
            "message or start again from the template"
        )
        return _render_customize(candidate, kind, form, None, 422)
    try:
        message = service.queue_email(
            db.session,
            candidate,
            kind,
            viewer(),
            now,
            config,
            org,
            idempotency_key=idempotency_key(form.nonce.data, candidate.id, kind.value),
            promised_date=promised,
            feedback=feedback,
            reasons=form.picked_reasons() if kind == EmailKind.REJECTION else (),
            subject=subject if subject_edited else None,
            text=text if text_edited else None,
        )
    except DomainError as exc:
        db.session.rollback()
        form.form_errors.append(f"Nothing was queued: {exc}")
        return _render_customize(candidate_or_404(candidate_id), kind, form, None, 409)
    db.session.commit()
    cancelled = message.status == OutboxStatus.CANCELLED
    flash(queued_message(message, candidate), "warning" if cancelled else "success")
    return _back(form.next.data, candidate_id)


def _customize_start(candidate, kind, form, now, org, config):
    promised = None
    if kind == EmailKind.UPDATE:
        promised = service.suggested_promise_date(db.session, candidate, now, org)
    try:
        rendered = service.draft(db.session, candidate, kind, config, promised_date=promised)
    except DomainError as exc:
        form.form_errors.append(str(exc))
        return _render_customize(candidate, kind, form, None, 409)
    form.nonce.data = new_nonce()
    form.next.data = safe_next(request.args.get("next")) or ""
    form.promised_date.data = promised
    form.subject.data, form.shown_subject.data = rendered.subject, digest(rendered.subject)
    form.text.data, form.shown_text.data = rendered.text, digest(rendered.text)
    return _render_customize(candidate, kind, form, rendered)


def _render_customize(candidate, kind, form, preview: RenderedEmail | None, status: int = 200):
    return render_template(
        "emails/customize.html",
        candidate=candidate,
        kind=kind,
        kinds=SENDABLE,
        form=form,
        preview=preview,
        undo_seconds=_config().undo_seconds,
        back_url=safe_next(form.next.data) or url_for("candidates.show", candidate_id=candidate.id),
    ), status


# --- what the candidate and triage pages show ---------------------------------------------------


@dataclass
class CandidateEmails:
    """The email parts of a candidate page."""

    history: list[OutboxMessage]
    nonce: str
    now: dt.datetime
    today: dt.date  # in the position's time zone: the earliest date an update may promise
    undo_seconds: int
    send_form: SendForm
    can_send: dict[str, bool] = field(default_factory=dict)

    @property
    def undoable(self) -> list[OutboxMessage]:
        return [m for m in self.history if m.can_undo(self.now)]

    @property
    def failed(self) -> list[OutboxMessage]:
        return [m for m in self.history if m.status == OutboxStatus.FAILED]

    @property
    def reopens(self) -> bool:
        """A pending rejection or offer: a stage move cancels it and restores the status."""
        return any(
            m.status == OutboxStatus.PENDING and m.kind in service.STATUS_SET for m in self.history
        )


def candidate_emails(
    candidate: Candidate, now: dt.datetime, org: OrgSettings, waiting: bool
) -> CandidateEmails:
    history = service.history(db.session, candidate.id)
    suggested = service.suggested_promise_date(db.session, candidate, now, org) if waiting else None
    allowed = {
        kind.value: candidate.status in service.ALLOWED_FROM[kind] and (kind != EmailKind.UPDATE or waiting)
        for kind in SENDABLE
    }
    return CandidateEmails(
        history=history,
        nonce=new_nonce(),
        now=now,
        today=local_date(now, candidate.position.time_zone),
        undo_seconds=_config().undo_seconds,
        send_form=SendForm(formdata=None, promised_date=suggested),
        can_send=allowed,
    )


def pending_status_email(candidate: Candidate) -> OutboxMessage | None:
    """The queued rejection or offer that set the candidate's status, if it is not sent yet."""
    for message in service.pending_messages(db.session, candidate.id):
        if message.kind in service.STATUS_SET:
            return message
    return None


def triage_emails(now: dt.datetime, manager_id: int | None) -> dict:
    """The email parts of the triage page: one query, whatever the number of rows."""
    found = queries.triage_emails(db.session, now, manager_id)
    return {
        "unfinished": found.by_candidate,
        "attention": found.attention,
        "email_nonce": new_nonce(),
        "now": now,
        # Row buttons are these prefixes plus an id: one url_for per page, not per row.
        "emails_url": escape(url_for("emails.undo", message_id=0).removesuffix("0/undo")),
        "customize_query": escape("?next=" + quote(request.full_path, safe="/")),
    }


# --- admin: templates ---------------------------------------------------------------------------


@bp.get("/admin/emails", endpoint="templates")
@admin_required
def template_list():
    sources = [templates.source_of(db.session, kind) for kind in CANDIDATE_KINDS]
    return render_template("emails/templates.html", sources=sources)


@bp.route("/admin/emails/<kind>", methods=["GET", "POST"], endpoint="edit_template")
@admin_required
def edit_template(kind: str):
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    source = templates.source_of(db.session, kind)
    if request.method == "GET":
        form = TemplateForm(
            formdata=None, data={"subject": source.subject, "text": source.text, "html": source.html}
        )
        preview = None
        try:
            preview = templates.preview(db.session, kind)
        except TemplateError as exc:  # an edit stored before a rule tightened: say so, offer reset
            form.form_errors.append(str(exc))
        return _render_template_page(kind, source, form, preview, 200)

    form = TemplateForm()
    if not form.validate_on_submit():
        return _render_template_page(kind, source, form, None, 422)
    edited = TemplateSource(
        kind=kind,
        subject=form.subject.data.strip(),
        text=normalize_newlines(form.text.data),
        html=normalize_newlines(form.html.data),
    )
    try:
        if request.form.get("action") == "save":
            templates.save_template(
                db.session, kind, edited.subject, edited.text, edited.html, viewer(), utcnow()
            )
        else:
            preview = templates.preview(db.session, kind, source=edited)
    except TemplateError as exc:
        db.session.rollback()
        target = getattr(form, exc.field, None) if exc.field in ("subject", "text", "html") else None
        (target.errors if target is not None else form.form_errors).append(str(exc))
        return _render_template_page(kind, source, form, None, 422)
    if request.form.get("action") == "save":
        db.session.commit()
        flash(f"Saved the {kind.label} template: new emails use it from now on.", "success")
        return redirect(url_for("emails.edit_template", kind=kind.value))
    return _render_template_page(kind, source, form, preview, 200)


@bp.post("/admin/emails/<kind>/reset", endpoint="reset_template")
@admin_required
def reset_template(kind: str):
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    if templates.reset_template(db.session, kind):
        db.session.commit()
        flash(f"The {kind.label} template is back to the default shipped with the app.", "success")
    else:
        flash(f"The {kind.label} template was not edited: it already is the default.", "info")
    return redirect(url_for("emails.edit_template", kind=kind.value))


def _render_template_page(kind, source, form, preview, status):
    return render_template(
        "emails/edit_template.html",
        kind=kind,
        source=source,
        form=form,
        preview=preview,
        placeholders=templates.PLACEHOLDERS,
        sample=templates.SAMPLE,
    ), status
