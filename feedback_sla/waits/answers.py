"""What candidate emails do to the wait: the door for queueing, undoing and delivering them.

Queueing an update promises a date (the wait's deadline moves); undoing or cancelling it takes the
promise back; a message really sent is the answer that closes the wait. The caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.emails import composing, outbox
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.waits import lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.queries import open_wait_of
from feedback_sla.waits.service import default_promise_date, record, set_promise


@dataclasses.dataclass(frozen=True)
class _Promises:
    """The outbox's promises kept on the candidate's wait, in this session, as this actor."""

    session: Session
    now: dt.datetime
    actor: User | None
    settings: OrgSettings

    def promise(self, candidate: Candidate, date: dt.date) -> None:
        set_promise(self.session, candidate, date, self.now, self.settings, self.actor)

    def take_back(self, message: OutboxMessage) -> None:
        wait = open_wait_of(self.session, message.candidate)
        if wait is not None and wait.promised_date == message.promised_date:
            set_promise(
                self.session,
                message.candidate,
                message.previous_promised_date,
                self.now,
                self.settings,
                self.actor,
            )


def queue_email(
    session: Session, request: EmailRequest, config: EmailConfig, settings: OrgSettings
) -> OutboxMessage:
    """Queue a one-click or customised email; an update also sets the promised date it names.

    With ``request.default_promise`` an update without a date promises the deadline a fresh wait
    of the same kind would have: the date the candidate page offers.
    """
    candidate = request.candidate
    wait = open_wait_of(session, candidate)
    promised = request.promised_date
    if (
        promised is None
        and request.default_promise
        and composing.check_kind(request.kind) == EmailKind.UPDATE
    ):
        promised = default_promise_date(session, candidate, request.now, settings)
    request = dataclasses.replace(
        request,
        promised_date=promised,
        waiting=wait is not None,
        promise_before=wait.promised_date if wait else None,
    )
    promises = _Promises(session, request.now, request.actor, settings)
    return outbox.queue_email(session, request, config, promises).message


def undo_email(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> OutboxMessage:
    """Cancel a message before its send time and restore what queueing it changed."""
    return outbox.undo(session, message, now, _Promises(session, now, actor, settings), actor)


def retry_email(
    session: Session, message: OutboxMessage, now: dt.datetime, actor: User | None = None
) -> OutboxMessage:
    """Send a failed email again; its wait is as the failure left it, open until it is sent."""
    return outbox.retry(session, message, now, actor)


def email_sent(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    settings: OrgSettings,
    *,
    kind: str,
    message_id: str,
    outbox_id: int,
    promised_date: dt.date | None,
) -> Event:
    """The outbox really sent an email: the candidate heard from us, so the open wait closes.

    An email that promised a date answers the candidate for now, but the decision is still owed:
    a new wait opens at the send time, due by the promised date at the latest.
    """
    closed = open_wait_of(session, candidate) if promised_date else None
    event = record(
        session,
        candidate,
        EventKind.EMAIL_SENT,
        at,
        data={"email_kind": kind, "message_id": message_id, "outbox_id": outbox_id},
    )
    if closed is not None and candidate.status in (Status.ACTIVE, Status.OFFERED):
        if open_wait_of(session, candidate) is None:
            lifecycle.open_wait(
                session, candidate, closed.reason, at, settings, promised_date=promised_date, event=event
            )
    return event


def email_failed(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    error: str,
    *,
    kind: str,
    outbox_id: int,
    attempts: int,
) -> Event:
    """The outbox gave up on an email: the candidate heard nothing, so the wait stays as it is."""
    return timeline.append(
        session,
        candidate,
        EventKind.EMAIL_FAILED,
        at,
        body=error,
        data={"email_kind": kind, "outbox_id": outbox_id, "attempts": attempts},
    )
