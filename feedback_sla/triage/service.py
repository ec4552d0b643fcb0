"""The triage list: a manager's waiting candidates, most urgent first, a page at a time.

A page costs two statements whatever the number of waiting candidates: the counts per state (over
every row the filters match, before the state filter; ``state_counts``, which the operators'
figures read too) and the page's rows. The whole organisation's list (no manager, position or
stage chosen: an admin's first view) reads its open waits from one index instead, and its next
and previous pages start at a cursor (``triage.organisation``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import Select, bindparam, func
from sqlalchemy.orm import Session

from feedback_sla.triage import organisation
from feedback_sla.triage.organisation import EVERYONE, Cursor
from feedback_sla.triage.sorting import FOLLOWUPS, NOW, URGENCY, TriageSort, order_of
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.queries import (
    BY_URGENCY,
    PAGE_SIZE,
    Filters,
    WaitingRow,
    pages_for,
    waiting_row_maker,
    waiting_select,
)

__all__ = ["EVERYONE", "Cursor", "Triage", "TriageSort", "state_counts", "triage"]


@dataclass(frozen=True)
class Triage:
    rows: list[WaitingRow]
    counts: dict[State, int]
    total: int  # every waiting candidate the filters match, whatever their state
    shown: int  # those of the chosen state (all of them without one): what the pages hold
    page: int
    #: Where the next and the previous page start (the whole organisation's list by urgency).
    next_cursor: Cursor | None = None
    previous_cursor: Cursor | None = None

    @property
    def pages(self) -> int:
        return pages_for(self.shown)


# --- the page's statements, built once ---------------------------------------------------------
# Building the two statements cost more than PostgreSQL takes to run them, so each is built once
# per shape of filters (which are given, not their values), state and sort, with every value a
# bind parameter, and bound at each request: its text is the same every time, which also lets
# psycopg prepare it once. There are a few hundred shapes at most.

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
    counted = waiting_select(NOW, FOLLOWUPS, filters)
    counted = counted.with_only_columns(URGENCY, func.count()).group_by(URGENCY).order_by(None)
    listed = filters if state is None else replace(filters, states={state})
    rows = waiting_select(NOW, FOLLOWUPS, listed).order_by(None).order_by(*order_of(sort))
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
    wide = filters == EVERYONE
    counted = organisation.COUNTED if wide else _statements(filters, None, TriageSort.URGENCY)[0]
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
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> Triage:
    """One page of rows; a page past the last shows the last (rows leave as they are answered).

    ``after`` or ``before`` (the whole organisation's list by urgency): the page after or before
    that row, ``page`` its number as shown.
    """
    counts = state_counts(session, now, settings, filters)
    parameters = _parameters(now, settings, filters)
    total = sum(counts.values())
    shown = total if state is None else counts[state]
    page = min(max(1, page), pages_for(shown))
    offset = (page - 1) * PAGE_SIZE
    by_cursor = filters == EVERYONE and sort == TriageSort.URGENCY
    cursor = (after or before) if by_cursor else None
    if cursor is not None:
        rows = organisation.cursor_page(session, parameters, counts, state, cursor, forward=after is not None)
        if before is not None and len(rows) < PAGE_SIZE:  # back at the start: the first page, whole
            rows = organisation.numbered_page(session, parameters, counts, state, sort, 0)
            page = 1
    elif filters == EVERYONE and sort != TriageSort.NAME:
        rows = organisation.numbered_page(session, parameters, counts, state, sort, offset)
    else:
        _, listed_rows = _statements(filters, state, sort)
        rows = session.connection().execute(listed_rows, {**parameters, "offset": offset}).all()
    shown_rows = list(map(waiting_row_maker(now, settings), rows))
    return Triage(
        rows=shown_rows,
        counts=counts,
        total=total,
        shown=shown,
        page=page,
        next_cursor=_cursor_of(shown_rows[-1]) if by_cursor and shown_rows else None,
        previous_cursor=_cursor_of(shown_rows[0]) if by_cursor and shown_rows else None,
    )


def _cursor_of(row: WaitingRow) -> Cursor:
    return Cursor(row.state.urgency, row.due_at, row.wait_id)
