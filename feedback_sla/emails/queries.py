"""Read queries for the email parts of the pages: what a manager can still undo, and what failed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, contains_eager

from ..candidates.models import Candidate
from ..positions.models import Position
from .models import OutboxMessage, OutboxStatus

#: Failed emails stay on the triage page this long after their last attempt (retried or not).
FAILED_SHOWN_FOR = dt.timedelta(days=30)
#: At most this many are listed; the candidate pages show the rest.
ATTENTION_LIMIT = 50


def needing_attention(
    session: Session, now: dt.datetime, manager_id: int | None
) -> list[OutboxMessage]:
    """Emails a manager may still undo, and recently failed ones, newest first (one query).

    ``manager_id`` None means every manager's candidates (an admin's view of everyone).
    The triage rows only show active candidates; a queued rejection or offer takes its candidate
    off the list at once, so this is where its undo button and a failure stay visible.
    """
    query = (
        select(OutboxMessage)
        .join(Candidate, OutboxMessage.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .where(
            or_(
                and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.send_after > now),
                and_(
                    OutboxMessage.status == OutboxStatus.FAILED,
                    OutboxMessage.failed_at > now - FAILED_SHOWN_FOR,
                ),
            )
        )
        .options(contains_eager(OutboxMessage.candidate))
        .order_by(OutboxMessage.queued_at.desc(), OutboxMessage.id.desc())
        .limit(ATTENTION_LIMIT)
    )
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    return list(session.scalars(query))
