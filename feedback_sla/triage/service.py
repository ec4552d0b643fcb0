"""The triage list: a manager's waiting candidates, most urgent first, a page at a time.

A page costs two statements whatever the number of waiting candidates: the counts per state (over
every row the filters match, before the state filter; ``state_counts``, which the operators'
figures read too) and the page's rows.

The whole organisation's list (no manager, position or stage chosen: an admin's first view) reads
its open waits from one index (``ix_waits_listed_due``: the waiting candidates' open waits by
deadline, with what their state needs), counts them without reading a candidate, and finds a
page's rows state by state: the counts say which states the page spans and where in each it
starts, and each state's rows are in deadline order in the index. Only the page's rows are then
joined to their candidates, positions and managers.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass, replace

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import (
    BY_URGENCY,
    PAGE_SIZE,
    Filters,
    WaitingRow,
    listed,
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


#: No filter: the whole organisation.
EVERYONE = Filters()


def _organisation_wide(filters: Filters) -> bool:
    return filters == EVERYONE


#: The organisation's counts per state, from the index alone.
_ALL_COUNTED = select(_URGENCY, func.count()).where(Wait.closed_at.is_(None), listed()).group_by(_URGENCY)


def _slice(urgency: int | None, sort: TriageSort, n: int | str = "") -> Select:
    """A slice of the organisation's open waits (of one state if given) in the order of ``sort``:
    ``limit{n}`` ids from ``offset{n}`` on."""
    query = select(Wait.id).where(Wait.closed_at.is_(None), listed())
    if urgency is not None:
        query = query.where(_URGENCY == urgency)
    order = (Wait.opened_at, Wait.id) if sort == TriageSort.WAITED else (Wait.due_at, Wait.id)
    return query.order_by(*order).limit(bindparam(f"limit{n}")).offset(bindparam(f"offset{n}"))


@functools.cache
def _organisation_rows(sort: TriageSort, one_state: bool) -> Select:
    """The rows of a page of the organisation's list: its waits' ids are found in the index, then
    only those are joined. By urgency, a slice of each state (an empty one for the states the page
    does not reach); in another order, one slice (of the chosen state, if any)."""
    if sort == TriageSort.URGENCY:
        slices = [_slice(s.urgency, sort, s.urgency).subquery() for s in BY_URGENCY]
        ids = union_all(*(select(slice_.c.id) for slice_ in slices))
    else:
        ids = select(_slice(bindparam("state") if one_state else None, sort).subquery().c.id)
    query = waiting_select(_NOW, _FOLLOWUPS, EVERYONE).where(Wait.id.in_(ids))
    return query.order_by(None).order_by(*_order(sort, _URGENCY))


def _slice_values(counts: dict[State, int], state: State | None, offset: int) -> dict[str, int]:
    """Where the page starting at ``offset`` lies in each state (``offset{u}``, ``limit{u}``): the
    states follow each other in the urgency order, each by deadline."""
    values, start = {}, 0
    for s in BY_URGENCY:
        shown = counts[s] if state in (None, s) else 0
        low, high = max(offset, start), min(offset + PAGE_SIZE, start + shown)
        values[f"offset{s.urgency}"] = max(0, low - start)
        values[f"limit{s.urgency}"] = max(0, high - low)
        start += shown
    return values


def _organisation_page(
    session: Session, parameters: dict, counts: dict[State, int], state, sort: TriageSort, offset: int
) -> list:
    """The rows of one page of the whole organisation's list, in one statement."""
    if sort == TriageSort.URGENCY:
        values = _slice_values(counts, state, offset)
    else:
        values = {"offset": offset, "limit": PAGE_SIZE, "state": None if state is None else state.urgency}
    query = _organisation_rows(sort, state is not None)
    return session.connection().execute(query, {**parameters, **values}).all()


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


def state_counts(
    session: Session, now: dt.datetime, settings: OrgSettings, filters: Filters = EVERYONE
) -> dict[State, int]:
    """The waiting candidates the filters match, counted by state, in one grouped statement."""
    counted = (
        _ALL_COUNTED if _organisation_wide(filters) else _statements(filters, None, TriageSort.URGENCY)[0]
    )
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
    parameters = _parameters(now, settings, filters)
    total = sum(counts.values())
    shown = total if state is None else counts[state]
    page = min(max(1, page), pages_for(shown))
    offset = (page - 1) * PAGE_SIZE
    if _organisation_wide(filters) and sort != TriageSort.NAME:
        rows = _organisation_page(session, parameters, counts, state, sort, offset)
    else:
        _, listed_rows = _statements(filters, state, sort)
        rows = session.connection().execute(listed_rows, {**parameters, "offset": offset}).all()
    return Triage(
        rows=list(map(waiting_row_maker(now, settings), rows)),
        counts=counts,
        total=total,
        shown=shown,
        page=page,
    )
