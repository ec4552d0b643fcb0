"""What the candidate was promised: the date an update offers by default, the limits of a promised
date, and the wait a kept promise opens. The caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event, Status
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import check_promised_day, local_date
from feedback_sla.waits import lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait, WaitReason
from feedback_sla.waits.queries import WaitRow, open_wait_of


def wait_on_promise(
    session: Session,
    candidate: Candidate,
    answered: Wait,
    event: Event,
    promised: dt.date,
    settings: OrgSettings,
) -> Wait | None:
    """The candidate was told when they will hear next: the wait ``event`` answered is followed by
    one of the same kind, due on the promised date. None when the candidate is no longer in the
    process or something else is already owed."""
    if not _still_owed(candidate) or open_wait_of(session, candidate):
        return None
    return lifecycle.open_wait(
        session, candidate, answered.reason, event.occurred_at, settings, promised_date=promised, event=event
    )


def waits_on_promises(session: Session, kept: Sequence[Kept], settings: OrgSettings) -> list[Wait]:
    """``wait_on_promise`` for many candidates at once, each of whose answered wait was just closed
    (so none has another open), in one INSERT (the events are written)."""
    opened = [
        lifecycle.new_wait(
            k.candidate,
            k.answered.reason,
            k.event.occurred_at,
            settings,
            promised_date=k.promised,
            event=k.event,
        )
        for k in kept
        if _still_owed(k.candidate)
    ]
    session.add_all(opened)
    session.flush()
    return opened


class Kept(NamedTuple):
    """A promise an email kept: the wait it answered, the event that answered it, the date it named."""

    candidate: Candidate
    answered: Wait
    event: Event
    promised: dt.date


def _still_owed(candidate: Candidate) -> bool:
    return candidate.status in (Status.ACTIVE, Status.OFFERED)


def check_promise(promised: dt.date, at: dt.datetime, time_zone: str) -> None:
    """A promise lies between the day of ``at`` in ``time_zone`` and a year ahead."""
    try:
        check_promised_day(promised, local_date(at, time_zone))
    except ValueError as exc:
        raise DomainError(f"promised date: {exc}") from None


def default_promise_date(
    session: Session, candidate: Candidate, now: dt.datetime, settings: OrgSettings
) -> dt.date:
    """The default date of an update: the date already promised, while it is still ahead; otherwise
    the deadline a fresh wait of the same kind would have."""
    return promise_date_for(open_wait_of(session, candidate), candidate, now, settings)


def promise_date_for(
    wait: Wait | WaitRow | None, candidate: Candidate, now: dt.datetime, settings: OrgSettings
) -> dt.date:
    """``default_promise_date`` with the candidate's open wait (None: there is none) already read."""
    position = candidate.position
    if wait is not None and wait.promised_date is not None:
        if wait.promised_date >= local_date(now, position.time_zone):
            return wait.promised_date
    reason = wait.reason if wait is not None else WaitReason.DECISION
    due_at = lifecycle.deadlines_for(reason, now, position, settings).times.due_at
    return local_date(due_at, position.time_zone)
