"""A manager's private calendar feed: one all-day event per open wait of their candidates, on the
day the answer is owed, and the token that opens it.

Each event falls on the promised date when the manager promised one, otherwise on the deadline's
day, both as dates in the position's time zone: deadlines fall at the end of a business day, so
the day is what matters, and an all-day event shows on that day in every viewer's zone (the
deadline's hour is in the description). The UID names the candidate, not the wait: a wait closes
and the next one opens when an update is sent, and the new date then replaces the old event.
SEQUENCE and LAST-MODIFIED grow with the wait's opening and the candidate's latest recorded event,
so clients that track them update in place.

The token is random (256 bits), shown once, kept as its SHA-256 on the user; creating a new one
revokes the old one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.accounts.tokens import digest
from feedback_sla.candidates.models import Candidate, Event
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.timeutil import as_utc, local_date, local_time_in
from feedback_sla.waits.models import Wait, WaitReason

PRODUCT_ID = "-//feedback-sla//calendar feed//EN"
#: SEQUENCE counts seconds from here: it only grows, and fits the 32 bits clients keep until 2088.
SEQUENCE_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def create_token(user: User) -> str:
    """A new feed token for the user, replacing any earlier one; the token, shown this once."""
    if not user.active:
        raise DomainError(f"{user.email} is disabled")
    secret = secrets.token_urlsafe(32)
    user.calendar_token_hash = digest(secret)
    return secret


def revoke(user: User) -> bool:
    """The user's feed stops answering; False when there was none."""
    had = user.calendar_token_hash is not None
    user.calendar_token_hash = None
    return had


def user_for(session: Session, secret: str) -> User | None:
    """The active user whose feed this token opens; None for an unknown, revoked or disabled one."""
    if not secret or len(secret) > 100:
        return None
    user = session.scalar(select(User).where(User.calendar_token_hash == digest(secret)))
    return user if user is not None and user.active else None


@dataclass(frozen=True)
class Entry:
    """One open wait as the feed shows it."""

    candidate_id: int
    candidate: str
    position: str
    time_zone: str
    reason: WaitReason
    due_at: dt.datetime
    promised_date: dt.date | None
    changed_at: dt.datetime

    @property
    def day(self) -> dt.date:
        return self.promised_date or local_date(self.due_at, self.time_zone)


def entries(session: Session, manager: User) -> list[Entry]:
    """The open waits of the manager's candidates, soonest first, read in one statement."""
    latest_event = (
        select(func.max(Event.recorded_at)).where(Event.candidate_id == Wait.candidate_id).scalar_subquery()
    )
    query = (
        select(
            Candidate.id,
            Candidate.name,
            Position.title,
            Position.time_zone,
            Wait.reason,
            Wait.due_at,
            Wait.promised_date,
            Wait.opened_at,
            latest_event,
        )
        .join(Candidate, Candidate.id == Wait.candidate_id)
        .join(Position, Position.id == Candidate.position_id)
        .where(Wait.closed_at.is_(None), Position.manager_id == manager.id)
        .order_by(Wait.due_at, Candidate.id)
    )
    return [
        Entry(cid, name, title, tz, reason, due_at, promised, _later(opened_at, latest))
        for cid, name, title, tz, reason, due_at, promised, opened_at, latest in session.execute(query)
    ]


def _later(opened_at: dt.datetime, latest: dt.datetime | None) -> dt.datetime:
    opened_at = as_utc(opened_at)
    return max(opened_at, as_utc(latest)) if latest is not None else opened_at


def feed(session: Session, manager: User, now: dt.datetime, base_url: str, host: str) -> bytes:
    """The manager's feed as iCalendar bytes; ``base_url`` ends with a slash, ``host`` names the
    site in the UIDs."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Answers owed: {manager.name}")
    for entry in entries(session, manager):
        calendar.add_component(_event(entry, now, base_url, host))
    return calendar.to_ical()


def _event(entry: Entry, now: dt.datetime, base_url: str, host: str) -> CalendarEvent:
    event = CalendarEvent()
    event.add("uid", f"candidate-{entry.candidate_id}@{host}")
    event.add("dtstamp", as_utc(now))
    event.add("last-modified", entry.changed_at)
    event.add("sequence", int((entry.changed_at - SEQUENCE_EPOCH).total_seconds()))
    event.add("dtstart", entry.day)
    event.add("dtend", entry.day + dt.timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    what = "answer promised" if entry.promised_date else "answer due"
    event.add("summary", f"{entry.candidate} · {entry.position}: {what}")
    url = f"{base_url}candidates/{entry.candidate_id}"
    event.add("url", url)
    deadline = local_time_in(entry.due_at, entry.time_zone)
    promised = f"Promised an answer by {entry.promised_date:%a %d %b %Y}.\n" if entry.promised_date else ""
    event.add("description", f"Waiting for: {entry.reason.label}.\n{promised}Deadline: {deadline}.\n{url}")
    return event
