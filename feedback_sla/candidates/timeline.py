"""A candidate's timeline: append-only events. What an event does to the wait is ``waits.service``'s."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Event, EventKind


def append(
    session: Session,
    candidate: Candidate,
    kind: EventKind,
    at: dt.datetime,
    actor: User | None = None,
    *,
    channel: str | None = None,
    body: str | None = None,
    data: dict | None = None,
) -> Event:
    """Add an event to the candidate's timeline (the caller commits)."""
    event = Event(
        candidate=candidate,
        kind=kind,
        occurred_at=at,
        actor=actor,
        channel=channel,
        body=body,
        data=data or {},
    )
    session.add(event)
    return event
