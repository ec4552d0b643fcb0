"""What a candidate sees on their status page and what they may do there.

A link is found by its token (``candidates.status_links``) while the organisation has the page on.
The page says where things stand (a ``Situation`` and its day, in the position's time zone; the
page words it in the candidate's language) and lists the emails we sent. Asking for news and
withdrawing enter through the wait's door (``waits.service``), recorded with the channel "status
page"; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status, StatusLink
from feedback_sla.emails.models import STATUS_SET, OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import as_utc, local_date
from feedback_sla.waits import clock
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.queries import open_wait_of

CHANNEL = status_links.CHANNEL
#: Business days between two "Ask for news" of one candidate.
ASK_EVERY = 2
#: The sent emails the page lists, newest first.
SHOWN_EMAILS = 50


class TooSoon(DomainError):
    """The candidate asked for news less than ``ASK_EVERY`` business days ago."""

    def __init__(self, again: dt.date) -> None:
        super().__init__(f"You asked for news recently. You can ask again on {again.isoformat()}.")
        self.again = again


class Decided(DomainError):
    """The candidate's application is decided: there is no news to ask for, nothing to withdraw."""


class LinkGone(DomainError):
    """The link was revoked, or its candidate erased, after the page found it: it acts no more."""


@dataclass(frozen=True)
class SentEmail:
    #: The day it was sent, in the position's time zone.
    sent_on: dt.date
    subject: str


class Situation(enum.StrEnum):
    """Where things stand, as the page words it (``web.status.wording``)."""

    ON_ITS_WAY = "on_its_way"  # decided, and the email that says so is still to go out
    NOTHING_OWED = "nothing_owed"  # active, and nobody owes them an answer now
    DUE = "due"  # we owe an answer by a day still to come
    LATE = "late"  # the day we owed an answer by has passed
    REJECTED = "rejected"
    OFFERED = "offered"
    HIRED = "hired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Standing:
    """Where things stand: the situation, and the day it is about."""

    situation: Situation
    decided: bool
    #: The day the team owes the candidate an answer by, when someone owes one.
    answer_by: dt.date | None = None
    #: Whether ``answer_by`` is a date we promised them (else our own deadline).
    promised: bool = False
    #: The day they withdrew, when they did.
    withdrawn_on: dt.date | None = None


@dataclass(frozen=True)
class StatusView:
    candidate: Candidate
    position: str
    company: str
    standing: Standing
    sent: list[SentEmail]
    #: The day the candidate may ask for news again; None when they may ask now (or not at all).
    ask_again_on: dt.date | None


def find(session: Session, token: str, now: dt.datetime) -> StatusLink | None:
    """The live link of a token; None when unknown, revoked, dead, or the status page is off."""
    if not settings_service.value_of(session, "status_page.enabled"):
        return None
    days = settings_service.value_of(session, "status_page.days_after_decision")
    return status_links.find(session, token, now, days)


def live_link(session: Session, candidate: Candidate, now: dt.datetime) -> bool:
    """Whether an email gave the candidate a link that still opens their page (while the page is
    on): no statement at all while it is off."""
    if not settings_service.value_of(session, "status_page.enabled"):
        return False
    days_after = settings_service.value_of(session, "status_page.days_after_decision")
    found = session.scalar(_LINK_GIVEN, {"candidate_id": candidate.id})
    return bool(found) and status_links.has_live_link(candidate, now, days_after)


#: ``live_link``'s statement, built once (the candidate page shows it on every view).
_LINK_GIVEN = select(
    sa.exists(
        select(StatusLink.id).where(
            StatusLink.candidate_id == sa.bindparam("candidate_id"), StatusLink.revoked_at.is_(None)
        )
    )
)


def view(
    session: Session, candidate: Candidate, now: dt.datetime, settings: OrgSettings, company: str
) -> StatusView:
    """Everything the page shows: the position, where things stand, the emails we sent."""
    tz = candidate.position.time_zone
    today = local_date(now, tz)
    sent = session.execute(
        select(OutboxMessage.sent_at, OutboxMessage.subject)
        .where(OutboxMessage.candidate_id == candidate.id, OutboxMessage.status == OutboxStatus.SENT)
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(SHOWN_EMAILS)
    ).all()
    again = ask_again_on(session, candidate, settings)
    return StatusView(
        candidate=candidate,
        position=candidate.position.title,
        company=company,
        standing=standing(session, candidate, now),
        sent=[SentEmail(local_date(at, tz), subject) for at, subject in sent],
        ask_again_on=again if again is not None and again > today else None,
    )


def standing(session: Session, candidate: Candidate, now: dt.datetime) -> Standing:
    tz = candidate.position.time_zone
    if candidate.status != Status.ACTIVE:
        if _decision_on_its_way(session, candidate):
            return Standing(Situation.ON_ITS_WAY, decided=True)
        return _decision(candidate)
    wait = open_wait_of(session, candidate)
    if wait is None:
        return Standing(Situation.NOTHING_OWED, decided=False)
    due = local_date(wait.due_at, tz)
    situation = Situation.DUE if as_utc(now) <= as_utc(wait.due_at) else Situation.LATE
    return Standing(situation, False, due, promised=wait.promised_date == due)


def _decision_on_its_way(session: Session, candidate: Candidate) -> bool:
    """Whether the email that made the decision is still to go out: until it is sent (it may yet
    be undone) the page does not tell what the email will."""
    kinds = [kind for kind, status in STATUS_SET.items() if status == candidate.status]
    if not kinds:
        return False
    unsent = select(OutboxMessage.id).where(
        OutboxMessage.candidate_id == candidate.id,
        OutboxMessage.kind.in_(kinds),
        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    return bool(session.scalar(select(sa.exists(unsent))))


_DECIDED = {
    Status.REJECTED: Situation.REJECTED,
    Status.OFFERED: Situation.OFFERED,
    Status.HIRED: Situation.HIRED,
    Status.WITHDRAWN: Situation.WITHDRAWN,
}


def _decision(candidate: Candidate) -> Standing:
    withdrawn_on = None
    if candidate.decided_at is not None and candidate.status == Status.WITHDRAWN:
        withdrawn_on = local_date(as_utc(candidate.decided_at), candidate.position.time_zone)
    return Standing(_DECIDED[candidate.status], decided=True, withdrawn_on=withdrawn_on)


def ask_again_on(session: Session, candidate: Candidate, settings: OrgSettings) -> dt.date | None:
    """The day the candidate may ask for news again: ``ASK_EVERY`` business days after the last
    time they asked on their page, in the position's time zone; None if they never did."""
    last = session.scalar(
        select(func.max(Event.occurred_at)).where(
            Event.candidate_id == candidate.id,
            Event.kind == EventKind.FOLLOWED_UP,
            Event.channel == CHANNEL,
        )
    )
    if last is None:
        return None
    asked = local_date(as_utc(last), candidate.position.time_zone)
    return clock.add_business_days(asked, ASK_EVERY, settings.holiday_calendar)


def ask_for_news(session: Session, link: StatusLink, now: dt.datetime, settings: OrgSettings):
    """The candidate asked for news: a follow-up through the wait's door (counted on the open wait,
    escalating it, or opening a follow-up wait). Returns the wait; TooSoon within ``ASK_EVERY``
    business days of the last time, Decided after a decision."""
    candidate = _locked(session, link)
    if candidate.status != Status.ACTIVE:
        raise Decided("Your application is decided: there is no news to ask for.")
    again = ask_again_on(session, candidate, settings)
    today = local_date(now, candidate.position.time_zone)
    if again is not None and today < again:
        raise TooSoon(again)
    return waits.followed_up(
        session, candidate, now, settings, channel=CHANNEL, body="Asked for news on their status page"
    )


def withdraw(session: Session, link: StatusLink, now: dt.datetime) -> Event:
    """The candidate withdrew on their page: the wait closes, the status is set, pending emails
    it contradicts are cancelled. Decided when the application is decided already."""
    candidate = _locked(session, link)
    if candidate.status != Status.ACTIVE:
        raise Decided("Your application is decided already: there is nothing to withdraw.")
    return waits.withdraw(
        session, candidate, now, reason="Withdrawn by the candidate on their status page", channel=CHANNEL
    )


def revoke(session: Session, candidate: Candidate, now: dt.datetime, actor: User | None) -> int:
    """Revoke every link of the candidate (emails already sent stop opening the page), on the
    timeline; returns how many links were live. DomainError when none was."""
    revoked = status_links.revoke_all(session, candidate.id, now)
    if not revoked:
        raise DomainError(f"{candidate.name} has no status page link to revoke")
    waits.record(
        session,
        candidate,
        EventKind.NOTE,
        now,
        actor,
        body="Status page links revoked: the links in earlier emails no longer open the page.",
        data={"status_links_revoked": revoked},
    )
    return revoked


def _locked(session: Session, link: StatusLink) -> Candidate:
    """The link's candidate, its row locked until the commit: two clicks at once are decided one
    after the other, and a link revoked or erased meanwhile does nothing (LinkGone). An UPDATE
    that changes nothing takes the lock on PostgreSQL (the row) and on SQLite (the database's
    write lock), where a SELECT ... FOR UPDATE would take none."""
    table = Candidate.__table__
    session.execute(sa.update(table).where(table.c.id == link.candidate_id).values(status=table.c.status))
    live = session.execute(
        select(StatusLink.id)
        .join(Candidate, Candidate.id == StatusLink.candidate_id)
        .where(StatusLink.id == link.id, StatusLink.revoked_at.is_(None), Candidate.erased_at.is_(None))
    ).one_or_none()
    if live is None:  # revoked or erased since ``find``: the lock now shows it
        raise LinkGone("This link no longer works.")
    session.refresh(link.candidate)
    return link.candidate
