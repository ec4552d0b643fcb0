"""What candidate emails do to the wait: the door for queueing, undoing and delivering them.

A message really sent is the answer that closes the wait; an update that promised a date opens the
next wait, due on that date (the date the candidate was told is the one they hold us to). Until it
is sent, undone or cancelled, the wait keeps its deadline. One that bounced was no answer after
all. The caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.emails import composing, leases
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.emails.outbox import Queued, Refused
from feedback_sla.emails.transport import Envelope
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import as_utc
from feedback_sla.waits import emailing
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.promises import Kept, promise_date_for, waits_on_promises
from feedback_sla.waits.queries import open_wait_of


def queue_email(
    session: Session, request: EmailRequest, config: EmailConfig, settings: OrgSettings
) -> OutboxMessage:
    """Queue a one-click or customised email; an update also sets the promised date it names
    (``queue_emails`` for one: the reason it was refused is raised).

    With ``request.default_promise`` an update without a date promises the deadline a fresh wait
    of the same kind would have: the date the candidate page offers.
    """
    (result,) = queue_emails(session, [request], config, settings)
    if isinstance(result, Refused):
        raise result.error
    return result.message


def queue_emails(
    session: Session,
    requests: Sequence[EmailRequest],
    config: EmailConfig,
    settings: OrgSettings,
    *,
    open_waits: Mapping[int, Wait] | None = None,
) -> list[Queued | Refused]:
    """Queue many emails through the one door, in a few statements whatever their number: one
    result per request, in order; a refused one says why and the others go on (``emailing``).

    ``open_waits``: the candidates' open waits by candidate id, when the caller holds them locked
    (autopilot's claim); otherwise they are read here.
    """
    if open_waits is None:
        open_waits = open_waits_of(session, {request.candidate.id for request in requests})
    ready = []
    for request in requests:
        candidate = request.candidate
        wait = open_waits.get(candidate.id)
        promised = request.promised_date
        if promised is None and request.default_promise and _is_update(request.kind):
            promised = promise_date_for(wait, candidate, request.now, settings)
        ready.append(dataclasses.replace(request, promised_date=promised, waiting=wait is not None))
    return emailing.queue_emails(session, ready, config)


def _is_update(kind: str | EmailKind) -> bool:
    try:
        return composing.check_kind(kind) == EmailKind.UPDATE
    except DomainError:  # the checks refuse it, naming the kinds
        return False


def open_waits_of(session: Session, candidate_ids: set[int], *, lock: bool = False) -> dict[int, Wait]:
    """The candidates' open waits, by candidate (one statement); with ``lock``, locked until the
    transaction ends (PostgreSQL: one closed meanwhile by another transaction is not read)."""
    if not candidate_ids:
        return {}
    query = select(Wait).where(Wait.candidate_id.in_(sorted(candidate_ids)), Wait.closed_at.is_(None))
    if lock:
        query = query.order_by(Wait.id).with_for_update(of=Wait)
    return {wait.candidate_id: wait for wait in session.scalars(query)}


def undo_email(
    session: Session, message: OutboxMessage, now: dt.datetime, actor: User | None = None
) -> OutboxMessage:
    """Cancel a message before its send time and restore what queueing it changed."""
    return emailing.undo(session, message, now, actor)


def retry_email(
    session: Session, message: OutboxMessage, now: dt.datetime, actor: User | None = None
) -> OutboxMessage:
    """Send a failed email again; its wait is as the failure left it, open until it is sent."""
    return emailing.retry(session, message, now, actor)


@dataclass(frozen=True)
class Sent:
    """An email the outbox really sent, as ``emails_sent`` records it."""

    candidate_id: int
    at: dt.datetime
    kind: str
    message_id: str
    outbox_id: int
    promised_date: dt.date | None = None
    autopilot: bool = False


def sent_of(envelope: Envelope, at: dt.datetime) -> Sent:
    """A candidate email the outbox sent at ``at``, as its claim read it."""
    return Sent(
        envelope.candidate_id,
        at,
        kind=envelope.kind,
        message_id=envelope.message_id,
        outbox_id=envelope.id,
        promised_date=envelope.promised_date,
        autopilot=envelope.autopilot,
    )


def record_unrecorded(session: Session, candidate: Candidate, settings: OrgSettings) -> list[Event]:
    """What the outbox sent the candidate and has not recorded yet (a worker records a batch once
    it is through, or after its lease if it stopped), recorded now: whatever comes next for the
    candidate (their reply) finds the wait as the email left it."""
    taken = leases.unsettled_of(session, candidate.id)
    return emails_sent(session, [sent_of(envelope, at) for envelope, at in taken], settings)


def email_sent(session: Session, sent: Sent, settings: OrgSettings) -> Event | None:
    """``emails_sent`` for one email: its EMAIL_SENT event (None: the candidate is gone)."""
    events = emails_sent(session, [sent], settings)
    return events[0] if events else None


def emails_sent(session: Session, sent: Sequence[Sent], settings: OrgSettings) -> list[Event]:
    """The outbox really sent these emails, in this order: each candidate heard from us, so their
    open wait closes, answered by the email's EMAIL_SENT event.

    An email that promised a date answers the candidate for now, but the decision is still owed:
    a new wait opens at the send time, due by the promised date at the latest: a new promise,
    with no autopilot update counted on it yet.

    A few statements for all of them; a candidate sent two is recorded in a second round, after
    the first. An email to a candidate since erased records nothing.
    """
    events: list[Event] = []
    for round_ in _rounds(sent):
        events += _record_sent(session, round_, settings)
    return events


def _rounds(sent: Sequence[Sent]) -> list[list[Sent]]:
    """``sent`` in order, cut so that no candidate appears twice in one part."""
    rounds: list[list[Sent]] = [[]]
    seen: set[int] = set()
    for one in sent:
        if one.candidate_id in seen:
            rounds.append([])
            seen = set()
        rounds[-1].append(one)
        seen.add(one.candidate_id)
    return [round_ for round_ in rounds if round_]


def _record_sent(session: Session, sent: Sequence[Sent], settings: OrgSettings) -> list[Event]:
    ids = sorted({one.candidate_id for one in sent})
    candidates = {c.id: c for c in session.scalars(select(Candidate).where(Candidate.id.in_(ids)))}
    waits = open_waits_of(session, set(ids), lock=True)
    recorded = [one for one in sent if one.candidate_id in candidates]
    events = [
        timeline.append(session, candidates[one.candidate_id], EventKind.EMAIL_SENT, one.at, data=_data(one))
        for one in recorded
    ]
    session.flush()  # the events and their ids, in one INSERT
    kept = []
    for one, event in zip(recorded, events, strict=True):
        wait = waits.get(one.candidate_id)
        if wait is None or as_utc(wait.opened_at) > as_utc(one.at):  # opened after the email: not its answer
            continue
        wait.closed_at, wait.closed_by_event_id = one.at, event.id
        if one.promised_date is not None:
            kept.append(Kept(candidates[one.candidate_id], wait, event, one.promised_date))
    session.flush()  # every wait closed, and the metrics' counts, in one round
    waits_on_promises(session, kept, settings)
    return events


def _data(sent: Sent) -> dict:
    data = {"email_kind": sent.kind, "message_id": sent.message_id, "outbox_id": sent.outbox_id}
    if sent.autopilot:
        data["autopilot"] = True
    return data


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


@dataclass(frozen=True)
class Bounce:
    """What a returned email did. ``event`` is its timeline event (None for an email to a user);
    ``marked`` when this report marked it bounced (False for a delay warning, or an email that had
    bounced before or was never handed to a server); then ``reopened`` is the wait open again,
    ``restored`` the status given back, and ``address_flagged`` whether the candidate's address is
    now flagged undeliverable."""

    event: Event | None
    marked: bool = False
    reopened: Wait | None = None
    restored: Status | None = None
    address_flagged: bool = False


def email_bounced(
    session: Session, message: OutboxMessage, permanent: bool, reason: str, at: dt.datetime
) -> Bounce:
    """A mail server returned a candidate email: the candidate never heard from us.

    A permanent bounce marks the email bounced with the server's reason, reopens the wait its
    sending closed (with its original deadline, so it is probably overdue; a wait the email itself
    opened, an update's, goes: its promise never arrived), gives back the status a rejection or an
    offer set, and flags the address as undeliverable until it is corrected. When the candidate is
    waiting for something newer meanwhile, that wait stays as it is. A temporary failure (a delay
    warning) is only recorded. An email to a user (the digest) is only marked.
    """
    candidate = message.candidate
    data = {"email_kind": message.kind.value, "outbox_id": message.id}
    if not permanent:
        if candidate is None:
            return Bounce(None)
        delayed = timeline.append(
            session, candidate, EventKind.EMAIL_DELAYED, at, body=reason or None, data=data
        )
        return Bounce(delayed)
    was_sent = message.status == OutboxStatus.SENT
    marked = leases.mark_bounced(session, message.id, at, reason)
    session.refresh(message)
    if candidate is None:
        return Bounce(None, marked=marked)

    def bounced(**recorded) -> Event:
        return timeline.append(
            session, candidate, EventKind.EMAIL_BOUNCED, at, body=reason or None, data={**data, **recorded}
        )

    if not marked:  # bounced before, or never handed to a server: the record is all
        return Bounce(bounced(marked=False))
    reopened = _reopen_wait_answered_by(session, candidate, message) if was_sent else None
    restored = None
    set_status = STATUS_SET.get(message.kind)
    if set_status is not None and candidate.status == set_status and message.previous_status:
        restored = Status(message.previous_status)
        candidate.status = restored
        if restored == Status.ACTIVE:
            candidate.decided_at = None
    flagged = message.to_address.lower() == candidate.email.lower()
    if flagged:
        candidate.email_undeliverable_at = at
    event = bounced(
        marked=True,
        reopened_wait=reopened.id if reopened is not None else None,
        status={"from": set_status.value, "to": restored.value} if restored else None,
        address_flagged=flagged,
    )
    return Bounce(event, marked=True, reopened=reopened, restored=restored, address_flagged=flagged)


def _reopen_wait_answered_by(session: Session, candidate: Candidate, message: OutboxMessage) -> Wait | None:
    """Open again the wait the sending of ``message`` closed; None when it closed none, or the
    candidate has heard from us or waits for something else since."""
    sent = session.scalar(
        select(Event)
        .where(
            Event.candidate_id == candidate.id,
            Event.kind == EventKind.EMAIL_SENT,
            Event.data["outbox_id"].as_integer() == message.id,
        )
        .order_by(Event.id.desc())
        .limit(1)
    )
    closed = session.scalar(select(Wait).where(Wait.closed_by_event_id == sent.id)) if sent else None
    if closed is None:
        return None
    current = open_wait_of(session, candidate)
    follow_on = current if current is not None and current.opened_by_event_id == sent.id else None
    if current is not None and follow_on is None:
        return None
    skipped = [closed.id] + ([follow_on.id] if follow_on is not None else [])
    later = select(Wait.id).where(
        Wait.candidate_id == candidate.id, Wait.id.not_in(skipped), Wait.opened_at >= closed.closed_at
    )
    if session.scalar(later.limit(1)) is not None:
        return None
    if follow_on is not None:
        closed.follow_ups += follow_on.follow_ups
        session.delete(follow_on)
        session.flush()  # the one open wait per candidate: this one goes before the other reopens
    closed.closed_at = None
    closed.closed_by_event_id = None
    session.flush()
    return closed
