"""One answer to many candidates at once: each checked first, the eligible queued through the one
door (``answers.queue_emails``) in one batch, each rendered for its own candidate, the others
skipped with the reason; one Undo takes back the whole batch while its undo window lasts.

A candidate is either queued fully (the outbox row, the status a rejection sets, the timeline
event, as one at a time) or skipped: nothing is half sent. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.emails import choosing, outbox, rows, scheduling
from feedback_sla.emails.checks import ALLOWED_FROM, EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.text import a_or_an
from feedback_sla.waits import answers
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.promises import promise_date_for

#: The answers that go to many at once: no offer (an offer is one person's).
BULK_KINDS = (EmailKind.UPDATE, EmailKind.REJECTION, EmailKind.NEXT_STEP)
#: The most candidates one batch answers.
MAX_CANDIDATES = 1000


class SkipReason(enum.StrEnum):
    NOT_FOUND = "not_found"  # no such candidate, or not one the viewer may answer
    ERASED = "erased"
    STATUS = "status"  # their status does not allow this answer (``detail``: the status)
    NOT_WAITING = "not_waiting"  # an update with nobody waiting for an answer
    UNDELIVERABLE = "undeliverable"  # their address bounced and was not corrected
    ON_ITS_WAY = "on_its_way"  # an email of this kind is already queued or being sent
    REFUSED = "refused"  # the door's checks refused it (``detail``: why)
    REPEATED = "repeated"  # the request was answered before without them: it queues nothing new


@dataclass(frozen=True)
class Skipped:
    """A candidate the answer does not go to; ``name`` is None for one the viewer may not see."""

    candidate_id: int
    name: str | None
    reason: SkipReason
    detail: str = ""


def skip_text(skipped: Skipped, kind: EmailKind) -> str:
    """Why a candidate is skipped, in the words every page and command uses."""
    label = a_or_an(kind.label)
    match skipped.reason:
        case SkipReason.NOT_FOUND:
            return "no such candidate among yours"
        case SkipReason.ERASED:
            return "their personal data was erased"
        case SkipReason.STATUS:
            return f"they are {skipped.detail}, so they cannot get {label}"
        case SkipReason.NOT_WAITING:
            return "nobody owes them an answer, so there is no date to promise"
        case SkipReason.UNDELIVERABLE:
            return "an email to their address bounced; correct the address first"
        case SkipReason.ON_ITS_WAY:
            return f"{label} is already on its way to them"
        case SkipReason.REPEATED:
            return "this request was answered before without them; it queues nothing new"
    return skipped.detail


@dataclass(frozen=True)
class Answer:
    """What goes to every selected candidate: one kind, one template (or each their default), the
    shared feedback and internal reasons of a rejection; an update's date (None: each candidate's
    own default)."""

    kind: EmailKind
    feedback: str | None = None
    reasons: tuple[str, ...] = ()
    promised_date: dt.date | None = None
    #: The template (an id, ``choosing.SHIPPED``); None: each candidate's own default.
    template: int | None = None
    #: Send later, at this time in each candidate's own zone; None: after the undo window.
    send_at: scheduling.SendAt | None = None


@dataclass(frozen=True)
class Planned:
    """A candidate the answer would go to; ``promised_date`` is the date an update promises them."""

    candidate: Candidate
    promised_date: dt.date | None = None


@dataclass(frozen=True)
class Plan:
    """Who gets the answer and who is skipped, in the order asked; ``repeated`` are candidates
    whose email this same request (its key) queued before: the door answers with that email."""

    eligible: list[Planned]
    skipped: list[Skipped]
    waits: dict[int, Wait] = field(default_factory=dict)
    repeated: frozenset[int] = frozenset()


class ConfirmationNeeded(DomainError):
    """Above the organisation's threshold the number of candidates must be typed to confirm."""

    def __init__(self, count: int, typed: int | None):
        self.count = count
        if typed is None:
            text = f"confirmation: type {count}, the number of candidates, to answer them all at once"
        else:
            text = f"confirmation: you typed {typed}, but {count} candidates would be answered; type {count}"
        super().__init__(text)


class NoSuchBatch(DomainError):
    """No email of this batch is one the viewer may undo."""


def new_batch_id() -> str:
    return uuid.uuid4().hex


def request_key(key: str, candidate_id: int, kind: EmailKind) -> str:
    """One idempotency key per request, candidate and kind: posting the same batch twice queues once."""
    return f"{key}:{candidate_id}:{kind.value}"


def check_kind(kind: str | EmailKind) -> EmailKind:
    try:
        kind = EmailKind(kind)
    except ValueError:
        kind = None
    if kind not in BULK_KINDS:
        raise DomainError(f"kind: one of {', '.join(k.value for k in BULK_KINDS)}")
    return kind


def check_confirmation(count: int, confirm_above: int, typed: int | None) -> None:
    """Above ``confirm_above`` candidates, ``typed`` must be their number."""
    if count > confirm_above and typed != count:
        raise ConfirmationNeeded(count, typed)


def plan(
    session: Session,
    candidate_ids: Sequence[int],
    answer: Answer,
    now: dt.datetime,
    settings: OrgSettings,
    *,
    manager_id: int | None,
    key: str | None = None,
) -> Plan:
    """Check each candidate for ``answer`` before anything is written, in a few statements: whom
    the viewer may answer (``manager_id``: a manager's own; None: everyone's), and who may get it.

    ``key`` is the request's idempotency key: a candidate it queued for before goes to the door,
    which answers with that email, rather than being skipped as having one on its way.
    """
    kind = check_kind(answer.kind)
    if answer.template is not None:
        choosing.choose(session, kind, None, answer.template)  # refused at once when there is none
    ids = list(dict.fromkeys(candidate_ids))
    if len(ids) > MAX_CANDIDATES:
        raise DomainError(f"candidates: at most {MAX_CANDIDATES} at once, not {len(ids)}")
    found = _candidates(session, ids, manager_id)
    waits = answers.open_waits_of(session, set(found))
    unsent = _unsent_kinds(session, set(found))
    repeated = _repeated(session, key, found, kind)
    eligible: list[Planned] = []
    skipped: list[Skipped] = []
    for candidate_id in ids:
        candidate = found.get(candidate_id)
        reason = _skip_reason(candidate, kind, candidate_id in waits, unsent.get(candidate_id, set()))
        if candidate is None:
            skipped.append(Skipped(candidate_id, None, SkipReason.NOT_FOUND))
        elif repeated and candidate_id not in repeated:  # a repeat answers with the first batch only
            skipped.append(Skipped(candidate_id, candidate.name, SkipReason.REPEATED))
        elif reason is not None and candidate_id not in repeated:
            skipped.append(Skipped(candidate_id, candidate.name, reason, candidate.status.value))
        else:
            promised = answer.promised_date
            if kind == EmailKind.UPDATE and promised is None:
                promised = promise_date_for(waits.get(candidate_id), candidate, now, settings)
            eligible.append(Planned(candidate, promised if kind == EmailKind.UPDATE else None))
    if answer.send_at is not None:
        _check_send_at(answer.send_at, eligible, now)
    return Plan(eligible, skipped, waits, frozenset(repeated))


def _check_send_at(send_at: scheduling.SendAt, eligible: list[Planned], now: dt.datetime) -> None:
    """A send time that has passed, or lies too far ahead, for any of them refuses the whole answer,
    naming the candidate whose clock says so."""
    for planned in eligible:
        try:
            scheduling.schedule(send_at, planned.candidate, now)
        except DomainError as exc:
            raise DomainError(f"{exc} for {planned.candidate.name}") from None


def _skip_reason(
    candidate: Candidate | None, kind: EmailKind, waiting: bool, unsent: set[EmailKind]
) -> SkipReason | None:
    if candidate is None:
        return SkipReason.NOT_FOUND
    if candidate.erased_at is not None:
        return SkipReason.ERASED
    if candidate.status not in ALLOWED_FROM[kind]:
        return SkipReason.STATUS
    if kind == EmailKind.UPDATE and not waiting:
        return SkipReason.NOT_WAITING
    if candidate.email_undeliverable_at is not None:
        return SkipReason.UNDELIVERABLE
    if kind in unsent:
        return SkipReason.ON_ITS_WAY
    return None


def _candidates(session: Session, ids: list[int], manager_id: int | None) -> dict[int, Candidate]:
    """The candidates among ``ids`` the viewer may answer, with position and manager (one statement)."""
    if not ids:
        return {}
    query = (
        select(Candidate)
        .join(Candidate.position)
        .join(Position.manager)
        .options(contains_eager(Candidate.position).contains_eager(Position.manager))
        .where(Candidate.id.in_(sorted(ids)))
    )
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    return {candidate.id: candidate for candidate in session.scalars(query)}


def _unsent_kinds(session: Session, candidate_ids: set[int]) -> dict[int, set[EmailKind]]:
    """The kinds of each candidate's emails queued or being sent (one statement)."""
    if not candidate_ids:
        return {}
    query = select(OutboxMessage.candidate_id, OutboxMessage.kind).where(
        OutboxMessage.candidate_id.in_(sorted(candidate_ids)),
        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    unsent: dict[int, set[EmailKind]] = {}
    for candidate_id, kind in session.execute(query):
        unsent.setdefault(candidate_id, set()).add(EmailKind(kind))
    return unsent


def _repeated(session: Session, key: str | None, found: dict[int, Candidate], kind: EmailKind) -> set[int]:
    if key is None:
        return set()
    keys = {request_key(key, candidate_id, kind): candidate_id for candidate_id in found}
    return {keys[existing] for existing in rows.by_keys(session, keys)}


@dataclass(frozen=True)
class Answered:
    """What a bulk answer did: each queued candidate with its email, the skipped ones with the
    reason, and the batch's id (None when nothing was queued)."""

    batch_id: str | None
    queued: list[tuple[Candidate, OutboxMessage]]
    skipped: list[Skipped]
    kind: EmailKind


def answer_many(
    session: Session,
    candidate_ids: Sequence[int],
    answer: Answer,
    config: EmailConfig,
    settings: OrgSettings,
    now: dt.datetime,
    *,
    key: str,
    actor: User | None,
    manager_id: int | None,
    confirm_above: int | None = None,
    typed: int | None = None,
) -> Answered:
    """Queue ``answer`` to every eligible candidate through the one door, as one batch.

    ``confirm_above``: above this many eligible candidates ``typed`` must be their number
    (ConfirmationNeeded); None asks for no confirmation. Should someone change one of the
    candidates meanwhile, the door's EmailError is raised for the whole batch (the caller rolls
    back): nothing is half sent.
    """
    kind = check_kind(answer.kind)
    planned = plan(session, candidate_ids, answer, now, settings, manager_id=manager_id, key=key)
    if confirm_above is not None:
        check_confirmation(len(planned.eligible), confirm_above, typed)
    batch_id = new_batch_id()
    requests = [
        EmailRequest(
            p.candidate,
            kind,
            request_key(key, p.candidate.id, kind),
            now,
            actor,
            promised_date=p.promised_date,
            feedback=answer.feedback if kind == EmailKind.REJECTION else None,
            reasons=answer.reasons if kind == EmailKind.REJECTION else (),
            default_promise=True,
            batch_id=batch_id,
            template=answer.template,
            send_at=answer.send_at,
        )
        for p in planned.eligible
    ]
    results = answers.queue_emails(session, requests, config, settings, open_waits=planned.waits)
    queued: list[tuple[Candidate, OutboxMessage]] = []
    skipped = list(planned.skipped)
    new = False
    for request, result in zip(requests, results, strict=True):
        candidate = request.candidate
        if isinstance(result, outbox.Refused):
            skipped.append(Skipped(candidate.id, candidate.name, SkipReason.REFUSED, str(result.error)))
        else:
            queued.append((candidate, result.message))
            new = new or result.new
    if not queued:
        return Answered(None, [], skipped, kind)
    # A repeated request answers with the emails it queued the first time, and their batch.
    return Answered(batch_id if new else queued[0][1].batch_id, queued, skipped, kind)


@dataclass(frozen=True)
class Undone:
    """What undoing a batch did: the emails cancelled, and those it could not take back with why."""

    undone: list[OutboxMessage]
    not_undone: list[tuple[OutboxMessage, str]]


def batch_messages(session: Session, batch_id: str, *, manager_id: int | None) -> list[OutboxMessage]:
    """The batch's emails the viewer may act on, with their candidates (one statement)."""
    query = (
        select(OutboxMessage)
        .join(OutboxMessage.candidate)
        .join(Candidate.position)
        .options(contains_eager(OutboxMessage.candidate))
        .where(OutboxMessage.batch_id == batch_id)
        .order_by(OutboxMessage.id)
    )
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    return list(session.scalars(query))


def undo_batch(
    session: Session, batch_id: str, now: dt.datetime, actor: User | None, *, manager_id: int | None
) -> Undone:
    """Undo every email of the batch as one Undo would undo it; one already sent, being sent or
    cancelled is reported with the reason, and the others are still undone."""
    messages = batch_messages(session, batch_id, manager_id=manager_id)
    if not messages:
        raise NoSuchBatch("batch: no such batch of emails among yours")
    undone: list[OutboxMessage] = []
    not_undone: list[tuple[OutboxMessage, str]] = []
    for message in messages:
        if not message.can_undo(now):
            not_undone.append((message, outbox.too_late(message)))
            continue
        try:
            with session.begin_nested():  # a refusal takes back this email's changes only
                answers.undo_email(session, message, now, actor)
        except DomainError as exc:
            not_undone.append((message, str(exc)))
        else:
            undone.append(message)
    return Undone(undone, not_undone)


def names(skipped: Iterable[Skipped]) -> list[str]:
    """The skipped candidates as a reader knows them: the name, or the id of one not theirs."""
    return [s.name if s.name is not None else f"candidate {s.candidate_id}" for s in skipped]


def undo_until(answered: Answered) -> dt.datetime | None:
    """When the batch's Undo ends: when the first of its emails may go."""
    pending = [m.send_after for _, m in answered.queued if m.status == OutboxStatus.PENDING]
    return min(pending) if pending else None
