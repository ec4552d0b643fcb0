"""Queueing candidate emails, undoing them, and cancelling those a later change contradicts.

Every function writes into the caller's transaction; the caller commits once. Queueing an email
writes its status change, its timeline event and its outbox row together: all or nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from email.utils import make_msgid

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import clock
from ..accounts.models import User
from ..candidates import service as timeline
from ..candidates.models import Candidate, EventKind, Status, WaitReason
from ..errors import DomainError
from ..settings import service as settings_service
from ..settings.service import OrgSettings
from ..timeutil import local_date
from . import templates
from .config import EmailConfig
from .headers import check_address, check_headers
from .models import EmailKind, OutboxMessage, OutboxStatus
from .templates import RenderedEmail


class EmailError(DomainError):
    """An email that cannot be queued, undone or retried; the message says why."""


#: The candidate status an email sets when queued (undo restores the one before).
STATUS_SET: dict[EmailKind, Status] = {
    EmailKind.REJECTION: Status.REJECTED,
    EmailKind.OFFER: Status.OFFERED,
}

#: The statuses a candidate may have for each kind to be queued.
ALLOWED_FROM: dict[EmailKind, frozenset[Status]] = {
    EmailKind.REJECTION: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.OFFER: frozenset({Status.ACTIVE}),
    EmailKind.UPDATE: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.NEXT_STEP: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.ACKNOWLEDGEMENT: frozenset({Status.ACTIVE, Status.OFFERED}),
}

#: Pairs of kinds that contradict each other: queueing one cancels a pending other.
CONFLICTS: frozenset[frozenset[EmailKind]] = frozenset(
    {
        frozenset({EmailKind.REJECTION, EmailKind.OFFER}),
        frozenset({EmailKind.REJECTION, EmailKind.NEXT_STEP}),
        frozenset({EmailKind.REJECTION, EmailKind.UPDATE}),
        frozenset({EmailKind.OFFER, EmailKind.UPDATE}),
    }
)

MAX_KEY = 128
MAX_FEEDBACK = 5_000
MAX_REASON = 100
MAX_REASONS = 10


def _a(noun: str) -> str:
    """'a rejection', 'an offer'."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def new_idempotency_key() -> str:
    """A fresh key for one button or form: posting it twice queues one email."""
    return uuid.uuid4().hex


def queue_email(
    session: Session,
    candidate: Candidate,
    kind: str | EmailKind,
    actor: User | None,
    now: dt.datetime,
    config: EmailConfig,
    org: OrgSettings,
    *,
    idempotency_key: str,
    promised_date: dt.date | None = None,
    feedback: str | None = None,
    reasons: Iterable[str] = (),
    subject: str | None = None,
    text: str | None = None,
) -> OutboxMessage:
    """Queue an email to a candidate with its status change and timeline event.

    The same ``idempotency_key`` twice (a double click, two concurrent posts) returns the first
    message and changes nothing else. ``subject`` and ``text`` replace the rendered message when
    the manager customised it; the HTML part is then made from the text. A pending email this one
    contradicts is cancelled. The wait stays open: it closes when the message is really sent.
    """
    kind = templates.check_kind(kind)
    key = _check_key(idempotency_key)
    existing = _by_key(session, key)
    if existing is not None:
        return _same_request(existing, candidate, kind)
    feedback = _check_feedback(feedback)
    reasons = _check_reasons(kind, reasons)
    _check_promise(session, candidate, kind, promised_date, now)
    conflicting = [m for m in pending_messages(session, candidate.id) if _conflict(m.kind, kind)]
    status_before = _status_before(candidate, conflicting)
    if status_before not in ALLOWED_FROM[kind]:
        raise EmailError(
            f"cannot send {candidate.name} {_a(kind.label)}: they are {status_before.value}"
        )
    manager = candidate.position.manager
    rendered = _message_text(session, candidate, kind, config, promised_date, feedback, subject, text)
    _check_recipients(candidate, manager, rendered.subject)

    wait = timeline.open_wait_of(session, candidate)
    message = _insert_once(
        session,
        key,
        rendered,
        config,
        now,
        send_after=now + dt.timedelta(seconds=config.undo_seconds),
        candidate_id=candidate.id,
        kind=kind,
        to_name=candidate.name,
        to_address=candidate.email,
        reply_to_name=manager.name,
        reply_to_address=manager.email,
        previous_status=status_before.value,
        previous_promised_date=wait.promised_date if wait and promised_date else None,
        promised_date=promised_date,
        feedback=feedback,
        reasons=reasons,
        queued_by_id=actor.id if actor else None,
    )
    if message is None:  # the same key was queued concurrently and committed first
        return _same_request(_by_key(session, key), candidate, kind)

    for other in conflicting:
        _cancel(
            session,
            other,
            now,
            actor,
            org,
            f"Cancelled: {_a(kind.label)} was queued after this {other.kind.label}",
        )
    if kind in STATUS_SET:
        _change_status(session, candidate, candidate.status, STATUS_SET[kind])
    if promised_date is not None:
        timeline.set_promise(session, candidate, promised_date, now, org, actor)
    timeline.record(
        session,
        candidate,
        EventKind.EMAIL_QUEUED,
        now,
        actor,
        body=rendered.subject,
        data={
            "email_kind": kind.value,
            "outbox_id": message.id,
            "send_after": message.send_after.isoformat(),
            "status": {"from": status_before.value, "to": STATUS_SET[kind].value}
            if kind in STATUS_SET
            else None,
        },
    )
    return message


def draft(
    session: Session,
    candidate: Candidate,
    kind: str | EmailKind,
    config: EmailConfig,
    *,
    promised_date: dt.date | None = None,
    feedback: str | None = None,
) -> RenderedEmail:
    """The message a one-click send would queue, for "Customize" to show and edit."""
    kind = templates.check_kind(kind)
    return _render_for(session, candidate, kind, config, promised_date, _check_feedback(feedback))


def undo(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    actor: User | None = None,
    org: OrgSettings | None = None,
) -> OutboxMessage:
    """Cancel a message before its send time and restore what queueing it changed."""
    if not message.can_undo(now):
        raise EmailError(_too_late(message))
    if not _cancel(session, message, now, actor, org, "Undone before sending", before=now):
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
    gets no pending email; reopening a candidate cancels a pending rejection or offer.
    """
    cancelled: list[OutboxMessage] = []
    if candidate.id is None:  # not flushed yet: nothing can be queued for it
        return cancelled
    for message in pending_messages(session, candidate.id):
        reason = _contradiction(candidate, message.kind, stage, status)
        if reason and _cancel(session, message, now, actor, None, reason):
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
        timeline.record(
            session,
            message.candidate,
            EventKind.EMAIL_QUEUED,
            now,
            actor,
            body=message.subject,
            data={"email_kind": message.kind.value, "outbox_id": message.id, "retry": True},
        )
    return message


def queue_to_user(
    session: Session,
    user: User,
    kind: str | EmailKind,
    rendered: RenderedEmail,
    now: dt.datetime,
    config: EmailConfig,
    *,
    idempotency_key: str,
) -> OutboxMessage:
    """Queue an email to a user of the app (the daily digest), sent as soon as a worker runs."""
    kind = EmailKind(kind)
    key = _check_key(idempotency_key)
    existing = _by_key(session, key)
    if existing is not None:
        return existing
    check_address("the user's email address", user.email)
    check_headers({"the user's name": user.name, "the subject": rendered.subject})
    message = _insert_once(
        session,
        key,
        rendered,
        config,
        now,
        send_after=now,
        recipient_user_id=user.id,
        kind=kind,
        to_name=user.name,
        to_address=user.email,
        reasons=[],
    )
    return message if message is not None else _by_key(session, key)


# --- reading ------------------------------------------------------------------------------------


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise EmailError(f"no email with id {message_id}")
    return message


def history(session: Session, candidate_id: int) -> list[OutboxMessage]:
    """Every email to a candidate, newest first: the email history of the candidate page."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.candidate_id == candidate_id)
            .order_by(OutboxMessage.queued_at.desc(), OutboxMessage.id.desc())
        )
    )


def pending_messages(session: Session, candidate_id: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.candidate_id == candidate_id,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxMessage.queued_at, OutboxMessage.id)
        )
    )


UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)


def unfinished_by_candidate(
    session: Session, candidates: Sequence[int] | Select
) -> dict[int, list[OutboxMessage]]:
    """Pending, sending and failed emails per candidate, in one query.

    ``candidates`` is a list of ids, or a query selecting them (a page of hundreds of rows passes
    the query rather than hundreds of ids).
    """
    ids = candidates if isinstance(candidates, Select) else list(candidates)
    result: dict[int, list[OutboxMessage]] = {}
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.candidate_id.in_(ids), OutboxMessage.status.in_(UNFINISHED))
        .order_by(OutboxMessage.queued_at, OutboxMessage.id)
    )
    for message in rows:
        result.setdefault(message.candidate_id, []).append(message)
    return result


def suggested_promise_date(
    session: Session, candidate: Candidate, now: dt.datetime, org: OrgSettings
) -> dt.date:
    """The default date of an update: the deadline a fresh wait of the same kind would have."""
    wait = timeline.open_wait_of(session, candidate)
    reason = wait.reason if wait is not None else WaitReason.DECISION
    position = candidate.position
    days = org.policy_days(reason.value, position.policy_overrides)
    due_at = clock.deadlines(now, days, position.time_zone, org).due_at
    return local_date(due_at, position.time_zone)


# --- helpers ------------------------------------------------------------------------------------


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise EmailError("idempotency key: missing")
    if len(key) > MAX_KEY:
        raise EmailError(f"idempotency key: longer than {MAX_KEY} characters")
    return key


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


def _same_request(existing: OutboxMessage, candidate: Candidate, kind: EmailKind) -> OutboxMessage:
    if existing.candidate_id != candidate.id or existing.kind != kind:
        raise EmailError("idempotency key: already used for another email")
    return existing


def _check_feedback(feedback: str | None) -> str | None:
    feedback = (feedback or "").strip() or None
    if feedback is not None and len(feedback) > MAX_FEEDBACK:
        raise EmailError(f"feedback: longer than {MAX_FEEDBACK} characters")
    return feedback


def _check_reasons(kind: EmailKind, reasons: Iterable[str]) -> list[str]:
    cleaned = [r.strip() for r in reasons if r and r.strip()]
    if cleaned and kind != EmailKind.REJECTION:
        raise EmailError("reasons: only a rejection records rejection reasons")
    if len(cleaned) > MAX_REASONS:
        raise EmailError(f"reasons: at most {MAX_REASONS}")
    for reason in cleaned:
        if len(reason) > MAX_REASON:
            raise EmailError(f"reasons: {reason[:20]!r}… is longer than {MAX_REASON} characters")
    return list(dict.fromkeys(cleaned))


def _check_promise(
    session: Session,
    candidate: Candidate,
    kind: EmailKind,
    promised_date: dt.date | None,
    now: dt.datetime,
) -> None:
    if kind == EmailKind.UPDATE and promised_date is None:
        raise EmailError("promised date: an update tells the candidate when they will hear from us")
    if promised_date is None:
        return
    if kind in STATUS_SET:
        raise EmailError(f"promised date: {_a(kind.label)} carries no promised date")
    today = local_date(now, candidate.position.time_zone)
    if promised_date < today:
        raise EmailError(f"promised date: {promised_date.isoformat()} is in the past")
    if timeline.open_wait_of(session, candidate) is None:
        raise EmailError(
            f"promised date: {candidate.name} is not waiting for an answer, so there is nothing to promise"
        )


def _conflict(a: EmailKind, b: EmailKind) -> bool:
    return frozenset({a, b}) in CONFLICTS


def _status_before(candidate: Candidate, conflicting: Sequence[OutboxMessage]) -> Status:
    """The candidate's status once the contradicted pending emails are cancelled."""
    status = candidate.status
    for message in reversed(conflicting):
        if message.kind in STATUS_SET and message.previous_status and status == STATUS_SET[message.kind]:
            status = Status(message.previous_status)
    return status


def _render_for(
    session: Session,
    candidate: Candidate,
    kind: EmailKind,
    config: EmailConfig,
    promised_date: dt.date | None,
    feedback: str | None,
) -> RenderedEmail:
    position = candidate.position
    return templates.render(
        session,
        kind,
        {
            "candidate_first_name": templates.first_name(candidate.name),
            "candidate_name": candidate.name,
            "position": position.title,
            "manager": position.manager.name,
            "company": config.organisation_name,
            "promised_date": templates.format_date(promised_date),
            "feedback": feedback or "",
        },
    )


def _message_text(
    session: Session,
    candidate: Candidate,
    kind: EmailKind,
    config: EmailConfig,
    promised_date: dt.date | None,
    feedback: str | None,
    subject: str | None,
    text: str | None,
) -> RenderedEmail:
    """The rendered template, or the manager's customised subject and text."""
    rendered = _render_for(session, candidate, kind, config, promised_date, feedback)
    if subject is not None:
        subject = subject.strip()
        if not subject:
            raise EmailError("subject: must not be empty")
        if len(subject) > templates.MAX_SUBJECT:
            raise EmailError(f"subject: longer than {templates.MAX_SUBJECT} characters")
        rendered = RenderedEmail(subject=subject, text=rendered.text, html=rendered.html)
    if text is not None:
        if not text.strip():
            raise EmailError("text: must not be empty")
        if len(text) > templates.MAX_BODY:
            raise EmailError(f"text: longer than {templates.MAX_BODY} characters")
        rendered = RenderedEmail(subject=rendered.subject, text=text, html=str(templates.text_to_html(text)))
    return rendered


def _check_recipients(candidate: Candidate, manager: User, subject: str) -> None:
    check_headers(
        {
            "the candidate's name": candidate.name,
            "the hiring manager's name": manager.name,
            "the subject": subject,
        }
    )
    check_address("the candidate's email address", candidate.email)
    check_address("the hiring manager's email address", manager.email)


def _insert_once(
    session: Session,
    key: str,
    rendered: RenderedEmail,
    config: EmailConfig,
    queued_at: dt.datetime,
    *,
    send_after: dt.datetime,
    **values,
) -> OutboxMessage | None:
    """Queue a message unless its idempotency key exists: the new message, or None if it existed.

    ``values`` are the columns that differ between a candidate's email and a user's.

    INSERT ... ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit and
    then does nothing, on PostgreSQL and SQLite alike. It needs no savepoint: with Python's sqlite3
    a SAVEPOINT opened first in a transaction commits on release, which would break atomicity.
    """
    dialect = session.get_bind(mapper=OutboxMessage.__mapper__).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    statement = (
        insert(OutboxMessage)
        .values(
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            message_id=make_msgid(domain=config.domain),
            idempotency_key=key,
            status=OutboxStatus.PENDING,
            queued_at=queued_at,
            send_after=send_after,
            next_attempt_at=send_after,
            attempts=0,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage)
    )
    return session.scalars(statement).one_or_none()


def _change_status(session: Session, candidate: Candidate, expected: Status, new: Status) -> None:
    """Set the candidate's status if nobody changed it meanwhile."""
    table = Candidate.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == candidate.id, table.c.status == expected.value)
        .values(status=new.value)
    )
    if result.rowcount != 1:
        raise EmailError(f"{candidate.name} was changed by someone else meanwhile; reload and try again")
    set_committed_value(candidate, "status", new)


def _cancel(
    session: Session,
    message: OutboxMessage,
    now: dt.datetime,
    actor: User | None,
    org: OrgSettings | None,
    reason: str,
    *,
    before: dt.datetime | None = None,
) -> bool:
    """Cancel a pending message and restore what it changed; False if it was no longer pending."""
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
    restored = None
    set_status = STATUS_SET.get(message.kind)
    if set_status and message.previous_status and candidate.status == set_status:
        restored = Status(message.previous_status)
        _change_status(session, candidate, set_status, restored)
    if message.promised_date is not None:
        wait = timeline.open_wait_of(session, candidate)
        if wait is not None and wait.promised_date == message.promised_date:
            org = org or settings_service.load(session)
            timeline.set_promise(session, candidate, message.previous_promised_date, now, org, actor)
    timeline.record(
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
