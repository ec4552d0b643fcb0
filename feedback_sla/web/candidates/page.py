"""The candidate page: the answer actions and every other action's form, details, the open wait,
and the latest of the timeline and of the email history ("Show more" lists older ones).

It reads what it shows and no more: the latest events, the waits those events opened or closed
(each answered wait is shown on the event that closed it), and the emails. Its cost grows with
what it lists, never with the organisation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from flask import render_template

from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.status_page import service as status_page
from feedback_sla.timeutil import as_utc, local_date, utcnow
from feedback_sla.waits import clock
from feedback_sla.waits import queries as wait_queries
from feedback_sla.waits.queries import WaitRow
from feedback_sla.waits.wording import due_phrase
from feedback_sla.web.candidates.forms import (
    CHANNEL_CHOICES,
    CHANNEL_LABELS,
    NOTE_LIMIT,
    REASON_LIMIT,
    STAGE_CHOICES,
)
from feedback_sla.web.email_parts import candidate_emails
from feedback_sla.web.forms import ReturnForm

#: Events and emails the page lists at first; each "Show more" lists as many again.
SHOWN = 50
#: The most the page lists of either, whatever the link asks for.
SHOWN_MAX = 1_000


@dataclass(frozen=True)
class Shown:
    """How many of the latest events and emails the page lists (``?events=100&emails=50``)."""

    events: int = SHOWN
    emails: int = SHOWN

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Shown:
        return cls(_count(args.get("events")), _count(args.get("emails")))

    def more(self, part: str) -> dict[str, int]:
        """The query arguments of the link that lists ``SHOWN`` more of ``part``."""
        counts = dataclasses.asdict(self)
        counts[part] = min(counts[part] + SHOWN, SHOWN_MAX)
        return counts


#: What a page lists when its address asks for nothing else.
FIRST = Shown()


def _count(text: str | None) -> int:
    """A count from the address, brought between ``SHOWN`` and ``SHOWN_MAX``; ``SHOWN`` for
    anything that is not a number."""
    if not text or not (text.isascii() and text.isdigit()):
        return SHOWN
    if len(text) > len(str(SHOWN_MAX)):
        return SHOWN_MAX
    return min(max(int(text), SHOWN), SHOWN_MAX)


@dataclass(frozen=True)
class Listed:
    """The latest items of a list and whether older ones exist."""

    items: list
    more: bool

    @classmethod
    def of(cls, newest_first: list, shown: int) -> Listed:
        return cls(newest_first[:shown], len(newest_first) > shown)


@dataclass(frozen=True)
class OpenWait:
    wait: WaitRow
    state: clock.State
    due_text: str
    business_days_waited: int


@dataclass(frozen=True)
class AnsweredWait:
    """A closed wait, shown on the event that closed it."""

    wait: WaitRow
    business_days_waited: int
    on_time: bool


#: The page's forms: None renders a blank one; a refused POST passes its form, with its errors.
BLANK_FORMS: dict[str, ReturnForm | None] = dict.fromkeys(
    ("stage_form", "contact_form", "promise_form", "note_form", "withdraw_form", "action_form")
)


def _open_wait(wait: WaitRow, now: dt.datetime, tz: str, settings: clock.OrgSettings) -> OpenWait:
    return OpenWait(
        wait=wait,
        state=clock.state(wait, now, settings),
        due_text=due_phrase(wait.due_at, now, tz, settings),
        business_days_waited=clock.business_days_waited(wait.opened_at, now, tz, settings),
    )


def _answered(wait: WaitRow, tz: str, settings: clock.OrgSettings) -> AnsweredWait:
    return AnsweredWait(
        wait=wait,
        business_days_waited=clock.business_days_waited(wait.opened_at, wait.closed_at, tz, settings),
        on_time=as_utc(wait.closed_at) <= as_utc(wait.due_at),
    )


def render_candidate(candidate: Candidate, status: int = 200, shown: Shown = FIRST, **forms: ReturnForm):
    """The candidate page; ``forms`` replaces a blank form by one that carries errors."""
    settings = settings_service.load(db.session)
    now = utcnow()
    tz = candidate.position.time_zone
    # The latest events, and one more to learn whether older ones exist.
    events = Listed.of(candidates.events_of(db.session, candidate, limit=shown.events + 1), shown.events)
    # The open wait and those the listed events opened or closed.
    waits = wait_queries.waits_of(db.session, candidate.id, shown.events)
    wait = next((w for w in waits if w.closed_at is None), None)
    emails = candidate_emails(candidate, now, settings, wait, shown.emails)
    return render_template(
        "candidates/show.html",
        candidate=candidate,
        open_wait=_open_wait(wait, now, tz, settings) if wait else None,
        events=events,
        shown=shown,
        max_shown=SHOWN_MAX,
        opened_by={w.opened_by_event_id: w for w in waits if w.opened_by_event_id},
        closed_by={w.closed_by_event_id: _answered(w, tz, settings) for w in waits if w.closed_by_event_id},
        channel_labels=CHANNEL_LABELS,
        channel_choices=CHANNEL_CHOICES,
        stage_choices=STAGE_CHOICES,
        note_limit=NOTE_LIMIT,
        reason_limit=REASON_LIMIT,
        today=local_date(now, tz),
        active=candidate.status == Status.ACTIVE,
        emails=emails,
        status_link_live=status_page.live_link(db.session, candidate, now),
        **(BLANK_FORMS | forms),
    ), status
