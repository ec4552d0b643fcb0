"""One answer to many candidates at once (``waits.bulk``): queue it as one batch (once per
Idempotency-Key), each candidate queued or skipped with the reason; undo the whole batch."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from werkzeug.exceptions import NotFound

from feedback_sla.database import db
from feedback_sla.emails import choosing, scheduling
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import bulk
from feedback_sla.web.access import viewer
from feedback_sla.web.api import bp, committed
from feedback_sla.web.api.schemas import BatchSchema, BatchUndoSchema, IdempotencyHeader, NewBatchSchema


def _manager_id() -> int | None:
    return None if current_user.is_admin else current_user.id


@bp.post("/emails/batches")
@bp.arguments(IdempotencyHeader, location="headers", as_kwargs=True)
@bp.arguments(NewBatchSchema)
@bp.response(201, BatchSchema)
def queue_batch(data: dict, idempotency_key: str):
    """Queue one answer (an update, a rejection or a next-step invitation) to many candidates, each
    written for its own candidate; those who cannot get it now are skipped with the reason. The
    same Idempotency-Key again answers with the emails it queued, and queues nothing."""
    user, kind = viewer(), EmailKind(data["kind"])
    template = choosing.find(db.session, kind, data["template"]) if data["template"] else None
    answer = bulk.Answer(
        kind,
        feedback=data["feedback"] if kind == EmailKind.REJECTION else None,
        reasons=tuple(data["reasons"]) if kind == EmailKind.REJECTION else (),
        promised_date=data["promised_date"] if kind == EmailKind.UPDATE else None,
        template=template,
        send_at=scheduling.SendAt(at=data["send_at"]) if data["send_at"] else None,
    )
    config = settings_service.email_config(db.session, EmailConfig.from_app(current_app))
    done = committed(
        lambda: _result(
            bulk.answer_many(
                db.session,
                data["candidate_ids"],
                answer,
                config,
                settings_service.load(db.session),
                utcnow(),
                key=f"api:{user.id}:{idempotency_key}",
                actor=user,
                manager_id=_manager_id(),
            )
        )
    )
    return done


def _result(done: bulk.Answered) -> dict:
    """The answer as the API shows it, read before the commit expires the rows."""
    return {
        "batch_id": done.batch_id,
        "queued": [
            {"candidate_id": candidate.id, "email": _email(message)} for candidate, message in done.queued
        ],
        "skipped": [
            {
                "candidate_id": s.candidate_id,
                "name": s.name,
                "reason": s.reason.value,
                "message": bulk.skip_text(s, done.kind),
            }
            for s in done.skipped
        ],
    }


def _email(message) -> dict:
    return {
        "id": message.id,
        "candidate_id": message.candidate_id,
        "kind": message.kind.value,
        "status": message.status.value,
        "subject": message.subject,
        "send_after": message.send_after,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "template_name": message.template_name,
        "send_at_zone": message.send_at_zone,
    }


@bp.post("/emails/batches/<batch_id>/undo")
@bp.response(200, BatchUndoSchema)
def undo_batch(batch_id: str):
    """Cancel every email of the batch still before its send time; an email already sent, being
    sent or cancelled is listed with the reason."""

    def door() -> dict:
        try:
            done = bulk.undo_batch(db.session, batch_id, utcnow(), viewer(), manager_id=_manager_id())
        except bulk.NoSuchBatch:
            raise NotFound("no such batch of emails among yours") from None
        return {
            "undone": [_email(m) for m in done.undone],
            "not_undone": [{"email": _email(m), "reason": reason} for m, reason in done.not_undone],
        }

    return committed(door)
