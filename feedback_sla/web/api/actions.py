"""A candidate's timeline: its events, and the actions of the candidate page (interview held,
followed up, contact logged, note, stage moved, promise set, withdrawn), each through the wait's
door. Each action answers with the event it wrote."""

from __future__ import annotations

from sqlalchemy import select

from feedback_sla.candidates.models import Event
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service
from feedback_sla.web.access import candidate_or_404, viewer
from feedback_sla.web.api import bp, committed
from feedback_sla.web.api.paging import PageArgs, decode, page_of
from feedback_sla.web.api.schemas import (
    ContactSchema,
    EventPageSchema,
    EventSchema,
    NoteSchema,
    PromiseSchema,
    StageSchema,
    WithdrawSchema,
)
from feedback_sla.web.transaction import added

TIMELINE = "/candidates/<int:candidate_id>/timeline"


def _recorded(candidate_id: int, act) -> Event:
    """Run one action on a candidate the viewer may see, in one transaction; answer with the event
    it wrote (not the newest one, which a queued email it cancelled or another request may own)."""
    candidate = candidate_or_404(candidate_id)

    def door() -> Event:
        with added(Event) as written:
            act(candidate, utcnow(), settings_service.load(db.session))
        return written[0]

    return committed(door)


@bp.post(f"{TIMELINE}/interview-held")
@bp.response(201, EventSchema)
def record_interview(candidate_id: int):
    """The interview took place: the candidate heard from us, and a decision is owed."""
    return _recorded(candidate_id, lambda c, now, s: service.interview_held(db.session, c, now, s, viewer()))


@bp.post(f"{TIMELINE}/followed-up")
@bp.response(201, EventSchema)
def record_follow_up(candidate_id: int):
    """The candidate asked for news: counted on the open wait, or a reply is owed."""
    return _recorded(candidate_id, lambda c, now, s: service.followed_up(db.session, c, now, s, viewer()))


@bp.post(f"{TIMELINE}/contacts")
@bp.arguments(ContactSchema)
@bp.response(201, EventSchema)
def log_contact(data: dict, candidate_id: int):
    """A call, meeting or outside email: the candidate heard from us, so the open wait closes."""

    def act(candidate, now, settings):
        service.log_contact(
            db.session,
            candidate,
            data["channel"],
            now,
            viewer(),
            note=data["note"],
            promised=data["promised_date"],
            settings=settings,
        )

    return _recorded(candidate_id, act)


@bp.post(f"{TIMELINE}/notes")
@bp.arguments(NoteSchema)
@bp.response(201, EventSchema)
def add_note(data: dict, candidate_id: int):
    """An internal note: the candidate hears nothing, and any open wait stays open."""
    return _recorded(
        candidate_id, lambda c, now, s: service.add_note(db.session, c, data["body"], now, viewer())
    )


@bp.post(f"{TIMELINE}/stage")
@bp.arguments(StageSchema)
@bp.response(201, EventSchema)
def move_stage(data: dict, candidate_id: int):
    """Move the candidate to a stage; internal, so any open wait stays open."""
    return _recorded(
        candidate_id, lambda c, now, s: service.move_stage(db.session, c, data["stage"], now, viewer())
    )


@bp.post(f"{TIMELINE}/promise")
@bp.arguments(PromiseSchema)
@bp.response(201, EventSchema)
def set_promise(data: dict, candidate_id: int):
    """Set, move or clear the date the candidate was promised an answer by."""

    return _recorded(
        candidate_id,
        lambda c, now, settings: service.set_promise(
            db.session, c, data["promised_date"], now, settings, viewer()
        ),
    )


@bp.post(f"{TIMELINE}/withdrawal")
@bp.arguments(WithdrawSchema)
@bp.response(201, EventSchema)
def withdraw(data: dict, candidate_id: int):
    """The candidate withdrew: nobody owes them an answer now."""
    return _recorded(
        candidate_id, lambda c, now, s: service.withdraw(db.session, c, now, viewer(), data["reason"])
    )


@bp.get(TIMELINE)
@bp.arguments(PageArgs, location="query", as_kwargs=True)
@bp.response(200, EventPageSchema)
def list_events(candidate_id: int, limit: int, cursor: str | None):
    """The candidate's events, newest first."""
    candidate_or_404(candidate_id)
    query = select(Event).where(Event.candidate_id == candidate_id)
    after = decode(cursor)
    if after:
        query = query.where(Event.id < after)
    events = list(db.session.scalars(query.order_by(Event.id.desc()).limit(limit + 1)))
    return page_of(events, limit)
