"""The outbox: queueing candidate emails, undoing, cancelling and retrying their rows.

Every function writes into the caller's transaction; the caller commits once. This module keeps
the outbox's rows: the checks a new email passes, the row its idempotency key guards, a status page
link it carries, and the guarded updates that cancel or retry it. What an email does to the
candidate (a status it sets or gives back, its timeline event, the wait) is ``waits.emailing``'s
and ``waits.answers``'s.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails import checks, composing, rows
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.text import a_or_an


@dataclass(frozen=True)
class Queued:
    """The queued message. ``checked`` is what the checks found (the emails it contradicts, the
    status before it); None when the idempotency key had been used before and nothing changed."""

    message: OutboxMessage
    checked: checks.Checked | None

    @property
    def new(self) -> bool:
        return self.checked is not None


@dataclass(frozen=True)
class Refused:
    """A request the checks refused: ``error`` says why (it names the field); nothing was written."""

    error: DomainError


def queue_emails(
    session: Session, requests: Sequence[EmailRequest], config: EmailConfig
) -> list[Queued | Refused]:
    """Check candidate emails and insert each row once per idempotency key: one result per request,
    in order, in a few statements whatever their number.

    A key used before (a double click, two concurrent posts, the same key twice in the batch) gives
    the first message and writes nothing. A refused request is reported and the others go on. A new
    message that carries a status page link stores the link. The caller (``waits.emailing``) then
    cancels what each contradicts and records it.
    """
    results: list[Queued | Refused | None] = [None] * len(requests)
    wanted: dict[int, tuple[EmailKind, str]] = {}
    for i, request in enumerate(requests):
        try:
            wanted[i] = (composing.check_kind(request.kind), checks.check_key(request.idempotency_key))
        except DomainError as exc:
            results[i] = Refused(exc)
    existing = rows.by_keys(session, {key for _, key in wanted.values()})
    first: dict[str, int] = {}  # each new key's first request; a repeat gets what that one got
    for i, (_, key) in wanted.items():
        if key not in existing:
            first.setdefault(key, i)
    checked = _check(session, [(i, requests[i], *wanted[i]) for i in first.values()], config, results)
    inserted = rows.insert_many_once(
        session, [_row(requests[i], c, config) for i, c in checked.items()], config
    )
    existing.update(inserted.taken)  # queued concurrently and committed first: as if queued before
    links = []
    for i, done in checked.items():
        message = inserted.new.get(done.key)
        if message is not None:
            results[i] = Queued(message, done)
            if done.status_token:  # the message carries a link to the candidate's status page
                links.append((requests[i].candidate.id, done.status_token, requests[i].now))
    status_links.create_many(session, links)
    for i, (kind, key) in wanted.items():
        if results[i] is None:
            earlier = results[first[key]] if key in first else None
            results[i] = _again(requests[i], kind, existing.get(key), earlier)
    return results


def _check(
    session: Session,
    wanted: list[tuple[int, EmailRequest, EmailKind, str]],
    config: EmailConfig,
    results: list,
) -> dict[int, checks.Checked]:
    """The checks of each new request, their reads done once for all; a refusal goes to ``results``."""
    reads = checks.read_for(session, [(request, kind) for _, request, kind, _ in wanted])
    checked: dict[int, checks.Checked] = {}
    for i, request, kind, key in wanted:
        try:
            checked[i] = checks.validate(request, kind, key, config, reads)
        except DomainError as exc:
            results[i] = Refused(exc)
    return checked


def _again(
    request: EmailRequest, kind: EmailKind, existing: OutboxMessage | None, first: Queued | Refused | None
) -> Queued | Refused:
    """A key used before: the message it queued, if it is this same email."""
    if existing is None and isinstance(first, Refused):
        return first
    message = existing if existing is not None else first.message
    try:
        return Queued(_same_request(message, request.candidate, kind), None)
    except EmailError as exc:
        return Refused(exc)


def _row(request: EmailRequest, checked: checks.Checked, config: EmailConfig) -> rows.NewRow:
    candidate, manager = request.candidate, request.candidate.position.manager
    send_after = request.now + dt.timedelta(seconds=config.undo_seconds)
    scheduled = checked.scheduled
    if scheduled is not None:  # sent later, and never before its undo window has passed
        send_after = max(send_after, scheduled.send_after)
    return rows.NewRow(
        checked.key,
        checked.rendered,
        request.now,
        send_after,
        dict(
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
            batch_id=request.batch_id,
            template_id=checked.template.id if checked.template else None,
            template_name=checked.template.name if checked.template else None,
            send_at_zone=scheduled.time_zone if scheduled is not None else None,
            # 128 random bits naming the message in its bounce and reply addresses; hexadecimal,
            # because some mail servers lower the case of an address's local part.
            reply_token=secrets.token_hex(16),
        ),
    )


def _same_request(existing: OutboxMessage, candidate: Candidate, kind: EmailKind) -> OutboxMessage:
    if existing.candidate_id != candidate.id or existing.kind != kind:
        raise EmailError("idempotency key: already used for another email")
    return existing


def superseded_reason(new: EmailKind, other: EmailKind) -> str:
    """Why a pending email is cancelled when a contradicting one is queued after it."""
    return f"Cancelled: {a_or_an(new.label)} was queued after this {other.label}"


def too_late(message: OutboxMessage) -> str:
    """Why a message can no longer be undone."""
    if message.status == OutboxStatus.CANCELLED:
        return "this email was already cancelled"
    if message.status == OutboxStatus.SENT:
        return "too late to undo: this email was already sent"
    return "too late to undo: this email is being sent"


def contradiction(
    candidate: Candidate, kind: EmailKind, stage: str | None, status: Status | None
) -> str | None:
    """Why a stage move or status change contradicts a pending email of ``kind``; None if it does
    not. A stage move contradicts a pending rejection (the candidate is still in the process), and
    a pending offer unless the move is to the offer stage. A candidate who withdrew or was hired
    gets no pending email; reopening a candidate cancels a pending rejection or offer."""
    if stage is not None and (kind == EmailKind.REJECTION or (kind == EmailKind.OFFER and stage != "offer")):
        return f"Cancelled: {candidate.name} was moved to {stage} after the {kind.label} was queued"
    if status in (Status.WITHDRAWN, Status.HIRED):
        return f"Cancelled: {candidate.name} was marked {status.value} after the {kind.label} was queued"
    if status == Status.ACTIVE and kind in STATUS_SET:
        return f"Cancelled: {candidate.name} was reopened after the {kind.label} was queued"
    return None


def cancel(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    reason: str,
    *,
    before: dt.datetime | None = None,
) -> bool:
    """Cancel a pending message (sent after ``before``, when given); False if it was no longer
    pending. The status page link it carried was never delivered: it no longer opens the page."""
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
    if message.candidate_id is not None:
        body = f"{message.text_body}\n{message.html_body}"
        status_links.revoke_carried(session, message.candidate_id, body, now)
    return True


def reset_failed(session: Session, message: OutboxMessage, now: dt.datetime) -> OutboxMessage:
    """Make a failed message pending again, with a fresh count of attempts."""
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
    return message


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
