"""One-click emails: queue one (once per Idempotency-Key), undo it, read its status."""

from __future__ import annotations

from flask import current_app

from feedback_sla.database import db
from feedback_sla.emails import choosing, scheduling
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import answers
from feedback_sla.web.access import candidate_or_404, message_or_404, viewer
from feedback_sla.web.api import bp, committed
from feedback_sla.web.api.schemas import EmailSchema, IdempotencyHeader, NewEmailSchema


@bp.post("/candidates/<int:candidate_id>/emails")
@bp.arguments(IdempotencyHeader, location="headers", as_kwargs=True)
@bp.arguments(NewEmailSchema)
@bp.response(201, EmailSchema)
def queue_email(data: dict, candidate_id: int, idempotency_key: str):
    """Queue a one-click email; it waits out the undo window first. The same Idempotency-Key again
    answers the email it queued, and queues nothing."""
    candidate = candidate_or_404(candidate_id)
    user, kind = viewer(), data["kind"]
    template = choosing.find(db.session, kind, data["template"]) if data["template"] else None
    wanted = EmailRequest(
        candidate,
        kind,
        f"api:{user.id}:{candidate.id}:{kind.value}:{idempotency_key}",
        utcnow(),
        user,
        promised_date=data["promised_date"] if kind == EmailKind.UPDATE else None,
        feedback=data["feedback"] if kind == EmailKind.REJECTION else None,
        default_promise=True,
        template=template,
        send_at=scheduling.SendAt(at=data["send_at"]) if data["send_at"] else None,
    )
    config = settings_service.email_config(db.session, EmailConfig.from_app(current_app))
    return committed(
        lambda: answers.queue_email(db.session, wanted, config, settings_service.load(db.session))
    )


@bp.get("/emails/<int:message_id>")
@bp.response(200, EmailSchema)
def get_email(message_id: int):
    return message_or_404(message_id)


@bp.post("/emails/<int:message_id>/undo")
@bp.response(200, EmailSchema)
def undo_email(message_id: int):
    """Cancel an email before its send time; what queueing it changed is restored."""
    message = message_or_404(message_id)
    committed(lambda: answers.undo_email(db.session, message, utcnow(), viewer()))
    return message
