"""The triage list: a manager's waiting candidates, most urgent first, a page at a time.

A page costs two statements whatever the number of waiting candidates: the counts per state (over
every row the filters match, before the state filter; ``state_counts``, which the operators'
figures read too) and the page's rows.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from sqlalchemy import Select, bindparam, func
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import (
    BY_URGENCY,
    PAGE_SIZE,
    Filters,
    WaitingRow,
    pages_for,
    urgency_of,
    waiting_row_maker,
    waiting_select,
)


class TriageSort(enum.StrEnum):
    URGENCY = "urgency"  # escalated first, then overdue, due soon, on track; soonest deadline first
    DEADLINE = "deadline"
    WAITED = "waited"  # waiting longest first
    NAME = "name"

    @property
    def label(self) -> str:
        return _SORT_LABELS[self]


_SORT_LABELS = {
    TriageSort.URGENCY: "Urgency",
    TriageSort.DEADLINE: "Deadline",
    TriageSort.WAITED: "Days waited",
    TriageSort.NAME: "Name",
}


@dataclass(frozen=True)
class Triage:
    rows: list[WaitingRow]
    counts: dict[State, int]
    total: int  # every waiting candidate the filters match, whatever their state
    shown: int  # those of the chosen state (all of them without one): what the pages hold
    page: int

    @property
    def pages(self) -> int:
        return pages_for(self.shown)


def _order(sort: TriageSort, urgency) -> tuple:
    if sort == TriageSort.DEADLINE:
        return (Wait.due_at, Candidate.id)
    if sort == TriageSort.WAITED:
        return (Wait.opened_at, Candidate.id)
    if sort == TriageSort.NAME:
        return (func.lower(Candidate.name), Candidate.id)
    return (urgency, Wait.due_at, Candidate.id)


# --- the page's statements, built once ---------------------------------------------------------
# Building the two statements cost more than PostgreSQL takes to run them, so each is built once
# per shape of filters (which are given, not their values), state and sort, with every value a
# bind parameter, and bound at each request: its text is the same every time, which also lets
# psycopg prepare it once. There are a few hundred shapes at most.

_NOW, _FOLLOWUPS = bindparam("now"), bindparam("followups")
_URGENCY = urgency_of(_NOW, _FOLLOWUPS)
_BUILT: dict[tuple, tuple[Select, Select]] = {}


def _statements(filters: Filters, state: State | None, sort: TriageSort) -> tuple[Select, Select]:
    """The counts per state, and a page of rows (the offset a parameter too)."""
    given = (filters.manager_id, filters.manager_ids, filters.position_id, filters.stage or None)
    shape = (*(value is not None for value in given), frozenset(filters.states or ()), filters.overdue_only)
    built = _BUILT.get((shape, state, sort))
    if built is None:
        built = _BUILT[shape, state, sort] = _build(_placeholders(filters), state, sort)
    return built


def _placeholders(filters: Filters) -> Filters:
    """The filters with each value given replaced by its bind parameter."""

    def given(value, name: str, **options):
        return None if value is None else bindparam(name, **options)

    return replace(
        filters,
        manager_id=given(filters.manager_id, "manager_id"),
        manager_ids=given(filters.manager_ids, "manager_ids", expanding=True),
        position_id=given(filters.position_id, "position_id"),
        stage=given(filters.stage or None, "stage"),
    )


def _build(filters: Filters, state: State | None, sort: TriageSort) -> tuple[Select, Select]:
    counted = waiting_select(_NOW, _FOLLOWUPS, filters)
    counted = counted.with_only_columns(_URGENCY, func.count()).group_by(_URGENCY).order_by(None)
    listed = filters if state is None else replace(filters, states={state})
    rows = waiting_select(_NOW, _FOLLOWUPS, listed).order_by(None).order_by(*_order(sort, _URGENCY))
    return counted, rows.limit(PAGE_SIZE).offset(bindparam("offset"))


def _parameters(now: dt.datetime, settings: OrgSettings, filters: Filters) -> dict:
    return {
        "now": now,
        "followups": settings.escalate_after_followups,
        "manager_id": filters.manager_id,
        "manager_ids": list(filters.manager_ids or ()),
        "position_id": filters.position_id,
        "stage": filters.stage,
    }


#: No filter: the whole organisation.
EVERYONE = Filters()


def state_counts(
    session: Session, now: dt.datetime, settings: OrgSettings, filters: Filters = EVERYONE
) -> dict[State, int]:
    """The waiting candidates the filters match, counted by state, in one grouped statement."""
    counted, _ = _statements(filters, None, TriageSort.URGENCY)
    counts = {s: 0 for s in State}
    for value, count in session.connection().execute(counted, _parameters(now, settings, filters)):
        counts[BY_URGENCY[value]] = count
    return counts


def triage(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: Filters,
    state: State | None = None,
    *,
    sort: TriageSort = TriageSort.URGENCY,
    page: int = 1,
) -> Triage:
    """One page of rows; a page past the last shows the last (rows leave as they are answered)."""
    counts = state_counts(session, now, settings, filters)
    _, listed = _statements(filters, state, sort)
    parameters = _parameters(now, settings, filters)
    total = sum(counts.values())
    shown = total if state is None else counts[state]
    page = min(max(1, page), pages_for(shown))
    rows = session.connection().execute(listed, {**parameters, "offset": (page - 1) * PAGE_SIZE}).all()
    return Triage(
        rows=list(map(waiting_row_maker(now, settings), rows)),
        counts=counts,
        total=total,
        shown=shown,
        page=page,
    )
