"""Read queries over waiting candidates: one SQL statement each, states computed in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from sqlalchemy import Row, Select, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import Candidate
from feedback_sla.positions.models import Position
from feedback_sla.waits import clock
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait, WaitReason


def state_expression(now: dt.datetime, settings: OrgSettings):
    """The SQL twin of ``clock.state``: the state's name."""
    return case({s.urgency: literal(s.value) for s in State}, value=urgency_expression(now, settings))


class WaitingRow(NamedTuple):
    """One waiting candidate (a tuple: pages list hundreds of these per request)."""

    wait_id: int
    candidate_id: int
    candidate: str
    email: str
    position: str
    time_zone: str
    manager_id: int
    manager: str
    manager_name: str
    stage: str
    reason: WaitReason
    opened_at: dt.datetime
    due_at: dt.datetime
    promised_date: dt.date | None
    follow_ups: int
    state: State
    business_days_waited: int


@dataclass(frozen=True)
class Filters:
    manager_id: int | None = None
    manager_ids: tuple[int, ...] | None = None
    position_id: int | None = None
    stage: str | None = None
    states: frozenset[State] | None = None
    overdue_only: bool = False


#: States by urgency, most urgent first: index i is what ``urgency_expression`` answers i for.
BY_URGENCY: tuple[State, ...] = tuple(sorted(State, key=lambda s: s.urgency))


def urgency_expression(now: dt.datetime, settings: OrgSettings):
    """A wait's state at ``now`` as its urgency (0 escalated … 3 on track), as ``clock.state``."""
    return urgency_of(now, settings.escalate_after_followups)


def urgency_of(now, followups):
    """``urgency_expression`` of values, or of bind parameters (a statement built once)."""
    return case(
        (
            or_(Wait.follow_ups >= followups, Wait.escalate_at <= now),
            literal(State.ESCALATED.urgency),
        ),
        (Wait.due_at <= now, literal(State.OVERDUE.urgency)),
        (Wait.warn_at <= now, literal(State.DUE_SOON.urgency)),
        else_=literal(State.ON_TRACK.urgency),
    )


def waiting_query(now: dt.datetime, settings: OrgSettings, filters: Filters = Filters()) -> Select:
    """Open waits with their candidate, position and manager, most urgent first."""
    stage = filters.stage or None  # no stage chosen: every stage
    return waiting_select(now, settings.escalate_after_followups, replace(filters, stage=stage))


def waiting_select(now, followups, filters: Filters) -> Select:
    """``waiting_query`` of values, or of bind parameters: ``now``, ``followups`` and the filters'
    values may be ``bindparam``s (a statement built once, bound at each execution)."""
    urgency = urgency_of(now, followups).label("urgency")
    query = (
        select(
            Wait.id.label("wait_id"),
            Candidate.id.label("candidate_id"),
            Candidate.name.label("candidate"),
            Candidate.email,
            Position.title.label("position"),
            Position.time_zone,
            User.id.label("manager_id"),
            User.email.label("manager"),
            User.name.label("manager_name"),
            Candidate.stage,
            Wait.reason,
            Wait.opened_at,
            Wait.due_at,
            Wait.promised_date,
            Wait.follow_ups,
            urgency,
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .join(User, Position.manager_id == User.id)
        .where(Wait.closed_at.is_(None), listed())
    )
    if filters.manager_id is not None:
        query = query.where(Position.manager_id == filters.manager_id)
    if filters.manager_ids is not None:
        query = query.where(Position.manager_id.in_(filters.manager_ids))
    if filters.position_id is not None:
        query = query.where(Position.id == filters.position_id)
    if filters.stage is not None:
        query = query.where(Candidate.stage == filters.stage)
    if filters.overdue_only:
        query = query.where(Wait.due_at <= now)
    if filters.states:
        query = query.where(urgency.in_([s.urgency for s in filters.states]))
    return query.order_by(urgency, Wait.due_at, Candidate.id)


def listed():
    """The open wait's candidate is active (``Wait.candidate_active``, which the database keeps
    equal to the candidate's status): the waits the triage and the digest list."""
    return Wait.candidate_active


def waiting(
    session: Session, now: dt.datetime, settings: OrgSettings, filters: Filters = Filters()
) -> list[WaitingRow]:
    # Core execution: these rows are plain columns, and a page may list a thousand of them.
    rows = session.connection().execute(waiting_query(now, settings, filters)).all()
    return list(map(waiting_row_maker(now, settings), rows))


def waiting_row_maker(now: dt.datetime, settings: OrgSettings) -> Callable[[Row], WaitingRow]:
    """Turns a ``waiting_query`` row into a ``WaitingRow``: the urgency as its state, days waited added."""
    waited = clock.business_days_counter(now, settings)
    make = WaitingRow._make

    def waiting_row(row: Row) -> WaitingRow:
        return make((*row[:-1], BY_URGENCY[row.urgency], waited(row.opened_at, row.time_zone)))

    return waiting_row


def open_wait_of(session: Session, candidate: Candidate) -> Wait | None:
    """The candidate's one open wait, if any."""
    return session.scalar(select(Wait).where(Wait.candidate_id == candidate.id, Wait.closed_at.is_(None)))


def waiting_per_position(position_ids: Iterable[int]):
    """Candidates waiting for an answer for each of ``position_ids``, as a subquery to join
    (``position_id``, ``waiting``).

    Counted position by position (a correlated count, which the database cannot turn into a scan
    of every open wait): a page pays for the candidates of the positions it shows, however many
    wait in the whole organisation.
    """
    waiting = (
        select(func.count(Wait.id))
        .select_from(Candidate)
        .join(Wait, Wait.candidate_id == Candidate.id)
        .where(
            Candidate.position_id == Position.id,
            Wait.closed_at.is_(None),
            listed(),
        )
        .correlate(Position)
        .scalar_subquery()
    )
    return (
        select(Position.id.label("position_id"), waiting.label("waiting"))
        .where(Position.id.in_(list(position_ids)))
        .subquery()
    )


class WaitRow(NamedTuple):
    """A wait as the candidate page shows it (a tuple: the page reads a few dozen, and loading
    them as objects cost it more than the statement)."""

    id: int
    reason: WaitReason
    opened_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    escalate_at: dt.datetime
    policy_days: int
    promised_date: dt.date | None
    follow_ups: int
    closed_at: dt.datetime | None
    opened_by_event_id: int | None
    closed_by_event_id: int | None


#: Built once, bound at each execution: building it costs more than running it. The events are
#: named by a subquery, not by a list of ids: a statement of constant text is parsed once (and
#: psycopg caches no statement of more than 50 parameters).
_LISTED = candidates.latest_event_ids(bindparam("candidate_id"), bindparam("events"))
_WAITS_OF = select(*[getattr(Wait, name) for name in WaitRow._fields]).where(
    Wait.candidate_id == bindparam("candidate_id"),
    or_(Wait.closed_at.is_(None), Wait.opened_by_event_id.in_(_LISTED), Wait.closed_by_event_id.in_(_LISTED)),
)


def waits_of(session: Session, candidate_id: int, events: int) -> list[WaitRow]:
    """The open wait and the waits the candidate's latest ``events`` events (those the timeline
    lists) opened or closed, in one statement: the candidate page reads no wait that it does not
    show."""
    rows = session.connection().execute(_WAITS_OF, {"candidate_id": candidate_id, "events": events}).all()
    return [WaitRow._make(row) for row in rows]


#: Rows a page of a list shows (the candidates, the triage list).
PAGE_SIZE = 50


def pages_for(total: int) -> int:
    """Pages of ``PAGE_SIZE`` rows; one, empty, when nothing matches."""
    return max(1, -(-total // PAGE_SIZE))
