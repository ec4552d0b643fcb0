"""The outbox: queueing candidate emails, undoing, cancelling and retrying them.

Every function writes into the caller's transaction; the caller commits once. Queueing an email
writes its status change, its timeline event and its outbox row together: all or nothing. What an
email does to the wait (a promised date, the answer itself) is ``waits.answers``'s.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from feedback_sla.accounts.models import User
from feedback_sla.candidates import status_links, timeline
from feedback_sla.candidates.models import Candidate, EventKind, Status
from feedback_sla.emails import checks, composing, rows
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.emails.queries import pending_messages
from feedback_sla.text import a_or_an


@dataclass(frozen=True)
class Queued:
    """The queued message; ``new`` is False when the idempotency key had been used before (nothing
    else changed)."""

    message: OutboxMessage
    new: bool


def queue_email(session: Session, request: EmailRequest, config: EmailConfig) -> Queued:
    """Queue an email to a candidate with its status change and its timeline event.

    The same idempotency key twice (a double click, two concurrent posts) returns the first
    message and changes nothing else. A pending email this one contradicts is cancelled. The wait
    stays open, with its deadline, until the message is really sent: a promised date counts from
    the moment the candidate can read it.
    """
    kind = composing.check_kind(request.kind)
    key = checks.check_key(request.idempotency_key)
    existing = rows.by_key(session, key)
    if existing is not None:
        return Queued(_same_request(existing, request.candidate, kind), new=False)
    checked = checks.validate(session, request, kind, key, config)
    message = _insert(session, request, checked, config)
    if message is None:  # the same key was queued concurrently and committed first
        return Queued(_same_request(rows.by_key(session, key), request.candidate, kind), new=False)
    if checked.status_token:  # the message carries a link to the candidate's status page
        status_links.create(session, request.candidate.id, checked.status_token, request.now)
    _side_effects(session, request, checked, message)
    return Queued(message, new=True)


def _insert(
    session: Session, request: EmailRequest, checked: checks.Checked, config: EmailConfig
) -> OutboxMessage | None:
    candidate, manager = request.candidate, request.candidate.position.manager
    return rows.insert_once(
        session,
        checked.key,
        checked.rendered,
        config,
        request.now,
        send_after=request.now + dt.timedelta(seconds=config.undo_seconds),
        candidate_id=candidate.id,
        kind=checked.kind,
        to_name=candidate.name,
        to_address=candidate.email,
        reply_to_name=manager.name,
        reply_to_address=manager.email,
        previous_status=checked.status_before.value,
        promised_date=request.promised_date,
        feedback=checked.feedback,
        reasons=checked.reasons,
        queued_by_id=request.actor.id if request.actor else None,
        autopilot=request.autopilot,
        # 128 random bits naming the message in its bounce and reply addresses; hexadecimal,
        # because some mail servers lower the case of an address's local part.
        reply_token=secrets.token_hex(16),
    )


def _side_effects(
    session: Session,
    request: EmailRequest,
    checked: checks.Checked,
    message: OutboxMessage,
) -> None:
    """Cancel what the new email contradicts, set the status it sets, and put it on the timeline."""
    candidate, kind, now = request.candidate, checked.kind, request.now
    for other in checked.conflicting:
        _cancel(
            session,
            other,
            now,
            request.actor,
            f"Cancelled: {a_or_an(kind.label)} was queued after this {other.kind.label}",
        )
    if kind in STATUS_SET:
        _change_status(session, candidate, candidate.status, STATUS_SET[kind], now)
    timeline.append(
        session,
        candidate,
        EventKind.EMAIL_QUEUED,
        now,
        request.actor,
        body=checked.rendered.subject,
        data={
            "email_kind": kind.value,
            "outbox_id": message.id,
            "send_after": message.send_after.isoformat(),
            "autopilot": True if request.autopilot else None,
            "status": {"from": checked.status_before.value, "to": STATUS_SET[kind].value}
            if kind in STATUS_SET
            else None,
        },
    )


def undo(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    actor: User | None = None,
) -> OutboxMessage:
    """Cancel a message before its send time and restore what queueing it changed."""
    if not message.can_undo(now):
        raise EmailError(_too_late(message))
    if not _cancel(session, message, now, actor, "Undone before sending", before=now):
        session.refresh(message)
        raise EmailError(_too_late(message))
    return message


def _too_late(message: OutboxMessage) -> str:
    if message.status == OutboxStatus.CANCELLED:
        return "this email was already cancelled"
    if message.status == OutboxStatus.SENT:
        return "too late to undo: this email was already sent"
    return "too late to undo: this email is being sent"


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

    A stage move contradicts a pending rejection (the candidate is still in the process), and a
    pending offer unless the move is to the offer stage. A candidate who withdrew or was hired
    gets no pending email; reopening a candidate cancels a pending rejection or offer. None of
    these carries a promise still to take back: a rejection and an offer promise no date, and a
    withdrawal closes the wait first.
    """
    cancelled: list[OutboxMessage] = []
    if candidate.id is None:  # not flushed yet: nothing can be queued for it
        return cancelled
    for message in pending_messages(session, candidate.id):
        reason = _contradiction(candidate, message.kind, stage, status)
        if reason and _cancel(session, message, now, actor, reason):
            cancelled.append(message)
    return cancelled


def _contradiction(
    candidate: Candidate, kind: EmailKind, stage: str | None, status: Status | None
) -> str | None:
    if stage is not None and (kind == EmailKind.REJECTION or (kind == EmailKind.OFFER and stage != "offer")):
        return f"Cancelled: {candidate.name} was moved to {stage} after the {kind.label} was queued"
    if status in (Status.WITHDRAWN, Status.HIRED):
        return f"Cancelled: {candidate.name} was marked {status.value} after the {kind.label} was queued"
    if status == Status.ACTIVE and kind in STATUS_SET:
        return f"Cancelled: {candidate.name} was reopened after the {kind.label} was queued"
    return None


def retry(
    session: Session, message: OutboxMessage, now: dt.datetime, actor: User | None = None
) -> OutboxMessage:
    """Send a failed message again, with a fresh count of attempts."""
    result = session.execute(
        update(OutboxMessage.__table__)
        .where(
            OutboxMessage.__table__.c.id == message.id,
            OutboxMessage.__table__.c.status == OutboxStatus.FAILED.value,
        )
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, failed_at=None)
    )
    if result.rowcount != 1:
        session.refresh(message)
        raise EmailError(f"only a failed email can be retried; this one is {message.status.value}")
    session.refresh(message)
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


# --- helpers ------------------------------------------------------------------------------------


def _same_request(existing: OutboxMessage, candidate: Candidate, kind: EmailKind) -> OutboxMessage:
    if existing.candidate_id != candidate.id or existing.kind != kind:
        raise EmailError("idempotency key: already used for another email")
    return existing


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
    """Cancel a pending message and restore the status it set; False if it was no
    longer pending."""
    table = OutboxMessage.__table__
    condition = [table.c.id == message.id, table.c.status == OutboxStatus.PENDING.value]
    if before is not None:
        condition.append(table.c.send_after > before)
    result = session.execute(
        update(table)
        .where(*condition)
        .values(status=OutboxStatus.CANCELLED.value, cancelled_at=now, cancel_reason=reason)
    )
    if result.rowcount != 1:
        return False
    session.refresh(message)
    candidate = message.candidate
    if candidate is None:
        return True
    # The status page link it carried was never delivered: it must not open the page.
    status_links.revoke_carried(session, candidate.id, f"{message.text_body}\n{message.html_body}", now)
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


def readdress_unsent(session: Session, candidate: Candidate) -> None:
    """Queued and failed emails go to the candidate's corrected name and address."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.candidate_id == candidate.id,
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
        )
        .values(to_name=candidate.name, to_address=candidate.email)
        .execution_options(synchronize_session="fetch")
    )
