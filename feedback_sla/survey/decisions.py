"""The candidates decided in a period, for the time to a decision beside the survey's figures: when
each applied (their first wait's opening), when they were decided, and how many status updates
were sent to them before the decision. Read through ``ix_candidates_decided_at``, each candidate's
first wait through ``ix_waits_candidate_opened`` and their emails through ``ix_outbox_messages_candidate``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.positions.models import Position
from feedback_sla.waits.models import Wait

#: A decision: rejected, offered (hired after it), or withdrawn.
DECIDED = (Status.REJECTED, Status.OFFERED, Status.HIRED, Status.WITHDRAWN)


@dataclass(frozen=True)
class Decided:
    position_id: int
    manager_id: int
    time_zone: str
    applied_at: dt.datetime
    decided_at: dt.datetime
    updates_before: int


def decided_in(
    session: Session,
    since: dt.date,
    until: dt.date,
    time_zone: str,
    *,
    positions: Collection[int] | None = None,
    managers: Collection[int] | None = None,
) -> list[Decided]:
    """Every candidate decided from ``since`` through ``until``, days in ``time_zone`` (the
    organisation's); only those of ``positions`` or of ``managers``' positions when given (a page
    of the metrics page's groups)."""
    zone = ZoneInfo(time_zone)
    start = dt.datetime.combine(since, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    applied = select(func.min(Wait.opened_at)).where(Wait.candidate_id == Candidate.id).scalar_subquery()
    updates = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.candidate_id == Candidate.id,
            OutboxMessage.kind == EmailKind.UPDATE,
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_at <= Candidate.decided_at,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Candidate.position_id,
            Position.manager_id,
            Position.time_zone,
            func.coalesce(applied, Candidate.created_at),
            Candidate.decided_at,
            updates,
        )
        .join(Position, Position.id == Candidate.position_id)
        .where(Candidate.decided_at >= start, Candidate.decided_at < end, Candidate.status.in_(DECIDED))
        .where(*_of_groups(positions, managers))
    )
    return [Decided(*row) for row in rows]


def _of_groups(positions: Collection[int] | None, managers: Collection[int] | None) -> list:
    found = []
    if positions is not None:
        found.append(Candidate.position_id.in_(sorted(positions)))
    if managers is not None:
        found.append(Position.manager_id.in_(sorted(managers)))
    return found
