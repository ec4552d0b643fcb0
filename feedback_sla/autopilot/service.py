"""Autopilot: a status update to every candidate whose deadline is near and who has heard nothing.

For positions with autopilot on, ``run`` finds in one statement every open wait whose deadline
falls within the lead time (``autopilot.lead_business_hours`` business hours, see
``clock.business_hours_before``) or has already passed: a wait that went overdue while autopilot
was on is owed its message all the more. It queues, through the wait's door, the position's update
template promising the deadline a fresh wait would have, with the usual undo window, and counts it
on the wait. Once sent, the update answers the wait and its promise opens the next one, which
autopilot keeps in its turn. A wait already written to ``autopilot.max_per_wait`` times (its
updates failed or were cancelled) gets nothing more: the digest tells its manager and the admins.

Set-based: a batch of waits costs a few statements, not a few per wait. One UPDATE claims the
batch, then the wait's door (``answers.queue_emails``) checks and renders each update and writes
the outbox rows, their status page links and their timeline events an INSERT each; the batch is
committed.

Safe on several hosts at once: the claim re-checks, under the rows' locks, that each wait is still
open, unanswered and at the count the run read; a run that loses the race skips the wait, and the
idempotency key (the wait and its update number) queues one message whatever happens. One wait's
failure (a template that cannot be rendered for that candidate, an address the rules refuse) is
reported, its count given back, and the rest go on.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.emails.outbox import Refused
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import local_date
from feedback_sla.waits import answers, lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.lead_time import UNSENT, email_on_its_way, within_lead_time
from feedback_sla.waits.models import Wait, WaitReason

#: Waits queued and committed together.
BATCH = 500
#: The statuses of a candidate who is still owed news.
WAITING = (Status.ACTIVE, Status.OFFERED)


@dataclass(frozen=True)
class Limits:
    """The organisation's autopilot settings."""

    lead_business_hours: int = 4
    max_per_wait: int = 2

    @classmethod
    def load(cls, session: Session) -> Limits:
        return cls(
            int(settings_service.value_of(session, "autopilot.lead_business_hours")),
            int(settings_service.value_of(session, "autopilot.max_per_wait")),
        )


@dataclass(frozen=True, slots=True)
class Owed:
    """One wait autopilot writes to, as the run found it."""

    wait_id: int
    candidate_id: int
    candidate: str
    position: str
    time_zone: str
    due_at: dt.datetime
    updates: int


@dataclass(frozen=True, slots=True)
class Sent:
    owed: Owed
    outbox_id: int
    promised_date: dt.date


@dataclass
class Outcome:
    """What a run queued, skipped (another run or a person got there first) and failed to queue."""

    queued: list[Sent] = field(default_factory=list)
    skipped: list[Owed] = field(default_factory=list)
    failed: list[tuple[Owed, str]] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.queued += other.queued
        self.skipped += other.skipped
        self.failed += other.failed


# --- which waits ----------------------------------------------------------------------------------


def waiting(candidate) -> ColumnElement[bool]:
    """The candidate (an entity or alias) is owed news and can be written to."""
    return and_(
        candidate.status.in_(WAITING),
        candidate.email_undeliverable_at.is_(None),
        candidate.erased_at.is_(None),
        candidate.email != "",
    )


def unheard() -> ColumnElement[bool]:
    """The wait's candidate has no candidate email on its way, and ``not_undone``."""
    return and_(~email_on_its_way(Wait.candidate_id), not_undone())


def not_undone() -> ColumnElement[bool]:
    """No person has undone an autopilot update to the wait's candidate since the wait opened (they
    answer it themselves)."""
    return ~exists().where(
        OutboxMessage.candidate_id == Wait.candidate_id,
        OutboxMessage.autopilot.is_(True),
        OutboxMessage.status == OutboxStatus.CANCELLED,
        OutboxMessage.queued_at >= Wait.opened_at,
    )


def owed_query(session: Session, now: dt.datetime, settings: OrgSettings, limits: Limits):
    """Every open wait autopilot owes an update now, soonest deadline first (one statement). The
    position is joined through the wait's own copy of it, so only the waits of autopilot positions
    whose deadline is near are looked up in the candidates."""
    return (
        select(
            Wait.id,
            Wait.candidate_id,
            Candidate.name,
            Position.title,
            Position.time_zone,
            Wait.due_at,
            Wait.autopilot_updates,
        )
        .join(Position, Wait.position_id == Position.id)
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .where(
            Wait.closed_at.is_(None),
            Position.autopilot.is_(True),
            Wait.autopilot_updates < limits.max_per_wait,
            within_lead_time(session, now, limits.lead_business_hours, settings),
            waiting(Candidate),
            unheard(),
        )
        .order_by(Wait.due_at, Wait.id)
    )


def owed(session: Session, now: dt.datetime, settings: OrgSettings, limits: Limits) -> list[Owed]:
    return [Owed(*row) for row in session.execute(owed_query(session, now, settings, limits))]


# --- queueing ------------------------------------------------------------------------------------


def would_queue(
    session: Session, now: dt.datetime, settings: OrgSettings, *, limits: Limits | None = None
) -> Iterator[Owed]:
    """What ``run`` would queue now, read as it goes (a dry run holds no list of every owed wait);
    writes nothing."""
    limits = limits or Limits.load(session)
    query = owed_query(session, now, settings, limits).execution_options(yield_per=1_000)
    try:
        for row in session.execute(query):
            yield Owed(*row)
    finally:
        session.rollback()


def run(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    *,
    limits: Limits | None = None,
) -> Outcome:
    """Queue an update for every wait autopilot owes one, ``BATCH`` waits at a time, each batch in a
    few statements and committed. Should a batch fail as a whole (a candidate changed by someone
    else between the checks and the writes), its waits are queued again one by one, so only the
    one that fails is reported."""
    limits = limits or Limits.load(session)
    found = owed(session, now, settings, limits)
    session.commit()  # the run's reads end here; each wait is claimed afresh
    outcome, promises = Outcome(), Promises(now, settings)
    for start in range(0, len(found), BATCH):
        batch = found[start : start + BATCH]
        try:
            done = _queue_batch(session, batch, now, settings, config, promises)
            session.commit()
        except DomainError:
            session.rollback()
            done = _queue_one_by_one(session, batch, now, settings, config, promises)
        outcome.add(done)
    return outcome


def _queue_one_by_one(
    session: Session,
    batch: list[Owed],
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    promises: Promises,
) -> Outcome:
    """The batch again, each wait claimed, queued and committed on its own."""
    outcome = Outcome()
    for item in batch:
        try:
            outcome.add(_queue_batch(session, [item], now, settings, config, promises))
            session.commit()
        except DomainError as exc:
            session.rollback()
            outcome.failed.append((item, str(exc)))
    return outcome


def _queue_batch(
    session: Session,
    batch: list[Owed],
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    promises: Promises,
) -> Outcome:
    """Claim the batch's waits in one statement, queue an update to each one claimed through the
    wait's door, and give back the claim of those the checks refused (the caller commits)."""
    outcome = Outcome()
    waits = _load(session, [item.wait_id for item in batch])
    claimed = _claim(session, [item for item in batch if item.wait_id in waits])
    owed_now: list[tuple[Owed, dt.date]] = []
    for item in batch:
        if item.wait_id not in claimed:  # answered, gone or handled by another run since the read
            outcome.skipped.append(item)
            continue
        wait = waits[item.wait_id]
        set_committed_value(wait, "autopilot_updates", item.updates + 1)
        owed_now.append((item, promises.next_for(wait)))
    requests = [_request(waits[item.wait_id], item, promised, now) for item, promised in owed_now]
    claimed_waits = {waits[item.wait_id].candidate_id: waits[item.wait_id] for item, _ in owed_now}
    results = answers.queue_emails(session, requests, config, settings, open_waits=claimed_waits)
    refused: list[Owed] = []
    for (item, promised), result in zip(owed_now, results, strict=True):
        if isinstance(result, Refused):
            outcome.failed.append((item, str(result.error)))
            refused.append(item)
        else:
            outcome.queued.append(Sent(item, result.message.id, promised))
    _unclaim(session, refused, waits)
    return outcome


def _load(session: Session, wait_ids: list[int]) -> dict[int, Wait]:
    """The batch's waits with their candidate and position (the manager joins itself), at once."""
    query = (
        select(Wait)
        .join(Wait.candidate)
        .join(Candidate.position)
        .options(contains_eager(Wait.candidate).contains_eager(Candidate.position))
        .where(Wait.id.in_(wait_ids))
    )
    return {wait.id: wait for wait in session.scalars(query).unique()}


def _claim(session: Session, batch: list[Owed]) -> set[int]:
    """Count the update on each wait still as the run found it (open, at the same count,
    unanswered): the waits claimed. The waits are locked first, in the order of their ids, so two
    runs claiming the same batch never deadlock and the second sees the first's counts once it
    commits (SQLite, which locks the whole database, ignores FOR UPDATE). Two statements."""
    if not batch:
        return set()
    connection = session.connection()
    connection.execute(_LOCK, {"ids": [item.wait_id for item in batch]})
    seen: dict[int, list[int]] = {}
    for item in batch:
        seen.setdefault(item.updates, []).append(item.wait_id)
    claimed = connection.execute(
        _claim_statement(tuple(sorted(seen))),
        {"candidates": sorted({item.candidate_id for item in batch})}
        | {f"seen_{count}": ids for count, ids in seen.items()},
    )
    return set(claimed.scalars())


_LOCK = (
    select(Wait.id).where(Wait.id.in_(bindparam("ids", expanding=True))).order_by(Wait.id).with_for_update()
)


@functools.cache
def _claim_statement(counts: tuple[int, ...]):
    """``_claim``'s UPDATE for waits found at ``counts`` updates, built once (building it costs
    more than running it): the waits seen at each count are one list.

    The emails on their way are looked up for the batch's candidates by list, so the database
    reads them from the index of unsent emails even when its statistics, taken before the run
    queued thousands, say there are none (it would otherwise scan them all for every wait)."""
    candidate = aliased(Candidate)
    on_its_way = select(OutboxMessage.candidate_id).where(
        OutboxMessage.candidate_id.in_(bindparam("candidates", expanding=True)),
        OutboxMessage.status.in_(UNSENT),
    )
    return (
        update(Wait.__table__)
        .where(
            or_(
                *(
                    and_(
                        Wait.id.in_(bindparam(f"seen_{count}", expanding=True)),
                        Wait.autopilot_updates == count,
                    )
                    for count in counts
                )
            ),
            Wait.closed_at.is_(None),
            exists().where(candidate.id == Wait.candidate_id, waiting(candidate)),
            Wait.candidate_id.not_in(on_its_way),
            not_undone(),
        )
        .values(autopilot_updates=Wait.autopilot_updates + 1)
        .returning(Wait.id)
    )


def _unclaim(session: Session, refused: list[Owed], waits: dict[int, Wait]) -> None:
    """The waits whose update the checks refused keep the count they had."""
    if not refused:
        return
    session.execute(
        update(Wait.__table__)
        .where(Wait.id.in_([item.wait_id for item in refused]))
        .values(autopilot_updates=Wait.autopilot_updates - 1)
    )
    for item in refused:
        set_committed_value(waits[item.wait_id], "autopilot_updates", item.updates)


class Promises:
    """The date an autopilot update promises: the deadline a wait of the same kind opened now would
    have, by the position's policy; worked out once per position and kind of wait in a run."""

    def __init__(self, now: dt.datetime, settings: OrgSettings) -> None:
        self.now, self.settings = now, settings
        self._dates: dict[tuple[int, WaitReason], dt.date] = {}

    def next_for(self, wait: Wait) -> dt.date:
        position = wait.candidate.position
        key = (position.id, wait.reason)
        if key not in self._dates:
            self._dates[key] = next_promise(wait, self.now, self.settings)
        return self._dates[key]


def next_promise(wait: Wait, now: dt.datetime, settings: OrgSettings) -> dt.date:
    """The date an autopilot update promises: the deadline a wait of the same kind opened now
    would have, by the position's policy."""
    position = wait.candidate.position
    due_at = lifecycle.deadlines_for(wait.reason, now, position, settings).times.due_at
    return local_date(due_at, position.time_zone)


def _request(wait: Wait, item: Owed, promised: dt.date, now: dt.datetime) -> EmailRequest:
    return EmailRequest(
        candidate=wait.candidate,
        kind=EmailKind.UPDATE,
        idempotency_key=idempotency_key(item),
        now=now,
        actor=None,
        promised_date=promised,
        autopilot=True,
    )


def idempotency_key(item: Owed) -> str:
    """One key per wait and update number: two runs queue the same update once."""
    return f"autopilot:{item.wait_id}:{item.updates + 1}"
