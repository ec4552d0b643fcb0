"""Taking back a logged contact or a recorded follow-up, clicked by mistake, within the undo window.

The timeline stays append-only: an ``undone`` event names the event taken back, and the wait goes
back to what it was before it: a contact's wait opens again, a follow-up is no longer counted (or
the reply wait it opened is gone, as if it had never been).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import Candidate, Event, EventKind
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import open_wait_of

UNDOABLE = {EventKind.CONTACT_LOGGED: "logged contact", EventKind.FOLLOWED_UP: "follow-up"}


class NotUndoable(DomainError):
    """The event is not one that can be taken back, or no longer."""


def undoable_event(session: Session, candidate: Candidate, event_id: int) -> Event:
    """The candidate's contact or follow-up with this id, not undone yet."""
    event = session.get(Event, event_id)
    if event is None or event.candidate_id != candidate.id or event.kind not in UNDOABLE:
        raise NotUndoable(f"{candidate.name} has no such contact or follow-up to undo")
    undone = select(Event.id).where(
        Event.candidate_id == candidate.id,
        Event.kind == EventKind.UNDONE,
        Event.data["event_id"].as_integer() == event.id,
    )
    if session.scalar(undone) is not None:
        raise NotUndoable(f"this {UNDOABLE[event.kind]} is already undone")
    return event


def undo(
    session: Session,
    candidate: Candidate,
    event_id: int,
    at: dt.datetime,
    window: dt.timedelta,
    actor: User | None = None,
) -> Event:
    """Take back a contact or follow-up recorded less than ``window`` ago; the caller commits."""
    event = undoable_event(session, candidate, event_id)
    what = UNDOABLE[event.kind]
    if as_utc(event.recorded_at) + window < at:
        raise NotUndoable(f"the {what} was recorded more than {int(window.total_seconds())} seconds ago")
    if event.kind == EventKind.CONTACT_LOGGED:
        _reopen_wait_closed_by(session, candidate, event)
    else:
        _uncount_follow_up(session, candidate, event)
    return timeline.append(
        session,
        candidate,
        EventKind.UNDONE,
        at,
        actor,
        body=f"The {what} recorded at {as_utc(event.occurred_at):%H:%M:%S} UTC was a mistake.",
        data={"event_id": event.id, "kind": event.kind.value},
    )


def _reopen_wait_closed_by(session: Session, candidate: Candidate, event: Event) -> None:
    wait = session.scalar(select(Wait).where(Wait.closed_by_event_id == event.id))
    if wait is None:
        return  # nobody was waiting: the contact only sits on the timeline
    current = open_wait_of(session, candidate)
    if current is not None and current.opened_by_event_id == event.id:
        # The wait the contact's promise opened goes with it; its follow-ups count on the old one.
        wait.follow_ups += current.follow_ups
        session.delete(current)
        session.flush()  # one open wait per candidate: this one goes before the other reopens
    elif current is not None:
        raise NotUndoable(f"{candidate.name} is waiting for something newer since this contact")
    wait.closed_at = None
    wait.closed_by_event_id = None


def _uncount_follow_up(session: Session, candidate: Candidate, event: Event) -> None:
    wait = open_wait_of(session, candidate)
    if wait is not None and wait.opened_by_event_id == event.id:
        session.delete(wait)  # the reply wait this follow-up opened: never owed after all
        return
    opened_by_it = session.scalar(select(Wait.id).where(Wait.opened_by_event_id == event.id))
    if opened_by_it is not None or wait is None or wait.follow_ups == 0:
        raise NotUndoable(f"{candidate.name} has been answered since this follow-up")
    if as_utc(wait.opened_at) > as_utc(event.occurred_at):
        raise NotUndoable(f"{candidate.name} has been answered since this follow-up")
    wait.follow_ups -= 1
