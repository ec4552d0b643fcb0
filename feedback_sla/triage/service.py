"""The triage list: a manager's waiting candidates, most urgent first, a page at a time.

A page costs two statements whatever the number of waiting candidates: the counts per state (over
every row the filters match, before the state filter) and the page's rows.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from sqlalchemy import func
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
    urgency_expression,
    waiting_query,
    waiting_row_maker,
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


def _order(sort: TriageSort, now: dt.datetime, settings: OrgSettings) -> tuple:
    if sort == TriageSort.DEADLINE:
        return (Wait.due_at, Candidate.id)
    if sort == TriageSort.WAITED:
        return (Wait.opened_at, Candidate.id)
    if sort == TriageSort.NAME:
        return (func.lower(Candidate.name), Candidate.id)
    return (urgency_expression(now, settings), Wait.due_at, Candidate.id)


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
    connection = session.connection()
    urgency = urgency_expression(now, settings)
    counted = waiting_query(now, settings, filters).with_only_columns(urgency, func.count()).group_by(urgency)
    counts = {s: 0 for s in State}
    for value, count in connection.execute(counted.order_by(None)):
        counts[BY_URGENCY[value]] = count
    total = sum(counts.values())
    shown = total if state is None else counts[state]
    page = min(max(1, page), pages_for(shown))
    query = waiting_query(now, settings, filters if state is None else replace(filters, states={state}))
    query = query.order_by(None).order_by(*_order(sort, now, settings))
    rows = connection.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Triage(
        rows=list(map(waiting_row_maker(now, settings), rows)),
        counts=counts,
        total=total,
        shown=shown,
        page=page,
    )
