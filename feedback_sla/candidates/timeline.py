"""A candidate's timeline: append-only events. What an event does to the wait is ``waits.service``'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import insert
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


def append_all(session: Session, events: Sequence[dict]) -> None:
    """Add many events in one INSERT, without loading them (the caller commits). Each is the columns
    of one event: ``candidate_id``, ``kind``, ``occurred_at`` and any of ``actor_id``, ``channel``,
    ``body`` and ``data``. What the session holds is written first, so a candidate's events keep
    the order they happened in."""
    if not events:
        return
    session.flush()
    rows = [{"actor_id": None, "channel": None, "body": None, "data": {}, **event} for event in events]
    session.execute(insert(Event.__table__), rows)
