"""What queueing, undoing, cancelling and retrying a candidate email does to the candidate.

``emails.outbox`` keeps the rows; this module writes what they mean for the candidate, in the
caller's transaction: queueing sets the status a rejection or an offer sets and puts the email on
the timeline, all or nothing with its row; a cancelled email gives back the status it set and says
why on the timeline. What a sent or bounced email does to the wait is ``waits.answers``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from feedback_sla.accounts.models import User
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import Candidate, EventKind, Status
from feedback_sla.emails import outbox
from feedback_sla.emails.checks import Checked, EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import STATUS_SET, OutboxMessage
from feedback_sla.emails.queries import pending_messages


def queue_email(session: Session, request: EmailRequest, config: EmailConfig) -> outbox.Queued:
    """Queue an email to a candidate with its status change and its timeline event (``queue_emails``
    for one); the reason it was refused is raised."""
    (result,) = queue_emails(session, [request], config)
    if isinstance(result, outbox.Refused):
        raise result.error
    return result


def queue_emails(
    session: Session, requests: Sequence[EmailRequest], config: EmailConfig
) -> list[outbox.Queued | outbox.Refused]:
    """Queue emails to candidates, each with its status change and its timeline event: one result
    per request, in a few statements whatever their number (the events go in one INSERT at the
    next flush).

    The same idempotency key twice (a double click, two concurrent posts) returns the first
    message and changes nothing else. A request the checks refuse is reported and the others go
    on. A pending email a new one contradicts is cancelled, and a rejection or an offer sets the
    status, one candidate at a time: should someone else change that candidate meanwhile, the
    EmailError is raised for the whole batch (the caller rolls back). The wait stays open, with
    its deadline, until the message is really sent: a promised date counts from the moment the
    candidate can read it.
    """
    results = outbox.queue_emails(session, requests, config)
    events = [
        _record(session, request, queued.message, queued.checked)
        for request, queued in zip(requests, results, strict=True)
        if isinstance(queued, outbox.Queued) and queued.checked is not None
    ]
    timeline.append_all(session, events)
    return results


def _record(session: Session, request: EmailRequest, message: OutboxMessage, checked: Checked) -> dict:
    """What a new email does to its candidate: contradicted emails cancelled and the status a
    rejection or an offer sets; its timeline event, returned to be written with the batch's."""
    candidate, kind, now = request.candidate, checked.kind, request.now
    for other in checked.conflicting:
        _cancel(session, other, now, request.actor, outbox.superseded_reason(kind, other.kind))
    if kind in STATUS_SET:
        _change_status(session, candidate, candidate.status, STATUS_SET[kind], now)
    return {
        "candidate_id": candidate.id,
        "kind": EventKind.EMAIL_QUEUED,
        "occurred_at": now,
        "actor_id": request.actor.id if request.actor else None,
        "body": checked.rendered.subject,
        "data": {
            "email_kind": kind.value,
            "outbox_id": message.id,
            "send_after": message.send_after.isoformat(),
            "autopilot": True if request.autopilot else None,
            "template": checked.template.name if checked.template else None,
            "status": {"from": checked.status_before.value, "to": STATUS_SET[kind].value}
            if kind in STATUS_SET
            else None,
        },
    }


def undo(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    actor: User | None = None,
) -> OutboxMessage:
    """Cancel a message before its send time and restore what queueing it changed."""
    if not message.can_undo(now):
        raise EmailError(outbox.too_late(message))
    if not _cancel(session, message, now, actor, "Undone before sending", before=now):
        session.refresh(message)
        raise EmailError(outbox.too_late(message))
    return message


def cancel_contradicted(
    session: Session,
    candidate: Candidate,
    now: dt.datetime,
    *,
    stage: str | None = None,
    status: Status | None = None,
    actor: User | None = None,
) -> list[OutboxMessage]:
    """Cancel the pending emails a stage move or status change contradicts; returns them.

    None of these carries a promise still to take back: a rejection and an offer promise no date,
    and a withdrawal closes the wait first.
    """
    cancelled: list[OutboxMessage] = []
    if candidate.id is None:  # not flushed yet: nothing can be queued for it
        return cancelled
    for message in pending_messages(session, candidate.id):
        reason = outbox.contradiction(candidate, message.kind, stage, status)
        if reason and _cancel(session, message, now, actor, reason):
            cancelled.append(message)
    return cancelled


def retry(
    session: Session, message: OutboxMessage, now: dt.datetime, actor: User | None = None
) -> OutboxMessage:
    """Send a failed message again, with a fresh count of attempts."""
    outbox.reset_failed(session, message, now)
    if message.candidate is not None:
        timeline.append(
            session,
            message.candidate,
            EventKind.EMAIL_QUEUED,
            now,
            actor,
            body=message.subject,
            data={"email_kind": message.kind.value, "outbox_id": message.id, "retry": True},
        )
    return message


def _change_status(
    session: Session, candidate: Candidate, expected: Status, new: Status, at: dt.datetime
) -> None:
    """Set the candidate's status if nobody changed it meanwhile. A decision is dated ``at``; back
    to active, the candidate is undecided again; a decision restored keeps its first date."""
    table = Candidate.__table__
    values: dict = {"status": new.value}
    if new == Status.ACTIVE:
        values["decided_at"] = None
    elif expected == Status.ACTIVE:
        values["decided_at"] = at
    result = session.execute(
        update(table).where(table.c.id == candidate.id, table.c.status == expected.value).values(**values)
    )
    if result.rowcount != 1:
        raise EmailError(f"{candidate.name} was changed by someone else meanwhile; reload and try again")
    set_committed_value(candidate, "status", new)
    if "decided_at" in values:
        set_committed_value(candidate, "decided_at", values["decided_at"])


def _cancel(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    actor: User | None,
    reason: str,
    *,
    before: dt.datetime | None = None,
) -> bool:
    """Cancel a pending message, give back the status it set and say why on the timeline; False
    if it was no longer pending."""
    if not outbox.cancel(session, message, now, reason, before=before):
        return False
    candidate = message.candidate
    if candidate is None:
        return True
    restored = None
    set_status = STATUS_SET.get(message.kind)
    if set_status and message.previous_status and candidate.status == set_status:
        restored = Status(message.previous_status)
        _change_status(session, candidate, set_status, restored, now)
    timeline.append(
        session,
        candidate,
        EventKind.EMAIL_CANCELLED,
        now,
        actor,
        body=reason,
        data={
            "email_kind": message.kind.value,
            "outbox_id": message.id,
            "status_restored": restored.value if restored else None,
        },
    )
    return True
