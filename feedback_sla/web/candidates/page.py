"""The candidate page: details, timeline, the open wait and the closed ones, every action's form."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import as_utc, local_date, utcnow
from feedback_sla.waits import clock
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import closed_waits_of, open_wait_of
from feedback_sla.waits.wording import due_phrase
from feedback_sla.web.candidates.forms import CHANNEL_LABELS, ContactForm, NoteForm, StageForm, WithdrawForm
from feedback_sla.web.email_parts import candidate_emails
from feedback_sla.web.forms import PromiseForm, ReturnForm


@dataclass(frozen=True)
class OpenWait:
    wait: Wait
    state: clock.State
    due_text: str
    business_days_waited: int


@dataclass(frozen=True)
class ClosedWait:
    wait: Wait
    business_days_waited: int
    on_time: bool


def _default_forms(candidate: Candidate, wait: Wait | None) -> dict[str, ReturnForm]:
    return {
        "stage_form": StageForm(formdata=None, stage=candidate.stage),
        "contact_form": ContactForm(formdata=None),
        "promise_form": PromiseForm(formdata=None, promised_date=wait.promised_date if wait else None),
        "note_form": NoteForm(formdata=None),
        "withdraw_form": WithdrawForm(formdata=None),
        "action_form": ReturnForm(formdata=None),
    }


def render_candidate(candidate: Candidate, status: int = 200, **forms: ReturnForm):
    """The candidate page; ``forms`` replaces a blank form by one that carries errors."""
    settings = settings_service.load(db.session)
    now = utcnow()
    tz = candidate.position.time_zone
    wait = open_wait_of(db.session, candidate)
    open_wait = None
    if wait is not None:
        open_wait = OpenWait(
            wait=wait,
            state=clock.state(wait, now, settings),
            due_text=due_phrase(wait.due_at, now, tz, settings),
            business_days_waited=clock.business_days_waited(wait.opened_at, now, tz, settings),
        )
    waits = closed_waits_of(db.session, candidate)
    closed = [
        ClosedWait(
            wait=w,
            business_days_waited=clock.business_days_waited(w.opened_at, w.closed_at, tz, settings),
            on_time=as_utc(w.closed_at) <= as_utc(w.due_at),
        )
        for w in waits
    ]
    events = candidates.events_of(db.session, candidate)
    all_waits = ([wait] if wait else []) + list(waits)
    return render_template(
        "candidates/show.html",
        candidate=candidate,
        open_wait=open_wait,
        closed_waits=closed,
        events=events,
        opened_by={w.opened_by_event_id: w for w in all_waits if w.opened_by_event_id},
        closed_by={w.closed_by_event_id: w for w in all_waits if w.closed_by_event_id},
        channel_labels=CHANNEL_LABELS,
        today=local_date(now, tz),
        active=candidate.status == Status.ACTIVE,
        emails=candidate_emails(candidate, now, settings, waiting=wait is not None),
        **(_default_forms(candidate, wait) | forms),
    ), status
