"""The daily digest: once per manager and local day, at their hour, only when something is owed.

``due_digests`` decides who gets one now, ``owed_to`` collects what one manager is owed (their rows
streamed in batches, only the most urgent kept, the rest counted: one manager's rows in memory at a
time, however large the organisation), ``render`` writes the text and HTML, and ``queue`` claims the
(manager, local day) row with an insert that does nothing on conflict, in the same transaction as
the queued message: concurrent and repeated runs never send twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from feedback_sla import languages
from feedback_sla.accounts.models import User
from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.database import insert_once
from feedback_sla.digest import answers
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails import automatic, queries, to_users
from feedback_sla.emails import html as mail_html
from feedback_sla.emails.composing import RenderedEmail, first_name
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import as_utc, utcnow, zone
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.decisions import only_updates_so_far
from feedback_sla.waits.lead_time import email_on_its_way, within_lead_time
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import (
    BY_URGENCY,
    Filters,
    WaitingRow,
    urgency_expression,
    waiting_query,
    waiting_row_maker,
)
from feedback_sla.waits.wording import DueWords

#: The states a digest reports; due-today waits that are not yet overdue are added by date.
REPORTED = (State.ESCALATED, State.OVERDUE)
#: Managers whose claimed days one statement looks up.
BATCH = 500
#: Rows of one manager read at a time (a server-side cursor on PostgreSQL).
FETCH = 1000
#: No deadline further ahead is due today in any time zone: a local day lasts at most 25 hours.
TODAY_AT_MOST = dt.timedelta(hours=26)
#: The most urgent candidates a digest lists; the rest are counted, with a link to the triage page.
SHOWN = 25
#: The candidates autopilot can no longer write to that a digest names at most.
CAPPED_SHOWN = 100
#: A digest lists the candidate emails that bounced this long before it.
BOUNCES_SINCE = dt.timedelta(days=1)
#: A manager's first digest lists the candidates who withdrew on their status page this long before it.
WITHDRAWN_SINCE = dt.timedelta(days=7)


@dataclass(frozen=True)
class DigestItem:
    row: WaitingRow
    due_text: str
    url: str
    #: The candidate has had only updates so far (``waits.decisions``): the answer is the decision.
    updates_only: bool = False
    #: The signed links that answer from the digest (``digest.answers``); empty without a secret key.
    update_url: str = ""
    reject_url: str = ""


@dataclass(frozen=True)
class Owed:
    """The waiting candidates a manager is owed: the ``SHOWN`` most urgent listed, all counted.

    Its length is how many there are in all (the digest templates read ``items|length``).
    """

    shown: tuple[DigestItem, ...] = ()
    escalated: int = 0
    overdue: int = 0
    due_today: int = 0

    def __len__(self) -> int:
        return self.escalated + self.overdue + self.due_today


@dataclass(frozen=True)
class Capped:
    """Waits autopilot wrote to ``times`` times (its cap): now a person must answer them.
    ``rows``: candidate_id, name and position, soonest deadline first."""

    times: int = 2
    rows: tuple = ()

    def __bool__(self) -> bool:
        return bool(self.rows)

    @property
    def sentence(self) -> str:
        return ngettext(
            "Autopilot has written to %(num)d candidate %(times)s; they need your answer",
            "Autopilot has written to %(num)d candidates %(times)s; they need your answer",
            len(self.rows),
            times=_times(self.times),
        )


def _times(times: int) -> str:
    if times == 1:
        return gettext("once")
    if times == 2:
        return gettext("twice")
    return ngettext("%(num)d time", "%(num)d times", times)


@dataclass(frozen=True)
class Digest:
    manager: User
    local_date: dt.date
    items: Owed
    triage_url: str
    settings_url: str
    #: Candidate emails that bounced since the day before: those candidates never heard from us.
    bounced: tuple = ()
    #: Candidates who withdrew on their status page since the manager's last digest.
    withdrew: tuple = ()
    #: Candidates autopilot has written to as often as it may, whose deadline is near or past.
    autopilot_capped: Capped = Capped()
    #: The one-click link that turns this digest off (its page asks first); empty without a secret key.
    unsubscribe_url: str = ""
    #: The language it is written in: its manager's (``languages.for_pages``).
    language: str = languages.DEFAULT

    @property
    def shown(self) -> tuple[DigestItem, ...]:
        return self.items.shown

    @property
    def more(self) -> int:
        """How many waiting candidates the digest counts but does not list."""
        return len(self.items) - len(self.items.shown)

    @property
    def greeting_name(self) -> str:
        return first_name(self.manager.name)

    @property
    def subject(self) -> str:
        owed = self.items
        if not owed and self.autopilot_capped:
            return self.autopilot_capped.sentence
        return subject_of(owed.escalated, owed.overdue, owed.due_today)


def subject_of(escalated: int, overdue: int, due_today: int) -> str:
    """The digest's subject line (in the language in force), in email and chat alike."""
    parts = [gettext("%(num)d escalated", num=escalated)] if escalated else []
    if overdue:
        parts.append(gettext("%(num)d overdue", num=overdue))
    if due_today:
        parts.append(gettext("%(num)d due today", num=due_today))
    if not parts:
        return gettext("Nobody is waiting on you today")
    return gettext("Candidates waiting on you: %(counts)s", counts=", ".join(parts))


def due_digests(
    session: Session, now: dt.datetime, manager_email: str | None = None
) -> list[tuple[User, dt.date]]:
    """Active managers at or past their digest hour with no digest for their local day yet."""
    query = select(User).where(User.active.is_(True), User.digest_enabled.is_(True))
    if manager_email:
        query = query.where(User.email == manager_email.strip().lower())
    candidates = []
    for user in session.scalars(query.order_by(User.id)):
        local = as_utc(now).astimezone(zone(user.time_zone))
        if local.hour >= user.digest_hour:
            candidates.append((user, local.date()))
    if not candidates:
        return []
    done = set()
    for start in range(0, len(candidates), BATCH):
        chunk = candidates[start : start + BATCH]
        done.update(
            tuple(row)
            for row in session.execute(
                select(DigestDay.user_id, DigestDay.local_date).where(
                    DigestDay.user_id.in_([u.id for u, _ in chunk]),
                    DigestDay.local_date.in_({d for _, d in chunk}),
                )
            )
        )
    return [(user, day) for user, day in candidates if (user.id, day) not in done]


def owed_to(
    session: Session, now: dt.datetime, settings: OrgSettings, manager_id: int, base_url: str
) -> Owed:
    """The manager's escalated, overdue and due-today waits, most urgent first.

    The rows are read ``FETCH`` at a time and let go: only the ``SHOWN`` listed become items.
    """
    base = base_url.rstrip("/")
    words = DueWords(now, settings, "UTC")  # phrases only: worded once per deadline
    waiting_row = waiting_row_maker(now, settings)
    due_today = _due_today_test(now)
    shown: list[DigestItem] = []
    counts: Counter[State] = Counter()
    query = waiting_query(now, settings, Filters(manager_id=manager_id)).where(
        or_(urgency_expression(now, settings) <= State.OVERDUE.urgency, Wait.due_at <= now + TODAY_AT_MOST)
    )
    with session.connection().execute(query, execution_options={"yield_per": FETCH}) as rows:
        for row in rows:
            state = BY_URGENCY[row.urgency]
            if state not in REPORTED and not due_today(row.due_at, row.time_zone):
                continue
            counts[state] += 1
            if len(shown) < SHOWN:
                listed = waiting_row(row)  # made for the listed candidates only
                phrase = words.phrase(row.due_at, row.time_zone)
                shown.append(DigestItem(listed, phrase, f"{base}/candidates/{row.candidate_id}"))
    marked = only_updates_so_far(session, [item.row.wait_id for item in shown])
    shown = [dataclasses.replace(item, updates_only=item.row.wait_id in marked) for item in shown]
    escalated, overdue = counts[State.ESCALATED], counts[State.OVERDUE]
    return Owed(tuple(shown), escalated, overdue, due_today=counts.total() - escalated - overdue)


def _due_today_test(now: dt.datetime) -> Callable[[dt.datetime, str], bool]:
    """Whether a deadline falls on today's date in a position's time zone (each zone's today found once)."""
    todays: dict[str, tuple[ZoneInfo, dt.date]] = {}

    def due_today(due_at: dt.datetime, time_zone: str) -> bool:
        known = todays.get(time_zone)
        if known is None:
            tz = zone(time_zone)
            known = todays[time_zone] = (tz, as_utc(now).astimezone(tz).date())
        return as_utc(due_at).astimezone(known[0]).date() == known[1]

    return due_today


def digest_for(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    manager: User,
    day: dt.date,
    base_url: str,
) -> Digest:
    """The manager's digest for their local ``day``, with links under ``base_url``, in the
    manager's language."""
    base = base_url.rstrip("/")
    language = languages.for_pages(manager.language, settings.languages_default)
    with force_locale(language):
        return Digest(
            manager=manager,
            local_date=day,
            items=owed_to(session, now, settings, manager.id, base),
            triage_url=base + "/",
            settings_url=base + "/account/settings",
            bounced=tuple(queries.bounced_since(session, manager.id, now - BOUNCES_SINCE)),
            withdrew=withdrew_since_last_digest(session, manager.id, now),
            autopilot_capped=autopilot_capped(session, now, settings, manager),
            language=language,
        )


def autopilot_capped(session: Session, now: dt.datetime, settings: OrgSettings, manager: User) -> Capped:
    """The open waits of autopilot positions (the manager's; every one for an admin) that autopilot
    wrote to as often as it may and whose deadline is within its lead time or past, their candidate
    still owed an answer and no email on its way (the same rule as ``autopilot.service``)."""
    cap = int(settings_service.value_of(session, "autopilot.max_per_wait"))
    hours = int(settings_service.value_of(session, "autopilot.lead_business_hours"))
    near = within_lead_time(session, now, hours, settings)
    query = (
        select(Candidate.id, Candidate.name, Position.title)
        .join(Wait, Wait.candidate_id == Candidate.id)
        .join(Position, Position.id == Candidate.position_id)
        .where(
            Wait.closed_at.is_(None),
            Position.autopilot.is_(True),
            Wait.autopilot_updates >= cap,
            near,
            Candidate.status.in_((Status.ACTIVE, Status.OFFERED)),
            ~email_on_its_way(Candidate.id),
        )
        .order_by(Wait.due_at, Candidate.id)
        .limit(CAPPED_SHOWN)
    )
    if not manager.is_admin:
        query = query.where(Position.manager_id == manager.id)
    return Capped(cap, tuple(session.execute(query).all()))


def withdrew_since_last_digest(session: Session, manager_id: int, now: dt.datetime) -> tuple:
    """The manager's candidates who withdrew on their status page since the last digest they were
    sent (a day claimed with nothing to send does not count; the week before, for a first
    digest): rows of candidate_id, name, position and when."""
    last = session.scalar(
        select(func.max(DigestDay.created_at)).where(
            DigestDay.user_id == manager_id, DigestDay.outbox_message_id.is_not(None)
        )
    )
    since = as_utc(last) if last is not None else now - WITHDRAWN_SINCE
    return tuple(
        session.execute(
            select(Candidate.id, Candidate.name, Position.title, Event.occurred_at)
            .join(Event, Event.candidate_id == Candidate.id)
            .join(Position, Position.id == Candidate.position_id)
            .where(
                Position.manager_id == manager_id,
                Event.kind == EventKind.STATUS_CHANGED,
                Event.channel == status_links.CHANNEL,
                Event.occurred_at > since,
            )
            .order_by(Event.occurred_at)
        ).all()
    )


def render(digest: Digest) -> tuple[str, str]:
    """Text and HTML bodies; the HTML escapes every name (autoescape) and has its styles inlined."""
    context = {"digest": digest, "manager": digest.manager, "items": digest.items}
    with force_locale(digest.language):
        context["page_language"] = digest.language
        html = mail_html.finish(render_template("mail/digest.html", **context))
        return render_template("mail/digest.txt", **context), html


def with_answer_links(digest: Digest, secret: str | None) -> Digest:
    """The digest with each listed candidate's signed "Send update" and "Reject" links."""
    base, manager, day = digest.triage_url, digest.manager, digest.local_date
    shown = []
    for item in digest.shown:
        links = answers.links_for(base, secret, manager, item.row.candidate_id, day)
        shown.append(
            dataclasses.replace(item, update_url=links.get("update", ""), reject_url=links.get("reject", ""))
        )
    return dataclasses.replace(digest, items=dataclasses.replace(digest.items, shown=tuple(shown)))


def claim(session: Session, manager: User, day: dt.date, items: int) -> DigestDay | None:
    """Claim the manager's day; None when another run already has it (nothing is written)."""
    values = {"user_id": manager.id, "local_date": day, "items": items, "created_at": utcnow()}
    return insert_once(session, DigestDay, values, conflict=["user_id", "local_date"])


def queue(
    session: Session,
    digest: Digest,
    now: dt.datetime,
    config: EmailConfig,
) -> DigestDay | None:
    """Claim the manager's day and queue the digest in the same transaction (the caller commits).

    None when another run claimed the day first. A day with nothing owed is claimed without a
    message unless the manager asked for empty digests, so a later run that day sends nothing.
    """
    day = claim(session, digest.manager, digest.local_date, len(digest.items))
    if day is None:
        return None
    if not digest.items and not digest.autopilot_capped and not digest.manager.digest_empty:
        return day
    base = digest.triage_url.rstrip("/")
    link = automatic.unsubscribe_url(base, config.secret_key, digest.manager.id)
    text, html = render(
        dataclasses.replace(with_answer_links(digest, config.secret_key), unsubscribe_url=link or "")
    )
    with force_locale(digest.language):
        subject = digest.subject
    message = to_users.queue_to_user(
        session,
        digest.manager,
        EmailKind.DIGEST,
        RenderedEmail(subject, text, html),
        now,
        config,
        idempotency_key=f"digest:{digest.manager.id}:{digest.local_date.isoformat()}",
    )
    day.outbox_message_id = message.id
    return day
